package filedrop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// TempDir is where Dir writes an upload before renaming it into the input
// path: on the same volume (so the rename is atomic) but outside the input
// path, so an app polling its input never sees a half-written file,
// whatever its file pattern.
const TempDir = ".rwxchaos-tmp"

// Dir is the app's volume seen as a local directory (the kind provider's
// host view of the run's volume: the same directory, or FUSE mount, that
// every node mounts).
type Dir struct {
	// Root is the volume root on this host.
	Root string
	// InputPath is where Drop puts uploads, relative to Root.
	InputPath string
}

// Drop writes data to InputPath/name: a temp file fsynced, renamed into
// place, and the directory fsynced (an acked upload survives a crash).
func (d Dir) Drop(ctx context.Context, name string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return fmt.Errorf("drop: bad file name %q", name)
	}
	tmpDir := filepath.Join(d.Root, TempDir)
	in := filepath.Join(d.Root, filepath.FromSlash(d.InputPath))
	for _, dir := range []string{tmpDir, in} {
		if err := mkdirOpen(d.Root, dir); err != nil {
			return fmt.Errorf("drop: %w", err)
		}
	}
	f, err := os.CreateTemp(tmpDir, name+".*")
	if err != nil {
		return fmt.Errorf("drop: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename this is a no-op
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("drop %s: %w", name, err)
	}
	// Apps run as any user: the file must be readable and the directory
	// writable (to move the file away) by all.
	if err := f.Chmod(0o666); err != nil {
		f.Close()
		return fmt.Errorf("drop %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("drop %s: fsync: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("drop %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(in, name)); err != nil {
		return fmt.Errorf("drop %s: %w", name, err)
	}
	return syncDir(in)
}

// mkdirOpen creates dir (below root) and every missing parent with mode
// 0777 whatever the umask: the app may run as any user and must be able to
// move files out of the directories the framework made. Existing
// directories keep their mode.
func mkdirOpen(root, dir string) error {
	rel, err := filepath.Rel(root, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("%s is not below %s", dir, root)
	}
	p := root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		if part == "." || part == "" {
			continue
		}
		p = filepath.Join(p, part)
		err := os.Mkdir(p, 0o777)
		switch {
		case err == nil:
			if err := os.Chmod(p, 0o777); err != nil {
				return err
			}
		case errors.Is(err, fs.ErrExist):
		default:
			return err
		}
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// CopyOut copies Root/dir to local/dir (regular files, modification times
// kept). A missing dir copies as empty.
func (d Dir) CopyOut(ctx context.Context, dir, local string) error {
	src := filepath.Join(d.Root, filepath.FromSlash(dir))
	return filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // gone meanwhile (the app moved it)
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(d.Root, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(local, rel)
		if e.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if !e.Type().IsRegular() {
			return nil
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
		return os.Chtimes(dst, info.ModTime(), info.ModTime())
	})
}

// Pending counts the regular files under InputPath (recursively).
func (d Dir) Pending() (int, error) {
	n := 0
	err := filepath.WalkDir(filepath.Join(d.Root, filepath.FromSlash(d.InputPath)), func(_ string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n, err
}

// HTTPSink posts each upload to the app's own upload endpoint.
type HTTPSink struct {
	Client *http.Client
	// URL is the endpoint; the file name is sent as ?filename= and in a
	// Content-Disposition header.
	URL string
}

// Drop POSTs data; any 2xx answer is an ack.
func (h HTTPSink) Drop(ctx context.Context, name string, data []byte) error {
	sep := "?"
	if strings.Contains(h.URL, "?") {
		sep = "&"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL+sep+"filename="+name, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	c := h.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the app's upload endpoint answered HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	return nil
}
