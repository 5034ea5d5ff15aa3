package nfs4

import (
	"bytes"
	"errors"
	"fmt"

	xdr3 "github.com/stellar/go-xdr/xdr3"
)

// encoder writes XDR (RFC 4506) into a growing buffer with the primitives
// of github.com/stellar/go-xdr. Writes to a bytes.Buffer cannot fail, so the
// methods return nothing; the first error (there should be none) is kept.
type encoder struct {
	buf bytes.Buffer
	x   *xdr3.Encoder
	err error
}

func newEncoder() *encoder {
	e := &encoder{}
	e.buf.Grow(512)
	e.x = xdr3.NewEncoder(&e.buf)
	return e
}

func (e *encoder) keep(_ int, err error) {
	if err != nil && e.err == nil {
		e.err = err
	}
}

func (e *encoder) u32(v uint32)    { e.keep(e.x.EncodeUint(v)) }
func (e *encoder) i32(v int32)     { e.keep(e.x.EncodeInt(v)) }
func (e *encoder) u64(v uint64)    { e.keep(e.x.EncodeUhyper(v)) }
func (e *encoder) i64(v int64)     { e.keep(e.x.EncodeHyper(v)) }
func (e *encoder) bool(v bool)     { e.keep(e.x.EncodeBool(v)) }
func (e *encoder) opaque(v []byte) { e.keep(e.x.EncodeOpaque(v)) }
func (e *encoder) fixed(v []byte)  { e.keep(e.x.EncodeFixedOpaque(v)) }
func (e *encoder) str(v string)    { e.keep(e.x.EncodeString(v)) }
func (e *encoder) bytes() []byte   { return e.buf.Bytes() }
func (e *encoder) len() int        { return e.buf.Len() }
func (e *encoder) bitmap(b []uint32) {
	e.u32(uint32(len(b)))
	for _, w := range b {
		e.u32(w)
	}
}

// errShort is returned when a reply ends before a value it must hold.
var errShort = errors.New("nfs4: truncated or malformed XDR reply")

// decoder reads XDR from a byte slice with the primitives of
// github.com/stellar/go-xdr. The first error is sticky: every later read
// returns a zero value, and err() reports what went wrong first, so
// decoding code reads like the RFC's struct definitions.
type decoder struct {
	r   *bytes.Reader
	x   *xdr3.Decoder
	bad error
}

func newDecoder(b []byte) *decoder {
	r := bytes.NewReader(b)
	// bytes.Reader has Len, so the library bounds every variable-length
	// allocation by what is left of the input (a doctored length cannot
	// make us allocate more than the reply holds).
	return &decoder{r: r, x: xdr3.NewDecoder(r)}
}

func (d *decoder) fail(err error) {
	if err != nil && d.bad == nil {
		d.bad = fmt.Errorf("%w: %v", errShort, err)
	}
}

func (d *decoder) err() error { return d.bad }

func (d *decoder) u32() uint32 {
	if d.bad != nil {
		return 0
	}
	v, _, err := d.x.DecodeUint()
	d.fail(err)
	return v
}

func (d *decoder) i32() int32 {
	if d.bad != nil {
		return 0
	}
	v, _, err := d.x.DecodeInt()
	d.fail(err)
	return v
}

func (d *decoder) u64() uint64 {
	if d.bad != nil {
		return 0
	}
	v, _, err := d.x.DecodeUhyper()
	d.fail(err)
	return v
}

func (d *decoder) i64() int64 {
	if d.bad != nil {
		return 0
	}
	v, _, err := d.x.DecodeHyper()
	d.fail(err)
	return v
}

func (d *decoder) bool() bool {
	if d.bad != nil {
		return false
	}
	v, _, err := d.x.DecodeBool()
	d.fail(err)
	return v
}

// opaque reads variable-length opaque data of at most max bytes (0: no
// limit beyond the input's length).
func (d *decoder) opaque(max int) []byte {
	if d.bad != nil {
		return nil
	}
	v, _, err := d.x.DecodeOpaque(max)
	d.fail(err)
	return v
}

// opaqueInto reads variable-length opaque data into p without allocating
// and returns how many bytes it holds; data longer than p is an error.
func (d *decoder) opaqueInto(p []byte) int {
	n := d.u32()
	if d.bad != nil {
		return 0
	}
	if int64(n) > int64(len(p)) {
		d.fail(fmt.Errorf("opaque of %d bytes does not fit a buffer of %d", n, len(p)))
		return 0
	}
	_, err := d.x.DecodeFixedOpaqueInplace(p[:n])
	d.fail(err)
	if d.bad != nil {
		return 0
	}
	return int(n)
}

func (d *decoder) fixed(n int) []byte {
	if d.bad != nil {
		return nil
	}
	v, _, err := d.x.DecodeFixedOpaque(int32(n))
	d.fail(err)
	return v
}

func (d *decoder) str(max int) string {
	if d.bad != nil {
		return ""
	}
	v, _, err := d.x.DecodeString(max)
	d.fail(err)
	return v
}

func (d *decoder) bitmap() []uint32 {
	n := d.u32()
	if d.bad != nil {
		return nil
	}
	if n > 64 {
		d.fail(fmt.Errorf("bitmap of %d words", n))
		return nil
	}
	b := make([]uint32, n)
	for i := range b {
		b[i] = d.u32()
	}
	return b
}

// rest returns what is left of the input.
func (d *decoder) rest() []byte {
	if d.bad != nil {
		return nil
	}
	b := make([]byte, d.r.Len())
	_, _ = d.r.Read(b)
	return b
}

func (d *decoder) left() int { return d.r.Len() }
