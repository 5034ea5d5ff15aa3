// Package trigger aims faults at what the application does on the shared
// volume: a fault fires at the instant a matching file operation (close
// after writing, rename, unlink, fsync, lock, unlock) reaches the storage
// layer, and the storage layer holds that call until the runner has
// injected the fault, so the application cannot run past the window.
//
// It has two sides and knows nothing about FUSE:
//
//   - Hook, in the file server (the go-fuse loopback server of backend
//     fuse, the userspace NFS client's FUSE layer): Hook.Do wraps one
//     operation. A call that matches a rule is reported with its caller
//     (thread and process id, command line, cgroup: read from /proc while
//     the caller is blocked in the call) and held — before the operation
//     is performed, or after it, with the reply withheld — until released.
//   - Controller, in the runner: it listens on a unix socket, sends the
//     rules, receives held calls and releases each one: to proceed, or to
//     fail it with an errno.
//
// # Protocol
//
// Newline-delimited JSON Messages over one unix stream socket that the
// runner creates (mode 0600) and every file server of the run dials (and
// re-dials after it breaks). The server says hello (its name, pid and
// ProtocolVersion); the controller answers with the rules (a root
// directory and a list of Rule: fault name, op, path glob, before/after,
// hold bound), and sends them again whenever they change (an empty list
// disarms). For every matching call the server sends an op message with an
// id and the Report, and blocks the call; the controller answers with a
// release (id, errno: 0 proceeds); the server then answers the kernel and
// sends done (performed or not, the errno the caller got, why it ended).
//
// # Failure handling
//
// The storage layer must never wedge because of the runner. Calls are only
// held while a controller is connected and has sent rules. A held call
// proceeds as if released when its rule's hold bound runs out (DefaultHold
// unless the rule says otherwise; the done message says Expired), when the
// connection breaks (the runner died: LostController; no calls are held
// until a controller is back), or when the controller closes (it releases
// everything first). A file server that cannot reach the socket serves
// normally and retries. Writes on either side have a deadline, so a
// stopped peer (storage-pause of the file server itself) cannot block the
// other side forever; a release sent to a stopped server waits in the
// socket buffer and takes effect when it resumes.
//
// # Exactness
//
// A thread blocked in a FUSE call that the server already read cannot
// leave the kernel before the reply: a SIGKILL or SIGSTOP sent meanwhile
// stays pending and acts on the way back, before the program runs another
// instruction. So the runner injects the fault while the call is held,
// waits until the caller is Doomed (SIGKILL pending), Stopping (SIGSTOP
// pending, or its other threads stopped) or Freezing (cgroup freezer), and
// only then releases the call. A kill with when "before" releases it with
// EINTR without performing the operation: the caller never sees it.
package trigger
