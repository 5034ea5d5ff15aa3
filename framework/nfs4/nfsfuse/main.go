package nfsfuse

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/nfs4"
	"github.com/rwxchaos/rwxchaos/framework/trigger"
)

// Ready is the record written to --ready once the mount serves.
type Ready struct {
	Pid     int    `json:"pid"`
	Name    string `json:"name"`
	Mount   string `json:"mount"`
	Server  string `json:"server"`
	Export  string `json:"export"`
	Started int64  `json:"started"` // Unix ns
}

// StatsRecord is what --stats FILE holds: the client's counters, written
// every second and at exit.
type StatsRecord struct {
	Pid     int        `json:"pid"`
	Name    string     `json:"name"`
	Mount   string     `json:"mount"`
	Written int64      `json:"written"` // Unix ns
	Exited  bool       `json:"exited"`
	Stats   nfs4.Stats `json:"stats"`
}

const usage = `rwxchaos-nfs mounts an NFSv4.1 export with a userspace client (no kernel
NFS client needed) through FUSE.

  rwxchaos-nfs --server HOST:PORT --mount DIR [--export /export] [--name NODE]
               [--actimeo DUR] [--recover-lost-locks] [--timeo DUR]
               [--ready FILE] [--stats FILE] [--shared] [--no-guard]
               [--allow-nonempty] [--debug] [--trigger SOCKET]

It must run as root (it mounts with mount(2); there is no fusermount).
SIGTERM, SIGINT or SIGHUP unmount (lazily if files are open), destroy the
session and client ID when the server answers within 3 s, and exit 0.
Mount guard: the mountpoint must be empty (--allow-nonempty overrides), and
an empty read-only tmpfs is mounted under the FUSE mount (--no-guard skips
it). If the client dies, its mount answers ENOTCONN; if that dead mount is
then detached (umount -l), the path shows the guard and writes fail with
EROFS: they never land silently on the local disk. A clean exit removes it.

Behaviour (hard mount, lease loss -> EIO, recover_lost_locks, actimeo,
close-to-open) is documented in package framework/nfs4.
`

// Main runs the mount process with args (without the program name) and
// returns its exit status: 0 after a clean unmount, 1 on failure, 2 on bad
// usage. It logs to stderr.
func Main(args []string) int {
	return run(args, os.Stderr)
}

type options struct {
	server, export, mount, name string
	ready, stats                string
	actimeo, timeo              time.Duration
	recover, debug, shared      bool
	noGuard, allowNonEmpty      bool
	trigger                     string
}

