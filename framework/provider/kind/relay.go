package kind

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
)

// socketRelay listens on a unix socket and relays every connection to
// another one, both ways, byte for byte. A pool's nodes exist before a run
// and see the host only through the cluster's shared dir, while the runner's
// trigger socket lies elsewhere: the relay puts it where the nodes' NFS
// clients can dial it. The trigger protocol names its caller in the
// messages (pid, cgroup), not by the peer's credentials, so relaying
// changes nothing it decides.
type socketRelay struct {
	path, target string
	ln           net.Listener
	mu           sync.Mutex
	conns        map[net.Conn]bool
	closed       bool
	wg           sync.WaitGroup
}

// newSocketRelay listens on path (removing a stale socket there) and relays
// to target, which must accept connections already.
func newSocketRelay(path, target string) (*socketRelay, error) {
	if len(path) >= 108 {
		return nil, fmt.Errorf("trigger relay: socket path %s is %d bytes, more than a unix socket allows (107)", path, len(path))
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("trigger relay: %w", err)
	}
	// Any node process may dial it, as it may the runner's own socket.
	if err := os.Chmod(path, 0o777); err != nil {
		ln.Close()
		return nil, fmt.Errorf("trigger relay: %w", err)
	}
	r := &socketRelay{path: path, target: target, ln: ln, conns: map[net.Conn]bool{}}
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

func (r *socketRelay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		c.Close()
		return false
	}
	r.conns[c] = true
	return true
}

func (r *socketRelay) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
	c.Close()
}

func (r *socketRelay) accept() {
	defer r.wg.Done()
	for {
		in, err := r.ln.Accept()
		if err != nil {
			return
		}
		if !r.track(in) {
			return
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer r.untrack(in)
			out, err := net.Dial("unix", r.target)
			if err != nil {
				return // the dialer sees its connection closed
			}
			if !r.track(out) {
				return
			}
			defer r.untrack(out)
			done := make(chan struct{}, 2)
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				// Half-close so the other side sees EOF, as it would
				// talking to the target directly.
				if u, ok := dst.(*net.UnixConn); ok {
					_ = u.CloseWrite()
				}
				done <- struct{}{}
			}
			go pipe(out, in)
			go pipe(in, out)
			<-done
			<-done
		}()
	}
}

// Close stops listening, ends every relayed connection and removes the
// socket file.
func (r *socketRelay) Close() error {
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	err := r.ln.Close()
	r.wg.Wait()
	if rmErr := os.Remove(r.path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
		err = errors.Join(err, rmErr)
	}
	return err
}
