package nfs4

import (
	"context"
	"errors"
	"os"
)

var osHostname = os.Hostname

func withPath(err error, path string) error {
	var e *Error
	if errors.As(err, &e) && e.Path == "" {
		e.Path = path
	}
	return err
}

// Lookup finds name in dir and returns its handle and attributes. With
// the attribute cache on, a name looked up within the directory's cache
// window whose directory has not changed is answered from the cache (like
// the kernel's dentry revalidation); otherwise it asks the server.
func (c *Client) Lookup(ctx context.Context, cred Cred, dir FH, name string) (FH, Attr, error) {
	if fh, neg, ok := c.cache.lookup(dir, name); ok {
		if neg {
			return "", Attr{}, &Error{Op: "LOOKUP", Status: StatusNoEnt, Path: name}
		}
		if a, ok := c.cache.get(fh); ok {
			return fh, a, nil
		}
		if a, err := c.getattr(ctx, cred, fh); err == nil {
			return fh, a, nil
		}
	}
	var fh FH
	var a Attr
	err := c.call(ctx, cred, "lookup", func(rq *request) error {
		rq.putFH(dir)
		rq.lookup(name)
		rq.getFH()
		rq.getattr(fileAttrs)
		return nil
	}, func(p *reply) error {
		if err := p.ok(opPutFH); err != nil {
			return err
		}
		if err := p.ok(opLookup); err != nil {
			return err
		}
		var err error
		if fh, err = p.fh(); err != nil {
			return err
		}
		return p.attrs(&a)
	}, callOpts{})
	if err != nil {
		if IsStatus(err, StatusNoEnt) {
			c.cache.putName(dir, name, "", true)
		}
		return "", Attr{}, withPath(err, name)
	}
	c.cache.put(fh, a)
	c.cache.putName(dir, name, fh, false)
	return fh, a, nil
}

// Getattr returns fh's attributes (from the attribute cache when it is on
// and fresh).
func (c *Client) Getattr(ctx context.Context, cred Cred, fh FH) (Attr, error) {
	if a, ok := c.cache.get(fh); ok {
		return a, nil
	}
	return c.getattr(ctx, cred, fh)
}

// getattr always asks the server (close-to-open, revalidation).
func (c *Client) getattr(ctx context.Context, cred Cred, fh FH) (Attr, error) {
	var a Attr
	err := c.call(ctx, cred, "getattr", func(rq *request) error {
		rq.putFH(fh)
		rq.getattr(fileAttrs)
		return nil
	}, func(p *reply) error {
		if err := p.ok(opPutFH); err != nil {
			return err
		}
		return p.attrs(&a)
	}, callOpts{})
	if err != nil {
		return Attr{}, err
	}
	c.cache.put(fh, a)
	return a, nil
}

// Setattr changes fh's attributes (with the anonymous stateid; use
// File.Setattr to truncate an open file).
func (c *Client) Setattr(ctx context.Context, cred Cred, fh FH, a *SetAttr) (Attr, error) {
	return c.setattr(ctx, cred, fh, func() (stateID, error) { return anonStateID, nil }, a)
}

func (c *Client) setattr(ctx context.Context, cred Cred, fh FH, stateid func() (stateID, error), s *SetAttr) (Attr, error) {
	c.cache.invalidate(fh)
	var a Attr
	err := c.call(ctx, cred, "setattr", func(rq *request) error {
		sid, err := stateid()
		if err != nil {
			return err
		}
		rq.putFH(fh)
		if !s.empty() {
			rq.setattr(sid, s)
		}
		rq.getattr(fileAttrs)
		return nil
	}, func(p *reply) error {
		if err := p.ok(opPutFH); err != nil {
			return err
		}
		if !s.empty() {
			if err := p.setattr(); err != nil {
				return err
			}
		}
		return p.attrs(&a)
	}, callOpts{})
	if err != nil {
		return Attr{}, err
	}
	c.cache.put(fh, a)
	return a, nil
}

// Mkdir creates directory name in dir.
func (c *Client) Mkdir(ctx context.Context, cred Cred, dir FH, name string, mode uint32) (FH, Attr, error) {
	var fh FH
	var a Attr
	m := mode & 07777
	err := c.call(ctx, cred, "mkdir", func(rq *request) error {
		rq.putFH(dir)
		rq.mkdir(name, &SetAttr{Mode: &m})
		rq.getFH()
		rq.getattr(fileAttrs)
		return nil
	}, func(p *reply) error {
		if err := p.ok(opPutFH); err != nil {
			return err
		}
		if err := p.ok(opCreate); err != nil {
			return err
		}
		p.changeInfo()
		p.d.bitmap()
		var err error
		if fh, err = p.fh(); err != nil {
			return err
		}
		return p.attrs(&a)
	}, callOpts{})
	c.cache.dirChanged(dir, name)
	if err != nil {
		return "", Attr{}, withPath(err, name)
	}
	c.cache.put(fh, a)
	return fh, a, nil
}

