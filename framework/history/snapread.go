package history

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
)

// Reading snapshot.json without holding it twice, kept apart from
// ParseSnapshot (the reference): json.Decoder buffers a whole value before
// decoding it, so a snapshot of a million files (one value, ~600 MB) was
// copied and grown in memory before a single file was decoded. Here the
// files array is decoded element by element from the stream. Anything but
// the plain form Save writes (exact key names, each once, an array of
// files) gives up, and the caller parses the file with ParseSnapshot, so
// errors and edge cases are the reference's.

// errSnapshotSlowPath says the stream reader gave up.
var errSnapshotSlowPath = errors.New("snapshot: not in the plain form; parse it whole")

// readSnapshotFile parses path as ParseSnapshot would, streaming when it can.
func readSnapshotFile(path string) (*Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	snap, err := parseSnapshotStream(f)
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

func parseSnapshotStream(r io.Reader) (*Snapshot, error) {
	d := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	d.DisallowUnknownFields()
	slow := func(error) (*Snapshot, error) { return nil, errSnapshotSlowPath }
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return slow(err)
	}
	var snap Snapshot
	seen := map[string]bool{}
	for d.More() {
		t, err := d.Token()
		key, ok := t.(string)
		if err != nil || !ok || seen[key] {
			return slow(err)
		}
		seen[key] = true
		switch key {
		case "taken":
			err = d.Decode(&snap.Taken)
		case "lease":
			err = d.Decode(&snap.Lease)
		case "journals":
			err = d.Decode(&snap.Journals)
		case "unscanned":
			err = d.Decode(&snap.Unscanned)
		case "files":
			err = decodeFiles(d, &snap.Files)
		default:
			return slow(nil) // unknown, or a case-insensitive match
		}
		if err != nil {
			return slow(err)
		}
	}
	if t, err := d.Token(); err != nil || t != json.Delim('}') {
		return slow(err)
	}
	if _, err := d.Token(); err != io.EOF {
		return slow(err)
	}
	return &snap, nil
}

func decodeFiles(d *json.Decoder, files *[]File) error {
	if t, err := d.Token(); err != nil || t != json.Delim('[') {
		return errSnapshotSlowPath // null, or not an array
	}
	*files = make([]File, 0, 1024)
	for d.More() {
		// Decoded in place (a local File would escape: one heap
		// allocation per file).
		*files = append(*files, File{})
		if err := d.Decode(&(*files)[len(*files)-1]); err != nil {
			return err
		}
	}
	if t, err := d.Token(); err != nil || t != json.Delim(']') {
		return errSnapshotSlowPath
	}
	return nil
}
