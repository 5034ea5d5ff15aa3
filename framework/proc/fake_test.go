package proc

import (
	"context"
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
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

// envFake makes the test binary act as a fake edi-pipeline, so the
// provider's process handling is tested without the real one.
const envFake = "RWXCHAOS_LOCAL_FAKE"

// envRunner makes the test binary a runner that starts a fake cluster on
// the given root, says "ready" and waits to be killed.
const envRunner = "RWXCHAOS_LOCAL_RUNNER"

func runnerMain(root string) int {
	exe, _ := os.Executable()
	c, err := Start(context.Background(), Config{Binary: exe, Root: root, Webservers: 2, Jobqueue: true,
		Env: []string{envRunner + "=", envFake + "=1"}})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	if err := c.WaitReady(context.Background()); err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("ready")
	select {}
}

func TestMain(m *testing.M) {
	if os.Getenv(envFake) == "1" {
		os.Exit(fakeMain(os.Args[1:]))
	}
	if root := os.Getenv(envRunner); root != "" {
		os.Exit(runnerMain(root))
	}
	os.Exit(m.Run())
}

// fakeMain: webserver/jobqueue serve /readyz until SIGTERM; engine moves
// input/*/*.edi to output/*/*.json after --step-delay, or sleeps for
// --hold first.
func fakeMain(args []string) int {
	if len(args) == 0 {
		return 2
	}
	role := args[0]
	fs := flag.NewFlagSet(role, flag.ContinueOnError)
	listen := fs.String("listen", "", "")
	root := fs.String("root", "", "")
	node := fs.String("node", "", "")
	jdir := fs.String("journal-dir", "", "")
	fs.String("every", "", "")
	fs.String("lease-ttl", "", "")
	fs.String("engine-args", "", "")
	fs.String("heartbeat", "", "")
	step := fs.Duration("step-delay", 0, "")
	hold := fs.Duration("hold", 0, "")
	exit := fs.Int("exit", 0, "")
	var defects []string
	fs.Func("defect", "", func(s string) error { defects = append(defects, s); return nil })
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	fmt.Printf("fake %s pid %d defects %v\n", role, os.Getpid(), defects)
	if *jdir != "" {
		proc := history.ProcID(role, *node)
		j, err := history.OpenJournal(filepath.Join(*jdir, proc+".ndjson"), history.JournalOptions{Proc: proc, Role: role, Node: *node})
		if err == nil {
			j.Append(history.Event{Type: history.EvRunStart})
			defer j.Close()
		}
	}
	switch role {
	case "webserver", "jobqueue":
		// Handle SIGTERM before serving: once /readyz answers, a test may
		// stop the process at once, and a SIGTERM that arrives before
		// Notify would kill it with the default action instead of a clean
		// exit 0 (as the real pipeline does, cmd/edi-pipeline).
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM)
		l, err := net.Listen("tcp", *listen)
		if err != nil {
			fmt.Println(err)
			return 1
		}
		go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok")
		}))
		<-ch
		return 0
	case "engine":
		time.Sleep(*hold)
		in := filepath.Join(*root, history.DirInput)
		m, _ := filepath.Glob(filepath.Join(in, "*", "*.edi"))
		for _, f := range m {
			time.Sleep(*step)
			rel, _ := filepath.Rel(in, f)
			out := filepath.Join(*root, history.DirOutput, strings.TrimSuffix(rel, ".edi")+".json")
			os.MkdirAll(filepath.Dir(out), 0o755)
			os.WriteFile(out, []byte("{}"), 0o644)
			os.Remove(f)
		}
		return *exit
	}
	return 2
}

func fakeConfig(t *testing.T) Config {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	return Config{Binary: exe, Root: root, Env: []string{envFake + "=1"}, Node: "test",
		RestartDelay: 20 * time.Millisecond, StopGrace: 2 * time.Second, Logf: t.Logf}
}
