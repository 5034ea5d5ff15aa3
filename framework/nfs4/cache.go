package nfs4

import (
	"sync"
	"time"
)

// attrCache mimics the kernel NFS client's attribute cache and its
// dentry revalidation, when Config.AcRegMax/AcDirMax are set:
//
//   - an inode's attributes are trusted for attrtimeo after they were
//     fetched; attrtimeo starts at acregmin (acdirmin for directories),
//     doubles each time a refetch finds the file unchanged (same change
//     attribute), up to acregmax (acdirmax), and drops back to the
//     minimum when the file changed;
//   - a looked-up name (or a negative lookup) is trusted while its
//     directory's attributes are trusted and the directory's change
//     attribute is the one seen when the name was looked up.
//
// Our own changes invalidate what they touch. OPEN always refetches
// (close-to-open). A handle the server calls stale is forgotten with the
// names that lead to it (forget). With all bounds zero the cache is off.
type attrCache struct {
	on                             bool
	regMin, regMax, dirMin, dirMax time.Duration
	now                            func() time.Time

	mu    sync.Mutex
	attrs map[FH]*cachedAttr
	names map[nameKey]*cachedName
}

type cachedAttr struct {
	a     Attr
	at    time.Time
	timeo time.Duration
}

type nameKey struct {
	dir  FH
	name string
}

type cachedName struct {
	fh        FH
	neg       bool
	dirChange uint64
}

// cacheLimit bounds the number of cached entries; beyond it the cache
// starts over.
const cacheLimit = 200000

func (ac *attrCache) init(cfg Config) {
	ac.regMin, ac.regMax, ac.dirMin, ac.dirMax = cfg.AcRegMin, cfg.AcRegMax, cfg.AcDirMin, cfg.AcDirMax
	if ac.regMax < ac.regMin {
		ac.regMax = ac.regMin
	}
	if ac.dirMax < ac.dirMin {
		ac.dirMax = ac.dirMin
	}
	ac.on = ac.regMax > 0 || ac.dirMax > 0
	ac.now = time.Now
	ac.attrs = map[FH]*cachedAttr{}
	ac.names = map[nameKey]*cachedName{}
}

func (ac *attrCache) bounds(t FileType) (time.Duration, time.Duration) {
	if t == TypeDir {
		return ac.dirMin, ac.dirMax
	}
	return ac.regMin, ac.regMax
}

func (ac *attrCache) fresh(e *cachedAttr) bool {
	return e != nil && e.timeo > 0 && ac.now().Sub(e.at) < e.timeo
}

func (ac *attrCache) get(fh FH) (Attr, bool) {
	if !ac.on {
		return Attr{}, false
	}
	ac.mu.Lock()
	defer ac.mu.Unlock()
	e := ac.attrs[fh]
	if !ac.fresh(e) {
		return Attr{}, false
	}
	return e.a, true
}

func (ac *attrCache) put(fh FH, a Attr) {
	if !ac.on {
		return
	}
	ac.mu.Lock()
	defer ac.mu.Unlock()
	min, max := ac.bounds(a.Type)
	timeo := min
	if old := ac.attrs[fh]; old != nil && old.a.Change == a.Change && old.timeo > 0 {
		timeo = old.timeo * 2
		if timeo > max {
			timeo = max
		}
	}
	if len(ac.attrs) > cacheLimit {
		ac.attrs = map[FH]*cachedAttr{}
	}
	ac.attrs[fh] = &cachedAttr{a: a, at: ac.now(), timeo: timeo}
}

// invalidate forgets fh's attributes (we changed the file) but keeps the
// adaptive timeout's history.
func (ac *attrCache) invalidate(fh FH) {
	if !ac.on {
		return
	}
	ac.mu.Lock()
	if e := ac.attrs[fh]; e != nil {
		e.at = time.Time{}
	}
	ac.mu.Unlock()
}

func (ac *attrCache) lookup(dir FH, name string) (FH, bool, bool) {
	if !ac.on {
		return "", false, false
	}
	ac.mu.Lock()
	defer ac.mu.Unlock()
	n := ac.names[nameKey{dir, name}]
	d := ac.attrs[dir]
	if n == nil || !ac.fresh(d) || d.a.Change != n.dirChange {
		return "", false, false
	}
	return n.fh, n.neg, true
}

func (ac *attrCache) putName(dir FH, name string, fh FH, neg bool) {
	if !ac.on {
		return
	}
	ac.mu.Lock()
	defer ac.mu.Unlock()
	d := ac.attrs[dir]
	if d == nil {
		return
	}
	if len(ac.names) > cacheLimit {
		ac.names = map[nameKey]*cachedName{}
	}
	ac.names[nameKey{dir, name}] = &cachedName{fh: fh, neg: neg, dirChange: d.a.Change}
}

// dirChanged forgets name in dir and dir's attributes (we changed dir).
func (ac *attrCache) dirChanged(dir FH, name string) {
	if !ac.on {
		return
	}
	ac.mu.Lock()
	delete(ac.names, nameKey{dir, name})
	if e := ac.attrs[dir]; e != nil {
		e.at = time.Time{}
	}
	ac.mu.Unlock()
}

// forget drops fh's attributes and every cached name that leads to fh or
// lies in it: the server said fh is stale (the file was removed or
// renamed over by another client), so the next lookup of those names
// must ask the server. Linear in the cached names; stale handles are
// rare.
func (ac *attrCache) forget(fh FH) {
	if !ac.on {
		return
	}
	ac.mu.Lock()
	defer ac.mu.Unlock()
	delete(ac.attrs, fh)
	for k, n := range ac.names {
		if n.fh == fh || k.dir == fh {
			delete(ac.names, k)
		}
	}
}
