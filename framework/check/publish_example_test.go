package check_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/history"
)

// A publish/consume history written by hand: version 1 and 2 of one file,
// two consumers. c2 still loaded version 1 270 ms after version 2's publish
// returned (late visibility: over the 200 ms bound, less the 50 ms allowed
// for the clocks), then saw version 2 and then version 1 again (a
// rollback, as two NFS clients' caches can show), and c1 read version 2
// half-written.
// Every anomaly names the load (process and sequence number) that proves it.
func Example_publishConsume() {
	sha := func(c byte) string { return strings.Repeat(string(c), 64) }
	lines := []string{
		`{"proc":"pub","seq":1,"role":"publisher","type":"publish","call":1000000000,"ret":1010000000,"outcome":"ok","path":"usersys/generated/gen_00.py","version":1,"sha":"` + sha('a') + `"}`,
		`{"proc":"c1","seq":1,"role":"consumer","node":"n1","type":"load","call":1100000000,"ret":1101000000,"outcome":"ok","path":"usersys/generated/gen_00.py","version":1,"sha":"` + sha('a') + `"}`,
		`{"proc":"c2","seq":1,"role":"consumer","node":"n2","type":"load","call":1150000000,"ret":1151000000,"outcome":"ok","path":"usersys/generated/gen_00.py","version":1,"sha":"` + sha('a') + `"}`,
		`{"proc":"pub","seq":2,"role":"publisher","type":"publish","call":2000000000,"ret":2010000000,"outcome":"ok","path":"usersys/generated/gen_00.py","version":2,"sha":"` + sha('b') + `"}`,
		`{"proc":"c1","seq":2,"role":"consumer","node":"n1","type":"load","call":2005000000,"ret":2006000000,"outcome":"fail","errClass":"SHORT","err":"torn file: 900 of 4096 body bytes","path":"usersys/generated/gen_00.py","version":2}`,
		`{"proc":"c1","seq":3,"role":"consumer","node":"n1","type":"load","call":2100000000,"ret":2101000000,"outcome":"ok","path":"usersys/generated/gen_00.py","version":2,"sha":"` + sha('b') + `"}`,
		`{"proc":"c2","seq":2,"role":"consumer","node":"n2","type":"load","call":2280000000,"ret":2281000000,"outcome":"ok","path":"usersys/generated/gen_00.py","version":1,"sha":"` + sha('a') + `"}`,
		`{"proc":"c2","seq":3,"role":"consumer","node":"n2","type":"load","call":2300000000,"ret":2301000000,"outcome":"ok","path":"usersys/generated/gen_00.py","version":2,"sha":"` + sha('b') + `"}`,
		`{"proc":"c2","seq":4,"role":"consumer","node":"n2","type":"load","call":2400000000,"ret":2401000000,"outcome":"ok","path":"usersys/generated/gen_00.py","version":1,"sha":"` + sha('a') + `"}`,
		`{"proc":"c2","seq":5,"role":"consumer","node":"n2","type":"load","call":2500000000,"ret":2501000000,"outcome":"ok","path":"usersys/generated/gen_00.py","version":2,"sha":"` + sha('b') + `"}`,
	}
	evs, _, err := history.ReadJournal("example", strings.NewReader(strings.Join(lines, "\n")+"\n"), history.ReadOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := check.DefaultConfig()
	pc := check.DefaultPublishConfig()
	pc.VisibleWithin = 200 * time.Millisecond
	cfg.Publish = &pc
	r := check.Run(check.FromHistory(&history.History{Events: evs}), cfg)
	fmt.Println(r.Status)
	for _, c := range r.Checks[1:] {
		fmt.Printf("%s %s\n", c.Name, c.Status)
		for _, a := range c.Anomalies {
			fmt.Printf("  %s: %s seq %d\n", a.Class, a.Proc, a.Evidence[0].Seq)
		}
	}
	for _, c := range r.Publish.Consumers {
		fmt.Printf("%s lag p50 %.0f ms, max %.0f ms\n", c.Consumer, c.Lag.P50, c.Lag.Max)
	}
	// Output:
	// fail
	// torn-reads fail
	//   torn-read: c1 seq 2
	// versions pass
	// monotonic-reads fail
	//   rollback: c2 seq 4
	// visibility-lag fail
	//   slow-visibility: c2 seq 2
	// convergence pass
	// load-errors pass
	// n1 lag p50 91 ms, max 91 ms
	// n2 lag p50 291 ms, max 291 ms
}
