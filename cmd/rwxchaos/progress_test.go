package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/runner"
)

// The runner's progress ticker and log lines from fault goroutines write to
// the terminal at the same time: every write goes through the one lock
// (go test -race fails here without it), and each log line is followed by
// the status line again.
func TestProgressAndLogLinesDoNotInterleave(t *testing.T) {
	var out bytes.Buffer
	p := &ttyProgress{w: &out}
	log := &clearingWriter{p: p}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				p.show(runner.Status{Phase: "traffic+faults", Elapsed: time.Second, Faults: []string{"f"}})
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				log.Write([]byte("fault f: healed\n"))
			}
		}()
	}
	wg.Wait()
	for _, chunk := range strings.Split(out.String(), "\r\033[K")[1:] {
		if strings.HasPrefix(chunk, "fault f") && !strings.HasSuffix(chunk, "faults: f") && chunk != "fault f: healed\n" {
			t.Fatalf("a log line was torn by the status line: %q", chunk)
		}
	}
}
