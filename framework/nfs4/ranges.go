package nfs4

import "sort"

// lockRange is a byte range [start, end] (end inclusive; allOnes64 means
// to the end of the file) locked with NFSv4 lock type typ.
type lockRange struct {
	start, end uint64
	typ        uint32 // lockRead or lockWrite
}

func (r lockRange) length() uint64 {
	if r.end == allOnes64 {
		return allOnes64
	}
	return r.end - r.start + 1
}

// rangeEnd turns an NFSv4 (offset, length) into an inclusive end.
func rangeEnd(off, length uint64) uint64 {
	if length == allOnes64 || off+length-1 < off {
		return allOnes64
	}
	return off + length - 1
}

// rangeSet is the set of byte ranges one lock-owner holds on one file,
// kept with POSIX semantics (a new lock replaces the overlapped part of
// older ones; adjacent ranges of one type merge), so the client knows
// what to reclaim after a server restart.
type rangeSet struct {
	r []lockRange // sorted by start, disjoint
}

func (s *rangeSet) empty() bool { return len(s.r) == 0 }

func (s *rangeSet) list() []lockRange { return append([]lockRange(nil), s.r...) }

// remove takes [start, end] out of the set.
func (s *rangeSet) remove(start, end uint64) {
	var out []lockRange
	for _, r := range s.r {
		if r.end < start || r.start > end {
			out = append(out, r)
			continue
		}
		if r.start < start {
			out = append(out, lockRange{r.start, start - 1, r.typ})
		}
		if r.end > end {
			out = append(out, lockRange{end + 1, r.end, r.typ})
		}
	}
	s.r = out
}

// add records [start, end] locked with typ.
func (s *rangeSet) add(start, end uint64, typ uint32) {
	s.remove(start, end)
	s.r = append(s.r, lockRange{start, end, typ})
	sort.Slice(s.r, func(i, j int) bool { return s.r[i].start < s.r[j].start })
	// merge adjacent ranges of one type
	out := s.r[:1]
	for _, r := range s.r[1:] {
		last := &out[len(out)-1]
		if last.typ == r.typ && last.end != allOnes64 && last.end+1 == r.start {
			last.end = r.end
			continue
		}
		out = append(out, r)
	}
	s.r = out
}
