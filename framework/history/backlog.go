package history

import (
	"io/fs"
	"path/filepath"
)

// Backlog is what of a run is still on its way through the pipeline: files
// waiting in input/ or work/, and acknowledged uploads with no output yet.
type Backlog struct {
	Input, Work int
	// Unprocessed counts acknowledged uploads whose output file is not on
	// the volume yet; Example names one of them.
	Unprocessed int
	Example     string
	// Waiting names anything else the environment waits for before the run
	// is settled (kind: pods Terminating on a Ready node, whose kubelet is
	// back and confirms their deletion within seconds).
	Waiting []string
}

// Done reports whether nothing is left to process: input and work are
// empty, every acknowledged upload has its output, and nothing is Waiting.
func (b Backlog) Done() bool {
	return b.Input == 0 && b.Work == 0 && b.Unprocessed == 0 && len(b.Waiting) == 0
}

// ScanBacklog walks the volume's botssys/ tree once (names only, no file
// contents) and compares the outputs found with the acknowledged keys. An
// output is recognised by its file name (FileName of the key), which is
// enough to know the pipeline is done; the checkers judge the contents.
func ScanBacklog(root string, acked []string) Backlog {
	var b Backlog
	outputs := map[string]bool{}
	_ = filepath.WalkDir(filepath.Join(root, "botssys"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		switch Classify(filepath.ToSlash(rel)) {
		case StageInput:
			b.Input++
		case StageWork:
			b.Work++
		case StageOutput:
			if k, ok := KeyFromName(d.Name()); ok {
				outputs[k] = true
			}
		}
		return nil
	})
	for _, k := range acked {
		if !outputs[k] {
			if b.Unprocessed == 0 {
				b.Example = k
			}
			b.Unprocessed++
		}
	}
	return b
}
