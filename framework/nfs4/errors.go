package nfs4

import (
	"context"
	"errors"
	"fmt"
	"syscall"
)

// String names the status as the RFC does (NFS4ERR_NOENT).
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("NFS4ERR_%d", uint32(s))
}

// Error is an operation the server answered with a status other than
// NFS4_OK.
type Error struct {
	Op     string // operation, e.g. "OPEN"
	Status Status
	Path   string // what it was about, when known
}

func (e *Error) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("nfs4: %s %s: %s", e.Op, e.Path, e.Status)
	}
	return fmt.Sprintf("nfs4: %s: %s", e.Op, e.Status)
}

// Errno is the errno Linux's NFS client returns for the status.
func (e *Error) Errno() syscall.Errno { return statusErrno(e.Status) }

// Is lets errors.Is(err, syscall.ENOENT) work on an *Error.
func (e *Error) Is(target error) bool {
	if t, ok := target.(syscall.Errno); ok {
		return e.Errno() == t
	}
	return false
}

// IsStatus reports whether err is an *Error with status s.
func IsStatus(err error, s Status) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == s
}

var (
	// ErrStateLost is returned for every operation on an open file or lock
	// whose NFSv4 state the client lost: its lease expired (the client was
	// cut off or frozen past the lease), the server revoked it, or the
	// server restarted and the state could not be reclaimed. Like Linux
	// with nfs.recover_lost_locks=0 the file stays unusable (EIO) until it
	// is closed; opening it again gets fresh state.
	ErrStateLost = errors.New("nfs4: open or lock state lost (lease expired, revoked, or not reclaimed after a server restart): close the file and open it again")
	// ErrClosed is returned after Client.Close.
	ErrClosed = errors.New("nfs4: client is closed: dial a new one")
)

// Errno maps an error of this package to the errno a Linux NFS client
// returns for it: NFS status codes as in the kernel's nfs4_stat_to_errno,
// lost state as EIO, an interrupted call as EINTR.
func Errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Errno()
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		return en
	}
	switch {
	case errors.Is(err, ErrStateLost):
		return syscall.EIO
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case errors.Is(err, context.DeadlineExceeded):
		return syscall.ETIMEDOUT
	case errors.Is(err, ErrClosed):
		return syscall.EIO
	}
	return syscall.EIO
}

// staleHandle reports whether s says the handle sent names no file (any
// more): what Linux maps to ESTALE.
func staleHandle(s Status) bool {
	return s == StatusStale || s == StatusFHExpired || s == StatusBadHandle
}

func statusErrno(s Status) syscall.Errno {
	switch s {
	case StatusOK:
		return 0
	case StatusPerm:
		return syscall.EPERM
	case StatusNoEnt:
		return syscall.ENOENT
	case StatusIO:
		return syscall.EIO
	case StatusNXIO:
		return syscall.ENXIO
	case StatusAccess, StatusShareDenied, StatusOpenMode, StatusWrongCred:
		return syscall.EACCES
	case StatusExist:
		return syscall.EEXIST
	case StatusXDev:
		return syscall.EXDEV
	case StatusNotDir:
		return syscall.ENOTDIR
	case StatusIsDir:
		return syscall.EISDIR
	case StatusInval, StatusBadName, StatusBadChar, StatusBadOwner, StatusWrongType,
		StatusBadType, StatusBadRange, StatusTooSmall, StatusBadCookie:
		return syscall.EINVAL
	case StatusFBig:
		return syscall.EFBIG
	case StatusNoSpc:
		return syscall.ENOSPC
	case StatusROFS:
		return syscall.EROFS
	case StatusMLink:
		return syscall.EMLINK
	case StatusNameTooLong:
		return syscall.ENAMETOOLONG
	case StatusNotEmpty:
		return syscall.ENOTEMPTY
	case StatusDQuot:
		return syscall.EDQUOT
	case StatusStale, StatusFHExpired, StatusBadHandle:
		return syscall.ESTALE
	case StatusNotSupp, StatusAttrNotSupp:
		return syscall.EOPNOTSUPP
	case StatusDenied, StatusLocked, StatusGrace, StatusDelay:
		return syscall.EAGAIN
	case StatusDeadlock:
		return syscall.EDEADLK
	case StatusLockRange, StatusLockNotSupp:
		return syscall.ENOLCK
	case StatusSymlink:
		return syscall.ELOOP
	case StatusServerFault, StatusResource:
		return syscall.EREMOTEIO
	case StatusFileOpen:
		return syscall.EBUSY
	}
	// Lost or invalid state (EXPIRED, ADMIN_REVOKED, BAD_STATEID,
	// STALE_CLIENTID, BADSESSION, ...) and protocol errors.
	return syscall.EIO
}

// stateLossStatus reports whether a status on a stateful operation means
// the state it names is gone for good (not merely "retry").
func stateLossStatus(s Status) bool {
	switch s {
	case StatusExpired, StatusAdminRevoked, StatusDelegRevoked, StatusBadStateID,
		StatusStaleStateID, StatusOldStateID:
		return true
	}
	return false
}

// clientLossStatus reports whether a status means the session or the
// client ID is gone, so that the client must re-establish them.
func clientLossStatus(s Status) bool {
	switch s {
	case StatusBadSession, StatusDeadSession, StatusStaleClientID, StatusConnNotBound:
		return true
	}
	return false
}
