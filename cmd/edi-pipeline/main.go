package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rwxchaos/rwxchaos/fixtures/pipeline/defect"
	"github.com/rwxchaos/rwxchaos/fixtures/pipeline/engine"
	"github.com/rwxchaos/rwxchaos/fixtures/pipeline/jobqueue"
	"github.com/rwxchaos/rwxchaos/fixtures/pipeline/lease"
	"github.com/rwxchaos/rwxchaos/fixtures/pipeline/publish"
	"github.com/rwxchaos/rwxchaos/fixtures/pipeline/webserver"
	"github.com/rwxchaos/rwxchaos/framework/history"
)

// Exit codes.
const (
	exitOK         = 0
	exitFail       = 1
	exitUsage      = 2
	exitLockLost   = 3
	exitTerminated = 143
)

const usage = `usage: edi-pipeline <subcommand> [flags]

Subcommands:
  webserver   accept EDI uploads over HTTP into the input dirs
  engine      one engine run: input -> work -> output under the engine lock
  jobqueue    queue engine runs (HTTP, persistent queue on the volume)
  publisher   publish numbered versions of generated files on the volume
  consumer    load (open, read, verify) the published files, journaling each load
  help        this text; "edi-pipeline <subcommand> --help" for its flags

Common flags (every subcommand):
  --root DIR         volume root (env EDI_ROOT)
  --node NAME        node name (default $NODE_NAME, else the hostname)
  --journal-dir DIR  journal directory (default <root>/botssys/logging/journal; "-" = stdout)
  --journal-sync     fsync the journal after every event
  --defect NAME      enable a bug (repeatable or comma-separated; env EDI_DEFECTS)
`

// common holds the flags every subcommand takes.
type common struct {
	root, node, journalDir string
	journalSync            bool
	defects                multiFlag
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func (c *common) register(fs *flag.FlagSet) {
	node := os.Getenv("NODE_NAME")
	if node == "" {
		node, _ = os.Hostname()
	}
	fs.StringVar(&c.root, "root", os.Getenv("EDI_ROOT"), "volume root (env EDI_ROOT)")
	fs.StringVar(&c.node, "node", node, "node name (default $NODE_NAME, else the hostname)")
	fs.StringVar(&c.journalDir, "journal-dir", "", `journal directory (default <root>/`+history.DirJournal+`; "-" = stdout)`)
	fs.BoolVar(&c.journalSync, "journal-sync", false, "fsync the journal after every event")
	fs.Var(&c.defects, "defect", "enable a bug: "+strings.Join(defect.Names(), ", ")+" (repeatable; env EDI_DEFECTS)")
}

// setup validates the common flags and opens the journal.
func (c *common) setup(role string) (*history.Journal, defect.Set, error) {
	if c.root == "" {
		return nil, nil, errors.New("--root is required (the volume mount point, e.g. /srv/bots)")
	}
	if st, err := os.Stat(c.root); err != nil || !st.IsDir() {
		return nil, nil, fmt.Errorf("--root %s is not a directory: mount the volume there or create it", c.root)
	}
	names := []string(c.defects)
	if len(names) == 0 && os.Getenv("EDI_DEFECTS") != "" {
		names = []string{os.Getenv("EDI_DEFECTS")}
	}
	ds, err := defect.Parse(names)
	if err != nil {
		return nil, nil, err
	}
	proc := history.ProcID(role, c.node)
	o := history.JournalOptions{Proc: proc, Role: role, Node: c.node, Sync: c.journalSync}
	if c.journalDir == "-" {
		return history.NewJournal(os.Stdout, o), ds, nil
	}
	dir := c.journalDir
	if dir == "" {
		dir = filepath.Join(c.root, history.DirJournal)
	}
	j, err := history.OpenJournal(filepath.Join(dir, proc+".ndjson"), o)
	if err != nil {
		return nil, nil, fmt.Errorf("journal in %s: %w", dir, err)
	}
	return j, ds, nil
}

// args rebuilds the common flags for a child process.
func (c *common) args() []string {
	a := []string{"--root", c.root, "--node", c.node}
	if c.journalDir != "" {
		a = append(a, "--journal-dir", c.journalDir)
	}
	if c.journalSync {
		a = append(a, "--journal-sync")
	}
	for _, d := range c.defects {
		a = append(a, "--defect", d)
	}
	return a
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "webserver":
		return cmdWebserver(args[1:], stderr)
	case "engine":
		return cmdEngine(args[1:], stderr)
	case "jobqueue":
		return cmdJobqueue(args[1:], stderr)
	case "publisher":
		return cmdPublisher(args[1:], stderr)
	case "consumer":
		return cmdConsumer(args[1:], stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "edi-pipeline: unknown subcommand %q\n\n%s", args[0], usage)
	return exitUsage
}

func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("edi-pipeline "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: edi-pipeline %s [flags]\n\n%s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; ok false means exit with code.
func parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected arguments %q\n", fs.Name(), fs.Args())
		fs.Usage()
		return exitUsage, false
	}
	return 0, true
}

