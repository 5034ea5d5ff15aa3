package proc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/traffic"
)

// BenchmarkPipelineThroughput compares the pipeline's end-to-end throughput
// (uploads acked by the real webservers → outputs written by the real
// engine runs, on local disk) with the filesystem's durable-write rate
// measured in the same run on the same filesystem: create + write + fsync +
// rename of one file, back to back. Every interchange needs several such
// durable steps (the webserver stores it; the engine claims, writes and
// finishes it), so "%fsync-bound" = outputs/s ÷ fsync-ops/s shows how close
// the pipeline gets to what the disk allows. One iteration is a whole run:
// use -benchtime 1x.
//
//	go test -run '^$' -bench PipelineThroughput -benchtime 1x ./framework/proc
func BenchmarkPipelineThroughput(b *testing.B) {
	count := 2000
	if testing.Short() {
		count = 500
	}
	var fsyncs, acks, outputs float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := newRig(b, Config{Webservers: 3, EngineEvery: 20 * time.Millisecond, LeaseTTL: 3 * time.Second, Heartbeat: time.Second})
		// The probe runs before and after the pipeline and is averaged:
		// on a shared machine the disk's rate drifts.
		probe := filepath.Join(r.root, "fsync-probe")
		before, err := fsyncRate(probe, 2048, time.Second)
		if err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(probe)
		d := r.driver(traffic.Options{Count: count, Concurrency: 16, Seed: int64(i + 1), MinSize: 1024, MaxSize: 3072})
		b.StartTimer()

		start := time.Now()
		if err := d.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		acked := time.Since(start)
		res, err := r.c.Drain(context.Background(), 5*time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		all := time.Since(start)

		b.StopTimer()
		after, err := fsyncRate(probe, 2048, time.Second)
		if err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(probe)
		rate := (before + after) / 2
		fsyncs += rate
		st := d.Stats()
		acks += float64(st.OK) / acked.Seconds()
		outputs += float64(st.OK) / all.Seconds()
		v := r.verdict(0)
		if v.Status != check.Pass {
			b.Errorf("the benchmark run itself is not correct:\n%s", describe(v))
		}
		b.Logf("run %d: fsync-ops %.0f/s (%.0f before, %.0f after); %d uploads acked in %v (%.0f/s); all output after %v (%.0f/s, drain %d passes); %.0f%% of the fsync bound",
			i+1, rate, before, after, st.OK, acked.Round(time.Millisecond), float64(st.OK)/acked.Seconds(), all.Round(time.Millisecond),
			float64(st.OK)/all.Seconds(), res.Passes, 100*float64(st.OK)/all.Seconds()/rate)
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(fsyncs/n, "fsync-ops/s")
	b.ReportMetric(acks/n, "acks/s")
	b.ReportMetric(outputs/n, "outputs/s")
	b.ReportMetric(100*(outputs/n)/(fsyncs/n), "%fsync-bound")
}

// fsyncRate measures durable single-file writes per second in dir: create a
// temp file, write size bytes, fsync, close, rename into place.
func fsyncRate(dir string, size int, dur time.Duration) (float64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	buf := make([]byte, size)
	n := 0
	start := time.Now()
	for time.Since(start) < dur {
		tmp := filepath.Join(dir, fmt.Sprintf(".f%d.tmp", n))
		f, err := os.Create(tmp)
		if err != nil {
			return 0, err
		}
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return 0, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return 0, err
		}
		if err := f.Close(); err != nil {
			return 0, err
		}
		if err := os.Rename(tmp, filepath.Join(dir, fmt.Sprintf("f%d", n))); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
