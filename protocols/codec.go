package protocols

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/replbench/replbench/internal/codec"
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
	dst = codec.AppendString(dst, ws.Source)
	dst = binary.AppendUvarint(dst, ws.TrxID)
	dst = binary.AppendVarint(dst, ws.Snapshot)
	dst = binary.AppendVarint(dst, ws.Seqno)
	dst = binary.AppendVarint(dst, ws.DependsSeqno)
	dst = binary.AppendUvarint(dst, uint64(ws.Flags))
	dst = binary.AppendUvarint(dst, uint64(len(ws.Keys)))
	for _, k := range ws.Keys {
		dst = codec.AppendString(dst, k.Table)
		dst = codec.AppendString(dst, k.Index)
		dst = codec.AppendBytes(dst, k.Row)
		dst = append(dst, byte(k.Type))
	}
	dst = binary.AppendUvarint(dst, uint64(len(ws.Rows)))
	for _, r := range ws.Rows {
		dst = codec.AppendString(dst, r.Table)
		dst = append(dst, byte(r.Op))
		dst = codec.AppendBytes(dst, r.Row)
		if r.After == nil {
			dst = append(dst, 0)
		} else {
			dst = append(dst, 1)
			dst = codec.AppendBytes(dst, r.After)
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
	d := codec.NewReader(b, ErrCorrupt)
	if v := d.Byte(); !d.Failed() && v != writeSetVersion {
		return nil, 0, fmt.Errorf("%w: version %d, this build reads %d", ErrCorrupt, v, writeSetVersion)
	}
	ws := &WriteSet{}
	ws.Source = string(d.Bytes(maxFieldLen))
	ws.TrxID = d.Uvarint()
	ws.Snapshot = d.Varint()
	ws.Seqno = d.Varint()
	ws.DependsSeqno = d.Varint()
	ws.Flags = Flags(d.Uvarint())
	if n := d.Count(maxItems); n > 0 {
		ws.Keys = make([]Key, n)
		for i := range ws.Keys {
			k := &ws.Keys[i]
			k.Table = string(d.Bytes(maxFieldLen))
			k.Index = string(d.Bytes(maxFieldLen))
			k.Row = copyBytes(d.Bytes(maxFieldLen))
			k.Type = KeyType(d.Byte())
			if !d.Failed() && k.Type > KeyExclusive {
				d.Fail("key type %d", k.Type)
			}
		}
	}
	if n := d.Count(maxItems); n > 0 {
		ws.Rows = make([]RowChange, n)
		for i := range ws.Rows {
			r := &ws.Rows[i]
			r.Table = string(d.Bytes(maxFieldLen))
			r.Op = Op(d.Byte())
			if !d.Failed() && (r.Op < OpInsert || r.Op > OpDelete) {
				d.Fail("row op %d", r.Op)
			}
			r.Row = copyBytes(d.Bytes(maxFieldLen))
			if d.Bool() {
				r.After = copyBytes(d.Bytes(maxFieldLen))
				if r.After == nil {
					r.After = []byte{}
				}
			}
		}
	}
	if err := d.Err(); err != nil {
		return nil, 0, err
	}
	return ws, d.Offset(), nil
}

// copyBytes copies a decoded field out of the input buffer; empty stays nil.
func copyBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
