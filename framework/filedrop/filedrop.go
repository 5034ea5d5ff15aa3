// Package filedrop feeds an application the framework did not write and
// reads its results back, from outside the app: the traffic driver POSTs
// interchanges to an Adapter (as it would to the pipeline's webservers), the
// Adapter hands each one to a Sink (a file dropped into the app's input
// directory, or the app's own upload endpoint) and remembers it; Collect
// reads the app's input and output directories afterwards and matches every
// output to an upload by interchange control reference, file name or content
// hash. The result is a history snapshot the checkers judge like the
// pipeline's: ok, lost, duplicated, unexpected, stuck, leftovers.
//
// Providers supply the I/O: the kind provider reaches the run's volume from
// the host, provider existing through a helper pod.
package filedrop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rwxchaos/rwxchaos/fixtures/pipeline/edi"
	"github.com/rwxchaos/rwxchaos/framework/history"
)

// Match rules (the values of scenario.MatchRule).
const (
	MatchControlReference = "controlReference"
	MatchFilename         = "filename"
	MatchContentHash      = "contentHash"
)

// Sink hands one upload to the application.
type Sink interface {
	// Drop delivers data; name is the file name the upload would have in
	// the app's input directory (<key>.edi). A nil error means the app has
	// it (the upload is acked).
	Drop(ctx context.Context, name string, data []byte) error
}

// Reader copies directories of the app's volume out, for Collect.
type Reader interface {
	// CopyOut copies dir (relative to the volume root) to local/dir,
	// keeping modification times. A missing dir copies as empty.
	CopyOut(ctx context.Context, dir, local string) error
}

// Options configure an Adapter.
type Options struct {
	// InputPath and OutputPath are the app's directories, relative to the
	// volume root.
	InputPath, OutputPath string
	// Match is how outputs are attributed to uploads: controlReference
	// (default), filename or contentHash.
	Match string
	Sink  Sink
	// Clock is the run's clock: outputs older than the adapter (minus a
	// little slack) are the app's own earlier files, not this run's.
	Clock func() time.Time
	// Redact scrubs error text sent back to the client; nil keeps it.
	Redact func(string) string
}

// Adapter is the upload endpoint of an external app and the memory of what
// was uploaded.
type Adapter struct {
	o     Options
	start time.Time
	mu    sync.Mutex
	ups   map[string]upload // by interchange key
	bySHA map[string]string // content hash → key
}

type upload struct {
	sha  string
	name string
	ic   edi.Interchange
}

// New returns an adapter; Options.Sink is required.
func New(o Options) (*Adapter, error) {
	if o.Sink == nil {
		return nil, errors.New("filedrop.New: Options.Sink is required")
	}
	if o.InputPath == "" || o.OutputPath == "" {
		return nil, errors.New("filedrop.New: Options.InputPath and OutputPath are required")
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Redact == nil {
		o.Redact = func(s string) string { return s }
	}
	if o.Match == "" {
		o.Match = MatchControlReference
	}
	return &Adapter{o: o, start: o.Clock().Add(-2 * time.Second), ups: map[string]upload{}, bySHA: map[string]string{}}, nil
}

// Uploads is the number of interchanges handed to the app.
func (a *Adapter) Uploads() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.ups)
}

// ServeHTTP takes POST /upload?route=R with an interchange as the body, as
// the pipeline's webservers do: 201 once the sink has it, 503 if not.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/upload" {
		http.Error(w, "use POST /upload?route=R", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20+1))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ic, err := edi.Parse(body)
	if err != nil {
		http.Error(w, "not an interchange: "+err.Error(), http.StatusBadRequest)
		return
	}
	key := ic.Key()
	sum := sha256.Sum256(body)
	name := history.FileName(key) + ".edi"
	// Remember it before the drop: an upload whose outcome the client never
	// learns may still produce an output, which must match.
	a.mu.Lock()
	a.ups[key] = upload{sha: hex.EncodeToString(sum[:]), name: name, ic: *ic}
	a.bySHA[hex.EncodeToString(sum[:])] = key
	a.mu.Unlock()
	if err := a.o.Sink.Drop(r.Context(), name, body); err != nil {
		http.Error(w, "hand the interchange to the app: "+a.o.Redact(err.Error()), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]string{"key": key, "path": path.Join(a.o.InputPath, name)})
}

