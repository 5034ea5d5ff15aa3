package trigger

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Op names a file operation the storage layer reports.
type Op string

// File operations.
const (
	// OpCloseWrite is the close of a file opened for writing (FUSE FLUSH of a
	// writable handle: every close(2) of such a descriptor).
	OpCloseWrite Op = "close-write"
	// OpRename is a rename; the rule's path is matched against the old and
	// the new name.
	OpRename Op = "rename"
	// OpUnlink is the removal of a file.
	OpUnlink Op = "unlink"
	// OpFsync is an fsync or fdatasync of a file or directory.
	OpFsync Op = "fsync"
	// OpLock takes a lock: flock(LOCK_SH|LOCK_EX) or a POSIX read or write lock.
	OpLock Op = "lock"
	// OpUnlock releases one explicitly (flock(LOCK_UN), F_UNLCK). The
	// implicit release on close is not reported.
	OpUnlock Op = "unlock"
)

// Ops lists every operation, in documentation order.
func Ops() []Op { return []Op{OpCloseWrite, OpRename, OpUnlink, OpFsync, OpLock, OpUnlock} }

// Valid reports whether o is one of Ops.
func (o Op) Valid() bool { return slices.Contains(Ops(), o) }

// When says whether a triggered fault lands before or after the operation.
type When string

// Moments of a triggered fault.
const (
	// Before: the call is held before the file system performs it.
	Before When = "before"
	// After: the file system performed it; its reply is held.
	After When = "after"
)

// ProtocolVersion is sent in the hello message; a controller refuses
// servers speaking another version.
const ProtocolVersion = 1

// DefaultHold bounds how long a file server holds one call when the rule
// does not say: after it the call proceeds as if the runner had released
// it, so a stuck or dead runner never wedges the volume.
const DefaultHold = 30 * time.Second

// Rule is what a file server reports: calls of Op whose path (relative to
// the controller's root) matches Path. The controller sends its rules on
// connect and again whenever they change.
type Rule struct {
	// Name is the scenario fault the rule arms.
	Name string `json:"name"`
	Op   Op     `json:"op"`
	Path Glob   `json:"path"`
	When When   `json:"when"`
	// HoldMillis bounds how long the server holds one matching call
	// waiting for the controller's release (DefaultHold when 0).
	HoldMillis int64 `json:"holdMs,omitempty"`
}

// Hold is the rule's hold bound.
func (r Rule) Hold() time.Duration {
	if r.HoldMillis <= 0 {
		return DefaultHold
	}
	return time.Duration(r.HoldMillis) * time.Millisecond
}

// Check reports what is wrong with the rule, or nil.
func (r Rule) Check() error {
	if r.Name == "" {
		return fmt.Errorf("trigger rule has no name")
	}
	if !r.Op.Valid() {
		return fmt.Errorf("trigger rule %s: op %q is not one of %s", r.Name, r.Op, opList())
	}
	if r.When != Before && r.When != After {
		return fmt.Errorf("trigger rule %s: when %q is neither before nor after", r.Name, r.When)
	}
	if err := r.Path.Check(); err != nil {
		return fmt.Errorf("trigger rule %s: %w", r.Name, err)
	}
	return nil
}

func opList() string {
	s := make([]string, 0, len(Ops()))
	for _, o := range Ops() {
		s = append(s, string(o))
	}
	return strings.Join(s, ", ")
}

// Message is one line of the control protocol (JSON, newline-terminated),
// in either direction; T says which fields are set.
//
// Server → controller:
//
//	hello  Server, Pid, Version: once, after connecting
//	op     ID, Call: a matching call is held until its release
//	done   ID, Done: what the held call answered (after a release, a hold
//	       timeout, or losing the controller)
//
// Controller → server:
//
//	rules   Root, Rules: replaces the rule set (an empty list disarms)
//	release ID, Errno: answer the held call (see Release)
type Message struct {
	T       string  `json:"t"`
	Version int     `json:"v,omitempty"`
	Server  string  `json:"server,omitempty"`
	Pid     int     `json:"pid,omitempty"`
	ID      uint64  `json:"id,omitempty"`
	Call    *Report `json:"call,omitempty"`
	Done    *Done   `json:"done,omitempty"`
	Root    string  `json:"root,omitempty"`
	Rules   []Rule  `json:"rules,omitempty"`
	Errno   int     `json:"errno,omitempty"`
}

// Message types.
const (
	MsgHello   = "hello"
	MsgOp      = "op"
	MsgDone    = "done"
	MsgRules   = "rules"
	MsgRelease = "release"
)

// Report is a held call as the file server saw it. The caller is read from
// /proc while it is blocked in the call, so it is still there.
type Report struct {
	// Rules are the names of the rules the call matched.
	Rules []string `json:"rules"`
	Op    Op       `json:"op"`
	When  When     `json:"when"`
	// Path is relative to the controller's root; for a rename, the old name.
	Path string `json:"path"`
	// To is a rename's new name.
	To string `json:"to,omitempty"`
	// At is when the server received the call (Unix ns, server's clock).
	At int64 `json:"at"`
	// Errno is the result of the operation already performed (When after);
	// 0 for success or when not yet performed.
	Errno int `json:"errno,omitempty"`
	// Tid is the calling thread as the kernel names it in the server's pid
	// namespace; Pid its process (thread group).
	Tid int `json:"tid"`
	Pid int `json:"pid,omitempty"`
	// Comm and Args are the caller's command name and argv (truncated).
	Comm string   `json:"comm,omitempty"`
	Args []string `json:"args,omitempty"`
	// Cgroup is the caller's /proc/PID/cgroup (container and pod ids).
	Cgroup string `json:"cgroup,omitempty"`
}

// Done is how a held call ended.
type Done struct {
	// Performed says whether the file system performed the operation.
	Performed bool `json:"performed"`
	// Errno is what the caller got (0 = success).
	Errno int `json:"errno,omitempty"`
	// At is when the reply went back to the kernel (Unix ns, server clock).
	At int64 `json:"at"`
	// Expired: the hold bound ran out before a release; LostController:
	// the connection to the controller broke.
	Expired        bool `json:"expired,omitempty"`
	LostController bool `json:"lostController,omitempty"`
}

// Describe is a one-line description of the call for logs and reports.
func (r *Report) Describe() string {
	var b strings.Builder
	b.WriteString(string(r.Op))
	b.WriteString(" ")
	b.WriteString(r.Path)
	if r.To != "" {
		b.WriteString(" → ")
		b.WriteString(r.To)
	}
	fmt.Fprintf(&b, " (%s) by ", r.When)
	if r.Comm != "" {
		b.WriteString(r.Comm + " ")
	}
	fmt.Fprintf(&b, "pid %d", r.Pid)
	if r.Tid != r.Pid && r.Tid != 0 {
		fmt.Fprintf(&b, " tid %d", r.Tid)
	}
	return b.String()
}

// Caller is who made a held call, as the runner's environment resolved it.
type Caller struct {
	// Pid and Tid: the process and the calling thread (host pid namespace).
	Pid, Tid int
	// Role is webserver, engine or jobqueue; "" when the caller is none
	// of the workload's processes.
	Role string
	// Node is where it runs; Pod its pod (Kubernetes providers).
	Node, Pod string
	// Desc names it for logs and the report, e.g. "engine/3/1234".
	Desc string
}
