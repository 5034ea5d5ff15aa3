package history_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/history"
)

// A history written by hand, saved, loaded back and checked: what the
// package doc describes is enough to produce a judged run.
func Example_handWritten() {
	dir, _ := os.MkdirTemp("", "history-example")
	defer os.RemoveAll(dir)
	key := "X12/ACME/GLOBEX/000000001"
	sha := strings.Repeat("ab", 32)
	lines := []string{
		`{"proc":"client-1","seq":1,"role":"client","type":"upload","call":1000,"ret":2000,"outcome":"ok","key":"` + key + `","sha":"` + sha + `"}`,
		`{"proc":"engine-a","seq":1,"role":"engine","type":"lock.acquire","call":3000,"ret":3100,"epoch":1}`,
		`{"proc":"engine-a","seq":2,"role":"engine","type":"claim","call":3200,"ret":3300,"key":"` + key + `","epoch":1}`,
		`{"proc":"engine-a","seq":3,"role":"engine","type":"output","call":3400,"ret":3500,"key":"` + key + `","epoch":1}`,
		`{"proc":"engine-a","seq":4,"role":"engine","type":"done","call":3600,"ret":3700,"key":"` + key + `","epoch":1}`,
		`{"proc":"engine-a","seq":5,"role":"engine","type":"lock.release","call":3800,"ret":3900,"epoch":1}`,
	}
	_ = os.WriteFile(filepath.Join(dir, history.EventsFile), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	snap := `{"taken":5000,"files":[{"path":"botssys/outfile/default/` + history.FileName(key) + `.json","stage":"output","size":200,"key":"` + key + `",
	  "docs":[{"key":"` + key + `","format":"X12","sender":"ACME","receiver":"GLOBEX","control":"000000001","messages":1,"inputSha256":"` + sha + `","epoch":1,"engine":"engine-a","written":3450}]}]}`
	_ = os.WriteFile(filepath.Join(dir, history.SnapshotFile), []byte(snap), 0o644)

	h, err := history.Load(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	r := check.Run(check.FromHistory(h), check.DefaultConfig())
	fmt.Println(r.Status, r.Classes)
	// Output: pass map[ok:1]
}
