package history

import (
	"fmt"
	"strings"
	"time"
)

// Roles of the processes that write journals.
const (
	RoleClient    = "client"    // the traffic driver: the only judge of what was acked
	RoleWebserver = "webserver" // stores uploads into the input dirs
	RoleEngine    = "engine"    // moves input → work → output under the engine lock
	RoleJobqueue  = "jobqueue"  // runs engine passes one at a time
	RoleRunner    = "runner"    // the framework itself: faults, process starts and deaths, clocks

	// The publish/consume workload (fixtures/pipeline/publish).
	RolePublisher = "publisher" // writes numbered versions of generated files
	RoleConsumer  = "consumer"  // loads them (open, read fully, verify) on every node
)

// Event types. Each names one operation; Call and Return bracket it. The
// package doc lists the fields each one needs.
const (
	// Client.
	EvUpload = "upload" // one attempt: Outcome ok | fail | unknown; Key, SHA, Size, Msgs

	// Webserver.
	EvStored   = "stored"   // the file is durable in the input dir (Path); Detail "" | restored
	EvRejected = "rejected" // bad input refused; Err says why
	EvDupe     = "dupe"     // control reference already seen (Detail: idempotent | conflict)

	// Engine.
	EvRunStart     = "run.start"
	EvRunEnd       = "run.end"       // Outcome ok | fail
	EvLockAcquire  = "lock.acquire"  // Epoch granted; Holder = previous holder when taken over
	EvLockTakeover = "lock.takeover" // a stale lease was broken: Holder, Epoch = its epoch, Detail = "age <d> ttl <d>", Call = when it was read
	EvLockRenew    = "lock.renew"    // heartbeat written: Call = the heartbeat value
	EvLockLost     = "lock.lost"     // the holder saw its lease superseded or could not renew
	EvLockRelease  = "lock.release"
	EvClaim        = "claim"  // input moved to work (Path = work path); Detail "" | recovered
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
	EvProcStart = "proc.start" // Target = "role/index/pid" of the process started
	EvProcExit  = "proc.exit"  // Target = the proc id of its journal (else role/index/pid), Detail = exit status
	EvFault     = "fault"      // Call = injected, Return = healed (0 while active); Detail = "<action> <name>"
	EvClock     = "clock"      // Target = node; Call/Return = the runner's clock around the probe; Detail = "offset <d> uncertainty <d>"
	EvTrigger   = "trigger"    // a file operation fired a fault (schedule.on): Call = the storage layer got it, Return = it answered; Path, Target = the caller, Detail = "<op> <when>, call <n>, fired <name> (<action>)..."
)

// ErrClass values of a load whose content does not verify: the reader saw a
// torn file (a half-written or mixed version), not a storage error.
const (
	LoadTornHeader   = "BADHEADER" // no parsable header line (empty or truncated file)
	LoadTornShort    = "SHORT"     // fewer body bytes than the header's length
	LoadTornLong     = "LONG"      // more body bytes than the header's length
	LoadTornChecksum = "CHECKSUM"  // the body's sha256 differs from the header's
)

// LoadNotFound is the ErrClass of a load that found no file (not published
// yet, or a client's negative lookup cache).
const LoadNotFound = "ENOENT"

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

// ErrClasses are the values of Event.ErrClass.
var ErrClasses = []string{"EIO", "ESTALE", "ENOTCONN", "EACCES", "ENOSPC", "TIMEOUT", "OTHER"}

