package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The fast paths' own costs, for comparing a change to them: events from
// the saved runs in the repository, and a snapshot of files in the form
// Save writes (indented), as a million-upload run's. Besides the wall time
// each reports the process's CPU time an event or file (cpu-ns/…): on a
// loaded machine it varies less.

// cpuNanos is the process's user and system CPU time so far.
func cpuNanos(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func BenchmarkDecodeEventFast(b *testing.B) {
	paths, _ := filepath.Glob("../report/testdata/*/*/history.ndjson")
	var lines [][]byte
	var size int64
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, MaxLine)
		for sc.Scan() {
			lines = append(lines, bytes.Clone(sc.Bytes()))
			size += int64(len(sc.Bytes()))
		}
		f.Close()
	}
	if len(lines) == 0 {
		b.Fatal("no saved history under ../report/testdata")
	}
	var in interner
	b.SetBytes(size)
	b.ReportAllocs()
	cpu0 := cpuNanos(b)
	for b.Loop() {
		for _, line := range lines {
			var e Event
			if !decodeEventFast(line, &e, &in) {
				b.Fatalf("%s takes the slow path", line)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(lines)), "ns/event")
	b.ReportMetric(float64(cpuNanos(b)-cpu0)/float64(b.N*len(lines)), "cpu-ns/event")
}

func BenchmarkParseSnapshotFast(b *testing.B) {
	const n = 20000
	snap := Snapshot{Taken: 1796005000856000000, Lease: &Lease{Holder: "h", Epoch: 3}}
	for i := range n {
		k := Key("X12", "ACME", "GLOBEX", fmt.Sprintf("%09d", i))
		snap.Files = append(snap.Files, File{Path: "botssys/outfile/default/" + FileName(k) + ".json", Stage: StageOutput, Size: 240, Key: k,
			Docs: []OutputDoc{{Key: k, Format: "X12", Sender: "ACME", Receiver: "GLOBEX", Control: fmt.Sprintf("%09d", i), Messages: 1 + i%3,
				InputSHA: strings.Repeat("bf", 32), Epoch: uint64(1 + i/1000), Engine: "engine-jobqueue-7f5c9d8b6-kx4jp-100-1796004001100000000", Written: 1796004001103120000 + int64(i)}}})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	if err := enc.Encode(&snap); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	cpu0 := cpuNanos(b)
	for b.Loop() {
		got, err := parseSnapshotFast(bytes.NewReader(data), int64(len(data)))
		if err != nil || len(got.Files) != n {
			b.Fatalf("%v, %d files", err, len(got.Files))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/file")
	b.ReportMetric(float64(cpuNanos(b)-cpu0)/float64(b.N*n), "cpu-ns/file")
}