func run(args []string, stderr io.Writer) int {
	logger := log.New(stderr, "rwxchaos-nfs: ", log.LstdFlags|log.Lmicroseconds)
	fl := flag.NewFlagSet("rwxchaos-nfs", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() { fmt.Fprint(stderr, usage); fl.PrintDefaults() }
	var o options
	host, _ := os.Hostname()
	fl.StringVar(&o.server, "server", "", "NFSv4 server host:port (required)")
	fl.StringVar(&o.export, "export", "/export", "export path in the server's pseudo file system")
	fl.StringVar(&o.mount, "mount", "", "directory to mount on (required; must exist and be empty)")
	fl.StringVar(&o.name, "name", host, "client name (node name): the NFSv4 client owner and the mount source rwxchaos-nfs:NAME")
	fl.DurationVar(&o.actimeo, "actimeo", 0, "attribute and lookup cache time, like mount -o actimeo (0: off, every stat asks the server)")
	fl.BoolVar(&o.recover, "recover-lost-locks", false, "re-take lost opens and locks silently instead of failing them with EIO (Linux nfs.recover_lost_locks=1: silent split brain)")
	fl.DurationVar(&o.timeo, "timeo", 60*time.Second, "per-call timeout before reconnecting and resending (hard mount: calls never fail for it)")
	fl.StringVar(&o.ready, "ready", "", "write a JSON ready record (pid, mount, server, started) here once the mount serves; removed on clean exit")
	fl.StringVar(&o.stats, "stats", "", "write the client's counters as JSON here every second and at exit")
	fl.BoolVar(&o.shared, "shared", false, "make the mount shared (mount --make-shared) so bind mounts with HostToContainer propagation see it")
	fl.BoolVar(&o.noGuard, "no-guard", false, "do not mount the read-only empty tmpfs guard under the mount (see Mount guard above)")
	fl.BoolVar(&o.allowNonEmpty, "allow-nonempty", false, "mount over a non-empty directory")
	fl.BoolVar(&o.debug, "debug", false, "log every FUSE request")
	fl.StringVar(&o.trigger, "trigger", "", "unix socket of the runner's trigger controller: hold the file operations its rules name until released (framework/trigger)")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if o.server == "" || o.mount == "" || fl.NArg() != 0 {
		fmt.Fprintln(stderr, "rwxchaos-nfs: --server and --mount are required: rwxchaos-nfs --server HOST:PORT --mount DIR")
		return 2
	}
	if err := serve(o, logger); err != nil {
		logger.Print(err)
		return 1
	}
	return 0
}

func serve(o options, logger *log.Logger) error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root: it mounts with mount(2) directly (no fusermount)")
	}
	m, err := filepath.Abs(o.mount)
	if err != nil {
		return err
	}
	if err := checkMountpoint(m, o.allowNonEmpty); err != nil {
		return err
	}
	cfg := nfs4.Config{
		Server: o.server, Export: o.export, Name: o.name,
		RecoverLostLocks: o.recover, CallTimeout: o.timeo,
		Logf: func(f string, a ...any) { logger.Printf(f, a...) },
	}
	cfg.SetActimeo(o.actimeo)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		select {
		case s := <-sigs:
			logger.Printf("%s during mount: giving up", s)
			cancel()
		case <-ctx.Done():
		}
	}()
	c, err := nfs4.Dial(ctx, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	closeClient := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			logger.Printf("close: %v", err)
		}
	}
	guarded := false
	if !o.noGuard {
		if err := mountGuard(m); err != nil {
			closeClient()
			return err
		}
		guarded = true
	}
	removeGuard := func() {
		if guarded {
			if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
				logger.Printf("remove mount guard of %s: %v: run umount -l %s", m, err, m)
			}
		}
	}
	var hook *trigger.Hook
	if o.trigger != "" {
		if hook, err = trigger.NewHook(trigger.HookConfig{Socket: o.trigger, Server: o.name, Logf: cfg.Logf}); err != nil {
			removeGuard()
			closeClient()
			return err
		}
		defer hook.Close() // after the unmount: nothing waits on a held call
	}
	mnt, err := New(Config{Client: c, MountPoint: m, Name: o.name, Debug: o.debug, Logf: cfg.Logf, Trigger: hook})
	if err != nil {
		removeGuard()
		closeClient()
		return fmt.Errorf("mount on %s: %w (needs root and /dev/fuse)", m, err)
	}
	if o.shared {
		if err := syscall.Mount("", m, "", syscall.MS_SHARED, ""); err != nil {
			_ = mnt.Unmount()
			removeGuard()
			closeClient()
			return fmt.Errorf("make %s shared: %w", m, err)
		}
	}
	var statsWG sync.WaitGroup
	stopStats := make(chan struct{})
	writeStats := func(exited bool) {
		if o.stats == "" {
			return
		}
		rec := StatsRecord{Pid: os.Getpid(), Name: o.name, Mount: m, Written: time.Now().UnixNano(), Exited: exited, Stats: c.Stats()}
		if err := writeJSON(o.stats, rec); err != nil {
			logger.Printf("stats: %v", err)
		}
	}
	if o.stats != "" {
		statsWG.Add(1)
		go func() {
			defer statsWG.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				writeStats(false)
				select {
				case <-t.C:
				case <-stopStats:
					return
				}
			}
		}()
	}
	if o.ready != "" {
		rec := Ready{Pid: os.Getpid(), Name: o.name, Mount: m, Server: o.server, Export: o.export, Started: time.Now().UnixNano()}
		if err := writeJSON(o.ready, rec); err != nil {
			_ = mnt.Unmount()
			removeGuard()
			closeClient()
			return fmt.Errorf("write ready file: %w", err)
		}
		defer os.Remove(o.ready)
	}
	logger.Printf("serving %s:%s on %s (pid %d)", o.server, o.export, m, os.Getpid())

	served := make(chan struct{})
	go func() { mnt.Server.Wait(); close(served) }()
	select {
	case s := <-sigs:
		logger.Printf("%s: unmounting %s", s, m)
		if err := mnt.Unmount(); err != nil {
			logger.Printf("unmount %s: %v: run umount -l %s", m, err, m)
		}
	case <-served:
		logger.Printf("%s was unmounted", m)
	}
	removeGuard()
	closeClient()
	close(stopStats)
	statsWG.Wait()
	writeStats(true)
	return nil
}

// checkMountpoint refuses a mountpoint that is missing, holds a dead FUSE
// mount, or is not empty (data there would be hidden, and would silently
// take writes again should the mount go away).
func checkMountpoint(m string, allowNonEmpty bool) error {
	var st syscall.Stat_t
	if err := syscall.Stat(m, &st); err != nil {
		if errors.Is(err, syscall.ENOTCONN) {
			return fmt.Errorf("mountpoint %s holds a dead FUSE mount: detach it first (umount -l %s)", m, m)
		}
		return fmt.Errorf("mountpoint %s: %w: create it first", m, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return fmt.Errorf("mountpoint %s is not a directory", m)
	}
	if allowNonEmpty {
		return nil
	}
	ents, err := os.ReadDir(m)
	if err != nil {
		return fmt.Errorf("mountpoint %s: %w", m, err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("mountpoint %s is not empty (%d entries): writes meant for NFS could land there unseen; use an empty directory or --allow-nonempty", m, len(ents))
	}
	return nil
}

// mountGuard mounts an empty read-only tmpfs on m, under the FUSE mount.
// If the FUSE mount is ever detached while the client is dead (umount -l
// of a stale mount), the path shows this guard, and writes fail with
// EROFS instead of going silently to the local disk. A clean exit
// removes it.
func mountGuard(m string) error {
	if err := syscall.Mount("rwxchaos-nfs-guard", m, "tmpfs", syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "size=4k,mode=0555"); err != nil {
		return fmt.Errorf("mount guard (read-only tmpfs) on %s: %w (or run with --no-guard)", m, err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
