// Package volhelper reads and writes a shared volume from inside a pod, for
// provider existing's helper pod: `rwxchaos __volume idle|list|write|tar`
// (framework/selfexec). It stands in for a busybox shell, so the helper pod
// runs the same rwxchaos image as the app: one image to pull or mirror, and
// no shell in it.
package volhelper

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

const usage = `usage: rwxchaos __volume COMMAND
  idle              wait for SIGTERM (the helper pod's main process)
  list DIR          print the regular files under DIR, relative to it (nothing if DIR is missing)
  write PATH TMPDIR stdin to PATH atomically: written and fsynced in TMPDIR (same volume), then renamed
  tar ROOT REL      a tar stream of ROOT/REL (created if missing) with names relative to ROOT
`

// Main runs one command and returns the exit status (0 ok, 1 failed, 2 usage).
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var err error
	switch {
	case len(args) == 1 && args[0] == "idle":
		err = idle()
	case len(args) == 2 && args[0] == "list":
		err = List(args[1], stdout)
	case len(args) == 3 && args[0] == "write":
		err = Write(args[1], args[2], stdin)
	case len(args) == 3 && args[0] == "tar":
		err = Tar(args[1], args[2], stdout)
	default:
		fmt.Fprint(stderr, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "rwxchaos __volume %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func idle() error {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	<-ch
	return nil
}

// List writes the regular files under dir, relative to it, one a line.
func List(dir string, w io.Writer) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // moved away by the app meanwhile
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, rel)
		return err
	})
}

// Write stores r at path atomically: an app polling path's directory never
// sees a partial file, whatever its file pattern, because the temp file
// lives in tmpDir (on the same volume, so the rename is atomic).
func Write(path, tmpDir string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
		return err
	}
	if err := os.MkdirAll(tmpDir, 0o777); err != nil {
		return err
	}
	tmp := filepath.Join(tmpDir, fmt.Sprintf("%s.%d", filepath.Base(path), os.Getpid()))
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Tar writes root/rel (directories and regular files) as a tar stream with
// names relative to root, creating root/rel when missing.
func Tar(root, rel string, w io.Writer) error {
	if strings.HasPrefix(filepath.Clean(rel), "..") || filepath.IsAbs(rel) {
		return fmt.Errorf("%s is not inside %s", rel, root)
	}
	top := filepath.Join(root, rel)
	if err := os.MkdirAll(top, 0o777); err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		name, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(name)
		if d.IsDir() {
			h.Name += "/"
			return tw.WriteHeader(h)
		}
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		defer f.Close()
		// The size in the header is what was stat'ed; a file still growing
		// is cut there, a shrinking one fails (tar cannot take it back).
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err = io.CopyN(tw, f, h.Size)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
