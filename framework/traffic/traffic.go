// Package traffic is the recording client: it uploads generated EDI
// interchanges to the pipeline's webservers and journals every attempt with
// its call and return time and its outcome. The journal it writes is the only
// judge of what the system acknowledged; the checkers compare it with what the
// volume holds at the end.
//
// Outcomes follow Jepsen: an upload is ok when a webserver answered 2xx (an
// idempotent duplicate answers 200 and is ok too), fail when it was definitely
// refused (a 4xx, or no connection was ever made so nothing was sent), and
// unknown when the server may have stored it without the client learning so
// (timeouts and resets after the request was sent, and 5xx answers).
package traffic

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

// Formats a generator is asked for.
const (
	FormatX12     = "X12"
	FormatEDIFACT = "EDIFACT"
)

// MaxControl is the largest interchange control number: X12's ISA13 has nine
// digits (EDIFACT's UNB 0020 allows more, but one range serves both).
const MaxControl = 999_999_999

// Mix is the share of each syntax in percent. Zero values mean 50/50; shares
// that do not sum to 100 are taken relative to their sum.
type Mix struct {
	X12     int
	EDIFACT int
}

// Payload is one generated interchange.
type Payload struct {
	Body []byte
	Key  string // history.Key of the interchange
	Msgs int    // messages (transaction sets) inside it
}

// Generator makes the interchange with the given control number. rng is
// private to this one interchange (derived from the seed and its index), so
// the traffic of a seed is the same at any concurrency.
type Generator func(rng *rand.Rand, format string, control, minSize, maxSize int) (Payload, error)

// Options configure a Driver. Targets, Count and Journal are required.
type Options struct {
	// Targets are webserver base URLs such as http://127.0.0.1:8080.
	Targets []string
	// Count is the number of uploads to attempt.
	Count int
	// Rate is attempts started per second across all workers; 0 = as fast as
	// the workers go.
	Rate float64
	// Concurrency is the number of parallel uploads. Default 4.
	Concurrency int
	// MinSize and MaxSize bound interchange sizes in bytes. Default 256..4096.
	MinSize, MaxSize int
	// Mix is the share of X12 and EDIFACT. Default 50/50.
	Mix Mix
	// Routes are spread round-robin over the uploads. Default ["default"].
	Routes []string
	// Seed makes the traffic reproducible.
	Seed int64
	// Run names this run (for example the report directory's name). It is
	// mixed with Seed into the control numbers, so two runs on one volume do
	// not reuse each other's keys even with the same seed.
	Run string
	// ControlBase, when set, is the first control number used (the i-th
	// upload gets ControlBase+i) instead of one derived from Seed and Run.
	ControlBase int
	// RandomTargets picks a target at random (seeded) for each upload instead
	// of round-robin.
	RandomTargets bool
	// Timeout bounds one upload attempt. Default 10s.
	Timeout time.Duration
	// Journal receives one history.EvUpload event per attempt. Open it with
	// role history.RoleClient.
	Journal *history.Journal
	// Client sends the requests; default: a client with keep-alive sized to
	// Concurrency and no overall timeout (Timeout applies per attempt).
	Client *http.Client
	// Generate makes interchanges; default: the fixtures/pipeline/edi generator.
	Generate Generator
	// Observe, when set, is called after every attempt has been journaled
	// (from the worker goroutines, concurrently).
	Observe func(Attempt)
}

// Attempt is the result of one upload, as journaled.
type Attempt struct {
	Index   int
	Key     string
	SHA     string
	Size    int
	Route   string
	Target  string
	Status  int    // HTTP status, 0 when none was received
	Outcome string // history.OK | history.Fail | history.Unknown
	Err     string
	Call    time.Time
	Return  time.Time
}

// Stats are live counters of a Driver.
type Stats struct {
	Started  int64 // attempts begun
	OK       int64
	Fail     int64
	Unknown  int64
	InFlight int64
	AckBytes int64 // bytes of uploads answered ok
	Elapsed  time.Duration
}

// Done is the number of attempts that finished.
func (s Stats) Done() int64 { return s.OK + s.Fail + s.Unknown }

// Driver uploads interchanges and journals the outcomes.
type Driver struct {
	o     Options
	base  int
	start atomic.Int64

	started, ok, fail, unknown, inflight, ackBytes atomic.Int64
}

