// Command triggerwindow measures where engine kills landed in saved runs
// (issue 16): for every process-kill of an engine run, whether the killed
// run had an output in place whose work file it had not removed yet — the
// close→unlink window, where a crash leaves a file both translated and
// still pending — whether it had written any output at all (for an engine
// that deletes its inputs only when the run ends, like remove-after-copy,
// that is the window that duplicates), and how many interchanges the run
// duplicated in all.
//
//	go run ./hack/triggerwindow RUN-DIR...
//
// It reads only saved reports (result.json, history.ndjson, snapshot.json)
// of provider local runs, where a fault's target pid is the pid in the
// engine's journal proc id (on kind the journals name pids inside the pod).
package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/report"
)

var enginePid = regexp.MustCompile(`engine(?:/\d+/| pid )(\d+)`)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: triggerwindow RUN-DIR...")
		os.Exit(2)
	}
	var kills, inWindow, afterOutput int
	for _, dir := range os.Args[1:] {
		r, h, err := report.Load(dir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", dir, err)
			os.Exit(1)
		}
		k, w, o := measure(r, h)
		kills += k
		inWindow += w
		afterOutput += o
		dup := 0
		if r.Check != nil {
			dup = r.Check.Classes["duplicated"]
		}
		fmt.Printf("%s seed %d: verdict %s, %d engine kills, %d inside an output→unlink window, %d after the run's first output, %d duplicated\n",
			r.Scenario, r.Seed, r.Verdict, k, w, o, dup)
	}
	if kills > 0 {
		fmt.Printf("total: %d of %d kills (%.0f%%) inside an output→unlink window, %d (%.0f%%) after the run's first output\n",
			inWindow, kills, 100*float64(inWindow)/float64(kills), afterOutput, 100*float64(afterOutput)/float64(kills))
	}
}

// measure counts the engine kills of a run, those that left an output of
// the killed run without its done, and those after the run's first output.
func measure(r *report.Run, h *history.History) (kills, inWindow, afterOutput int) {
	for _, f := range r.Faults {
		if f.Action != "process-kill" || f.Err != "" {
			continue
		}
		m := enginePid.FindStringSubmatch(f.Target)
		if m == nil {
			continue
		}
		kills++
		proc := ""
		for e := range h.All() {
			if e.Role == history.RoleEngine && strings.Contains(e.Proc, "-"+m[1]+"-") {
				proc = e.Proc
				break
			}
		}
		if proc == "" {
			continue // killed before it journaled anything: no output either
		}
		done := map[string]bool{}
		outputs := map[string]bool{}
		for e := range h.All() {
			if e.Proc != proc {
				continue
			}
			switch e.Type {
			case history.EvDone, history.EvSkip:
				done[e.Key] = true
			case history.EvOutput:
				outputs[e.Key] = true
			}
		}
		for fl := range h.Files() {
			for _, d := range fl.Docs {
				if d.Engine == proc {
					outputs[d.Key] = true
				}
			}
		}
		if len(outputs) > 0 {
			afterOutput++
		}
		for k := range outputs {
			if !done[k] {
				inWindow++
				break
			}
		}
	}
	return kills, inWindow, afterOutput
}
