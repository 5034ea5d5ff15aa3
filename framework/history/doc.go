// Package history is the evidence of a run: what every process did (its
// journal) and what the shared volume held at the end (the snapshot). The
// checkers (framework/check) read only this package's types, so a history
// written by hand, by another tool or by another app's adapter can be
// checked with `rwxchaos report DIR` (or `rwxchaos check DIR`) or
// check.Run, no cluster needed.
//
// # Files
//
// A history is a directory holding history.ndjson (required: every event,
// one JSON object per line, in any order — readers sort by call time) and
// snapshot.json (optional: the volume at the end; without it the ledger
// judges outputs from the output events alone and says so). History.Save
// writes both; Load reads them back. A run directory also holds result.json
// and the rendered report (framework/report).
//
// While a run goes on, each process appends to its own journal
// (<proc>.ndjson), one write(2) per line: a killed writer leaves at most one
// torn last line, which the reader counts (Stats.Torn) and tolerates. A
// saved history.ndjson is written whole, so there a line that is cut short
// is damage. The journals' torn lines and bad lines are kept in
// snapshot.json ("journals"), so a re-check sees what the live check saw.
//
// # Events
//
// Fields (see Event; unknown fields are rejected, so a typo cannot silently
// drop evidence):
//
//	proc     writer id, unique per process start; printable ASCII without spaces
//	         or '/', ≤ 200 bytes. Ours: role-host-pid-startnanos (ProcID).
//	seq      1, 2, 3 … per proc, in the order the writer appended: a gap means
//	         lost lines, a repeat means two writers share a proc id.
//	role     client | webserver | engine | jobqueue | runner (each type has one)
//	node     the node or host whose clock call and ret are; "" = the runner's
//	         own clock. Events of one node share a clock; clocks of different
//	         nodes are compared only through clock events (below).
//	type     the operation (table below)
//	call     Unix ns when the operation was called (> 0)
//	ret      Unix ns when it returned (≥ call), or 0/absent for an instant
//	outcome  ok | fail (definitely did not happen) | unknown (may have
//	         happened: a timeout, a reset, a 5xx)
//	key      the interchange: FORMAT/SENDER/RECEIVER/CONTROL (Key), four
//	         non-empty parts of printable ASCII without '/', ≤ 35 bytes each
//	sha      sha256 of the interchange's bytes, 64 lowercase hex digits
//	size, msgs   bytes and messages of the interchange (≥ 0)
//	epoch    the engine lock's fencing token the operation ran under (0 = none)
//	holder   a lock holder's proc id
//	path     a file, relative to the volume root
//	target   what the runner acted on or probed
//	err, errClass   what failed; errClass EIO | ESTALE | ENOTCONN | EACCES |
//	         ENOSPC | TIMEOUT | OTHER
//	detail   free text, except where the table gives a format
//
// Every event type, who writes it and what it needs (besides proc, seq,
// role, type and call, which every event needs):
//
//	type           role       needs / means
//	upload         client     outcome (required), key, sha; msgs, size. One per
//	                          attempt: a retry is another upload of the same key.
//	stored         webserver  key; sha, path. detail "" | "restored".
//	rejected       webserver  err: why the input was refused.
//	dupe           webserver  key; detail "idempotent" (same bytes again) |
//	                          "conflict" (same key, other bytes: refused).
//	run.start      engine     an engine run began (detail: defects on).
//	run.end        engine     outcome ok | fail; err.
//	lock.acquire   engine     epoch ≥ 1 granted to this proc; holder = the
//	                          previous holder when it was taken over.
//	lock.takeover  engine     holder (whose lease was broken), epoch ≥ 1 (its
//	                          epoch), detail "age <duration> ttl <duration>" as
//	                          the breaker measured them; call = when the lease
//	                          was read, so call − age is the holder's heartbeat
//	                          the breaker saw.
//	lock.renew     engine     epoch ≥ 1; call = the heartbeat value written.
//	lock.lost      engine     epoch ≥ 1: the holder learnt its lease was
//	                          superseded or expired; it must not write after.
//	lock.release   engine     epoch ≥ 1: released cleanly.
//	claim          engine     key, epoch: input moved to work; detail "" | "recovered"
//	output         engine     key, epoch, path: output document written. outcome
//	                          fail = not written, unknown = may have been.
//	skip           engine     key, epoch: recovery found the output done.
//	done           engine     key, epoch: the work file removed.
//	job.enqueue, job.start, job.end   jobqueue   detail = job id.
//	error          any        errClass, err.
//	proc.start     runner     target = "role/index/pid" of the process started.
//	proc.exit      runner     target = the proc id of its journal (or
//	                          role/index/pid if it had none); detail = status.
//	fault          runner     detail "<action> <name>"; call = injected, ret =
//	                          healed (0 while active); outcome fail + err if it failed.
//	trigger        runner     path, detail "<op> <when>, call <n>, fired <fault>
//	                          (<action>)[; ...]": the file operation that fired a
//	                          fault (schedule.on); target = its caller; call =
//	                          when the storage layer got it, ret = when it
//	                          answered; err, errClass = what the caller got.
//	clock          runner     target = node; call/ret = the runner's clock
//	                          around the probe; detail "offset <duration>
//	                          uncertainty <duration>" (node clock − runner
//	                          clock, true within ±uncertainty; the offset may be
//	                          negative); outcome fail + err when the node could
//	                          not be probed.
//
// lock.* events journal what happened: their outcome is ok or absent.
// Durations use Go syntax (1.5s, 250ms, -3ms).
//
// # Snapshot
//
// snapshot.json is {"taken": ns, "files": [...], "lease": {...}, "journals": [...]}.
// Each file is {"path", "stage", "size", "key", "docs", "err"}: path relative
// to the volume root (clean, no "..", under botssys/ for the Bots layout of
// the Dir* constants); stage and key are derived from the path (Classify,
// KeyFromName: input and work files are <route>/<FileName(key)>.edi,
// outputs <route>/<FileName(key)>[.suffix].json) and may be left out — the
// checkers re-derive them and report a stored value that disagrees. An
// output's docs are its content, parsed (ParseOutput): each OutputDoc is
// {key, format, sender, receiver, control, messages ≥ 1, inputSha256,
// epoch, engine, written}, and key must be format/sender/receiver/control.
// err says why an output's content did not parse (a corrupt output). The
// lease is the engine lease record (Lease). Files of another app's layout
// (paths not under botssys/, written by an adapter) keep the stage and key
// the adapter matched.
//
// An output must hold exactly one document, made from an acked (or, if none
// was acked, an unknown-outcome) upload of its key — same sha, same number
// of messages — and written by an engine proc under an epoch for which that
// proc journaled an output of the key (or whose last claim/output/skip/done
// is its claim of the key: killed while writing). Two documents in one file, two files
// for one key, or two writers (proc, epoch) journaling ok outputs of one key
// are duplicates; a document that breaks these rules is corruption; an
// acked key with no output is lost; a key left in input/work is stuck; an
// output of a key never uploaded is unexpected; when the evidence leaves
// the outcome open (an unknown upload with no output, an output attempt of
// unknown outcome by a second writer) the key is indeterminate, with the
// reason. Every process the runner started or saw exit (proc.start,
// proc.exit) must have a journal in the history (events, or a journal
// listed in the snapshot).
//
// # Writing a history by hand
//
// A minimal history, one interchange uploaded, processed under epoch 1 and
// released (history.ndjson):
//
//	{"proc":"client-1","seq":1,"role":"client","type":"upload","call":1000,"ret":2000,"outcome":"ok","key":"X12/ACME/GLOBEX/000000001","sha":"<64 hex>"}
//	{"proc":"engine-a","seq":1,"role":"engine","type":"lock.acquire","call":3000,"ret":3100,"epoch":1}
//	{"proc":"engine-a","seq":2,"role":"engine","type":"claim","call":3200,"ret":3300,"key":"X12/ACME/GLOBEX/000000001","epoch":1}
//	{"proc":"engine-a","seq":3,"role":"engine","type":"output","call":3400,"ret":3500,"key":"X12/ACME/GLOBEX/000000001","epoch":1,"path":"botssys/outfile/default/X12+ACME+GLOBEX+000000001.json"}
//	{"proc":"engine-a","seq":4,"role":"engine","type":"done","call":3600,"ret":3700,"key":"X12/ACME/GLOBEX/000000001","epoch":1}
//	{"proc":"engine-a","seq":5,"role":"engine","type":"lock.release","call":3800,"ret":3900,"epoch":1}
//
// and its snapshot.json:
//
//	{"taken":5000,"files":[{"path":"botssys/outfile/default/X12+ACME+GLOBEX+000000001.json","size":200,
//	  "docs":[{"key":"X12/ACME/GLOBEX/000000001","format":"X12","sender":"ACME","receiver":"GLOBEX",
//	           "control":"000000001","messages":1,"inputSha256":"<the same 64 hex>","epoch":1,
//	           "engine":"engine-a","written":3450}]}]}
//
// Tips. Give each writer its own proc and number its lines 1, 2, 3 … in the
// order it appended them (an operation is appended when it returns). One
// writer's call times are compared with each other without doubt — one
// clock: a mutation it began after its own lock.lost or lock.release of
// that epoch, or before its lock.acquire, is proven wrong. Set node on
// events from different machines and add clock events for those nodes if
// you want timestamps compared across them; events of one node share its
// clock. Put output paths on output events: the final document of a file
// orders the writes that journaled that file.
//
// Mistakes, and what the reader and checkers say (code: message). A line
// with a mistake is not used as evidence: it is reported as damage with
// file:line and fails the history check.
//
//	syntax         not an event: <JSON error> (not a JSON object, a value of the wrong JSON type, trailing data)
//	unknown-field  not an event: json: unknown field "<name>"
//	torn           the last line is cut short (a saved history is written whole: it was truncated or edited): <JSON error>
//	too-long       line longer than 1048576 bytes
//	no-proc        event has no proc (the writer's id)
//	bad-proc       proc "<p>" is not printable ASCII without spaces or '/' (at most 200 bytes)
//	bad-seq        seq <n>: sequence numbers start at 1 for each proc
//	bad-role       role "<r>" is not one of client, webserver, engine, jobqueue, runner
//	unknown-type   type "<t>" is not an event type (upload, stored, …)
//	wrong-role     <type> is written by role <role>, not <role>
//	bad-call       call <n> is not a positive Unix time in nanoseconds
//	bad-ret        ret <n> is before call <n>
//	bad-outcome    outcome "<o>" is not ok, fail or unknown
//	bad-outcome    <lock type> journals what happened: outcome must be ok or left out, not "<o>"
//	no-outcome     upload needs an outcome: ok, fail or unknown
//	no-key         <type> needs a key (FORMAT/SENDER/RECEIVER/CONTROL)
//	bad-key        key "<k>" is not FORMAT/SENDER/RECEIVER/CONTROL: four non-empty parts of printable ASCII without '/', at most 35 bytes each
//	no-sha         upload needs sha, the sha256 of the uploaded bytes
//	bad-sha        sha "<s>" is not 64 lowercase hex digits
//	negative       size <n> is negative (also msgs)
//	no-epoch       <lock type> needs an epoch ≥ 1 (the fencing token)
//	no-holder      lock.takeover needs holder: the proc whose lease was broken
//	no-target      <proc.start|proc.exit> needs a target: the process started or ended (clock: the node probed)
//	bad-detail     lock.takeover detail "<d>" is not "age <duration> ttl <duration>" (Go durations such as 3.2s, age ≥ 0, ttl > 0)
//	bad-detail     clock detail "<d>" is not "offset <duration> uncertainty <duration>" (Go durations, offset may be negative, uncertainty ≥ 0)
//	bad-detail     dupe detail "<d>" is not idempotent or conflict
//	bad-detail     claim detail "<d>" is not empty or recovered
//	bad-detail     stored detail "<d>" is not empty or restored
//	bad-detail     fault needs detail "<action> <name>"
//	bad-errclass   errClass "<c>" is not one of EIO, ESTALE, ENOTCONN, EACCES, ENOSPC, TIMEOUT, OTHER
//	bad-snapshot   snapshot.json does not parse: <JSON error> (unknown fields included)
//	bad-snapshot   file path "<p>" is not a clean relative path under botssys/
//	bad-snapshot   <path>: stage says "<s>", its path says "<s>"
//	bad-snapshot   <path>: key says "<k>", its name and content say "<k>"
//	bad-snapshot   <path>: listed twice in the snapshot
//	bad-snapshot   snapshot lease: lease epoch is 0 / names no holder / has ttlMillis <n> / has no heartbeat
//
// The history check also reports: seq-gap (a writer misses lines, or starts
// after seq 1), seq-repeat (a writer repeats sequence numbers), and
// missing-journal (the runner started or saw exit a process whose journal
// is not in the history). An output document whose own fields break the
// format (key not made of its header fields, inputSha256 not 64 hex,
// messages < 1, no engine) is a corrupt output in the ledger, not damage.
package history
