package nfs4

import (
	"fmt"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FileType is an NFSv4 file type.
type FileType uint32

// File types.
const (
	TypeRegular FileType = typeReg
	TypeDir     FileType = typeDir
	TypeSymlink FileType = typeLnk
	TypeBlock   FileType = typeBlk
	TypeChar    FileType = typeChr
	TypeSocket  FileType = typeSock
	TypeFIFO    FileType = typeFifo
)

// Attr is what this client reads of a file's attributes.
type Attr struct {
	Type    FileType
	Mode    uint32 // permission bits (07777)
	Nlink   uint32
	Uid     uint32
	Gid     uint32
	Size    uint64
	Used    uint64
	FileID  uint64
	Change  uint64 // the change attribute: differs whenever the file changed
	Rdev    uint64
	Atime   time.Time
	Mtime   time.Time
	Ctime   time.Time
	Owner   string // as the server sent it ("0", "root@localdomain")
	OwnerGr string
}

// StatMode is Mode with the file type bits of stat(2).
func (a *Attr) StatMode() uint32 {
	m := a.Mode & 07777
	switch a.Type {
	case TypeDir:
		return m | syscall.S_IFDIR
	case TypeSymlink:
		return m | syscall.S_IFLNK
	case TypeBlock:
		return m | syscall.S_IFBLK
	case TypeChar:
		return m | syscall.S_IFCHR
	case TypeSocket:
		return m | syscall.S_IFSOCK
	case TypeFIFO:
		return m | syscall.S_IFIFO
	}
	return m | syscall.S_IFREG
}

// FSStat is what STATFS needs.
type FSStat struct {
	FilesAvail, FilesFree, FilesTotal uint64
	SpaceAvail, SpaceFree, SpaceTotal uint64
}

// bitmap4 helpers.
func mask(bits ...int) []uint32 {
	var m []uint32
	for _, b := range bits {
		w := b / 32
		for len(m) <= w {
			m = append(m, 0)
		}
		m[w] |= 1 << (b % 32)
	}
	return m
}

func hasBit(m []uint32, b int) bool {
	w := b / 32
	return w < len(m) && m[w]&(1<<(b%32)) != 0
}

// fileAttrs are the attributes read for every file.
var fileAttrs = mask(attrType, attrChange, attrSize, attrFileID, attrMode, attrNumLinks,
	attrOwner, attrOwnerGroup, attrRawDev, attrSpaceUsed, attrTimeAccess, attrTimeMetadata, attrTimeModify)

// fsAttrs are read once from the export's root.
var fsAttrs = mask(attrLeaseTime, attrMaxName, attrMaxRead, attrMaxWrite)

var statfsAttrs = mask(attrFilesAvail, attrFilesFree, attrFilesTotal, attrSpaceAvail, attrSpaceFree, attrSpaceTotal)

// fsInfo are the export-wide values read at mount.
type fsInfo struct {
	lease    time.Duration
	maxName  uint32
	maxRead  uint64
	maxWrite uint64
}

// attrValues decodes fattr4's attr_vals for the attributes set in m, in
// increasing bit order, into the targets that are not nil.
type attrValues struct {
	attr   *Attr
	fs     *fsInfo
	statfs *FSStat
}

func decodeFattr(d *decoder, into attrValues) error {
	m := d.bitmap()
	vals := d.opaque(0)
	if err := d.err(); err != nil {
		return err
	}
	return decodeAttrVals(m, vals, into)
}

func decodeAttrVals(m []uint32, vals []byte, into attrValues) error {
	d := newDecoder(vals)
	a := into.attr
	if a == nil {
		a = &Attr{}
	}
	fi := into.fs
	if fi == nil {
		fi = &fsInfo{}
	}
	sf := into.statfs
	if sf == nil {
		sf = &FSStat{}
	}
	for b := 0; b < len(m)*32; b++ {
		if !hasBit(m, b) {
			continue
		}
		switch b {
		case attrSupportedAttrs:
			d.bitmap()
		case attrType:
			a.Type = FileType(d.u32())
		case attrChange:
			a.Change = d.u64()
		case attrSize:
			a.Size = d.u64()
		case attrFsid:
			d.u64()
			d.u64()
		case attrLeaseTime:
			fi.lease = time.Duration(d.u32()) * time.Second
		case attrFileID:
			a.FileID = d.u64()
		case attrFilesAvail:
			sf.FilesAvail = d.u64()
		case attrFilesFree:
			sf.FilesFree = d.u64()
		case attrFilesTotal:
			sf.FilesTotal = d.u64()
		case attrMaxName:
			fi.maxName = d.u32()
		case attrMaxRead:
			fi.maxRead = d.u64()
		case attrMaxWrite:
			fi.maxWrite = d.u64()
		case attrMode:
			a.Mode = d.u32() & 07777
		case attrNumLinks:
			a.Nlink = d.u32()
		case attrOwner:
			a.Owner = d.str(opaqueLimit)
			a.Uid = parseOwner(a.Owner, false)
		case attrOwnerGroup:
			a.OwnerGr = d.str(opaqueLimit)
			a.Gid = parseOwner(a.OwnerGr, true)
		case attrRawDev:
			maj, min := d.u32(), d.u32()
			a.Rdev = uint64(maj)<<8 | uint64(min)
		case attrSpaceAvail:
			sf.SpaceAvail = d.u64()
		case attrSpaceFree:
			sf.SpaceFree = d.u64()
		case attrSpaceTotal:
			sf.SpaceTotal = d.u64()
		case attrSpaceUsed:
			a.Used = d.u64()
		case attrTimeAccess:
			a.Atime = decodeTime(d)
		case attrTimeMetadata:
			a.Ctime = decodeTime(d)
		case attrTimeModify:
			a.Mtime = decodeTime(d)
		default:
			return fmt.Errorf("nfs4: server returned attribute %d that was not asked for", b)
		}
	}
	return d.err()
}

func decodeTime(d *decoder) time.Time {
	s := d.i64()
	ns := d.u32()
	return time.Unix(s, int64(ns))
}

func encodeTime(e *encoder, t time.Time) {
	e.i64(t.Unix())
	e.u32(uint32(t.Nanosecond()))
}

// parseOwner turns an NFSv4 owner or owner_group string into a uid or
// gid: bare numbers (ganesha's Allow_Numeric_Owners, the default) are
// used as they are; "name@domain" is looked up in the local passwd or
// group file by name, like nfsidmap without a domain check; unknown names
// map to 65534 (nobody), as the kernel does.
func parseOwner(s string, group bool) uint32 {
	name, _, _ := strings.Cut(s, "@")
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		return uint32(n)
	}
	if name == "root" {
		return 0
	}
	idmap.Lock()
	defer idmap.Unlock()
	key := name
	if group {
		key = "g:" + name
	}
	if id, ok := idmap.m[key]; ok {
		return id
	}
	id := uint32(65534)
	var sid string
	if group {
		if g, err := user.LookupGroup(name); err == nil {
			sid = g.Gid
		}
	} else if u, err := user.Lookup(name); err == nil {
		sid = u.Uid
	}
	if n, err := strconv.ParseUint(sid, 10, 32); err == nil {
		id = uint32(n)
	}
	if len(idmap.m) > 10000 {
		idmap.m = map[string]uint32{}
	}
	idmap.m[key] = id
	return id
}

