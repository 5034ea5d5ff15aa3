// Package nfs4 is a userspace NFSv4.1 client, written so that rwxchaos can
// put real NFS under an application on hosts whose kernel has no NFS
// client: package nfsfuse serves it through a FUSE mount, and
// cmd/rwxchaos-nfs is that mount process. It aims to fail the way Linux's
// kernel client fails — hard mount, lease loss, grace periods, attribute
// caching — because that is what the chaos scenarios study.
//
// # What is implemented
//
// Transport: ONC RPC version 2 (RFC 5531) over one TCP connection with
// record marking (replies of several fragments are reassembled), AUTH_SYS
// credentials of the calling user (uid and gid; FUSE does not pass
// supplementary groups, so none are sent), and Probe, an RPC NULL call for
// readiness checks. XDR primitives come from github.com/stellar/go-xdr;
// the NFSv4.1 types are written by hand after RFC 8881.
//
// Client ID and session (minor version 1 only): EXCHANGE_ID with SP4_NONE
// and a client owner "rwxchaos-nfs:"+Config.Name with a random boot
// verifier; CREATE_SESSION with no back channel; SEQUENCE in front of every
// compound over a pool of slots (Config.Slots, default 32, as many as the
// server grants), so a stalled call holds one slot and others go on; the
// slot's sequence id stays the same for a resend, so the server answers a
// resend from its replay cache (non-idempotent compounds ask it to cache
// the reply); RECLAIM_COMPLETE after every new client ID; DESTROY_SESSION
// and DESTROY_CLIENTID on Close, after giving back every open and lock.
//
// Operations: PUTROOTFH, PUTFH, LOOKUP, GETFH, GETATTR, SETATTR (size,
// mode, owner, times, to the client's or the server's clock), OPEN (by name
// with create UNCHECKED4 or GUARDED4; by file handle, CLAIM_FH; reclaim,
// CLAIM_PREVIOUS), CLOSE, READ, WRITE (UNSTABLE4) and COMMIT (on fsync and
// on close; when the write verifier changed — the server restarted — every
// uncommitted write is sent again with FILE_SYNC4, oldest first), CREATE
// (directories, symlinks), LINK, READLINK, REMOVE, RENAME, READDIR, LOCK,
// LOCKT, LOCKU, TEST_STATEID, FREE_STATEID (lock stateids are freed when
// their last lock goes, as Linux does), DELEGRETURN (only if a server
// grants a delegation although none is asked for).
//
// State: one open state per file and uid (Linux's open-owner per
// credential), shared by every open of that file, CLOSEd after the last;
// one NFSv4 lock-owner per caller-supplied owner (nfsfuse passes the FUSE
// lock owner: a process for POSIX locks, an open file for flock). Every
// held range is tracked so it can be reclaimed. Read and write use the
// open stateid with seqid 0 ("current", RFC 8881 section 8.2.2).
//
// # Linux behaviour mimicked
//
// Hard mount: a call that gets no reply within Config.CallTimeout (default
// 60 s, Linux's timeo=600 over TCP) makes the client drop the connection,
// reconnect (backoff 100 ms to 2 s) and resend, forever; "server not
// responding, still trying" and "server OK" are logged as the kernel does.
// A call never fails because the server is slow, stalled or unreachable.
// Only the caller's context ends a wait (EINTR); the request itself then
// finishes in the background so the slot stays in step with the server,
// and an OPEN or LOCK granted after its caller gave up is closed or
// released. nfsfuse makes its calls killable, not interruptible, as
// Linux's TASK_KILLABLE waits are: only a fatal signal ends them; blocking
// lock waits are interruptible.
//
// Lease: renewed by a SEQUENCE-only compound every lease/3, the lease read
// from the server (lease_time). NFS4ERR_DELAY and NFS4ERR_GRACE are
// retried with backoff (20 ms to 1 s) for as long as it takes.
//
// Lost state (nfs.recover_lost_locks=0, Linux's default): when the session
// is gone (BADSESSION, DEADSESSION) the client first creates a new session
// on its client ID, which keeps its state. When the client ID is gone too
// (STALE_CLIENTID: the server restarted, or expired our lease and purged
// us) it gets a new client ID; then, if its lease had not lapsed — the
// time from the last successful renewal to now, or to the first refused
// connection (the server process was down and could not expire anyone),
// is within the lease — it reclaims every open (OPEN CLAIM_PREVIOUS) and
// lock (LOCK reclaim=true) in the server's grace period. What it cannot
// reclaim (lease lapsed, NFS4ERR_NO_GRACE, RECLAIM_BAD, a conflict) is
// lost. Revocation reported with the client ID alive (SEQUENCE status
// flags *_STATE_REVOKED, or EXPIRED, ADMIN_REVOKED, BAD_STATEID,
// STALE_STATEID, OLD_STATEID, DELEG_REVOKED on a stateful operation) is
// checked with TEST_STATEID and the bad stateids freed; their state is
// lost. Every File of a lost open state then fails with ErrStateLost
// (EIO) on read, write, fsync, lock and unlock until it is closed, never
// with a silent success; opening the file again gets fresh state under the
// new client ID. Stats counts what was lost and reclaimed.
//
// RecoverLostLocks (nfs.recover_lost_locks=1): instead of failing them,
// the client re-opens lost files (OPEN by file handle) and re-takes their
// locks as new locks, and carries on silently if the server grants them.
// Another client may have held those locks and changed the files in the
// meantime: this is the silent split brain that sites buy with this
// setting, and rwxchaos scenarios can show it. A lock another client still
// holds is not taken away: that file fails with EIO.
//
// Attribute cache (Config.AcRegMin/AcRegMax/AcDirMin/AcDirMax, or
// SetActimeo like mount -o actimeo=N; off by default, so every stat and
// lookup asks the server, like actimeo=0): cached attributes are trusted
// for attrtimeo, which starts at the minimum, doubles each time a refetch
// finds the file unchanged (same change attribute) up to the maximum, and
// drops back when it changed. Looked-up names, positive and negative, are
// trusted while the directory's attributes are and its change attribute is
// the one seen at lookup (the kernel's dentry revalidation). The client's
// own changes invalidate what they touch. A handle the server answers
// NFS4ERR_STALE for (a file another client removed or renamed over) is
// forgotten with every cached name leading to it, so the VFS's retry of an
// open or stat that got ESTALE looks the name up on the server and finds
// the new file, as with the kernel client (which opens a cached dentry by
// handle too, CLAIM_FH, and on ESTALE drops the dentry and retries).
//
// Close-to-open: OPEN always fetches attributes (in the OPEN compound)
// whatever the cache says; close (FUSE flush) commits written data;
// nfsfuse opens without FOPEN_KEEP_CACHE, so the kernel drops the file's
// cached pages at every open.
//
// Locks: flock is a whole-file NFSv4 lock, as on Linux's NFS client, so
// flock and POSIX locks conflict with each other over NFS. Without a back
// channel there are no lock notifications (CB_NOTIFY_LOCK): a blocking
// lock is polled (NFS4ERR_DENIED, then again after Config.LockPollMin,
// doubling up to LockPollMax; 100 ms to 1 s by default, where Linux polls
// from 1 s up to 30 s — lock hand-over is faster here than on Linux).
//
// Errors map to the errnos Linux returns (Errno): NOENT, EXIST, NOTEMPTY,
// ACCESS, ISDIR, NOTDIR, NOSPC, DQUOT, ROFS, NAMETOOLONG, STALE and
// BADHANDLE (ESTALE), DENIED and LOCKED (EAGAIN), DEADLOCK (EDEADLK),
// SERVERFAULT (EREMOTEIO), lost state (EIO), an interrupted wait (EINTR).
//
// # What is not implemented, or differs from Linux
//
//   - NFSv4.0 and 4.2, RPCSEC_GSS (Kerberos), state protection, RDMA,
//     pNFS layouts, session trunking and BIND_CONN_TO_SESSION (a new
//     connection is tied to the session by its first SEQUENCE, which
//     SP4_NONE allows).
//   - No back channel: no delegations, no recalls, no lock notifications.
//   - Lost state fails every open of the file for that uid with EIO.
//     Linux re-opens files that held no locks and fails only I/O done by
//     a lock owner whose lock was lost; it also lets fstat of such a file
//     succeed, where nfsfuse returns EIO (so that a read served from the
//     page cache fails too).
//   - No write-back cache: writes go to the server (UNSTABLE) as the
//     application makes them, so another client can see data before the
//     writer's close; Linux keeps dirty pages until close, fsync or memory
//     pressure. Unstable data is kept (up to 32 MiB per open, then
//     committed) only to resend it after a server restart.
//   - No OPEN_DOWNGRADE: a file's share access only grows while it is open.
//     OPENs and CLOSEs of one uid are serialized around CLOSE (the server
//     merges a user's OPENs of a file into one state).
//   - No "silly rename": removing an open file removes it on the server;
//     ganesha keeps it while it is open, so the opener reads and writes on.
//   - No extended attributes, no RENAME_NOREPLACE/EXCHANGE (EINVAL), no
//     readdir cookie cache; "." and ".." are added to listings as Linux
//     does.
//   - Owners: numeric owner strings are used as they are; "name@domain" is
//     mapped through the local passwd/group files, unknown names to 65534.
//     Configure the server with numeric owners where uids differ.
//   - A lost lease is only noticed when the client talks to the server
//     again; nothing fences the application locally while it is cut off
//     (neither does Linux).
//
// ganesha specifics seen in this package's tests: an expired client is
// purged (its session gone: BADSESSION, then STALE_CLIENTID); its locks
// went to a waiting client 10.5 to 15.5 s after it stopped renewing with
// a 10 s lease (lease, up to lease plus ganesha's reaper interval), and
// 10.5 s after a client was killed;
// the grace period ends early once every client in its recovery database
// has sent RECLAIM_COMPLETE; client and session IDs derive from its start
// time in seconds, so a restart within the same second reissues them.
package nfs4
