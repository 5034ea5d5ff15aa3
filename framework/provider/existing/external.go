package existing

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/rwxchaos/rwxchaos/fixtures/pipeline/edi"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// checkExternal checks what an external workload needs before anything is
// created: its PVC, its paths and its pods.
func (e *Env) checkExternal(ctx context.Context) error {
	x := e.s.Workload.External
	if x.PVC == "" || x.InputPath == "" || x.OutputPath == "" {
		return fmt.Errorf("workload external needs pvc, inputPath and outputPath")
	}
	pvc, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).Get(ctx, x.PVC, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("the external app's PVC %s/%s: %s%s", e.ns, x.PVC, redact(err.Error()), rbacHint(err))
	}
	if pvc.Status.Phase != corev1.ClaimBound {
		return fmt.Errorf("the external app's PVC %s/%s is %s, not Bound", e.ns, x.PVC, pvc.Status.Phase)
	}
	rwx := false
	for _, m := range pvc.Spec.AccessModes {
		rwx = rwx || m == corev1.ReadWriteMany
	}
	if !rwx {
		return fmt.Errorf("the external app's PVC %s/%s is not ReadWriteMany (%v): the helper pod could not mount it next to the app", e.ns, x.PVC, pvc.Spec.AccessModes)
	}
	for role, sel := range x.Selectors {
		if len(sel) == 0 {
			continue
		}
		pods, err := e.cs.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(sel).String()})
		if err == nil {
			e.logf("external %s: %d pods match %v", role, len(pods.Items), sel)
		}
	}
	e.logf("external app: lock checks are skipped: it writes no rwxchaos journal (no lock.* events), so lockExclusive and lockRecoveredWithin cannot be judged")
	return nil
}

// external is the upload adapter of workload external: the traffic driver
// POSTs /upload?route=R to it, and it drops the interchange into the app's
// input path through the helper pod.
type external struct {
	e     *Env
	start time.Time
	mu    sync.Mutex
	ups   map[string]upload // by key
}

type upload struct {
	sha  string
	name string
	ic   edi.Interchange
}

func newExternal(e *Env) *external {
	return &external{e: e, start: e.o.Clock().Add(-2 * time.Second), ups: map[string]upload{}}
}

func (x *external) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	rel := path.Join(x.e.s.Workload.External.InputPath, name)
	if err := x.e.helper.write(r.Context(), rel, body); err != nil {
		http.Error(w, "write into the input path: "+redact(err.Error()), http.StatusServiceUnavailable)
		return
	}
	x.mu.Lock()
	x.ups[key] = upload{sha: hex.EncodeToString(sum[:]), name: name, ic: *ic}
	x.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]string{"key": key, "path": rel})
}

// collect copies the input and output paths out and builds the snapshot:
// input files left are stuck; each output file newer than the run is
// matched to an upload by the scenario's rule.
func (x *external) collect(ctx context.Context, dir string) (*history.History, error) {
	xs := x.e.s.Workload.External
	local := filepath.Join(dir, "volume")
	snap := &history.Snapshot{Taken: x.e.o.Clock().UnixNano()}
	for _, p := range []struct{ rel, stage string }{{xs.InputPath, history.StageInput}, {xs.OutputPath, history.StageOutput}} {
		if err := x.e.helper.copyOut(ctx, p.rel, local); err != nil {
			return nil, err
		}
		root := filepath.Join(local, filepath.FromSlash(p.rel))
		err := filepath.WalkDir(root, func(fp string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(local, fp)
			f := history.File{Path: filepath.ToSlash(rel), Stage: p.stage, Size: info.Size()}
			if p.stage == history.StageInput {
				if k, ok := history.KeyFromName(d.Name()); ok {
					f.Key = k
				}
			} else {
				if info.ModTime().Before(x.start) {
					return nil // the app's own earlier outputs are not this run's
				}
				data, err := os.ReadFile(fp)
				if err != nil {
					return err
				}
				x.match(&f, d.Name(), data, xs.Match)
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

// match attributes an output file to an upload: by the interchange control
// reference it carries (default), by file name, or by content hash. An
// output matched to nothing keeps no key: the ledger counts it unexpected.
func (x *external) match(f *history.File, name string, data []byte, rule scenario.MatchRule) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var key string
	switch rule {
	case scenario.MatchFilename:
		if k, ok := history.KeyFromName(name); ok {
			if _, up := x.ups[k]; up {
				key = k
			}
		}
	case scenario.MatchContentHash:
		sum := sha256.Sum256(data)
		h := hex.EncodeToString(sum[:])
		for k, u := range x.ups {
			if u.sha == h {
				key = k
			}
		}
	default: // controlReference
		if docs, err := history.ParseOutput(data); err == nil && len(docs) > 0 {
			if _, up := x.ups[docs[0].Key]; up {
				key = docs[0].Key
			}
		}
		if ic, err := edi.Parse(data); key == "" && err == nil {
			if _, up := x.ups[ic.Key()]; up {
				key = ic.Key()
			}
		}
		if key == "" {
			// A translated output (XML, JSON, another syntax) still names
			// the interchange's control reference and sender.
			for k, u := range x.ups {
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
	u := x.ups[key]
	f.Key = key
	f.Docs = []history.OutputDoc{{Key: key, Format: u.ic.Format, Sender: u.ic.Sender, Receiver: u.ic.Receiver,
		Control: u.ic.Control, Messages: u.ic.Messages, InputSHA: u.sha, Engine: "external"}}
}
