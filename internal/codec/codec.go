// Package codec is the one reader of the project's compact binary encodings: write-sets on
// the bus, the protocols' own messages, table schemas and rows on disk and in snapshots. They
// all write with encoding/binary's Append(U)varint and length-prefixed byte strings, and they
// all read back through Reader, so that every decoder has the same error convention.
//
// The convention: a Reader has a sticky error. The first malformed field records an error
// wrapping the caller's sentinel (protocols.ErrCorrupt, storage.ErrCorruptKey, ...) that says
// at which byte and what was wrong; every later read returns the zero value, so a decoder
// reads straight through its fields and checks Err once at the end. Malformed input is an
// error, never a panic, and no length prefix can make a Reader allocate or slice beyond the
// input it was given. The cost is that a decoder cannot stop at the first bad field, which
// none of them needs: bad input is dropped as a whole.
package codec

import (
	"encoding/binary"
	"fmt"
)

// Reader decodes one buffer front to back. It is a value (NewReader allocates nothing), so
// a hot decoder such as storage's row decoding keeps it on the stack. The zero value reads
// nothing; use NewReader.
type Reader struct {
	b       []byte
	off     int
	err     error
	corrupt error
}

// NewReader returns a Reader over b whose errors wrap corrupt (nil: a plain error).
func NewReader(b []byte, corrupt error) Reader { return Reader{b: b, corrupt: corrupt} }

// Err is the first decoding error, or nil.
func (r *Reader) Err() error { return r.err }

// Failed reports whether an error has been recorded.
func (r *Reader) Failed() bool { return r.err != nil }

// Fail records a decoding error at the current offset, unless one is recorded already. A
// decoder calls it for a value that decodes but makes no sense (an unknown type byte, a
// count beyond what it accepts).
func (r *Reader) Fail(format string, args ...any) {
	if r.err != nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if r.corrupt == nil {
		r.err = fmt.Errorf("at byte %d: %s", r.off, msg)
		return
	}
	r.err = fmt.Errorf("%w: at byte %d: %s", r.corrupt, r.off, msg)
}

// Offset is how many bytes have been consumed.
func (r *Reader) Offset() int { return r.off }

// Len is how many bytes are left (0 after an error).
func (r *Reader) Len() int {
	if r.err != nil {
		return 0
	}
	return len(r.b) - r.off
}

// Rest returns the unread bytes, aliasing the input, and consumes them (nil after an error).
func (r *Reader) Rest() []byte {
	if r.err != nil {
		return nil
	}
	out := r.b[r.off:]
	r.off = len(r.b)
	return out
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.Fail("truncated")
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

// Raw reads the next n bytes as they are (a fixed-width field), aliasing the input.
func (r *Reader) Raw(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.Fail("truncated: want %d bytes, %d left", n, len(r.b)-r.off)
		return nil
	}
	out := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return out
}

// Bool reads a byte that must be 0 or 1.
func (r *Reader) Bool() bool {
	switch c := r.Byte(); c {
	case 0:
		return false
	case 1:
		return true
	default:
		r.Fail("flag byte %d (want 0 or 1)", c)
		return false
	}
}

// Uvarint reads an unsigned varint (binary.AppendUvarint).
func (r *Reader) Uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.Fail("bad uvarint")
		return 0
	}
	r.off += n
	return v
}

// Varint reads a signed varint (binary.AppendVarint).
func (r *Reader) Varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.Fail("bad varint")
		return 0
	}
	r.off += n
	return v
}

// Count reads a uvarint count of items that follow, each taking at least one byte: a count
// above limit or above the bytes left is an error (so a corrupt count cannot make the caller
// allocate gigabytes).
func (r *Reader) Count(limit int) int { return r.length(limit, "count") }

// Bytes reads a uvarint length and that many bytes, aliasing the input (copy them to keep
// them past the buffer's life). A length above limit or above the bytes left is an error.
func (r *Reader) Bytes(limit int) []byte {
	n := r.length(limit, "length")
	if r.err != nil {
		return nil
	}
	out := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return out
}

// length reads a uvarint that says how much follows and checks it against limit and the
// bytes left.
func (r *Reader) length(limit int, what string) int {
	n := r.Uvarint()
	if r.err == nil && (n > uint64(limit) || n > uint64(len(r.b)-r.off)) {
		r.Fail("%s %d exceeds what remains", what, n)
		return 0
	}
	return int(n)
}

// AppendBytes appends b with its uvarint length prefix: what Bytes reads.
func AppendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// AppendString appends s with its uvarint length prefix: what Bytes reads.
func AppendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}
