// Command runc-wrapper stands in for runc as docker's default runtime on hosts
// whose capability bounding set lacks CAP_SYS_RESOURCE. docker asks for every
// capability for privileged containers; runc then fails with "unable to apply
// caps: operation not permitted". The wrapper drops CAP_SYS_RESOURCE from the
// OCI spec (create/run: --bundle's config.json; exec: --process) and execs the
// real runc with the same arguments.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// realRunc is set at build time with -ldflags -X.
var realRunc = "/usr/sbin/runc"

const dropped = "CAP_SYS_RESOURCE"

func main() {
	args := os.Args[1:]
	if err := patchSpecs(args); err != nil {
		fmt.Fprintf(os.Stderr, "runc-wrapper: %v\n", err)
		os.Exit(1)
	}
	argv := append([]string{realRunc}, args...)
	if err := syscall.Exec(realRunc, argv, os.Environ()); err != nil {
		fmt.Fprintf(os.Stderr, "runc-wrapper: exec %s: %v\n", realRunc, err)
		os.Exit(1)
	}
}

// patchSpecs finds the spec files named by runc's arguments and rewrites them.
func patchSpecs(args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		var flag, val string
		if k, v, ok := strings.Cut(a, "="); ok {
			flag, val = k, v
		} else {
			flag = a
			if i+1 < len(args) {
				val = args[i+1]
			}
		}
		switch flag {
		case "--bundle", "-b":
			if err := patchFile(filepath.Join(val, "config.json"), true); err != nil {
				return err
			}
		case "--process", "-p":
			if err := patchFile(val, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// patchFile removes the dropped capability from a full OCI spec (whole=true:
// the process is under "process") or from a bare process spec (runc exec).
func patchFile(path string, whole bool) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	if !bytes.Contains(raw, []byte(dropped)) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep 64-bit limits exact
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	proc := doc
	if whole {
		p, ok := doc["process"].(map[string]any)
		if !ok {
			return nil
		}
		proc = p
	}
	caps, ok := proc["capabilities"].(map[string]any)
	if !ok {
		return nil
	}
	for set, v := range caps {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		kept := list[:0]
		for _, c := range list {
			if c != dropped {
				kept = append(kept, c)
			}
		}
		caps[set] = kept
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".rwxchaos.tmp"
	if err := os.WriteFile(tmp, out, st.Mode().Perm()); err != nil {
		return fmt.Errorf("write spec: %w", err)
	}
	return os.Rename(tmp, path)
}
