package traffic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

// fakeGen makes recognisable bodies without the EDI package.
func fakeGen(rng *rand.Rand, format string, control, minSize, maxSize int) (Payload, error) {
	key := history.Key(format, "SND", "RCV", fmt.Sprintf("%09d", control))
	size := minSize + rng.IntN(maxSize-minSize+1)
	body := []byte(key + " ")
	for len(body) < size {
		body = append(body, 'x')
	}
	return Payload{Body: body, Key: key, Msgs: 1}, nil
}

func openJournal(t *testing.T) (*history.Journal, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "client.ndjson")
	j, err := history.OpenJournal(path, history.JournalOptions{Proc: "client-test", Role: history.RoleClient, Node: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, dir
}

func readEvents(t *testing.T, dir string) []history.Event {
	t.Helper()
	evs, _, err := history.ReadJournalDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestOutcomeClasses(t *testing.T) {
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr
	}()
	cases := []struct {
		name    string
		handler http.HandlerFunc
		target  string
		want    string
		status  int
	}{
		{name: "created", want: history.OK, status: 201, handler: status(201)},
		{name: "idempotent-dupe", want: history.OK, status: 200, handler: status(200)},
		{name: "bad-request", want: history.Fail, status: 400, handler: status(400)},
		{name: "conflict", want: history.Fail, status: 409, handler: status(409)},
		{name: "too-large", want: history.Fail, status: 413, handler: status(413)},
		{name: "unavailable", want: history.Unknown, status: 503, handler: status(503)},
		{name: "internal-error", want: history.Unknown, status: 500, handler: status(500)},
		{name: "timeout", want: history.Unknown, handler: func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}},
		{name: "reset-after-send", want: history.Unknown, handler: func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				panic(err)
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0) // RST, not FIN
			}
			conn.Close()
		}},
		{name: "connection-refused", want: history.Fail, target: refused},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.target
			if tc.handler != nil {
				srv := httptest.NewServer(tc.handler)
				defer srv.Close()
				target = srv.URL
			}
			j, dir := openJournal(t)
			d, err := New(Options{Targets: []string{target}, Count: 3, Concurrency: 2, Timeout: 300 * time.Millisecond,
				Journal: j, Generate: fakeGen, Seed: 7})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Run(context.Background()); err != nil {
				t.Fatalf("Run: %v", err)
			}
			evs := readEvents(t, dir)
			if len(evs) != 3 {
				t.Fatalf("journaled %d events, want 3", len(evs))
			}
			for _, e := range evs {
				if e.Type != history.EvUpload || e.Outcome != tc.want {
					t.Errorf("event %s outcome %q (err %q, detail %q), want %q", e.Type, e.Outcome, e.Err, e.Detail, tc.want)
				}
				if e.Return <= e.Call || e.Key == "" || len(e.SHA) != 64 || e.Size <= 0 || e.Msgs != 1 || e.Role != history.RoleClient {
					t.Errorf("incomplete event %+v", e)
				}
				if tc.status != 0 && !strings.Contains(e.Detail, fmt.Sprintf("status=%d", tc.status)) {
					t.Errorf("detail %q lacks status %d", e.Detail, tc.status)
				}
			}
			st := d.Stats()
			if st.Done() != 3 || st.InFlight != 0 || st.Started != 3 {
				t.Errorf("stats %+v, want 3 done, none in flight", st)
			}
		})
	}
}

func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(code)
		fmt.Fprintln(w, http.StatusText(code))
	}
}

func TestClassify(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		status int
		err    error
		sent   bool
		want   string
	}{
		{201, nil, true, history.OK},
		{204, nil, true, history.OK},
		{404, nil, true, history.Fail},
		{302, nil, true, history.Unknown},
		{502, nil, true, history.Unknown},
		{0, boom, false, history.Fail},
		{0, boom, true, history.Unknown},
	} {
		if got := Classify(tc.status, tc.err, tc.sent); got != tc.want {
			t.Errorf("Classify(%d, %v, %v) = %q, want %q", tc.status, tc.err, tc.sent, got, tc.want)
		}
	}
}

