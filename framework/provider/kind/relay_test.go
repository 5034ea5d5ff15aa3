package kind

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The relay carries both directions and EOF, and Close ends live
// connections and removes its socket.
func TestSocketRelay(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target.sock")
	ln, err := net.Listen("unix", target)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// The target answers each line upper-cased, and "bye" once its peer
	// half-closed.
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					io.WriteString(c, strings.ToUpper(sc.Text())+"\n")
				}
				io.WriteString(c, "bye\n")
			}()
		}
	}()
	path := filepath.Join(dir, "r.sock")
	r, err := newSocketRelay(path, target)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "hello\nnode\n")
	c.(*net.UnixConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "HELLO\nNODE\nbye\n" {
		t.Fatalf("through the relay: %q", got)
	}
	c.Close()

	// A connection still open when the relay closes is ended.
	live, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	live.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(live, "x\n")
	if line, err := bufio.NewReader(live).ReadString('\n'); err != nil || line != "X\n" {
		t.Fatalf("second connection: %q %v", line, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := live.Read(make([]byte, 1)); err == nil {
		t.Error("a relayed connection outlived the relay")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("relay socket left behind: %v", err)
	}
	if _, err := net.Dial("unix", path); err == nil {
		t.Error("relay still accepts after Close")
	}
}

func TestSocketRelayRefusesLongPath(t *testing.T) {
	long := "/" + strings.Repeat("d", 120) + "/t.sock"
	if _, err := newSocketRelay(long, "/nonexistent"); err == nil || !strings.Contains(err.Error(), "107") {
		t.Fatalf("want a path-length error, got %v", err)
	}
}
