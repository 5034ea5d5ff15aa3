package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/lab"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/internal/benchrun"
)

// benchUploads is the size of the saved run BenchmarkReportMillion
// re-checks; RWXCHAOS_BENCH_UPLOADS overrides it (for a quick try).
func benchUploads(b *testing.B) int {
	if v := os.Getenv("RWXCHAOS_BENCH_UPLOADS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("RWXCHAOS_BENCH_UPLOADS=%q: want a positive number", v)
		}
		return n
	}
	return 1_000_000
}

// benchRoot caches generated runs: $RWXCHAOS_BENCH_DIR, else <lab cache>/bench.
func benchRoot() string {
	if d := os.Getenv("RWXCHAOS_BENCH_DIR"); d != "" {
		return d
	}
	return filepath.Join(lab.CacheDir(), "bench")
}

// BenchmarkReportMillion re-checks a saved 1,000,000-upload run end to end:
// `rwxchaos report DIR` as its own process, reading history.ndjson and
// snapshot.json from disk (the run is generated once as a real run writes
// it, about 2 GB, and cached under $RWXCHAOS_BENCH_DIR or the lab cache).
// Goal: ≤ 2 s and ≤ 500 MB peak RSS on 2 cores.
func BenchmarkReportMillion(b *testing.B) {
	n := benchUploads(b)
	start := time.Now()
	dir, err := benchrun.Ensure(benchRoot(), n)
	if err != nil {
		b.Fatalf("write the saved run: %v", err)
	}
	b.Logf("saved run of %d uploads: %s (ready in %s)", n, dir, time.Since(start).Round(time.Second))
	for _, f := range []string{"history.ndjson", "snapshot.json"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err == nil {
			b.Logf("%s: %.0f MB", f, float64(st.Size())/1e6)
		}
	}
	bin := filepath.Join(b.TempDir(), "rwxchaos")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build rwxchaos: %v\n%s", err, out)
	}
	outs := b.TempDir()
	b.ResetTimer()
	for i := range b.N {
		// `rwxchaos report` never touches DIR: it writes the new report and
		// a copy of the evidence to --out.
		out := filepath.Join(outs, strconv.Itoa(i))
		cmd := exec.Command(bin, "report", dir, "--out", out)
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
		t0 := time.Now()
		err := cmd.Run()
		wall := time.Since(t0)
		if err != nil {
			b.Fatalf("rwxchaos report %s: %v", dir, err)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		b.ReportMetric(wall.Seconds(), "s/report")
		b.ReportMetric(cpu.Seconds(), "cpu-s/report")
		b.ReportMetric(float64(ru.Maxrss)/1024, "MB-maxrss")
		b.StopTimer()
		r, err := report.LoadRun(out)
		if err != nil || r.Verdict != report.VerdictPass || r.Check.Classes["ok"] != n {
			b.Fatalf("re-checked run: %v %+v", err, r)
		}
		_ = os.RemoveAll(out)
		b.StartTimer()
	}
	b.Logf("GOMAXPROCS %d, load average %s", runtime.GOMAXPROCS(0), loadavg())
}

// BenchmarkRecheckMillion is the same command in this process, for
// profiles (-cpuprofile, -memprofile) of where the time goes.
func BenchmarkRecheckMillion(b *testing.B) {
	dir, err := benchrun.Ensure(benchRoot(), benchUploads(b))
	if err != nil {
		b.Fatal(err)
	}
	outs := b.TempDir()
	b.ResetTimer()
	for i := range b.N {
		out := filepath.Join(outs, strconv.Itoa(i))
		root := newRoot()
		root.SetArgs([]string{"report", dir, "--out", out})
		root.SetOut(io.Discard)
		if err := root.Execute(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = os.RemoveAll(out)
		b.StartTimer()
	}
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return string(b[:min(len(b), 14)])
}
