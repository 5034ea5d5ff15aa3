package check

import (
	"fmt"
	"iter"
	"runtime"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

// synthetic is a generated history of n uploads, each stored, claimed, output
// and done, with a lock epoch every 1,000 interchanges — the shape of a real
// run, streamed so the generator itself holds only the keys.
type synthetic struct {
	keys, shas, paths []string
	base              int64
}

func newSynthetic(n int) *synthetic {
	s := &synthetic{keys: make([]string, n), shas: make([]string, 4096), paths: make([]string, n), base: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC).UnixNano()}
	for i := range s.shas {
		s.shas[i] = fmt.Sprintf("%064x", i*2654435761) // bodies repeat across keys, as they may
	}
	for i := range s.keys {
		s.keys[i] = fmt.Sprintf("X12/SENDER%03d/RECEIVER/%09d", i%7, i)
		s.paths[i] = "botssys/outfile/default/" + history.FileName(s.keys[i]) + ".json"
	}
	return s
}

func (s *synthetic) sha(i int) string { return s.shas[i%len(s.shas)] }

func (s *synthetic) events() iter.Seq[*history.Event] {
	return func(yield func(*history.Event) bool) {
		var e history.Event
		seq := map[string]*int64{"client": new(int64), "web-1": new(int64), "engine-a": new(int64), "engine-b": new(int64), "engine-c": new(int64)}
		emit := func(proc, role, typ string, t int64, key, sha string, epoch uint64, outcome string) bool {
			n := seq[proc]
			*n++
			e = history.Event{Proc: proc, Seq: *n, Role: role, Type: typ, Call: t, Return: t + 1000, Key: key, SHA: sha, Epoch: epoch, Outcome: outcome}
			return yield(&e)
		}
		engines := []string{"engine-a", "engine-b", "engine-c"}
		for i := range s.keys {
			t := s.base + int64(i)*int64(time.Millisecond)
			epoch := uint64(i/1000 + 1)
			eng := engines[int(epoch)%len(engines)]
			if i%1000 == 0 && !emit(eng, history.RoleEngine, history.EvLockAcquire, t, "", "", epoch, "") {
				return
			}
			if !emit("client", history.RoleClient, history.EvUpload, t+1, s.keys[i], s.sha(i), 0, history.OK) ||
				!emit("web-1", history.RoleWebserver, history.EvStored, t+2, s.keys[i], s.sha(i), 0, "") ||
				!emit(eng, history.RoleEngine, history.EvClaim, t+3, s.keys[i], s.sha(i), epoch, "") ||
				!emit(eng, history.RoleEngine, history.EvOutput, t+4, s.keys[i], s.sha(i), epoch, "") ||
				!emit(eng, history.RoleEngine, history.EvDone, t+5, s.keys[i], s.sha(i), epoch, "") {
				return
			}
			if i%1000 == 999 && !emit(eng, history.RoleEngine, history.EvLockRelease, t+6, "", "", epoch, "") {
				return
			}
		}
	}
}

func (s *synthetic) files() iter.Seq[*history.File] {
	return func(yield func(*history.File) bool) {
		var f history.File
		doc := make([]history.OutputDoc, 1)
		engines := []string{"engine-a", "engine-b", "engine-c"}
		for i := range s.keys {
			epoch := uint64(i/1000 + 1)
			k := s.keys[i] // X12/SENDERnnn/RECEIVER/nnnnnnnnn: the parts are substrings, no allocation
			doc[0] = history.OutputDoc{Key: k, Format: k[:3], Sender: k[4:13], Receiver: k[14:22], Control: k[23:],
				InputSHA: s.sha(i), Messages: 3, Epoch: epoch, Engine: engines[int(epoch)%len(engines)], Written: s.base + int64(i)*int64(time.Millisecond) + 4}
			f = history.File{Path: s.paths[i], Stage: history.StageOutput, Key: k, Docs: doc}
			if !yield(&f) {
				return
			}
		}
	}
}

// BenchmarkCheckMillion checks a generated 1,000,000-upload history
// (5,002,000 events + 1,000,000 output files, each with a full document
// checked against its upload and its writer's journal). Goal: ≤ 500 MB.
func BenchmarkCheckMillion(b *testing.B) {
	const n = 1_000_000
	s := newSynthetic(n)
	runtime.GC()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		r := Run(Input{Events: s.events(), Files: s.files(), HasSnapshot: true, SizeHint: n}, DefaultConfig())
		el := time.Since(start)
		runtime.ReadMemStats(&after)
		if r.Status != Pass || r.Classes[ClassOK] != n {
			b.Fatalf("status %s classes %v", r.Status, r.Classes)
		}
		b.ReportMetric(el.Seconds(), "s/check")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), "MB-alloc")
		b.ReportMetric(float64(after.HeapInuse)/(1<<20), "MB-heap-inuse")
		b.ReportMetric(float64(after.Sys)/(1<<20), "MB-sys")
	}
}