// New checks the options and fills in defaults.
func New(o Options) (*Driver, error) {
	if len(o.Targets) == 0 {
		return nil, errors.New("traffic: no targets: set Options.Targets to the webserver base URLs")
	}
	for _, t := range o.Targets {
		u, err := url.Parse(t)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("traffic: target %q is not an http(s) base URL such as http://127.0.0.1:8080", t)
		}
	}
	if o.Count <= 0 {
		return nil, fmt.Errorf("traffic: count %d: set Options.Count to the number of uploads (at least 1)", o.Count)
	}
	if o.Journal == nil {
		return nil, errors.New("traffic: no journal: set Options.Journal (history.OpenJournal with role client); without it nothing records what was acked")
	}
	if o.Rate < 0 {
		return nil, fmt.Errorf("traffic: rate %v is negative: use 0 for unthrottled", o.Rate)
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.MinSize <= 0 {
		o.MinSize = 256
	}
	if o.MaxSize <= 0 {
		o.MaxSize = 4096
	}
	if o.MaxSize < o.MinSize {
		return nil, fmt.Errorf("traffic: max size %d < min size %d: raise MaxSize", o.MaxSize, o.MinSize)
	}
	if o.Mix.X12 < 0 || o.Mix.EDIFACT < 0 {
		return nil, fmt.Errorf("traffic: mix %+v has a negative share", o.Mix)
	}
	if o.Mix.X12+o.Mix.EDIFACT == 0 {
		o.Mix = Mix{X12: 50, EDIFACT: 50}
	}
	if len(o.Routes) == 0 {
		o.Routes = []string{"default"}
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Generate == nil {
		o.Generate = defaultGenerator
	}
	if o.Generate == nil {
		return nil, errors.New("traffic: no generator: set Options.Generate")
	}
	if o.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = o.Concurrency
		tr.MaxIdleConns = o.Concurrency * len(o.Targets)
		o.Client = &http.Client{Transport: tr}
	}
	d := &Driver{o: o}
	switch {
	case o.ControlBase > 0:
		if o.ControlBase+o.Count-1 > MaxControl {
			return nil, fmt.Errorf("traffic: control numbers %d..%d exceed %d: lower ControlBase", o.ControlBase, o.ControlBase+o.Count-1, MaxControl)
		}
		d.base = o.ControlBase
	default:
		if o.Count > MaxControl/2 {
			return nil, fmt.Errorf("traffic: count %d leaves no room for unique control numbers: upload at most %d", o.Count, MaxControl/2)
		}
		d.base = ControlBase(o.Seed, o.Run, o.Count)
	}
	return d, nil
}

// ControlBase derives the first control number of a run from its seed and
// name, so that runs sharing a volume use different keys: the range
// [base, base+count) lies inside 1..MaxControl.
func ControlBase(seed int64, run string, count int) int {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(seed))
	h.Write(b[:])
	h.Write([]byte(run))
	span := uint64(MaxControl - count + 1) // bases 1..span
	return 1 + int(h.Sum64()%span)
}

// Controls is the range of control numbers the driver uses: [first, first+Count).
func (d *Driver) Controls() (first, count int) { return d.base, d.o.Count }

// Stats returns a snapshot of the counters; safe to call while Run runs.
func (d *Driver) Stats() Stats {
	s := Stats{
		Started:  d.started.Load(),
		OK:       d.ok.Load(),
		Fail:     d.fail.Load(),
		Unknown:  d.unknown.Load(),
		InFlight: d.inflight.Load(),
		AckBytes: d.ackBytes.Load(),
	}
	if st := d.start.Load(); st != 0 {
		s.Elapsed = time.Duration(time.Now().UnixNano() - st)
	}
	return s
}

// Run makes the uploads until Count attempts have finished or ctx is done.
// It returns ctx's error when cancelled (attempts in flight end as unknown and
// are journaled) and an error when the journal cannot be written, since a run
// whose acks are not recorded proves nothing.
func (d *Driver) Run(ctx context.Context) error {
	if !d.start.CompareAndSwap(0, time.Now().UnixNano()) {
		return errors.New("traffic: Run called twice: make a new Driver per run")
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < d.o.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := d.upload(ctx, i); err != nil {
					cancel(err)
				}
			}
		}()
	}

	start := time.Now()
	var timer *time.Timer
