package filedrop

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

// seenOutput is an output file already attributed: read again only when
// its size or modification time changed.
type seenOutput struct {
	size  int64
	mtime time.Time
	key   string
}

// Backlog says what is left for the app, for a settle that ends on a
// condition: files still under the input path (Input) and acknowledged
// uploads no output is attributed to yet (Unprocessed). root is the volume
// root on this host. Outputs are attributed as Collect attributes them
// (Options.Match), each read once per size and modification time. The app's
// intermediate directories are its own business: Work is always 0.
func (a *Adapter) Backlog(root string, acked []string) (history.Backlog, error) {
	var b history.Backlog
	in, err := Dir{Root: root, InputPath: a.o.InputPath}.Pending()
	if err != nil {
		return b, err
	}
	b.Input = in
	out := filepath.Join(root, filepath.FromSlash(a.o.OutputPath))
	have := map[string]bool{}
	err = filepath.WalkDir(out, func(fp string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && fp == out {
			return nil
		}
		if err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() || temp(d.Name()) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.ModTime().Before(a.start) {
			return nil // the app's own earlier outputs
		}
		a.mu.Lock()
		s, ok := a.seen[fp]
		a.mu.Unlock()
		if !ok || s.size != info.Size() || !s.mtime.Equal(info.ModTime()) {
			data, err := os.ReadFile(fp)
			if err != nil {
				return err
			}
			var f history.File
			a.match(&f, d.Name(), data)
			s = seenOutput{size: info.Size(), mtime: info.ModTime(), key: f.Key}
			a.mu.Lock()
			a.seen[fp] = s
			a.mu.Unlock()
		}
		if s.key != "" {
			have[s.key] = true
		}
		return nil
	})
	if err != nil {
		return b, fmt.Errorf("read the app's outputs in %s: %w", a.o.OutputPath, err)
	}
	for _, k := range acked {
		if !have[k] {
			if b.Unprocessed == 0 {
				b.Example = k
			}
			b.Unprocessed++
		}
	}
	return b, nil
}