func fail(stderr io.Writer, name string, err error) int {
	fmt.Fprintf(stderr, "edi-pipeline %s: %v\n", name, err)
	return exitUsage
}

func terminated() (<-chan struct{}, func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	stop := make(chan struct{})
	go func() {
		if _, ok := <-ch; ok {
			close(stop)
		}
	}()
	return stop, func() { signal.Stop(ch); close(ch) }
}

// serve runs an HTTP server until SIGTERM/SIGINT, then shuts it down
// gracefully and calls drain.
func serve(name, addr string, h http.Handler, stderr io.Writer, drain func()) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "edi-pipeline %s: listen on %s: %v (is the port in use?)\n", name, addr, err)
		return exitFail
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "edi-pipeline %s: listening on %s\n", name, ln.Addr())
	stop, cleanup := terminated()
	defer cleanup()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "edi-pipeline %s: serve: %v\n", name, err)
		return exitFail
	case <-stop:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(ctx)
	if drain != nil {
		drain()
	}
	if err != nil {
		fmt.Fprintf(stderr, "edi-pipeline %s: shutdown: %v\n", name, err)
		return exitFail
	}
	fmt.Fprintf(stderr, "edi-pipeline %s: stopped\n", name)
	return exitOK
}

func cmdWebserver(args []string, stderr io.Writer) int {
	var c common
	fs := newFlagSet("webserver", "Accept EDI uploads over HTTP and store them durably in the input dirs.", stderr)
	c.register(fs)
	listen := fs.String("listen", ":8080", "listen address (host:port; port 0 picks one, printed on stderr)")
	maxSize := fs.Int64("max-size", webserver.DefaultMaxSize, "largest accepted upload in bytes (larger: 413)")
	readyTimeout := fs.Duration("ready-timeout", 2*time.Second, "/readyz fails if the storage probe takes longer")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *maxSize <= 0 || *readyTimeout <= 0 {
		return fail(stderr, "webserver", errors.New("--max-size and --ready-timeout must be positive"))
	}
	j, ds, err := c.setup(history.RoleWebserver)
	if err != nil {
		return fail(stderr, "webserver", err)
	}
	defer j.Close()
	s, err := webserver.New(webserver.Options{Root: c.root, Proc: j.Proc(), Node: c.node, Journal: j,
		MaxSize: *maxSize, ReadyTimeout: *readyTimeout, Defects: ds})
	if err != nil {
		return fail(stderr, "webserver", err)
	}
	return serve("webserver", *listen, s.Handler(), stderr, s.Wait)
}