// recorder is a webserver stand-in that remembers what it received.
type recorder struct {
	mu     sync.Mutex
	bodies map[string]int // body prefix (key) → count
	routes map[string]int
	hosts  map[string]int
}

func newRecorder() *recorder {
	return &recorder{bodies: map[string]int{}, routes: map[string]int{}, hosts: map[string]int{}}
}

func (rec *recorder) handler(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/upload" {
			http.Error(w, "bad", 400)
			return
		}
		key, _, _ := strings.Cut(string(b), " ")
		rec.mu.Lock()
		rec.bodies[key]++
		rec.routes[r.URL.Query().Get("route")]++
		rec.hosts[name]++
		rec.mu.Unlock()
		w.WriteHeader(201)
	}
}

func TestRunSpreadsUniqueKeys(t *testing.T) {
	rec := newRecorder()
	var targets []string
	for i := range 3 {
		srv := httptest.NewServer(rec.handler(fmt.Sprint(i)))
		defer srv.Close()
		targets = append(targets, srv.URL)
	}
	j, dir := openJournal(t)
	const n = 300
	d, err := New(Options{Targets: targets, Count: n, Concurrency: 8, Journal: j, Generate: fakeGen,
		Routes: []string{"a", "b"}, Mix: Mix{X12: 30, EDIFACT: 70}, Seed: 42, Run: "r1", MinSize: 100, MaxSize: 200})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(rec.bodies) != n {
		t.Errorf("server saw %d distinct keys, want %d", len(rec.bodies), n)
	}
	for k, c := range rec.bodies {
		if c != 1 {
			t.Errorf("key %s uploaded %d times", k, c)
		}
	}
	if rec.routes["a"] != n/2 || rec.routes["b"] != n/2 {
		t.Errorf("routes %v, want round-robin", rec.routes)
	}
	for h, c := range rec.hosts {
		if c != n/3 {
			t.Errorf("target %s got %d uploads, want %d (round-robin)", h, c, n/3)
		}
	}
	var x12 int
	for _, e := range readEvents(t, dir) {
		if e.Outcome != history.OK {
			t.Errorf("outcome %s for %s", e.Outcome, e.Key)
		}
		if strings.HasPrefix(e.Key, FormatX12+"/") {
			x12++
		}
		if e.Size < 100 || e.Size > 200 {
			t.Errorf("size %d outside 100..200", e.Size)
		}
	}
	if x12 < n*15/100 || x12 > n*45/100 {
		t.Errorf("%d of %d are X12, want about 30%%", x12, n)
	}
	if st := d.Stats(); st.OK != n || st.AckBytes == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestControlsDifferPerRunAndRepeatPerSeed(t *testing.T) {
	a := ControlBase(1, "run-a", 1000)
	b := ControlBase(1, "run-b", 1000)
	c := ControlBase(2, "run-a", 1000)
	if a == b || a == c {
		t.Errorf("bases collide: %d %d %d", a, b, c)
	}
	if a != ControlBase(1, "run-a", 1000) {
		t.Error("base is not deterministic")
	}
	for seed := int64(0); seed < 1000; seed++ {
		if base := ControlBase(seed, "x", 1_000_000); base < 1 || base+1_000_000-1 > MaxControl {
			t.Fatalf("seed %d: base %d out of range", seed, base)
		}
	}
}

func TestSameSeedSameTraffic(t *testing.T) {
	keys := func(conc int) []string {
		j, dir := openJournal(t)
		srv := httptest.NewServer(status(201))
		defer srv.Close()
		d, err := New(Options{Targets: []string{srv.URL}, Count: 50, Concurrency: conc, Journal: j, Generate: fakeGen, Seed: 9, Run: "same"})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, e := range readEvents(t, dir) {
			m[e.Key] = e.SHA
		}
		var out []string
		for k, v := range m {
			out = append(out, k+"="+v)
		}
		return out
	}
	a, b := keys(1), keys(7)
	set := map[string]bool{}
	for _, k := range a {
		set[k] = true
	}
	if len(a) != 50 || len(b) != 50 {
		t.Fatalf("got %d and %d keys", len(a), len(b))
	}
	for _, k := range b {
		if !set[k] {
			t.Errorf("key/sha %s differs between concurrency 1 and 7", k)
		}
	}
}

func TestRateLimits(t *testing.T) {
	j, _ := openJournal(t)
	srv := httptest.NewServer(status(201))
	defer srv.Close()
	d, err := New(Options{Targets: []string{srv.URL}, Count: 11, Rate: 50, Concurrency: 4, Journal: j, Generate: fakeGen})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// 11 starts at 50/s: the last starts 200ms after the first.
	if el := time.Since(start); el < 180*time.Millisecond || el > 2*time.Second {
		t.Errorf("11 uploads at 50/s took %v, want about 200ms", el)
	}
}

func TestCancelIsPromptAndJournalsInFlight(t *testing.T) {
	var arrived atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		arrived.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	j, dir := openJournal(t)
	d, err := New(Options{Targets: []string{srv.URL}, Count: 1000, Concurrency: 4, Timeout: time.Minute, Journal: j, Generate: fakeGen})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	// Cancel only once all four bodies reached the server: an upload
	// cancelled before it was sent is rightly "fail" (it cannot have
	// happened), which is not what this test is about. On a loaded machine
	// the driver counts an upload in flight well before it is on the wire.
	for (d.Stats().InFlight < 4 || arrived.Load() < 4) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := d.Stats(); st.InFlight != 4 || arrived.Load() != 4 {
		t.Fatalf("stats %+v, %d arrived at the server, want 4 in flight and arrived", st, arrived.Load())
	}
	cancel()
	t0 := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		// Prompt against the uploads' 1-minute timeout; the bound is wide
		// so that a loaded machine's scheduling does not fail it.
		t.Fatalf("Run did not return within 2s of cancel (%v)", time.Since(t0))
	}
	evs := readEvents(t, dir)
	if len(evs) != 4 {
		t.Fatalf("journaled %d events, want the 4 in flight", len(evs))
	}
	for _, e := range evs {
		if e.Outcome != history.Unknown {
			t.Errorf("in-flight upload cancelled after sending: outcome %s, want unknown", e.Outcome)
		}
	}
	if st := d.Stats(); st.InFlight != 0 || st.Unknown != 4 {
		t.Errorf("stats after cancel %+v", st)
	}
}

