package history

import (
	"fmt"
	"hash/maphash"
	"strings"
	"testing"
)

func TestKeys(t *testing.T) {
	k := NewKeys(0)
	long := strings.Repeat("x", keyBlock+3) // a block of its own
	want := []string{"b", "a", "", long, "c/ü/1"}
	for i := 0; i < 3*keyBlock/10; i++ { // more than one block
		want = append(want, fmt.Sprintf("X12/ACME/%03d", i))
	}
	for i, s := range want {
		if n := k.Add(s); n != int32(i) {
			t.Fatalf("Add(%.20q) = %d, want %d", s, n, i)
		}
	}
	for i, s := range want { // again, and not after the same key
		if n := k.Add(s); n != int32(i) {
			t.Fatalf("Add(%.20q) again = %d, want %d", s, n, i)
		}
		if n, ok := k.Find(s); !ok || n != int32(i) {
			t.Fatalf("Find(%.20q) = %d %v, want %d", s, n, ok, i)
		}
		if got := k.Key(int32(i)); got != s {
			t.Fatalf("Key(%d) = %.20q, want %.20q", i, got, s)
		}
	}
	if k.Len() != len(want) || len(k.blocks) < 3 {
		t.Fatalf("%d keys in %d blocks", k.Len(), len(k.blocks))
	}
	if _, ok := k.Find("d"); ok {
		t.Fatal("Find of a key never added")
	}
	if k.Compare(0, 1) <= 0 || k.Compare(1, 0) >= 0 || k.Compare(2, 2) != 0 || k.Compare(2, 1) >= 0 {
		t.Fatal("Compare does not order as strings.Compare")
	}
	// Two keys with one hash: the second is numbered in spill.
	h := maphash.String(k.seed, "collides")
	k.idx[h] = 0
	n := k.Add("collides")
	if n != int32(len(want)) || k.Key(n) != "collides" || k.Add("b") != 0 {
		t.Fatalf("colliding key numbered %d (%q)", n, k.Key(n))
	}
	if m, ok := k.Find("collides"); !ok || m != n {
		t.Fatalf("Find of a colliding key = %d %v", m, ok)
	}
}