func cmdEngine(args []string, stderr io.Writer) int {
	var c common
	fs := newFlagSet("engine", "One engine run: take the engine lock, recover leftovers, translate every input file, release.\n"+
		"Exit status: 0 done or lock busy, 1 failed (storage error), 2 usage, 3 lock lost, 137 --crash-at, 143 SIGTERM.", stderr)
	c.register(fs)
	ttl := fs.Duration("lease-ttl", 3*time.Second, "a lease not renewed for this long may be broken by another engine")
	hb := fs.Duration("heartbeat", time.Second, "lease renewal period (at most half of --lease-ttl)")
	wait := fs.Duration("lock-wait", 10*time.Second, "how long to try for the lock before ending with \"lock busy\"")
	maxFiles := fs.Int("max-files", 0, "claim at most N input files per run (0 = all)")
	stepDelay := fs.Duration("step-delay", envDuration("EDI_STEP_DELAY"), "sleep this long at every step, so tests can kill the run mid-way (env EDI_STEP_DELAY)")
	crashAt := fs.String("crash-at", os.Getenv("EDI_CRASH_AT"), "exit 137 at STEP[:N] (the N-th time): "+strings.Join(engine.Steps, ", ")+" (env EDI_CRASH_AT)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cp, err := engine.ParseCrashPoint(*crashAt)
	if err != nil {
		return fail(stderr, "engine", err)
	}
	if *maxFiles < 0 {
		return fail(stderr, "engine", errors.New("--max-files must be >= 0"))
	}
	if *hb <= 0 || *ttl < 2**hb {
		return fail(stderr, "engine", fmt.Errorf("--heartbeat %v must be positive and at most half of --lease-ttl %v", *hb, *ttl))
	}
	j, ds, err := c.setup(history.RoleEngine)
	if err != nil {
		return fail(stderr, "engine", err)
	}
	defer j.Close()
	stop, cleanup := terminated()
	defer cleanup()
	res, err := engine.Run(engine.Options{Root: c.root, Proc: j.Proc(), Node: c.node, Journal: j,
		LeaseTTL: *ttl, Heartbeat: *hb, LockWait: *wait, MaxFiles: *maxFiles,
		StepDelay: *stepDelay, CrashAt: cp, Defects: ds, Stop: stop})
	switch {
	case err == nil:
		fmt.Fprintf(stderr, "edi-pipeline engine: %s\n", res)
		return exitOK
	case errors.Is(err, lease.ErrLost):
		fmt.Fprintf(stderr, "edi-pipeline engine: stopped, %v\n", err)
		return exitLockLost
	case errors.Is(err, engine.ErrTerminated):
		fmt.Fprintf(stderr, "edi-pipeline engine: %v (%s)\n", err, res)
		return exitTerminated
	}
	fmt.Fprintf(stderr, "edi-pipeline engine: run failed: %v (%s)\n", err, res)
	return exitFail
}

func envDuration(name string) time.Duration {
	d, _ := time.ParseDuration(os.Getenv(name))
	return d
}

func cmdJobqueue(args []string, stderr io.Writer) int {
	var c common
	fs := newFlagSet("jobqueue", "Queue engine runs: POST /jobs enqueues one; jobs run one at a time as child engine processes.", stderr)
	c.register(fs)
	listen := fs.String("listen", ":8081", "listen address (host:port; port 0 picks one, printed on stderr)")
	every := fs.Duration("every", 0, "also enqueue a job at this period (0 = no timer)")
	engineArgs := fs.String("engine-args", "", `extra flags for every engine run, space-separated (e.g. "--lease-ttl 3s --max-files 50")`)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *every < 0 {
		return fail(stderr, "jobqueue", errors.New("--every must be >= 0"))
	}
	j, _, err := c.setup(history.RoleJobqueue)
	if err != nil {
		return fail(stderr, "jobqueue", err)
	}
	defer j.Close()
	self, err := os.Executable()
	if err != nil {
		return fail(stderr, "jobqueue", fmt.Errorf("find own binary to run engine jobs: %w", err))
	}
	q, err := jobqueue.New(jobqueue.Options{Root: c.root, Journal: j, Every: *every,
		Command: append([]string{self, "engine"}, append(c.args(), strings.Fields(*engineArgs)...)...), Stdout: os.Stdout, Log: stderr})
	if err != nil {
		return fail(stderr, "jobqueue", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	return serve("jobqueue", *listen, q.Handler(), stderr, func() { cancel(); <-done })
}

func cmdPublisher(args []string, stderr io.Writer) int {
	var c common
	fs := newFlagSet("publisher", "Publish numbered versions of generated files (temp + fsync + rename) at a rate; see package fixtures/pipeline/publish.\n"+
		"A restarted publisher continues after the highest version on the volume. SIGTERM: finish the file being written, exit 0.", stderr)
	c.register(fs)
	files := fs.Int("files", publish.DefaultFiles, "files published every round ("+publish.FileName(0)+", …)")
	size := fs.Int("size", publish.DefaultSize, fmt.Sprintf("body bytes of every file (%d to %d)", publish.MinSize, publish.MaxSize))
	rate := fs.Float64("rate", 5, "rounds (a new version of every file) per second")
	versions := fs.Uint64("versions", 0, "stop publishing after this version, then idle until SIGTERM (0 = never stop)")
	writeTime := fs.Duration("write-time", 0, "spread the write of one file over this long (4 KiB chunks), like a generator rendering as it writes")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *files < 1 || *files > 100 || *size < publish.MinSize || *size > publish.MaxSize || *rate <= 0 || *writeTime < 0 {
		return fail(stderr, "publisher", fmt.Errorf("--files 1..100, --size %d..%d, a positive --rate and --write-time >= 0 are required (got %d, %d, %g, %v)",
			publish.MinSize, publish.MaxSize, *files, *size, *rate, *writeTime))
	}
	j, ds, err := c.setup(history.RolePublisher)
	if err != nil {
		return fail(stderr, "publisher", err)
	}
	defer j.Close()
	stop, cleanup := terminated()
	defer cleanup()
	res, err := publish.Publish(publish.PublisherOptions{Root: c.root, Files: *files, Size: *size, Rate: *rate, Versions: *versions,
		WriteTime: *writeTime, Defects: ds, Journal: j, Stop: stop, Log: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "edi-pipeline publisher: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stderr, "edi-pipeline publisher: stopped: %s\n", res)
	return exitOK
}

func cmdConsumer(args []string, stderr io.Writer) int {
	var c common
	fs := newFlagSet("consumer", "Load every published file (open, read fully, verify header, length and checksum) at a rate, journaling each load.\n"+
		"Storage errors and torn files are journaled, never fatal. SIGTERM: exit 0.", stderr)
	c.register(fs)
	files := fs.Int("files", publish.DefaultFiles, "files loaded every round (as many as the publisher publishes)")
	rate := fs.Float64("rate", 10, "rounds (one load of every file) per second")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *files < 1 || *files > 100 || *rate <= 0 {
		return fail(stderr, "consumer", fmt.Errorf("--files 1..100 and a positive --rate are required (got %d, %g)", *files, *rate))
	}
	j, _, err := c.setup(history.RoleConsumer)
	if err != nil {
		return fail(stderr, "consumer", err)
	}
	defer j.Close()
	stop, cleanup := terminated()
	defer cleanup()
	fmt.Fprintf(stderr, "edi-pipeline consumer: loading %d files %g times a second\n", *files, *rate)
	res, err := publish.Consume(publish.ConsumerOptions{Root: c.root, Files: *files, Rate: *rate, Journal: j, Stop: stop, Log: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "edi-pipeline consumer: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stderr, "edi-pipeline consumer: stopped: %s\n", res)
	return exitOK
}
