package history

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestEveryMistakeIsDocumented writes one line with each kind of mistake
// and requires the reader to report it with its code, and the package doc's
// list of mistakes to show that code with the message's fixed words.
func TestEveryMistakeIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(doc), "\n//\t", "\n")
	sha := strings.Repeat("ab", 32)
	ok := `"proc":"p","seq":1,"call":5`
	cases := []struct{ line, code, words string }{
		{`{"proc":"p",`, CodeTorn, "the last line is cut short"},
		{`[1,2]`, CodeSyntax, "not an event:"},
		{`{"proc":"p","seq":1,"role":"engine","type":"run.start","call":5,"colour":1}`, CodeUnknownField, `json: unknown field`},
		{`{"seq":1,"role":"engine","type":"run.start","call":5}`, CodeNoProc, "event has no proc (the writer's id)"},
		{`{"proc":"a b","seq":1,"role":"engine","type":"run.start","call":5}`, CodeBadProc, "is not printable ASCII without spaces or '/'"},
		{`{"proc":"p","seq":0,"role":"engine","type":"run.start","call":5}`, CodeBadSeq, "sequence numbers start at 1 for each proc"},
		{`{` + ok + `,"role":"robot","type":"run.start"}`, CodeBadRole, "is not one of client, webserver, engine, jobqueue, runner"},
		{`{` + ok + `,"role":"engine","type":"lock.aquire"}`, CodeUnknownType, "is not an event type"},
		{`{` + ok + `,"role":"webserver","type":"claim","key":"X12/A/B/1","epoch":1}`, CodeWrongRole, "is written by role"},
		{`{"proc":"p","seq":1,"role":"engine","type":"run.start","call":0}`, CodeBadCall, "is not a positive Unix time in nanoseconds"},
		{`{` + ok + `,"ret":4,"role":"engine","type":"run.start"}`, CodeBadRet, "is before call"},
		{`{` + ok + `,"role":"client","type":"upload","outcome":"okay","key":"X12/A/B/1","sha":"` + sha + `"}`, CodeBadOutcome, "is not ok, fail or unknown"},
		{`{` + ok + `,"role":"engine","type":"lock.acquire","outcome":"unknown","epoch":1}`, CodeBadOutcome, "journals what happened: outcome must be ok or left out"},
		{`{` + ok + `,"role":"client","type":"upload","key":"X12/A/B/1","sha":"` + sha + `"}`, CodeNoOutcome, "upload needs an outcome: ok, fail or unknown"},
		{`{` + ok + `,"role":"engine","type":"done","epoch":1}`, CodeNoKey, "needs a key (FORMAT/SENDER/RECEIVER/CONTROL)"},
		{`{` + ok + `,"role":"engine","type":"done","epoch":1,"key":"X12/A/B"}`, CodeBadKey, "is not FORMAT/SENDER/RECEIVER/CONTROL: four non-empty parts of printable ASCII without '/', at most 35 bytes each"},
		{`{` + ok + `,"role":"client","type":"upload","outcome":"ok","key":"X12/A/B/1"}`, CodeNoSHA, "upload needs sha, the sha256 of the uploaded bytes"},
		{`{` + ok + `,"role":"client","type":"upload","outcome":"ok","key":"X12/A/B/1","sha":"` + strings.ToUpper(sha) + `"}`, CodeBadSHA, "is not 64 lowercase hex digits"},
		{`{` + ok + `,"role":"client","type":"upload","outcome":"ok","key":"X12/A/B/1","sha":"` + sha + `","size":-1}`, CodeNegative, "is negative"},
		{`{` + ok + `,"role":"engine","type":"lock.renew"}`, CodeNoEpoch, "needs an epoch ≥ 1 (the fencing token)"},
		{`{` + ok + `,"role":"engine","type":"lock.takeover","epoch":1,"detail":"age 4s ttl 3s"}`, CodeNoHolder, "lock.takeover needs holder: the proc whose lease was broken"},
		{`{` + ok + `,"role":"runner","type":"proc.exit"}`, CodeNoTarget, "needs a target: the process started or ended"},
		{`{` + ok + `,"role":"engine","type":"lock.takeover","epoch":1,"holder":"q","detail":"lease age 4s > ttl 3s"}`, CodeBadDetail, `is not "age <duration> ttl <duration>"`},
		{`{` + ok + `,"role":"runner","type":"clock","target":"n1","outcome":"ok","detail":"+3ms"}`, CodeBadDetail, `is not "offset <duration> uncertainty <duration>"`},
		{`{` + ok + `,"role":"webserver","type":"dupe","key":"X12/A/B/1","detail":"same"}`, CodeBadDetail, "is not idempotent or conflict"},
		{`{` + ok + `,"role":"engine","type":"claim","key":"X12/A/B/1","epoch":1,"detail":"again"}`, CodeBadDetail, "is not empty or recovered"},
		{`{` + ok + `,"role":"webserver","type":"stored","key":"X12/A/B/1","detail":"again"}`, CodeBadDetail, "is not empty or restored"},
		{`{` + ok + `,"role":"runner","type":"fault"}`, CodeBadDetail, `fault needs detail "<action> <name>"`},
		{`{` + ok + `,"role":"engine","type":"error","errClass":"EAGAIN"}`, CodeBadErrClass, "is not one of EIO, ESTALE, ENOTCONN, EACCES, ENOSPC, TIMEOUT, OTHER"},
		// The publish/consume workload's events.
		{`{` + ok + `,"role":"consumer","type":"load","outcome":"fail","errClass":"SHORT"}`, CodeNoPath, "needs a path: the file published or loaded"},
		{`{` + ok + `,"role":"publisher","type":"publish","outcome":"ok","path":"usersys/generated/a.py","sha":"` + sha + `"}`, CodeNoVersion, "needs a version ≥ 1"},
		{`{` + ok + `,"role":"consumer","type":"load","outcome":"ok","path":"usersys/generated/a.py","version":3}`, CodeNoSHA, "needs sha, the sha256 of the file's body"},
		{`{` + ok + `,"role":"publisher","type":"publish","path":"usersys/generated/a.py","version":3,"sha":"` + sha + `"}`, CodeNoOutcome, "needs an outcome: ok, fail or unknown"},
		{`{` + ok + `,"role":"consumer","type":"load","outcome":"unknown","path":"usersys/generated/a.py"}`, CodeBadOutcome, "a load either verified (ok) or did not (fail)"},
		{`{` + ok + `,"role":"publisher","type":"load","outcome":"fail","path":"usersys/generated/a.py"}`, CodeWrongRole, "is written by role"},
		{`{` + ok + `,"role":"publisher","type":"publish","outcome":"fail","errClass":"SHORT","path":"usersys/generated/a.py","version":3,"sha":"` + sha + `"}`, CodeBadErrClass, "is not one of EIO"},
	}
	codes := map[string]bool{}
	for _, tc := range cases {
		_, st, err := ReadJournal("h.ndjson", strings.NewReader(tc.line), ReadOptions{Saved: true})
		if err != nil {
			t.Fatal(err)
		}
		if st.ProblemCount != 1 || st.Problems[0].Code != tc.code || !strings.Contains(st.Problems[0].Msg, tc.words) {
			t.Errorf("%s: problems %+v, want code %s with %q", tc.line, st.Problems, tc.code, tc.words)
			continue
		}
		codes[tc.code] = true
		row := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(tc.code) + ` +.*` + regexp.QuoteMeta(tc.words))
		if !row.MatchString(text) {
			t.Errorf("the package doc's list of mistakes lacks %q with %q", tc.code, tc.words)
		}
	}
	// Snapshot mistakes.
	for _, tc := range []struct {
		f               File
		words, docWords string
	}{
		{File{Path: "/etc/passwd"}, "is not a clean relative path under botssys/", "is not a clean relative path under botssys/"},
		{File{Path: "botssys/infile/r/X12+A+B+1.edi", Stage: StageOutput}, `stage says "output", its path says "input"`, `stage says "<s>", its path says "<s>"`},
		{File{Path: "botssys/infile/r/X12+A+B+1.edi", Key: "X12/A/B/2"}, `key says "X12/A/B/2", its name and content say "X12/A/B/1"`, `key says "<k>", its name and content say "<k>"`},
	} {
		err := ValidateFile(&tc.f)
		if err == nil || !strings.Contains(err.Error(), tc.words) || !strings.Contains(text, tc.docWords) {
			t.Errorf("%+v: %v, want %q (documented as %q)", tc.f, err, tc.words, tc.docWords)
		}
	}
	if _, err := ParseSnapshot([]byte(`{"files":[],"colour":1}`)); err == nil || !strings.Contains(err.Error(), "snapshot.json does not parse") {
		t.Errorf("snapshot with an unknown field: %v", err)
	}
	codes[CodeSnapshot] = true
	// Every code the package defines is produced above.
	src, _ := os.ReadFile("event.go")
	for _, m := range regexp.MustCompile(`(?m)^\tCode\w+ += "([a-z-]+)"`).FindAllStringSubmatch(string(src), -1) {
		if !codes[m[1]] && m[1] != CodeTooLong {
			t.Errorf("code %s is never produced by a case here", m[1])
		}
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(m[1]) + ` `).MatchString(text) {
			t.Errorf("code %s is not in the package doc's list of mistakes", m[1])
		}
	}
}

// token's eight-bytes-at-a-time test agrees with the byte-by-byte rule for
// every byte at every position of a word.
func TestTokenEveryByte(t *testing.T) {
	base := []byte("abcdefghijklmnopqrstu")
	for pos := range base {
		for c := range 256 {
			s := append([]byte(nil), base...)
			s[pos] = byte(c)
			want := c > 0x20 && c < 0x7f && c != '/'
			if got := token(string(s), 200); got != want {
				t.Fatalf("token with byte %#x at %d: %v, want %v", c, pos, got, want)
			}
		}
	}
}

// ValidSHA's eight-bytes-at-a-time test agrees with the rule (64 lowercase
// hex digits) for every byte at every position.
func TestValidSHAEveryByte(t *testing.T) {
	base := []byte(strings.Repeat("0123456789abcdef", 4))
	for pos := range base {
		for c := range 256 {
			s := append([]byte(nil), base...)
			s[pos] = byte(c)
			want := c >= '0' && c <= '9' || c >= 'a' && c <= 'f'
			if got := ValidSHA(string(s)); got != want {
				t.Fatalf("sha with byte %#x at %d: %v, want %v", c, pos, got, want)
			}
		}
	}
}
