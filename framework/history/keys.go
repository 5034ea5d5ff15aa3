package history

import (
	"bytes"
	"hash/maphash"
)

// Keys numbers the distinct interchange keys of a history 0, 1, 2… in the
// order they are first added. The checkers' ledger and the report's pass
// over the events share one (verdict passes it to both): a re-check of a
// million-upload run held a map and a string per key in each, ~200 bytes
// a key; this holds ~70, in memory with no pointers for the garbage
// collector to scan (the bytes of the keys in blocks, not a string each).
type Keys struct {
	seed   maphash.Seed
	idx    map[uint64]int32 // by hash of the key: cheaper than string keys
	spill  map[string]int32 // keys whose hash another key has
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
	return &Keys{seed: maphash.MakeSeed(), idx: make(map[uint64]int32, hint), spill: map[string]int32{},
		refs: make([]keyRef, 0, hint), lastN: -1}
}

// Len is the number of keys.
func (k *Keys) Len() int { return len(k.refs) }

// Add returns key's number, numbering it if it is new.
func (k *Keys) Add(key string) int32 {
	if k.lastN >= 0 && key == k.last {
		return k.lastN
	}
	h := maphash.String(k.seed, key)
	n, ok := k.idx[h]
	switch {
	case ok && string(k.bytes(n)) == key:
	case !ok:
		n = k.add(key)
		k.idx[h] = n
	default: // another key has this hash
		if n, ok = k.spill[key]; !ok {
			n = k.add(key)
			k.spill[key] = n
		}
	}
	k.last, k.lastN = key, n
	return n
}

// Find returns key's number, if it has one.
func (k *Keys) Find(key string) (int32, bool) {
	if k.lastN >= 0 && key == k.last {
		return k.lastN, true
	}
	n, ok := k.idx[maphash.String(k.seed, key)]
	if ok && string(k.bytes(n)) == key {
		return n, true
	}
	n, ok = k.spill[key]
	return n, ok
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