// Symlink creates a symbolic link name in dir pointing to target.
func (c *Client) Symlink(ctx context.Context, cred Cred, dir FH, name, target string) (FH, Attr, error) {
	var fh FH
	var a Attr
	err := c.call(ctx, cred, "symlink", func(rq *request) error {
		rq.putFH(dir)
		rq.symlink(name, target, &SetAttr{})
		rq.getFH()
		rq.getattr(fileAttrs)
		return nil
	}, func(p *reply) error {
		if err := p.ok(opPutFH); err != nil {
			return err
		}
		if err := p.ok(opCreate); err != nil {
			return err
		}
		p.changeInfo()
		p.d.bitmap()
		var err error
		if fh, err = p.fh(); err != nil {
			return err
		}
		return p.attrs(&a)
	}, callOpts{})
	c.cache.dirChanged(dir, name)
	if err != nil {
		return "", Attr{}, withPath(err, name)
	}
	c.cache.put(fh, a)
	return fh, a, nil
}

// Readlink reads a symbolic link.
func (c *Client) Readlink(ctx context.Context, cred Cred, fh FH) (string, error) {
	var s string
	err := c.call(ctx, cred, "readlink", func(rq *request) error {
		rq.putFH(fh)
		rq.readlink()
		return nil
	}, func(p *reply) error {
		if err := p.ok(opPutFH); err != nil {
			return err
		}
		if err := p.ok(opReadLink); err != nil {
			return err
		}
		s = p.d.str(4096)
		return p.d.err()
	}, callOpts{})
	return s, err
}

// Link makes a hard link name in dir to fh.
func (c *Client) Link(ctx context.Context, cred Cred, fh, dir FH, name string) (Attr, error) {
	var a Attr
	err := c.call(ctx, cred, "link", func(rq *request) error {
		rq.putFH(fh)
		rq.saveFH()
		rq.putFH(dir)
		rq.link(name)
		rq.restoreFH()
		rq.getattr(fileAttrs)
		return nil
	}, func(p *reply) error {
		for _, op := range []uint32{opPutFH, opSaveFH, opPutFH} {
			if err := p.ok(op); err != nil {
				return err
			}
		}
		if err := p.ok(opLink); err != nil {
			return err
		}
		p.changeInfo()
		if err := p.ok(opRestoreFH); err != nil {
			return err
		}
		return p.attrs(&a)
	}, callOpts{})
	c.cache.dirChanged(dir, name)
	c.cache.invalidate(fh)
	if err != nil {
		return Attr{}, withPath(err, name)
	}
	return a, nil
}

// Remove removes name (a file, or an empty directory) from dir.
func (c *Client) Remove(ctx context.Context, cred Cred, dir FH, name string) error {
	err := c.call(ctx, cred, "remove", func(rq *request) error {
		rq.putFH(dir)
		rq.remove(name)
		return nil
	}, func(p *reply) error {
		if err := p.ok(opPutFH); err != nil {
			return err
		}
		return p.ok(opRemove)
	}, callOpts{})
	c.cache.dirChanged(dir, name)
	return withPath(err, name)
}

// Rename renames oldName in oldDir to newName in newDir.
func (c *Client) Rename(ctx context.Context, cred Cred, oldDir FH, oldName string, newDir FH, newName string) error {
	err := c.call(ctx, cred, "rename", func(rq *request) error {
		rq.putFH(oldDir)
		rq.saveFH()
		rq.putFH(newDir)
		rq.rename(oldName, newName)
		return nil
	}, func(p *reply) error {
		for _, op := range []uint32{opPutFH, opSaveFH, opPutFH} {
			if err := p.ok(op); err != nil {
				return err
			}
		}
		return p.ok(opRename)
	}, callOpts{})
	c.cache.dirChanged(oldDir, oldName)
	c.cache.dirChanged(newDir, newName)
	return withPath(err, oldName)
}

// ReadDir lists dir (every entry, following cookies).
func (c *Client) ReadDir(ctx context.Context, cred Cred, dir FH) ([]DirEntry, error) {
	var all []DirEntry
	var cookie uint64
	var verf [verifierSize]byte
	for {
		var ents []DirEntry
		var eof bool
		err := c.call(ctx, cred, "readdir", func(rq *request) error {
			rq.putFH(dir)
			rq.readdir(cookie, verf, 32<<10, 64<<10, readdirAttrs)
			return nil
		}, func(p *reply) error {
			if err := p.ok(opPutFH); err != nil {
				return err
			}
			var err error
			ents, verf, eof, err = p.readdir()
			return err
		}, callOpts{})
		if err != nil {
			return nil, err
		}
		all = append(all, ents...)
		if eof || len(ents) == 0 {
			return all, nil
		}
		cookie = ents[len(ents)-1].Cookie
	}
}

// Statfs returns the export's space and file counts.
func (c *Client) Statfs(ctx context.Context, cred Cred) (FSStat, error) {
	var s FSStat
	err := c.call(ctx, cred, "statfs", func(rq *request) error {
		rq.putFH(c.root)
		rq.getattr(statfsAttrs)
		return nil
	}, func(p *reply) error {
		if err := p.ok(opPutFH); err != nil {
			return err
		}
		if err := p.ok(opGetattr); err != nil {
			return err
		}
		return decodeFattr(p.d, attrValues{statfs: &s})
	}, callOpts{})
	return s, err
}

// Ping sends a SEQUENCE-only compound (it also renews the lease).
func (c *Client) Ping(ctx context.Context) error {
	return c.call(ctx, Root, "ping", func(*request) error { return nil }, func(*reply) error { return nil }, callOpts{})
}
