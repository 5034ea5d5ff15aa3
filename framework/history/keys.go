package history

import (
	"bytes"
	"hash/maphash"
)

// Keys numbers the distinct interchange keys of a history 0, 1, 2… in the
// order they are first added. The checkers' ledger and the report's pass
// over the events share one (verdict passes it to both): for a re-check of
// a million-upload run, each held its own map and a string per key, ~130
// bytes a key in all; this holds ~60, in memory with no pointers for the
// garbage collector to scan (the keys' bytes in blocks, not a string each).
type Keys struct {
	seed maphash.Seed
	// slots is an open-addressing table (linear probing, at most half
	// full): 32 bits of a key's hash, then 1+its number; 0 is empty. A Go
	// map of hashes cost twice as much.
	slots  []uint64
	blocks [][]byte
	refs   []keyRef // by number: where the key's bytes are
	// The last key looked up and its number: the checkers and the report
	// look up each event's key in turn.
	last  string
	lastN int32
}

type keyRef struct{ block, off, n uint32 }

// keyBlock is the size of a block of key bytes (a longer key gets a block
// of its own).
const keyBlock = 1 << 20

// NewKeys returns an empty table with room for hint keys.
func NewKeys(hint int) *Keys {
	size := 16
	for size < 2*hint {
		size *= 2
	}
	return &Keys{seed: maphash.MakeSeed(), slots: make([]uint64, size), refs: make([]keyRef, 0, hint), lastN: -1}
}

// Len is the number of keys.
func (k *Keys) Len() int { return len(k.refs) }

// Add returns key's number, numbering it if it is new.
func (k *Keys) Add(key string) int32 {
	if k.lastN >= 0 && key == k.last {
		return k.lastN
	}
	n := k.addHash(key, k.hash(key))
	k.last, k.lastN = key, n
	return n
}

// Find returns key's number, if it has one.
func (k *Keys) Find(key string) (int32, bool) {
	if k.lastN >= 0 && key == k.last {
		return k.lastN, true
	}
	i, n := k.probe(key, k.hash(key))
	return n, k.slots[i] != 0
}

func (k *Keys) hash(key string) uint32 { return uint32(maphash.String(k.seed, key)) }

// probe returns the slot of key, or the empty slot where it goes, and its
// number (-1 if none).
func (k *Keys) probe(key string, h uint32) (int, int32) {
	mask := uint32(len(k.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := k.slots[i]
		if s == 0 {
			return int(i), -1
		}
		if n := int32(uint32(s) - 1); uint32(s>>32) == h && string(k.bytes(n)) == key {
			return int(i), n
		}
	}
}

func (k *Keys) addHash(key string, h uint32) int32 {
	i, n := k.probe(key, h)
	if n >= 0 {
		return n
	}
	n = k.add(key)
	k.slots[i] = uint64(h)<<32 | uint64(n+1)
	if 2*len(k.refs) > len(k.slots) {
		k.grow()
	}
	return n
}

// grow doubles the table.
func (k *Keys) grow() {
	old := k.slots
	k.slots = make([]uint64, 2*len(old))
	mask := uint32(len(k.slots) - 1)
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := uint32(s>>32) & mask
		for k.slots[i] != 0 {
			i = (i + 1) & mask
		}
		k.slots[i] = s
	}
}

// Key returns the key numbered n.
func (k *Keys) Key(n int32) string { return string(k.bytes(n)) }

// Compare compares the keys numbered a and b as strings.Compare does.
func (k *Keys) Compare(a, b int32) int { return bytes.Compare(k.bytes(a), k.bytes(b)) }

func (k *Keys) bytes(n int32) []byte {
	r := k.refs[n]
	return k.blocks[r.block][r.off : r.off+r.n]
}

func (k *Keys) add(key string) int32 {
	nb := len(k.blocks)
	if nb == 0 || len(k.blocks[nb-1])+len(key) > cap(k.blocks[nb-1]) {
		k.blocks = append(k.blocks, make([]byte, 0, max(keyBlock, len(key))))
		nb++
	}
	b := &k.blocks[nb-1]
	k.refs = append(k.refs, keyRef{block: uint32(nb - 1), off: uint32(len(*b)), n: uint32(len(key))})
	*b = append(*b, key...)
	return int32(len(k.refs) - 1)
}