func TestJournalErrorStopsRun(t *testing.T) {
	srv := httptest.NewServer(status(201))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "j.ndjson")
	j, err := history.OpenJournal(path, history.JournalOptions{Proc: "c", Role: history.RoleClient})
	if err != nil {
		t.Fatal(err)
	}
	j.Close() // every append now fails
	d, err := New(Options{Targets: []string{srv.URL}, Count: 100, Journal: j, Generate: fakeGen})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "journal") {
		t.Fatalf("Run returned %v, want a journal error", err)
	}
	if st := d.Stats(); st.Started >= 100 {
		t.Errorf("run went on after the journal failed: %+v", st)
	}
	_ = os.Remove(path)
}

func TestOptionErrors(t *testing.T) {
	j, _ := openJournal(t)
	for _, o := range []Options{
		{Count: 1, Journal: j, Generate: fakeGen},
		{Targets: []string{"localhost:80"}, Count: 1, Journal: j, Generate: fakeGen},
		{Targets: []string{"http://x"}, Count: 0, Journal: j, Generate: fakeGen},
		{Targets: []string{"http://x"}, Count: 1, Generate: fakeGen},
		{Targets: []string{"http://x"}, Count: 1, Journal: j, MinSize: 500, MaxSize: 100, Generate: fakeGen},
		{Targets: []string{"http://x"}, Count: 10, Journal: j, ControlBase: MaxControl - 5, Generate: fakeGen},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted bad options", o)
		}
	}
}

func TestEDIGenerator(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, f := range []string{FormatX12, FormatEDIFACT} {
		p, err := EDIGenerator(rng, f, 123456789, 300, 2000)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.Key, f+"/") || !strings.HasSuffix(p.Key, "123456789") || p.Msgs < 1 {
			t.Errorf("%s payload key %q msgs %d", f, p.Key, p.Msgs)
		}
	}
	if _, err := EDIGenerator(rng, "CSV", 1, 300, 400); err == nil {
		t.Error("unknown format accepted")
	}
}
