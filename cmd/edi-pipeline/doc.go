// Command edi-pipeline is the application under test: a faithful,
// instrumented stand-in for the Bots EDI translator deployed as three
// services on one shared RWX volume (mounted at the same path everywhere),
// plus the second shared-volume pattern: a publisher of generated files and
// the consumers that load them on every node. One static binary
// (CGO_ENABLED=0) with five subcommands:
//
//	edi-pipeline webserver --root DIR [--listen :8080] [--max-size 1048576] [--ready-timeout 2s]
//	edi-pipeline engine    --root DIR [--lease-ttl 3s] [--heartbeat 1s] [--lock-wait 10s] [--max-files 0]
//	                                  [--step-delay 0] [--crash-at STEP[:N]]
//	edi-pipeline jobqueue  --root DIR [--listen :8081] [--every 0] [--engine-args "..."]
//	edi-pipeline publisher --root DIR [--files 4] [--size 16384] [--rate 5] [--versions 0] [--write-time 0]
//	edi-pipeline consumer  --root DIR [--files 4] [--rate 10]
//
// The volume layout, the journal event types and the output document format
// are the contract in package framework/history.
//
// # Common flags
//
//	--root DIR         volume root (env EDI_ROOT); required, must exist
//	--node NAME        node name stamped on events (default $NODE_NAME, else the hostname)
//	--journal-dir DIR  where the journal goes (default <root>/botssys/logging/journal);
//	                   the file is <proc>.ndjson with proc = history.ProcID(role, node);
//	                   "-" writes events to stdout (one JSON object per line)
//	--journal-sync     fsync the journal after every event
//	--defect NAME      enable a bug from the zoo (repeatable or comma-separated;
//	                   env EDI_DEFECTS when no flag is given)
//
// Exit status: 0 success, 1 runtime failure, 2 usage error (bad flag, unknown
// defect with the list of valid ones, bad --root). "edi-pipeline
// <subcommand> --help" prints the flags. Progress lines go to stderr; the
// HTTP services print "edi-pipeline <name>: listening on <addr>" once the
// port is open (use --listen 127.0.0.1:0 to pick a free port and read it
// there).
//
// # webserver
//
// Stores uploads durably; see package fixtures/pipeline/webserver for the
// full storage and duplicate rules. SIGTERM/SIGINT: graceful shutdown
// (in-flight requests finish, then exit 0).
//
//	POST /upload?route=R   body = one interchange; route [a-z0-9-]{1,32}, default "default"
//	  201 {"key","sha256","path"}           stored: durable at path (relative to --root)
//	  200 {"duplicate":"idempotent","key","sha256","path"}  same key and bytes already accepted
//	  400 {"error"}                         invalid route, or invalid interchange (reason, segment number)
//	  409 {"error","key"}                   key already accepted with different bytes
//	  413 {"error"}                         body larger than --max-size (not buffered beyond it)
//	  503/507/500 {"error","key"}           storage error (EIO/ESTALE/ENOTCONN/timeout, ENOSPC, other):
//	                                        not confirmed; a retry is safe
//	GET /outputs?route=R   200 [{"name","key","size","modified"}]  translated documents of a route
//	GET /outputs/R/FILE    200 the output file (NDJSON: one history.OutputDoc per line); 404; 400
//	GET /healthz           200 "ok" while the process runs
//	GET /readyz            200 "ready" if a probe file under botssys/logging/probe can be written,
//	                       fsynced, read back and removed within --ready-timeout; else 503
//	GET /metrics           Prometheus text: edi_uploads_total{code}, edi_upload_duration_seconds,
//	                       edi_stored_bytes_total, edi_stored_total, edi_storage_probe_seconds,
//	                       edi_storage_probe_duration_seconds, edi_storage_probe_errors_total, edi_ready
//
// Journal (role webserver): stored (Key, SHA, Size, Msgs, Path; Detail
// "restored" when a reserved-but-never-stored key is stored again),
// rejected (Err, Detail invalid|too large|route|read), dupe (Detail
// idempotent|conflict), error (ErrClass; storage errors of requests, and
// a /readyz probe failing after the service was ready).
//
// # engine
//
// One run per invocation, like the CronJob's pod; see package
// fixtures/pipeline/engine for the steps and fixtures/pipeline/lease for
// the lock. Exit status: 0 done or "lock busy" (run.end ok, Detail "lock
// busy"), 1 failed (storage error; the next run recovers), 3 lock lost
// (fenced), 137 --crash-at, 143 SIGTERM (stops after the current file,
// releases the lock).
//
//	--lease-ttl 3s      a lease not renewed for this long may be broken
//	--heartbeat 1s      renewal period; at most half of --lease-ttl
//	--lock-wait 10s     how long to try for the lock before "lock busy"
//	--max-files N       claim at most N input files per run (0 = all)
//	--step-delay DUR    sleep at every step (env EDI_STEP_DELAY): lets tests kill mid-run
//	--crash-at STEP[:N] os.Exit(137) the N-th time STEP is reached (env EDI_CRASH_AT);
//	                    STEP: after-acquire, after-claim, mid-output, after-output,
//	                    before-done, after-done, before-release
//
// Journal (role engine): run.start (Detail = defects), lock.takeover,
// lock.acquire (Epoch; Holder = previous holder when taken over; Detail
// first | after release by X | takeover, "without flock" when the flock was
// bypassed), lock.renew (first and every 5th), claim (Key, SHA, Size,
// Epoch, Path = work file; Detail "recovered" when a run re-processes a
// dead run's work file), output (Key, SHA, Msgs, Epoch, Path = output
// file), skip (recovery found the output done; Path = output), done (work
// file removed; Path = work file), error (ErrClass; untranslatable files
// are moved to botssys/data/error/<route>/), lock.lost, lock.release,
// run.end (Outcome ok|fail, Detail = counts or "lock busy").
//
// # jobqueue
//
// Long-running; runs engine jobs one at a time by exec'ing its own binary
// as "edi-pipeline engine" with the common flags and --engine-args. The
// queue is on the volume (botssys/data/jobqueue/<id>.job), so a restart
// resumes pending jobs; a job is removed when its engine exits. Engines get
// Pdeathsig=SIGKILL (they die with the jobqueue, as in a container); see
// package fixtures/pipeline/jobqueue.
//
//	POST /jobs    202 {"id"}; 503 {"error"} if the job file cannot be written
//	GET /jobs     200 {"running": id or "", "pending": [{"id","enqueued","source"}]}
//	GET /healthz  200
//	GET /readyz   200 if the queue dir can be listed within 2s, else 503
//	GET /metrics  edi_jobs_total{event}, edi_job_running
//
// Journal (role jobqueue): job.enqueue, job.start, job.end (Detail = job
// id; job.end Outcome fail with Err = exit status when the engine failed or
// was interrupted by a jobqueue shutdown).
//
// # publisher
//
// Long-running; every 1/--rate seconds writes the next version N of every
// file usersys/generated/gen_NN.py: one header line (version, body length,
// body sha256, publisher, time) and a generated Python module of --size
// bytes, by temp file + fsync + rename + directory fsync. A restarted
// publisher removes leftover temp files and continues after the highest
// version on the volume; after --versions it idles until SIGTERM. See
// package fixtures/pipeline/publish.
//
// Journal (role publisher): publish (Path, Version, SHA and Size of the
// body; Detail = mode atomic | in-place | rename-without-fsync; Outcome ok,
// fail when the new version cannot be visible, unknown when it may be, with
// ErrClass).
//
// # consumer
//
// Long-running; every 1/--rate seconds loads every file: open, read it
// whole, close, and verify header, length and checksum. Errors never stop
// it.
//
// Journal (role consumer): load (Path, Version from the header, SHA and
// Size of the body read; Outcome ok, or fail with ErrClass ENOENT, EIO,
// ESTALE, ENOTCONN, TIMEOUT, OTHER, or a torn class BADHEADER, SHORT, LONG,
// CHECKSUM with Err saying what differed).
//
// # Files on the volume
//
// Besides the contract's stages (infile, work, outfile, lease, lock,
// journal) the binary writes, all classified history.StageOther unless
// noted:
//
//	botssys/data/seen/<stem>.sha256        duplicate marker: "<sha256>  <route>/<stem>.edi"
//	botssys/data/engine.epoch-<N>-<A>      lock claim marker for the transition away from
//	                                       epoch N (attempt A); older epochs are removed
//	botssys/data/error/<route>/<stem>.edi  claimed files that could not be translated
//	botssys/data/jobqueue/<id>.job         queued jobs
//	botssys/logging/probe/<proc>.probe     /readyz probe file (lives for one probe)
//	.upload-*.tmp, .seen-*.tmp, .<name>.*.tmp   temp files (history.StageTemp): uploads
//	                                       and outputs not yet renamed; a kill leaves
//	                                       them behind; the engine deletes output temps
//	usersys/generated/gen_NN.py            published files (outside botssys/: not in the
//	                                       snapshot); .gen_NN.py.*.tmp are the publisher's
//	                                       temp files, removed by the next publisher
//
// # Defects
//
// See package fixtures/pipeline/defect: remove-after-copy,
// non-atomic-output, no-lock, append-output, steal-live-lock,
// ignore-lock-loss (engine), ack-before-fsync (webserver), publish-in-place
// and rename-without-fsync (publisher). An unknown name exits 2 listing the
// valid ones.
package main
