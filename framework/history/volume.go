package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
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

// ReadLease reads the lease file of the volume at root. Its error wraps
// fs.ErrNotExist when no engine has taken the lock yet, and says whether
// the file did not read or did not parse (being rewritten?).
func ReadLease(root string) (*Lease, error) {
	b, err := os.ReadFile(filepath.Join(root, LeaseFile))
	if err != nil {
		return nil, fmt.Errorf("read the lease: %w", err)
	}
	var l Lease
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("the lease does not parse (being rewritten?): %w", err)
	}
	return &l, nil
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

// File is one file found on the volume at the end of a run. Stage and Key
// are derived from Path and Docs (Derive); checkers re-derive them and
// report a snapshot whose stored values disagree.
type File struct {
	Path  string      `json:"path"` // relative to the volume root
	Stage string      `json:"stage,omitempty"`
	Size  int64       `json:"size"`
	Key   string      `json:"key,omitempty"`  // interchange key from the name or the content
	Docs  []OutputDoc `json:"docs,omitempty"` // outputs only
	Err   string      `json:"err,omitempty"`  // outputs only: why the content does not parse
}

// Derive re-derives a file's stage (from its path, Classify) and
// interchange key (from its name, see FileName; for an output whose name
// is not a key, from its first document). key is "" when neither gives one.
func (f *File) Derive() (stage, key string) {
	stage = Classify(f.Path)
	switch stage {
	case StageInput, StageWork, StageOutput:
		base := path.Base(f.Path)
		if f.Key != "" && NameHasKey(base, f.Key) && ValidKey(f.Key) == nil {
			return stage, f.Key // the stored key is the one the name encodes
		}
		k, ok := KeyFromName(base)
		if ok && ValidKey(k) == nil {
			return stage, k
		}
		if stage == StageOutput && len(f.Docs) > 0 && ValidKey(f.Docs[0].Key) == nil {
			return stage, f.Docs[0].Key
		}
	}
	return stage, ""
}

// ValidateFile checks a snapshot entry's own values: a clean relative path
// under botssys/, a size ≥ 0, stage and key (when given) equal to what
// Derive finds. Output documents are content, checked by the ledger.
func ValidateFile(f *File) error {
	_, _, err := f.Check()
	return err
}

// Check is ValidateFile that also returns the derived stage and key. When
// only the stored stage or key disagree with the derived ones, stage and key
// are still returned (use them, report the error); stage is "" when the
// entry cannot be used at all.
func (f *File) Check() (stage, key string, err error) {
	p := f.Path
	switch {
	case p == "" || path.IsAbs(p) || path.Clean(p) != p || strings.HasPrefix(p, "../") || !strings.HasPrefix(p, "botssys/"):
		return "", "", ferr(CodeSnapshot, "file path %q is not a clean relative path under botssys/", clip(p))
	case f.Size < 0:
		return "", "", ferr(CodeSnapshot, "%s: size %d is negative", p, f.Size)
	}
	stage, key = f.Derive()
	switch {
	case f.Stage != "" && f.Stage != stage:
		err = ferr(CodeSnapshot, "%s: stage says %q, its path says %q", p, clip(f.Stage), stage)
	case f.Key != "" && key != "" && f.Key != key:
		err = ferr(CodeSnapshot, "%s: key says %q, its name and content say %q", p, clip(f.Key), key)
	case f.Key != "" && key == "" && (stage == StageInput || stage == StageWork || stage == StageOutput):
		err = ferr(CodeSnapshot, "%s: key says %q, but its name does not encode a key (see FileName)", p, clip(f.Key))
	case (len(f.Docs) > 0 || f.Err != "") && stage != StageOutput:
		err = ferr(CodeSnapshot, "%s: only output files have documents", p)
	}
	return stage, key, err
}

// ValidateDoc checks an output document's fields: a valid key made of its
// own header fields, 64-hex inputSha256, messages ≥ 1, the writing engine.
func ValidateDoc(d *OutputDoc) error {
	switch {
	case ValidKey(d.Key) != nil:
		return ValidKey(d.Key)
	case Key(d.Format, d.Sender, d.Receiver, d.Control) != d.Key:
		return ferr(CodeBadKey, "document key %q does not match its header fields format %q, sender %q, receiver %q, control %q", clip(d.Key), clip(d.Format), clip(d.Sender), clip(d.Receiver), clip(d.Control))
	case !ValidSHA(d.InputSHA):
		return ferr(CodeBadSHA, "document inputSha256 %q is not 64 lowercase hex digits", clip(d.InputSHA))
	case d.Messages < 1:
		return ferr(CodeNegative, "document says %d messages (an interchange holds at least one)", d.Messages)
	case d.Engine == "":
		return ferr(CodeNoProc, "document does not name the engine that wrote it")
	case d.Written < 0:
		return ferr(CodeNegative, "document written time %d is negative", d.Written)
	}
	return nil
}

// ValidateLease checks the lease record's values.
func ValidateLease(l *Lease) error {
	switch {
	case l.Epoch == 0:
		return ferr(CodeSnapshot, "lease epoch is 0: every grant makes an epoch ≥ 1")
	case l.Holder == "":
		return ferr(CodeSnapshot, "lease of epoch %d names no holder", l.Epoch)
	case l.TTLMillis <= 0:
		return ferr(CodeSnapshot, "lease of epoch %d has ttlMillis %d (must be > 0)", l.Epoch, l.TTLMillis)
	case l.Heartbeat <= 0:
		return ferr(CodeSnapshot, "lease of epoch %d has no heartbeat", l.Epoch)
	}
	return nil
}

// Snapshot is the state of the volume when the run ended.
type Snapshot struct {
	Taken int64  `json:"taken"` // Unix ns
	Files []File `json:"files"`
	Lease *Lease `json:"lease,omitempty"`
	// Journals lists the journal files the history was merged from (set by
	// History.Save from the reader's stats): their torn last lines and the
	// lines that broke the format, which are not in history.ndjson.
	Journals []JournalFile `json:"journals,omitempty"`
	// Unscanned: the volume was not scanned; Files is unknown, not empty
	// (Save writes it for a history without a snapshot, to keep Journals).
	Unscanned bool `json:"unscanned,omitempty"`
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
	b := make([]byte, 0, len(stem))
	for i := 0; i < len(stem); i++ {
		c := stem[i]
		switch {
		case c == '+':
			b = append(b, '/')
		case c == '%':
			if i+2 >= len(stem) {
				return "", false
			}
			hi, ok1 := unhex(stem[i+1])
			lo, ok2 := unhex(stem[i+2])
			if !ok1 || !ok2 {
				return "", false
			}
			b = append(b, hi<<4|lo)
			i += 2
		case plainName(c):
			b = append(b, c)
		default:
			return "", false
		}
	}
	return string(b), true
}

// NameHasKey reports whether KeyFromName(name) would return key, without
// allocating: the checkers verify a snapshot's stored key this way.
func NameHasKey(name, key string) bool {
	j := 0
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '/':
			if j >= len(name) || name[j] != '+' {
				return false
			}
			j++
		case plainName(c):
			if j >= len(name) || name[j] != c {
				return false
			}
			j++
		default:
			if j+2 >= len(name) || name[j] != '%' {
				return false
			}
			hi, ok1 := unhex(name[j+1])
			lo, ok2 := unhex(name[j+2])
			if !ok1 || !ok2 || hi<<4|lo != c {
				return false
			}
			j += 3
		}
	}
	return j > 0 && (j == len(name) || name[j] == '.')
}

func plainName(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
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
			_, f.Key = f.Derive()
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
			_, f.Key = f.Derive()
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
