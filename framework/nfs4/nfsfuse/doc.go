// Package nfsfuse serves an NFSv4.1 export through a FUSE mount, with the
// userspace client of package nfs4, and holds the mount process's main
// (Main; cmd/rwxchaos-nfs is a thin wrapper so the rwxchaos CLI can expose
// it too).
//
// The file system is go-fuse v2's node API: lookup, getattr, setattr
// (mode, owner, size — through the open file's stateid for ftruncate —
// and times), open, create, read, write, flush, fsync, release, unlink,
// rmdir, mkdir, rename, readdir, statfs, symlink, readlink, link. Calls
// carry the caller's uid and gid (AUTH_SYS), so the server checks
// permissions and owns new files as the kernel client would.
//
// Locks: the mount enables FUSE lock forwarding. flock(2) arrives as
// Setlk/Setlkw with FUSE_LK_FLOCK, POSIX locks as Getlk/Setlk/Setlkw; both
// become NFSv4 LOCK/LOCKT/LOCKU with one NFSv4 lock-owner per FUSE lock
// owner. The kernel releases POSIX locks with FLUSH (at every close of the
// owner's descriptors) and flocks with RELEASE and
// FUSE_RELEASE_FLOCK_UNLOCK; go-fuse's Flush and Release callbacks do not
// carry the owner, so the raw file system is wrapped to hand it over.
// RELEASE comes after close(2) has returned, so a flock can be seen held
// for a moment after its holder closed the file (the kernel NFS client
// releases it inside close). Blocking locks are polled and end with EINTR
// when the FUSE request is interrupted; the kernel restarts the call for
// signal handlers with SA_RESTART.
//
// Caching: kernel entry, negative and attribute timeouts are 0 and
// READDIRPLUS is off, so every lookup and stat reaches the client, whose
// attribute cache (nfs4.Config, --actimeo) decides like the kernel NFS
// client's; opens drop the file's cached pages (close-to-open), and with
// FUSE's automatic data invalidation a changed mtime drops them too.
//
// A file whose NFSv4 state was lost fails with EIO on read (attribute
// revalidation through the open file fails, so pages in the cache are
// not served either), write, fsync, flush with unwritten data, and lock.
//
// The mount process (Main): see its usage text (rwxchaos-nfs --help) for
// flags, the ready and stats files, signals and the mount guard.
package nfsfuse
