package history

import "fmt"

// Roles of the processes that write journals.
const (
	RoleClient    = "client"    // the traffic driver: the only judge of what was acked
	RoleWebserver = "webserver" // stores uploads into the input dirs
	RoleEngine    = "engine"    // moves input → work → output under the engine lock
	RoleJobqueue  = "jobqueue"  // runs engine passes one at a time
	RoleRunner    = "runner"    // the framework itself: faults, process starts and deaths

	// The publish/consume workload (fixtures/pipeline/publish).
	RolePublisher = "publisher" // writes numbered versions of generated files
	RoleConsumer  = "consumer"  // loads them (open, read fully, verify) on every node
)

// Event types. Each names one operation; Call and Return bracket it.
const (
	// Client.
	EvUpload = "upload" // Outcome ok | fail | unknown; Key, SHA, Size

	// Webserver.
	EvStored   = "stored"   // the file is durable in the input dir (Path)
	EvRejected = "rejected" // bad input refused; Err says why
	EvDupe     = "dupe"     // control reference already seen (Detail: idempotent | conflict)

	// Engine.
	EvRunStart     = "run.start"
	EvRunEnd       = "run.end"       // Outcome ok | fail
	EvLockAcquire  = "lock.acquire"  // Epoch granted; Holder = previous holder when taken over
	EvLockTakeover = "lock.takeover" // a stale lease was broken: Holder, Epoch = stale epoch, Detail = age
	EvLockRenew    = "lock.renew"
	EvLockLost     = "lock.lost" // the holder saw its lease superseded or could not renew
	EvLockRelease  = "lock.release"
	EvClaim        = "claim"  // input moved to work (Path = work path)
	EvOutput       = "output" // output document written (Path); Msgs
	EvSkip         = "skip"   // recovery: output already present, work file dropped
	EvDone         = "done"   // work file removed: the interchange is finished

	// Jobqueue.
	EvJobEnqueue = "job.enqueue"
	EvJobStart   = "job.start"
	EvJobEnd     = "job.end"

	// Publish/consume workload.
	EvPublish = "publish" // Path = file (relative to the volume root), Version, SHA and Size of the body; Outcome ok | fail (not visible) | unknown (may be visible)
	EvLoad    = "load"    // Path, Version from the header (0 if unreadable), SHA and Size of the body read; Outcome ok (verified) | fail (ErrClass: errno class, or a LoadTorn* class)

	// Anyone.
	EvError = "error" // ErrClass: EIO | ESTALE | ENOTCONN | EACCES | ENOSPC | TIMEOUT | OTHER

	// Runner.
	EvProcStart = "proc.start" // Target = proc id started
	EvProcExit  = "proc.exit"  // Target = proc id, Detail = exit status / signal
	EvFault     = "fault"      // Call = injected, Return = healed (0 while active); Detail = action
)

// ErrClass values of a load whose content does not verify: the reader saw a
// torn file (a half-written or mixed version), not a storage error.
const (
	LoadTornHeader   = "BADHEADER" // no parsable header line (empty or truncated file)
	LoadTornShort    = "SHORT"     // fewer body bytes than the header's length
	LoadTornLong     = "LONG"      // more body bytes than the header's length
	LoadTornChecksum = "CHECKSUM"  // the body's sha256 differs from the header's
)

// IsTorn reports whether a load's ErrClass says the content was torn.
func IsTorn(errClass string) bool {
	switch errClass {
	case LoadTornHeader, LoadTornShort, LoadTornLong, LoadTornChecksum:
		return true
	}
	return false
}

// Outcomes of an operation, in Jepsen's sense: a timed-out or failed-in-flight
// write is "unknown" (:info), not "did not happen".
const (
	OK      = "ok"
	Fail    = "fail"
	Unknown = "unknown"
)

// Event is one line of a journal (NDJSON). Times are Unix nanoseconds from the
// wall clock of the machine that wrote the line; Return is 0 for instant events.
type Event struct {
	Proc     string `json:"proc"`           // writer id, unique per process start (role-host-pid-startnanos)
	Seq      int64  `json:"seq"`            // per-Proc sequence number, from 1
	Role     string `json:"role"`           // one of the Role* constants
	Node     string `json:"node,omitempty"` // node or host the process ran on
	Type     string `json:"type"`           // one of the Ev* constants
	Call     int64  `json:"call"`           // Unix ns when the operation was called
	Return   int64  `json:"ret,omitempty"`  // Unix ns when it returned; 0 = instant
	Outcome  string `json:"outcome,omitempty"`
	Key      string `json:"key,omitempty"`     // interchange key (see Key)
	SHA      string `json:"sha,omitempty"`     // hex sha256 of the uploaded interchange bytes
	Size     int64  `json:"size,omitempty"`    // bytes
	Msgs     int    `json:"msgs,omitempty"`    // messages in the interchange
	Epoch    uint64 `json:"epoch,omitempty"`   // engine lock epoch (fencing token) the operation ran under
	Version  uint64 `json:"version,omitempty"` // publish/load: the version of the file published or seen
	Holder   string `json:"holder,omitempty"`
	Path     string `json:"path,omitempty"`
	Target   string `json:"target,omitempty"` // runner: the proc, pod or node acted on
	Err      string `json:"err,omitempty"`
	ErrClass string `json:"errClass,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// End is the time the operation finished: Return, or Call for instant events.
func (e *Event) End() int64 {
	if e.Return != 0 {
		return e.Return
	}
	return e.Call
}

// Validate checks the fields every event must have.
func (e *Event) Validate() error {
	switch {
	case e.Proc == "":
		return fmt.Errorf("event has no proc")
	case e.Type == "":
		return fmt.Errorf("event from %s seq %d has no type", e.Proc, e.Seq)
	case e.Call <= 0:
		return fmt.Errorf("event %s from %s seq %d has no call time", e.Type, e.Proc, e.Seq)
	case e.Return != 0 && e.Return < e.Call:
		return fmt.Errorf("event %s from %s seq %d returns before it was called", e.Type, e.Proc, e.Seq)
	}
	return nil
}

// Key names an interchange across the whole run: format, sender, receiver and
// interchange control reference, e.g. "X12/ACME/GLOBEX/000000123". The same
// key uploaded twice is the same interchange.
func Key(format, sender, receiver, control string) string {
	return format + "/" + sender + "/" + receiver + "/" + control
}