// Event is one line of a journal (NDJSON). Times are Unix nanoseconds from the
// wall clock of the machine that wrote the line; Return is 0 for instant events.
type Event struct {
	Proc     string `json:"proc"`           // writer id, unique per process start (role-host-pid-startnanos)
	Seq      int64  `json:"seq"`            // per-Proc sequence number, from 1
	Role     string `json:"role"`           // one of the Role* constants
	Node     string `json:"node,omitempty"` // node or host the process ran on (whose clock Call and Return are)
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

// Key names an interchange across the whole run: format, sender, receiver and
// interchange control reference, e.g. "X12/ACME/GLOBEX/000000123". The same
// key uploaded twice is the same interchange.
func Key(format, sender, receiver, control string) string {
	return format + "/" + sender + "/" + receiver + "/" + control
}

// A FormatError is one way an event or a snapshot entry breaks the history
// format. Code is stable (the package doc lists every one); Msg says what is
// wrong with the value found.
type FormatError struct {
	Code string
	Msg  string
}

func (e *FormatError) Error() string { return e.Msg }

func ferr(code, format string, args ...any) *FormatError {
	return &FormatError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Codes of FormatError and Problem. The package doc lists each with its message.
const (
	CodeSyntax       = "syntax"        // not a JSON object, or a field of the wrong JSON type
	CodeUnknownField = "unknown-field" // a field the format does not have (a typo)
	CodeTorn         = "torn"          // a line cut short in a saved history
	CodeTooLong      = "too-long"      // a line longer than MaxLine
	CodeNoProc       = "no-proc"
	CodeBadProc      = "bad-proc"
	CodeBadSeq       = "bad-seq"
	CodeBadRole      = "bad-role"
	CodeUnknownType  = "unknown-type"
	CodeWrongRole    = "wrong-role"
	CodeBadCall      = "bad-call"
	CodeBadRet       = "bad-ret"
	CodeBadOutcome   = "bad-outcome"
	CodeNoOutcome    = "no-outcome"
	CodeNoKey        = "no-key"
	CodeBadKey       = "bad-key"
	CodeNoSHA        = "no-sha"
	CodeBadSHA       = "bad-sha"
	CodeNegative     = "negative"
	CodeNoEpoch      = "no-epoch"
	CodeNoHolder     = "no-holder"
	CodeNoTarget     = "no-target"
	CodeBadDetail    = "bad-detail"
	CodeBadErrClass  = "bad-errclass"
	CodeSnapshot     = "bad-snapshot" // snapshot.json does not parse, or an entry's values are impossible
	CodeNoPath       = "no-path"      // publish and load: the file
	CodeNoVersion    = "no-version"   // publish, and a verified load: the version ≥ 1
)

// typeRole returns the role that writes typ ("" for error: any role) and
// whether typ is an event type at all.
func typeRole(typ string) (role string, known bool) {
	switch typ {
	case EvUpload:
		return RoleClient, true
	case EvStored, EvRejected, EvDupe:
		return RoleWebserver, true
	case EvRunStart, EvRunEnd, EvLockAcquire, EvLockTakeover, EvLockRenew, EvLockLost, EvLockRelease,
		EvClaim, EvOutput, EvSkip, EvDone:
		return RoleEngine, true
	case EvJobEnqueue, EvJobStart, EvJobEnd:
		return RoleJobqueue, true
	case EvError:
		return "", true
	case EvProcStart, EvProcExit, EvFault, EvClock, EvTrigger:
		return RoleRunner, true
	case EvPublish:
		return RolePublisher, true
	case EvLoad:
		return RoleConsumer, true
	}
	return "", false
}

// EventTypes lists every event type, in the order of the package doc.
var EventTypes = []string{EvUpload, EvStored, EvRejected, EvDupe, EvRunStart, EvRunEnd, EvLockAcquire,
	EvLockTakeover, EvLockRenew, EvLockLost, EvLockRelease, EvClaim, EvOutput, EvSkip, EvDone,
	EvJobEnqueue, EvJobStart, EvJobEnd, EvError, EvProcStart, EvProcExit, EvFault, EvClock, EvTrigger,
	EvPublish, EvLoad}

// Roles lists every role.
var Roles = []string{RoleClient, RoleWebserver, RoleEngine, RoleJobqueue, RoleRunner, RolePublisher, RoleConsumer}

// IsMutation reports whether an event type changes the volume under the
// engine lock (claim, output, skip, done): each must carry the epoch it ran under.
func IsMutation(typ string) bool {
	switch typ {
	case EvClaim, EvOutput, EvSkip, EvDone:
		return true
	}
	return false
}

func isLock(typ string) bool {
	switch typ {
	case EvLockAcquire, EvLockTakeover, EvLockRenew, EvLockLost, EvLockRelease:
		return true
	}
	return false
}

func needsKey(typ string) bool {
	switch typ {
	case EvUpload, EvStored, EvDupe, EvClaim, EvOutput, EvSkip, EvDone:
		return true
	}
	return false
}

// Validate checks every field of the event against the format (see the
// package doc): the first violation is returned as a *FormatError.
func (e *Event) Validate() error {
	switch {
	case e.Proc == "":
		return ferr(CodeNoProc, "event has no proc (the writer's id)")
	case !token(e.Proc, 200):
		return ferr(CodeBadProc, "proc %q is not printable ASCII without spaces or '/' (at most 200 bytes)", clip(e.Proc))
	case e.Seq < 1:
		return ferr(CodeBadSeq, "seq %d: sequence numbers start at 1 for each proc", e.Seq)
	}
	want, known := typeRole(e.Type)
	switch {
	case !validRole(e.Role):
		return ferr(CodeBadRole, "role %q is not one of client, webserver, engine, jobqueue, runner, publisher, consumer", clip(e.Role))
	case !known:
		return ferr(CodeUnknownType, "type %q is not an event type (upload, stored, rejected, dupe, run.start, run.end, lock.*, claim, output, skip, done, job.*, error, proc.start, proc.exit, fault, clock, trigger, publish, load)", clip(e.Type))
	case want != "" && e.Role != want:
		return ferr(CodeWrongRole, "%s is written by role %s, not %s", e.Type, want, e.Role)
	case e.Call <= 0:
		return ferr(CodeBadCall, "call %d is not a positive Unix time in nanoseconds", e.Call)
	case e.Return != 0 && e.Return < e.Call:
		return ferr(CodeBadRet, "ret %d is before call %d", e.Return, e.Call)
	}
	switch e.Outcome {
	case "", OK, Fail, Unknown:
	default:
		return ferr(CodeBadOutcome, "outcome %q is not ok, fail or unknown", clip(e.Outcome))
	}
	if e.Type == EvUpload && e.Outcome == "" {
		return ferr(CodeNoOutcome, "upload needs an outcome: ok, fail or unknown")
	}
	if isLock(e.Type) && e.Outcome != "" && e.Outcome != OK {
		return ferr(CodeBadOutcome, "%s journals what happened: outcome must be ok or left out, not %q", e.Type, e.Outcome)
	}
	if e.Key == "" && needsKey(e.Type) {
		return ferr(CodeNoKey, "%s needs a key (FORMAT/SENDER/RECEIVER/CONTROL)", e.Type)
	}
	if e.Key != "" {
		if err := ValidKey(e.Key); err != nil {
			return err
		}
	}
	if e.SHA == "" && e.Type == EvUpload {
		return ferr(CodeNoSHA, "upload needs sha, the sha256 of the uploaded bytes")
	}
	if e.SHA != "" && !ValidSHA(e.SHA) {
		return ferr(CodeBadSHA, "sha %q is not 64 lowercase hex digits", clip(e.SHA))
	}
	if e.Size < 0 {
		return ferr(CodeNegative, "size %d is negative", e.Size)
	}
	if e.Msgs < 0 {
		return ferr(CodeNegative, "msgs %d is negative", e.Msgs)
	}
	if isLock(e.Type) && e.Epoch == 0 {
		return ferr(CodeNoEpoch, "%s needs an epoch ≥ 1 (the fencing token)", e.Type)
	}
	if e.ErrClass != "" && !contains(ErrClasses, e.ErrClass) && !(e.Type == EvLoad && contains(LoadErrClasses, e.ErrClass)) {
		return ferr(CodeBadErrClass, "errClass %q is not one of %s", clip(e.ErrClass), strings.Join(ErrClasses, ", "))
	}
	if e.Type == EvPublish || e.Type == EvLoad {
		return validPublish(e)
	}
	switch e.Type {
	case EvLockTakeover:
		if e.Holder == "" {
			return ferr(CodeNoHolder, "lock.takeover needs holder: the proc whose lease was broken")
		}
		if _, _, err := ParseTakeover(e.Detail); err != nil {
			return err
		}
	case EvDupe:
		if e.Detail != "idempotent" && e.Detail != "conflict" {
			return ferr(CodeBadDetail, "dupe detail %q is not idempotent or conflict", clip(e.Detail))
		}
	case EvClaim:
		if e.Detail != "" && e.Detail != "recovered" {
			return ferr(CodeBadDetail, "claim detail %q is not empty or recovered", clip(e.Detail))
		}
	case EvStored:
		if e.Detail != "" && e.Detail != "restored" {
			return ferr(CodeBadDetail, "stored detail %q is not empty or restored", clip(e.Detail))
		}
	case EvFault:
		if strings.TrimSpace(e.Detail) == "" {
			return ferr(CodeBadDetail, "fault needs detail \"<action> <name>\"")
		}
	case EvTrigger:
		if e.Path == "" || strings.TrimSpace(e.Detail) == "" {
			return ferr(CodeBadDetail, "trigger needs path (the file operated on) and detail \"<op> <when>, ... fired <fault> (<action>)\"")
		}
	case EvProcStart, EvProcExit:
		if e.Target == "" {
			return ferr(CodeNoTarget, "%s needs a target: the process started or ended", e.Type)
		}
	case EvClock:
		if e.Target == "" {
			return ferr(CodeNoTarget, "clock needs a target: the node probed")
		}
		if e.Outcome != Fail {
			if _, _, err := ParseClock(e.Detail); err != nil {
				return err
			}
		}
	}
	return nil
}

// ParseTakeover reads a lock.takeover detail "age <duration> ttl <duration>":
// the age of the broken lease as the breaker measured it, and its TTL.
func ParseTakeover(detail string) (age, ttl time.Duration, err error) {
	f := strings.Fields(detail)
	bad := ferr(CodeBadDetail, "lock.takeover detail %q is not \"age <duration> ttl <duration>\" (Go durations such as 3.2s, age ≥ 0, ttl > 0)", clip(detail))
	if len(f) != 4 || f[0] != "age" || f[2] != "ttl" {
		return 0, 0, bad
	}
	if age, err = time.ParseDuration(f[1]); err != nil || age < 0 {
		return 0, 0, bad
	}
	if ttl, err = time.ParseDuration(f[3]); err != nil || ttl <= 0 {
		return 0, 0, bad
	}
	return age, ttl, nil
}

// ParseClock reads a clock detail "offset <duration> uncertainty <duration>":
// the node's clock minus the runner's, and how far off that may be.
func ParseClock(detail string) (offset, uncertainty time.Duration, err error) {
	f := strings.Fields(detail)
	bad := ferr(CodeBadDetail, "clock detail %q is not \"offset <duration> uncertainty <duration>\" (Go durations, offset may be negative, uncertainty ≥ 0)", clip(detail))
	if len(f) != 4 || f[0] != "offset" || f[2] != "uncertainty" {
		return 0, 0, bad
	}
	if offset, err = time.ParseDuration(f[1]); err != nil {
		return 0, 0, bad
	}
	if uncertainty, err = time.ParseDuration(f[3]); err != nil || uncertainty < 0 {
		return 0, 0, bad
	}
	return offset, uncertainty, nil
}

// ClockDetail formats a clock event's detail.
func ClockDetail(offset, uncertainty time.Duration) string {
	return "offset " + offset.String() + " uncertainty " + uncertainty.String()
}

// ValidKey checks an interchange key: FORMAT/SENDER/RECEIVER/CONTROL, four
// non-empty parts of printable ASCII without '/', each at most 35 bytes.
func ValidKey(k string) error {
	parts, n, ok := 1, 0, len(k) > 0
	for i := 0; i < len(k) && ok; i++ {
		switch c := k[i]; {
		case c == '/':
			ok = n > 0 && parts < 4
			parts, n = parts+1, 0
		case c < 0x20 || c > 0x7e:
			ok = false
		default:
			n++
			ok = n <= 35
		}
	}
	if !ok || parts != 4 || n == 0 {
		return ferr(CodeBadKey, "key %q is not FORMAT/SENDER/RECEIVER/CONTROL: four non-empty parts of printable ASCII without '/', at most 35 bytes each", clip(k))
	}
	return nil
}

// ValidSHA reports whether s is a hex sha256 as the format writes it: 64
// lowercase hex digits.
func ValidSHA(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < 64; i += 8 {
		if !lowerHex8(le64(s[i:])) {
			return false
		}
	}
	return true
}

// lowerHex8 reports whether every byte of w is '0'-'9' or 'a'-'f'. Each
// lane is tested on its own: with its top bit set first, a lane minus a
// constant below 0x80 never borrows from the next one.
func lowerHex8(w uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	x := w | hi
	digit := (x - lo*'0') &^ (x - lo*('9'+1))
	letter := (x - lo*'a') &^ (x - lo*('f'+1))
	return w&hi == 0 && (digit|letter)&hi == hi
}

func validRole(r string) bool {
	switch r {
	case RoleClient, RoleWebserver, RoleEngine, RoleJobqueue, RoleRunner, RolePublisher, RoleConsumer:
		return true
	}
	return false
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// token: printable ASCII, no space or '/', non-empty, at most max bytes.
func token(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if notToken8(le64(s[i:])) {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] > 0x7e || s[i] == '/' {
			return false
		}
	}
	return true
}

// le64 is the first eight bytes of s, little-endian (one load).
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// notToken8 reports whether any byte of w is not allowed in a token:
// ≤ 0x20 (space, control), ≥ 0x7f, or '/'. Each test (a byte below n, a
// zero byte) is exact for the word as a whole.
func notToken8(w uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	sl := w ^ (lo * '/')
	del := w ^ (lo * 0x7f)
	return (((w-lo*0x21)&^w)|((sl-lo)&^sl)|((del-lo)&^del)|w)&hi != 0
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// clip shortens a value quoted in a message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// ---- publish/consume events (fixtures/pipeline/publish) ----

// LoadErrClasses are the errClass values a load may carry besides
// ErrClasses: a file that is not there yet, and the torn classes.
var LoadErrClasses = []string{LoadNotFound, LoadTornHeader, LoadTornShort, LoadTornLong, LoadTornChecksum}

// validPublish checks what publish and load events need: the file, an
// outcome, and for a publish or a verified load the version and the
// body's sha256 (the checkers compare the two).
func validPublish(e *Event) error {
	switch {
	case e.Path == "":
		return ferr(CodeNoPath, "%s needs a path: the file published or loaded", e.Type)
	case e.Outcome == "":
		return ferr(CodeNoOutcome, "%s needs an outcome: ok, fail or unknown", e.Type)
	case e.Type == EvLoad && e.Outcome == Unknown:
		return ferr(CodeBadOutcome, "load outcome %q: a load either verified (ok) or did not (fail)", e.Outcome)
	case (e.Type == EvPublish || e.Outcome == OK) && e.Version == 0:
		return ferr(CodeNoVersion, "%s needs a version ≥ 1 (the published version%s)", e.Type, map[bool]string{true: "", false: " it verified"}[e.Type == EvPublish])
	case (e.Type == EvPublish || e.Outcome == OK) && e.SHA == "":
		return ferr(CodeNoSHA, "%s needs sha, the sha256 of the file's body", e.Type)
	}
	return nil
}