// Collect copies the input and output paths into dir/volume and builds the
// snapshot: every input file left is stuck (keyed by its name, or by its
// content when the app renamed it); every output newer than the adapter is
// matched to an upload; dot files and *.tmp / *.part files are temp files
// (leftovers).
func (a *Adapter) Collect(ctx context.Context, rd Reader, dir string) (*history.History, error) {
	local := filepath.Join(dir, "volume")
	snap := &history.Snapshot{Taken: a.o.Clock().UnixNano()}
	for _, p := range []struct{ rel, stage string }{{a.o.InputPath, history.StageInput}, {a.o.OutputPath, history.StageOutput}} {
		if err := rd.CopyOut(ctx, p.rel, local); err != nil {
			return nil, fmt.Errorf("copy %s out of the volume: %w", p.rel, err)
		}
		root := filepath.Join(local, filepath.FromSlash(p.rel))
		err := filepath.WalkDir(root, func(fp string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) && fp == root {
				return nil
			}
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(local, fp)
			f := history.File{Path: filepath.ToSlash(rel), Stage: p.stage, Size: info.Size()}
			if temp(d.Name()) {
				f.Stage = history.StageTemp
				snap.Files = append(snap.Files, f)
				return nil
			}
			if p.stage == history.StageOutput && info.ModTime().Before(a.start) {
				return nil // the app's own earlier outputs are not this run's
			}
			data, err := os.ReadFile(fp)
			if err != nil {
				return err
			}
			if p.stage == history.StageInput {
				f.Key = a.inputKey(d.Name(), data)
			} else {
				a.match(&f, d.Name(), data)
			}
			snap.Files = append(snap.Files, f)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read the copied %s: %w", p.rel, err)
		}
	}
	sort.Slice(snap.Files, func(i, j int) bool { return snap.Files[i].Path < snap.Files[j].Path })
	return &history.History{Snapshot: snap}, nil
}

func temp(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, ".part")
}

// inputKey attributes a file left in the input path to an upload: by the
// name it was dropped with, else by its content.
func (a *Adapter) inputKey(name string, data []byte) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if k, ok := history.KeyFromName(name); ok {
		if _, up := a.ups[k]; up {
			return k
		}
	}
	sum := sha256.Sum256(data)
	if k, ok := a.bySHA[hex.EncodeToString(sum[:])]; ok {
		return k
	}
	if ic, err := edi.Parse(data); err == nil {
		if _, up := a.ups[ic.Key()]; up {
			return ic.Key()
		}
	}
	return ""
}

// match attributes an output file to an upload: by the interchange control
// reference it carries (default), by file name, or by content hash. An
// output matched to nothing keeps no key: the ledger counts it unexpected.
func (a *Adapter) match(f *history.File, name string, data []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var key string
	switch a.o.Match {
	case MatchFilename:
		if k, ok := history.KeyFromName(name); ok {
			if _, up := a.ups[k]; up {
				key = k
			}
		}
	case MatchContentHash:
		sum := sha256.Sum256(data)
		key = a.bySHA[hex.EncodeToString(sum[:])]
	default: // controlReference
		if docs, err := history.ParseOutput(data); err == nil && len(docs) > 0 {
			if _, up := a.ups[docs[0].Key]; up {
				key = docs[0].Key
			}
		}
		if ic, err := edi.Parse(data); key == "" && err == nil {
			if _, up := a.ups[ic.Key()]; up {
				key = ic.Key()
			}
		}
		if key == "" {
			// A translated output (XML, JSON, another syntax) still names
			// the interchange's control reference and sender.
			for k, u := range a.ups {
				if bytes.Contains(data, []byte(u.ic.Control)) && bytes.Contains(data, []byte(u.ic.Sender)) {
					key = k
					break
				}
			}
		}
	}
	if key == "" {
		return
	}
	u := a.ups[key]
	f.Key = key
	f.Docs = []history.OutputDoc{{Key: key, Format: u.ic.Format, Sender: u.ic.Sender, Receiver: u.ic.Receiver,
		Control: u.ic.Control, Messages: u.ic.Messages, InputSHA: u.sha, Engine: "external"}}
}
