package history

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// Read in chunks on several goroutines, a file gives what one ReadJournal
// over it gives: the same events in order, counts, and problems with
// file-wide line numbers — whatever the chunk size, including lines longer
// than a chunk and a last line cut short.
func TestReadParallelMatchesReadJournal(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 3000; i++ {
		switch {
		case i%701 == 0:
			b.WriteString(`{"proc":"w","seq":` + fmt.Sprint(i) + `,"bogus":1}` + "\n") // a problem
		case i%997 == 0:
			b.WriteString("\n") // a blank line still counts for line numbers
		default:
			fmt.Fprintf(&b, `{"proc":"client-x-1-2","seq":%d,"role":"client","type":"upload","call":%d,"ret":%d,"outcome":"ok","key":"X12/A/B/%09d","sha":"%064x","size":300,"detail":"%s"}`+"\n",
				i, 1000+i, 1001+i, i, i, strings.Repeat("d", i%5*200))
		}
	}
	b.WriteString(`{"proc":"client-x-1-2","seq":4000,"role":"cli`) // cut short
	data := []byte(b.String())
	want, wst, werr := ReadJournal("h", bytes.NewReader(data), ReadOptions{Saved: true})
	if werr != nil || wst.ProblemCount == 0 {
		t.Fatalf("reference: %v, %d problems", werr, wst.ProblemCount)
	}
	newlines := bytes.Count(data, []byte{'\n'})
	counted, err := countLines(bytes.NewReader(data), int64(len(data)), 3)
	if err != nil || counted != newlines {
		t.Fatalf("countLines: %d, %v; want %d", counted, err, newlines)
	}
	// lines: counted (events decoded in place), 0 (a slice per chunk), and
	// fewer than the file has (it grew after the count: the chunks past
	// the count get slices of their own).
	for _, lines := range []int{newlines, 0, newlines / 2} {
		for _, size := range []int{64, 1000, 4096, 1 << 20} {
			for _, workers := range []int{1, 2, 3} {
				got, gst, err := readParallel(bytes.NewReader(data), "h", ReadOptions{Saved: true}, workers, size, lines)
				if err != nil {
					t.Fatalf("lines %d, chunk %d, %d workers: %v", lines, size, workers, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("lines %d, chunk %d, %d workers: %d events, want %d (or they differ)", lines, size, workers, len(got), len(want))
				}
				if !reflect.DeepEqual(gst, wst) {
					t.Errorf("lines %d, chunk %d, %d workers: stats %+v, want %+v", lines, size, workers, gst, wst)
				}
			}
		}
	}
}

// Sort orders by call, writer, sequence and keeps equal events in their
// order, whether the input is shuffled or already sorted (its fast path).
func TestSortOrdersAndIsStable(t *testing.T) {
	want := []Event{
		{Proc: "a", Seq: 1, Call: 5},
		{Proc: "a", Seq: 2, Call: 5, Detail: "first of two equal keys"},
		{Proc: "a", Seq: 2, Call: 5, Detail: "second of two equal keys"},
		{Proc: "b", Seq: 1, Call: 5},
		{Proc: "a", Seq: 3, Call: 7},
	}
	sorted := append([]Event(nil), want...)
	Sort(sorted)
	if !reflect.DeepEqual(sorted, want) {
		t.Fatalf("sorted input changed: %+v", sorted)
	}
	shuffled := []Event{want[4], want[3], want[1], want[0], want[2]}
	Sort(shuffled)
	if !reflect.DeepEqual(shuffled, want) {
		t.Fatalf("shuffled input: got %+v, want %+v", shuffled, want)
	}
}
