// Package history is the evidence of a run: what every process did (its
// journal) and what the shared volume held at the end (the snapshot). The
// checkers (framework/check) read only this package's types, so a history
// written by hand, by another tool or by another app's adapter can be checked
// with `rwxchaos report` or check.Run, no cluster needed.
//
// # Journals
//
// Every process appends NDJSON to its own journal, one Event per line, one
// write(2) per line (a killed writer leaves at most one torn last line,
// which readers skip and count). Fields (see Event): proc (unique per
// process start), seq (1, 2, 3 … per proc: a gap means lost lines and fails
// the history check), role, node, type, call and ret (Unix nanoseconds when
// the operation was called and returned; ret 0 = instant), outcome (ok | fail
// | unknown), key (the interchange: FORMAT/SENDER/RECEIVER/CONTROL), sha
// (hex sha256 of the uploaded bytes), epoch (the engine lock's fencing token
// the operation ran under), holder, path, target, err, errClass, detail.
// Unknown fields are rejected, so a typo cannot silently drop evidence.
//
// The events a checker uses:
//
//	client    upload        outcome ok (2xx) | fail (definitely refused) | unknown (timeout, reset, 5xx)
//	engine    lock.acquire  epoch granted (holder = previous holder on takeover)
//	engine    lock.renew / lock.release / lock.lost / lock.takeover
//	engine    claim, output, skip, done   key, epoch: the moves input → work → output
//	runner    proc.exit     target = the process that died (for lock recovery time)
//	runner    fault         call = injected, ret = healed, detail = action
//	publisher publish       path, version, sha and size of the body written (outcome ok | fail | unknown)
//	consumer  load          path, version seen, sha and size of the body read (outcome ok, or fail with
//	                        errClass: an errno class, or BADHEADER | SHORT | LONG | CHECKSUM when torn)
//
// The publish/consume workload (usersys/generated/*, see DirPublish) is
// judged from publish and load events alone: a load's version and body
// sha256 are compared with the publish event of that version, the node of
// a load names the consumer.
//
// A minimal hand-written history, one interchange uploaded, processed under
// epoch 1 and released:
//
//	{"proc":"client-1","seq":1,"role":"client","type":"upload","call":1000,"ret":2000,"outcome":"ok","key":"X12/ACME/GLOBEX/000000001","sha":"<64 hex>"}
//	{"proc":"engine-a","seq":1,"role":"engine","type":"lock.acquire","call":3000,"ret":3100,"epoch":1}
//	{"proc":"engine-a","seq":2,"role":"engine","type":"claim","call":3200,"ret":3300,"key":"X12/ACME/GLOBEX/000000001","epoch":1}
//	{"proc":"engine-a","seq":3,"role":"engine","type":"output","call":3400,"ret":3500,"key":"X12/ACME/GLOBEX/000000001","epoch":1}
//	{"proc":"engine-a","seq":4,"role":"engine","type":"done","call":3600,"ret":3700,"key":"X12/ACME/GLOBEX/000000001","epoch":1}
//	{"proc":"engine-a","seq":5,"role":"engine","type":"lock.release","call":3800,"ret":3900,"epoch":1}
//
// # Snapshot
//
// snapshot.json lists every file under botssys/ at the end (Scan): its
// stage (input, work, output, temp, silly, lease, other — from the Bots-like
// layout in the Dir* constants), size, the interchange key (from the file
// name stem, see FileName, or from the output document), and for outputs the
// parsed documents: each output file must hold exactly one OutputDoc whose
// key and inputSha256 match the upload. Two documents in one file, two files
// for one key, or two output events for one key are duplicates; a torn or
// mismatched document is corruption; an acked key with no output is lost; a
// key left in input/work is stuck.
//
// A run directory saved by History.Save holds history.ndjson (all journals
// merged, ordered by call time) and snapshot.json; Load reads them back.
package history
