package history

import (
	"errors"
	"os"
)

// Reading snapshot.json without holding it twice, kept apart from
// ParseSnapshot (the reference): json.Decoder buffers a whole value before
// decoding it, so a snapshot of a million files (one value, ~600 MB) was
// copied and grown in memory before a single file was decoded. Here the
// files array is decoded element by element from the stream, by hand
// (snapfast.go). Anything but the plain form Save writes gives up, and the
// caller parses the file with ParseSnapshot, so errors and edge cases are
// the reference's.

// errSnapshotSlowPath says the stream reader gave up.
var errSnapshotSlowPath = errors.New("snapshot: not in the plain form; parse it whole")

// readSnapshotFile parses path as ParseSnapshot would, streaming when it can.
func readSnapshotFile(path string) (*Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	snap, err := parseSnapshotFast(f, size)
	f.Close()
	if err == nil {
		return snap, nil
	}
	if !errors.Is(err, errSnapshotSlowPath) {
		return nil, err // an I/O error, not the content's
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSnapshot(data)
}
