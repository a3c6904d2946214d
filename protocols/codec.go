package protocols

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// writeSetVersion is the first byte of every encoded write-set. Bump it when the layout
// changes; decoders refuse versions they do not know instead of misreading them.
const writeSetVersion = 1

// Limits that keep a corrupt length prefix from allocating gigabytes.
const (
	maxFieldLen = 64 << 20
	maxItems    = 1 << 22
)

// ErrCorrupt is returned (wrapped) by DecodeWriteSet for any malformed input.
var ErrCorrupt = errors.New("corrupt write-set")

// AppendWriteSet appends the compact binary encoding of ws to dst: a version byte, varints
// for the integers, length-prefixed strings and byte slices. The encoding is what travels
// over the bus, so its size is what the network emulator and flow control see.
func AppendWriteSet(dst []byte, ws *WriteSet) []byte {
	dst = append(dst, writeSetVersion)
	dst = appendString(dst, ws.Source)
	dst = binary.AppendUvarint(dst, ws.TrxID)
	dst = binary.AppendVarint(dst, ws.Snapshot)
	dst = binary.AppendVarint(dst, ws.Seqno)
	dst = binary.AppendVarint(dst, ws.DependsSeqno)
	dst = binary.AppendUvarint(dst, uint64(ws.Flags))
	dst = binary.AppendUvarint(dst, uint64(len(ws.Keys)))
	for _, k := range ws.Keys {
		dst = appendString(dst, k.Table)
		dst = appendString(dst, k.Index)
		dst = appendBytes(dst, k.Row)
		dst = append(dst, byte(k.Type))
	}
	dst = binary.AppendUvarint(dst, uint64(len(ws.Rows)))
	for _, r := range ws.Rows {
		dst = appendString(dst, r.Table)
		dst = append(dst, byte(r.Op))
		dst = appendBytes(dst, r.Row)
		if r.After == nil {
			dst = append(dst, 0)
		} else {
			dst = append(dst, 1)
			dst = appendBytes(dst, r.After)
		}
	}
	return dst
}

// EncodeWriteSet returns the encoding of ws in a new slice.
func EncodeWriteSet(ws *WriteSet) []byte {
	return AppendWriteSet(make([]byte, 0, ws.Size()), ws)
}

// DecodeWriteSet decodes one write-set from the start of b and returns it with the number
// of bytes consumed. Malformed input gives an error wrapping ErrCorrupt, never a panic; the
// decoded byte slices are copies, so b may be reused.
func DecodeWriteSet(b []byte) (*WriteSet, int, error) {
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != writeSetVersion {
		return nil, 0, fmt.Errorf("%w: version %d, this build reads %d", ErrCorrupt, v, writeSetVersion)
	}
	ws := &WriteSet{}
	ws.Source = d.string()
	ws.TrxID = d.uvarint()
	ws.Snapshot = d.varint()
	ws.Seqno = d.varint()
	ws.DependsSeqno = d.varint()
	ws.Flags = Flags(d.uvarint())
	if n := d.count(); n > 0 {
		ws.Keys = make([]Key, n)
		for i := range ws.Keys {
			k := &ws.Keys[i]
			k.Table = d.string()
			k.Index = d.string()
			k.Row = d.bytes()
			k.Type = KeyType(d.byte())
			if d.err == nil && k.Type > KeyExclusive {
				d.fail("key type %d", k.Type)
			}
		}
	}
	if n := d.count(); n > 0 {
		ws.Rows = make([]RowChange, n)
		for i := range ws.Rows {
			r := &ws.Rows[i]
			r.Table = d.string()
			r.Op = Op(d.byte())
			if d.err == nil && (r.Op < OpInsert || r.Op > OpDelete) {
				d.fail("row op %d", r.Op)
			}
			r.Row = d.bytes()
			switch d.byte() {
			case 0:
			case 1:
				r.After = d.bytes()
				if r.After == nil {
					r.After = []byte{}
				}
			default:
				d.fail("after-image marker")
			}
		}
	}
	if d.err != nil {
		return nil, 0, d.err
	}
	return ws, d.off, nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBytes(dst []byte, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// decoder reads the encoding with sticky errors, so the decode path reads straight through.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: at byte %d: %s", ErrCorrupt, d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("truncated")
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) count() int {
	n := d.uvarint()
	if d.err == nil && (n > maxItems || n > uint64(len(d.b)-d.off)) {
		d.fail("count %d exceeds what remains", n)
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > maxFieldLen || n > uint64(len(d.b)-d.off) {
		d.fail("length %d exceeds what remains", n)
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]byte, n)
	copy(out, d.b[d.off:])
	d.off += int(n)
	return out
}

func (d *decoder) string() string {
	return string(d.bytes())
}
