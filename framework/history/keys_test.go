package history

import (
	"fmt"
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
	// Keys with one hash, and a table that grows: each keeps its number.
	c := NewKeys(0)
	var same []string
	for i := range 100 {
		s := fmt.Sprintf("k%d", i)
		same = append(same, s)
		if n := c.addHash(s, 7); n != int32(i) {
			t.Fatalf("colliding key %q numbered %d, want %d", s, n, i)
		}
	}
	if len(c.slots) < 200 {
		t.Fatalf("the table did not grow: %d slots for 100 keys", len(c.slots))
	}
	for i, s := range same {
		if n := c.addHash(s, 7); n != int32(i) || c.Key(n) != s {
			t.Fatalf("colliding key %q found as %d (%q)", s, n, c.Key(n))
		}
		if _, n := c.probe(s, 8); n >= 0 {
			t.Fatalf("%q found under another hash", s)
		}
	}
}
