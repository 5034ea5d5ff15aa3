package history

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

// Wherever the fast path decodes a line, encoding/json (the reference)
// decodes it too, to the same event.
func FuzzFastEvent(f *testing.F) {
	for _, s := range []string{
		`{"proc":"client-rwxchaos-runner-4242-1795443351500000000","seq":1,"role":"client","type":"upload","call":1795443352000000000,"ret":1795443352060000000,"outcome":"ok","key":"X12/ACME/GLOBEX/000000001","sha":"1e0112303d3a47433c96d54d2de03c94e1a94eaed77a4b7a7b8a1948b4bf523f","size":653}`,
		`{"proc":"e","seq":2,"role":"engine","type":"claim","call":5,"epoch":18446744073709551615,"msgs":3,"path":"botssys/data/work/x.edi","detail":"é ü","err":"x","errClass":"EIO","holder":"h","target":"t","node":"n"}`,
		` { "proc" : "p" , "seq" : -9223372036854775808 } `,
		`{}`, `{"proc":"p","proc":"q"}`, `{"Proc":"p"}`, `{"proc":null}`, `{"seq":1.0}`, `{"seq":01}`, `{"seq":1e3}`,
		`{"epoch":-1}`, `{"seq":9223372036854775808}`,
		`{"detail":"0123456789abcdef\"0123456789abcdef"}`, `{"detail":"0123456789abcdefé0123456789"}`, "{\"detail\":\"0123456789abcdef\x01\"}",
		"{\"detail\":\"0123456789abcdef\xff0123\"}", `{"detail":"0123456789abcdef\\u0041"}`, `{"role":"client","type":"upload","outcome":"ok","errClass":"ENOENT"}`,
		`{"detail":"01234567`, `{"call":18446744073709551615}`, `{"epoch":18446744073709551616}`, `{"epoch":99999999999999999999}`,
		`{"call":1234567890123456789}`, `{"call":12345678901234567890}`, `{"call":00000000123}`, `{"call":1234567a}`, `{"call":12345678.5}`,
		`{"epoch":18446744073709551615}`, `{"epoch":10000000000000000000}`, `{"call":123456789012345678e1}`, `{"detail":"a\"b"}`, `{"detail":"a\u00e9"}`, "{\"detail\":\"\xff\"}",
		`{"proc":"p"}x`, `{"proc":"p",}`, `{"unknown":1}`, `{"msgs":9223372036854775807}`, `{"seq":-0}`,
		`{"proc":"publisher-n1-7-1","seq":3,"role":"publisher","type":"publish","call":5,"ret":6,"outcome":"ok","version":18446744073709551615,"path":"mods/m.py","sha":"ab","size":12}`,
		`{"version":-1}`, `{"version":1,"version":2}`, `{"version":18446744073709551616}`, `{"Version":1}`,
		`{"pro\/c":"p"}`, `{"pr\u006fc":"p"}`, `{"prőc":"p"}`, `{"proc\"":"p"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var fast Event
		var in interner
		if !decodeEventFast(line, &fast, &in) {
			return
		}
		var ref Event
		if err := decodeStrict(line, &ref); err != nil {
			t.Fatalf("the fast path decoded %q, which encoding/json refuses: %v", line, err)
		}
		if !reflect.DeepEqual(fast, ref) {
			t.Fatalf("%q: fast %+v, reference %+v", line, fast, ref)
		}
	})
}

// Publish and load events (their version included) take the fast path, as
// the pipeline's do, and decode as encoding/json decodes them.
func TestFastPathTakesPublishAndLoad(t *testing.T) {
	for _, e := range []Event{
		{Proc: "publisher-n1-7-1", Seq: 3, Role: RolePublisher, Type: EvPublish, Call: 5, Return: 6, Outcome: OK, Version: 7, Path: "mods/m.py", SHA: "ab", Size: 12},
		{Proc: "consumer-n2-8-1", Seq: 9, Role: RoleConsumer, Type: EvLoad, Call: 7, Return: 8, Outcome: Fail, Version: 1 << 63, Path: "mods/m.py", ErrClass: "ESTALE"},
	} {
		line, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var fast Event
		var in interner
		if !decodeEventFast(line, &fast, &in) {
			t.Fatalf("%s takes the slow path", line)
		}
		if !reflect.DeepEqual(fast, e) {
			t.Fatalf("%s: fast %+v, want %+v", line, fast, e)
		}
	}
}

// Every line of the saved runs in the repository takes the fast path.
func TestFastPathTakesOwnWriters(t *testing.T) {
	paths, _ := filepath.Glob("../report/testdata/*/*/history.ndjson")
	if len(paths) == 0 {
		t.Fatal("no saved history under ../report/testdata")
	}
	var in interner
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, MaxLine)
		for n := 1; sc.Scan(); n++ {
			var e Event
			if !decodeEventFast(sc.Bytes(), &e, &in) {
				t.Errorf("%s:%d takes the slow path: %s", p, n, sc.Text())
			}
		}
		f.Close()
	}
}

// uint, which reads eight digits at a time, agrees with strconv (and the
// JSON rule: no leading zero) around every block and overflow boundary.
func TestUintAgreesWithStrconv(t *testing.T) {
	for _, s := range []string{"0", "1", "12345678", "123456789", "1796004001103150000", "18446744073709551615", "18446744073709551616", "99999999999999999999", "9999999999999999999", "10000000000000000000", "00", "0123456789", "1234567812345678", "12345678123456781"} {
		p := fastParser{b: []byte(s)}
		got, ok := p.uint()
		want, err := strconv.ParseUint(s, 10, 64)
		wok := err == nil && (len(s) == 1 || s[0] != '0')
		if ok != wok || (ok && got != want) {
			t.Errorf("%s: %d %v, want %d %v", s, got, ok, want, wok)
		}
	}
}