dispatch:
	for i := 0; i < d.o.Count; i++ {
		if d.o.Rate > 0 {
			due := start.Add(time.Duration(float64(i) / d.o.Rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				select {
				case <-ctx.Done():
					break dispatch
				case <-timer.C:
				}
			}
		}
		select {
		case <-ctx.Done():
			break dispatch
		case jobs <- i:
		}
	}
	close(jobs)
	wg.Wait()
	if timer != nil {
		timer.Stop()
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// upload makes attempt i and journals it. Only a journal error is returned.
func (d *Driver) upload(ctx context.Context, i int) error {
	if ctx.Err() != nil {
		return nil // cancelled before starting: no attempt
	}
	rng := rand.New(rand.NewPCG(uint64(d.o.Seed), uint64(i)))
	format := FormatX12
	if rng.IntN(d.o.Mix.X12+d.o.Mix.EDIFACT) >= d.o.Mix.X12 {
		format = FormatEDIFACT
	}
	target := d.o.Targets[i%len(d.o.Targets)]
	if d.o.RandomTargets {
		target = d.o.Targets[rng.IntN(len(d.o.Targets))]
	}
	route := d.o.Routes[i%len(d.o.Routes)]
	p, err := d.o.Generate(rng, format, d.base+i, d.o.MinSize, d.o.MaxSize)
	if err != nil {
		return fmt.Errorf("traffic: generate interchange %d (%s, control %d): %w", i, format, d.base+i, err)
	}
	sum := sha256.Sum256(p.Body)
	a := Attempt{
		Index:  i,
		Key:    p.Key,
		SHA:    hex.EncodeToString(sum[:]),
		Size:   len(p.Body),
		Route:  route,
		Target: target,
	}

	d.started.Add(1)
	d.inflight.Add(1)
	a.Call = time.Now()
	a.Status, a.Outcome, a.Err = d.post(ctx, target, route, format, p.Body)
	a.Return = time.Now()
	d.inflight.Add(-1)

	ev := history.Event{
		Type:    history.EvUpload,
		Call:    a.Call.UnixNano(),
		Return:  a.Return.UnixNano(),
		Outcome: a.Outcome,
		Key:     a.Key,
		SHA:     a.SHA,
		Size:    int64(a.Size),
		Msgs:    p.Msgs,
		Err:     a.Err,
		Detail:  fmt.Sprintf("route=%s target=%s status=%d", route, target, a.Status),
	}
	if ev.Return <= ev.Call {
		ev.Return = ev.Call + 1 // coarse clocks: keep Return > Call so the event is a span
	}
	jerr := d.o.Journal.Append(ev)
	switch a.Outcome {
	case history.OK:
		d.ok.Add(1)
		d.ackBytes.Add(int64(a.Size))
	case history.Fail:
		d.fail.Add(1)
	default:
		d.unknown.Add(1)
	}
	if jerr != nil {
		return fmt.Errorf("traffic: journal upload of %s: %w (the run cannot be judged; check the journal directory's disk)", a.Key, jerr)
	}
	if d.o.Observe != nil {
		d.o.Observe(a)
	}
	return nil
}

// post sends one upload and classifies what happened.
func (d *Driver) post(ctx context.Context, target, route, format string, body []byte) (status int, outcome, errText string) {
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	var sent atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		// Once a connection is in hand bytes may reach the server; before
		// that (dial refused, DNS failure, cancelled while dialing) nothing can.
		GotConn: func(httptrace.GotConnInfo) { sent.Store(true) },
	})
	u := strings.TrimRight(target, "/") + "/upload?route=" + url.QueryEscape(route)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, history.Fail, err.Error()
	}
	ctype := "application/EDI-X12" // RFC 1767
	if format == FormatEDIFACT {
		ctype = "application/EDIFACT"
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := d.o.Client.Do(req)
	if err != nil {
		return 0, Classify(0, err, sent.Load()), err.Error()
	}
	msg, rerr := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	outcome = Classify(resp.StatusCode, nil, true)
	if outcome != history.OK {
		errText = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
	} else if rerr != nil {
		// The status line said 2xx: the server acknowledged it.
		errText = "reading the response body: " + rerr.Error()
	}
	return resp.StatusCode, outcome, errText
}

// Classify maps an attempt's result to an outcome: ok for 2xx, fail for 4xx
// or an error before any connection was made (so nothing was sent), unknown
// otherwise (5xx, other statuses, timeouts and resets after sending).
func Classify(status int, err error, sent bool) string {
	if err != nil {
		if !sent {
			return history.Fail
		}
		return history.Unknown
	}
	switch {
	case status >= 200 && status < 300:
		return history.OK
	case status >= 400 && status < 500:
		return history.Fail
	}
	return history.Unknown
}
