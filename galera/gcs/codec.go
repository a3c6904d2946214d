package gcs

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCorrupt is wrapped by Decode for malformed input.
var ErrCorrupt = errors.New("corrupt EVS message")

const maxActions = 1 << 20

// Encode appends m's wire form to dst: type, source, seq, range, aru as varints, then the
// retransmission request (gap) or the length-prefixed actions (user).
func Encode(dst []byte, m *Msg) []byte {
	dst = append(dst, byte(m.Type))
	dst = binary.AppendUvarint(dst, uint64(m.Source))
	dst = binary.AppendVarint(dst, m.Seq)
	dst = binary.AppendUvarint(dst, uint64(m.Range))
	dst = binary.AppendVarint(dst, m.Aru)
	switch m.Type {
	case MsgGap:
		dst = binary.AppendVarint(dst, int64(m.ReqFrom))
		if m.ReqFrom >= 0 {
			dst = binary.AppendVarint(dst, m.ReqLo)
			dst = binary.AppendVarint(dst, m.ReqHi)
		}
	case MsgUser:
		dst = binary.AppendUvarint(dst, uint64(len(m.Actions)))
		for _, a := range m.Actions {
			dst = binary.AppendUvarint(dst, uint64(len(a)))
			dst = append(dst, a...)
		}
	}
	return dst
}

// EncodedSize is the length of Encode's output for m, to size buffers.
func EncodedSize(m *Msg) int {
	n := 1 + 4*binary.MaxVarintLen64 + 3*binary.MaxVarintLen64
	for _, a := range m.Actions {
		n += len(a) + binary.MaxVarintLen32
	}
	return n
}

// Decode parses one message from a member of a group of n. Actions alias b. Malformed
// input, or a source outside the group, is an error wrapping ErrCorrupt, never a panic.
func Decode(b []byte, n int) (*Msg, error) {
	d := dec{b: b}
	m := &Msg{Type: MsgType(d.byte()), ReqFrom: -1}
	src := d.uvarint()
	m.Seq = d.varint()
	rng := d.uvarint()
	m.Aru = d.varint()
	if d.err != nil {
		return nil, d.err
	}
	if src >= uint64(n) {
		return nil, fmt.Errorf("%w: source index %d in a group of %d", ErrCorrupt, src, n)
	}
	if rng > 1<<40 || m.Seq < 0 || m.Aru < 0 {
		return nil, fmt.Errorf("%w: seq %d range %d aru %d", ErrCorrupt, m.Seq, rng, m.Aru)
	}
	m.Source, m.Range = int(src), int64(rng)
	switch m.Type {
	case MsgGap:
		from := d.varint()
		if d.err == nil && (from < -1 || from >= int64(n)) {
			return nil, fmt.Errorf("%w: retransmission request for member %d", ErrCorrupt, from)
		}
		m.ReqFrom = int(from)
		if from >= 0 {
			m.ReqLo, m.ReqHi = d.varint(), d.varint()
		}
	case MsgUser:
		k := d.uvarint()
		if k > maxActions || k > uint64(len(d.b)) {
			return nil, fmt.Errorf("%w: %d actions", ErrCorrupt, k)
		}
		if k > 0 {
			m.Actions = make([][]byte, k)
			for i := range m.Actions {
				l := d.uvarint()
				if d.err != nil {
					break
				}
				if l > uint64(len(d.b)-d.off) {
					d.err = fmt.Errorf("%w: action of %d bytes past the end", ErrCorrupt, l)
					break
				}
				m.Actions[i] = d.b[d.off : d.off+int(l) : d.off+int(l)]
				d.off += int(l)
			}
		}
	default:
		return nil, fmt.Errorf("%w: message type %d", ErrCorrupt, m.Type)
	}
	if d.err != nil {
		return nil, d.err
	}
	if d.off != len(d.b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b)-d.off)
	}
	return m, nil
}

type dec struct {
	b   []byte
	off int
	err error
}

func (d *dec) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.err = fmt.Errorf("%w: truncated", ErrCorrupt)
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *dec) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad varint", ErrCorrupt)
		return 0
	}
	d.off += n
	return v
}

func (d *dec) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad varint", ErrCorrupt)
		return 0
	}
	d.off += n
	return v
}