var idmap = struct {
	sync.Mutex
	m map[string]uint32
}{m: map[string]uint32{}}

// SetAttr says which attributes to change; nil fields stay as they are.
type SetAttr struct {
	Mode  *uint32
	Size  *uint64
	Uid   *uint32
	Gid   *uint32
	Atime *time.Time // with AtimeNow unset
	Mtime *time.Time
	// AtimeNow and MtimeNow set the time to the server's clock.
	AtimeNow bool
	MtimeNow bool
}

func (s *SetAttr) empty() bool {
	return s.Mode == nil && s.Size == nil && s.Uid == nil && s.Gid == nil &&
		s.Atime == nil && s.Mtime == nil && !s.AtimeNow && !s.MtimeNow
}

// encodeFattr writes fattr4 for the attributes set in s.
func encodeFattr(e *encoder, s *SetAttr) {
	var bits []int
	v := newEncoder()
	// In increasing attribute number: size 4, mode 33, owner 36,
	// owner_group 37, time_access_set 48, time_modify_set 54.
	if s != nil && s.Size != nil {
		bits = append(bits, attrSize)
		v.u64(*s.Size)
	}
	if s != nil && s.Mode != nil {
		bits = append(bits, attrMode)
		v.u32(*s.Mode & 07777)
	}
	if s != nil && s.Uid != nil {
		bits = append(bits, attrOwner)
		v.str(strconv.FormatUint(uint64(*s.Uid), 10))
	}
	if s != nil && s.Gid != nil {
		bits = append(bits, attrOwnerGroup)
		v.str(strconv.FormatUint(uint64(*s.Gid), 10))
	}
	if s != nil && (s.AtimeNow || s.Atime != nil) {
		bits = append(bits, attrTimeAccessSet)
		if s.AtimeNow {
			v.u32(timeSetServer)
		} else {
			v.u32(timeSetClient)
			encodeTime(v, *s.Atime)
		}
	}
	if s != nil && (s.MtimeNow || s.Mtime != nil) {
		bits = append(bits, attrTimeModifySet)
		if s.MtimeNow {
			v.u32(timeSetServer)
		} else {
			v.u32(timeSetClient)
			encodeTime(v, *s.Mtime)
		}
	}
	e.bitmap(mask(bits...))
	e.opaque(v.bytes())
}
