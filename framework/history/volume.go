package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The shared volume is laid out like a Bots installation (botssys/...). Every
// service mounts it at the same path; these paths are relative to that root.
const (
	DirInput   = "botssys/infile"           // <route>/<name>.edi: accepted uploads
	DirOutput  = "botssys/outfile"          // <route>/<name>.json: translated documents
	DirData    = "botssys/data"             // engine state
	DirWork    = "botssys/data/work"        // <route>/<name>.edi: claimed by an engine run
	DirQueue   = "botssys/data/jobqueue"    // persistent job queue
	DirSeen    = "botssys/data/seen"        // <name>.sha256: control references already accepted
	DirJournal = "botssys/logging/journal"  // <proc>.ndjson: one journal per process
	LockFile   = "botssys/data/engine.lock" // flock target
	LeaseFile  = "botssys/data/engine.lease"
	// DirPublish holds the publish/consume workload's generated files, like
	// the Python modules (grammars, mappings) Bots loads from usersys.
	DirPublish = "usersys/generated"
)

// Stages a file on the volume can be in.
const (
	StageInput  = "input"
	StageWork   = "work"
	StageOutput = "output"
	StageTemp   = "temp"  // an upload or output never renamed into place
	StageSilly  = "silly" // .nfsXXXX: an NFS client's silly-rename of an open, deleted file
	StageLease  = "lease" // the lease file
	StageOther  = "other"
)

// Lease is the engine lock's lease record, kept beside the flock'ed lock file.
// Epoch grows by one at every acquire: it is the fencing token that every
// engine mutation carries.
type Lease struct {
	Holder    string `json:"holder"`    // proc id of the holder
	Node      string `json:"node"`      // node or host of the holder
	Epoch     uint64 `json:"epoch"`     // fencing token
	Heartbeat int64  `json:"heartbeat"` // Unix ns of the holder's last renewal
	TTLMillis int64  `json:"ttlMillis"` // a lease older than this may be broken
	Released  bool   `json:"released"`  // the holder released it cleanly
}

// Stale reports whether the lease has expired at now.
func (l *Lease) Stale(now time.Time) bool {
	return !l.Released && now.UnixNano()-l.Heartbeat > l.TTLMillis*int64(time.Millisecond)
}

// OutputDoc is one translated document written by the engine. An output file
// must hold exactly one; more means it was processed twice into one file.
type OutputDoc struct {
	Key      string `json:"key"`
	Format   string `json:"format"` // X12 | EDIFACT
	Sender   string `json:"sender"`
	Receiver string `json:"receiver"`
	Control  string `json:"control"`
	Messages int    `json:"messages"`
	InputSHA string `json:"inputSha256"`
	Epoch    uint64 `json:"epoch"`
	Engine   string `json:"engine"` // proc id of the writer
	Written  int64  `json:"written"`
}

// File is one file found on the volume at the end of a run.
type File struct {
	Path  string      `json:"path"` // relative to the volume root
	Stage string      `json:"stage"`
	Size  int64       `json:"size"`
	Key   string      `json:"key,omitempty"`  // interchange key from the name or the content
	Docs  []OutputDoc `json:"docs,omitempty"` // outputs only
	Err   string      `json:"err,omitempty"`  // outputs only: why the content does not parse
}

// Snapshot is the state of the volume when the run ended.
type Snapshot struct {
	Taken int64  `json:"taken"` // Unix ns
	Files []File `json:"files"`
	Lease *Lease `json:"lease,omitempty"`
}

// FileName turns an interchange key into a file-name stem: each key segment is
// escaped (%XX for anything but [A-Za-z0-9_-]) and segments are joined by '+'.
// The stem contains no '.', so "<stem>.<anything>" can be mapped back.
func FileName(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '/':
			b.WriteByte('+')
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// KeyFromName inverts FileName on "<stem>[.suffix...]"; ok is false for names
// that are not stems (temp files, dot files).
func KeyFromName(name string) (key string, ok bool) {
	stem, _, _ := strings.Cut(name, ".")
	if stem == "" {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(stem); i++ {
		c := stem[i]
		switch {
		case c == '+':
			b.WriteByte('/')
		case c == '%':
			if i+2 >= len(stem) {
				return "", false
			}
			var v byte
			if _, err := fmt.Sscanf(stem[i+1:i+3], "%02X", &v); err != nil {
				return "", false
			}
			b.WriteByte(v)
			i += 2
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			b.WriteByte(c)
		default:
			return "", false
		}
	}
	return b.String(), true
}

// ParseOutput reads the documents of one output file. A file that is empty,
// torn or not a sequence of OutputDoc JSON objects returns an error along
// with the documents read before the damage.
func ParseOutput(data []byte) ([]OutputDoc, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty output file")
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	var docs []OutputDoc
	for {
		var doc OutputDoc
		err := d.Decode(&doc)
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return docs, fmt.Errorf("output document %d: %w", len(docs)+1, err)
		}
		if doc.Key == "" || doc.InputSHA == "" {
			return docs, fmt.Errorf("output document %d lacks key or inputSha256", len(docs)+1)
		}
		docs = append(docs, doc)
	}
}

// Scan walks the volume root and classifies every file under botssys/.
// Journals are not listed (they are the history itself).
func Scan(root string, now time.Time) (*Snapshot, error) {
	snap := &Snapshot{Taken: now.UnixNano()}
	walkRoot := filepath.Join(root, "botssys")
	err := filepath.WalkDir(walkRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == DirJournal {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		f := File{Path: rel, Size: info.Size(), Stage: Classify(rel)}
		switch f.Stage {
		case StageLease:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			var l Lease
			if err := json.Unmarshal(data, &l); err != nil {
				f.Err = "lease does not parse: " + err.Error()
			} else {
				snap.Lease = &l
			}
		case StageInput, StageWork:
			f.Key, _ = KeyFromName(d.Name())
		case StageOutput:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			docs, perr := ParseOutput(data)
			f.Docs = docs
			if perr != nil {
				f.Err = perr.Error()
			}
			if len(docs) > 0 {
				f.Key = docs[0].Key
			} else {
				f.Key, _ = KeyFromName(d.Name())
			}
		}
		snap.Files = append(snap.Files, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan volume %s: %w", root, err)
	}
	return snap, nil
}

// Classify names the stage of a file from its path relative to the volume root.
func Classify(rel string) string {
	base := filepath.Base(rel)
	switch {
	case strings.HasPrefix(base, ".nfs"):
		return StageSilly
	case rel == LeaseFile:
		return StageLease
	case strings.HasPrefix(base, ".") || strings.HasSuffix(base, ".tmp"):
		return StageTemp
	case strings.HasPrefix(rel, DirWork+"/") && strings.HasSuffix(base, ".edi"):
		return StageWork
	case strings.HasPrefix(rel, DirInput+"/") && strings.HasSuffix(base, ".edi"):
		return StageInput
	case strings.HasPrefix(rel, DirOutput+"/") && strings.HasSuffix(base, ".json"):
		return StageOutput
	}
	return StageOther
}

// Count walks the volume's botssys/ tree and counts files per stage (one
// walk, no file contents read): what drains and progress displays need.
func Count(root string) map[string]int {
	n := map[string]int{}
	_ = filepath.WalkDir(filepath.Join(root, "botssys"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		n[Classify(filepath.ToSlash(rel))]++
		return nil
	})
	return n
}
