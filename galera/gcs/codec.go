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
	dst = appendView(dst, m.View)
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
	case MsgJoin:
		dst = appendJoin(dst, m.Join)
	case MsgInstall:
		in := m.Install
		if in == nil {
			in = &Install{}
		}
		dst = appendView(dst, in.View)
		dst = appendInts(dst, in.Members)
		dst = binary.AppendUvarint(dst, uint64(len(in.Joins)))
		for i := range in.Joins {
			dst = appendJoin(dst, &in.Joins[i])
		}
	}
	return dst
}

func appendView(dst []byte, v ViewID) []byte {
	dst = binary.AppendVarint(dst, v.Seq)
	return binary.AppendVarint(dst, int64(v.Rep))
}

func appendInts(dst []byte, xs []int) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(xs)))
	for _, x := range xs {
		dst = binary.AppendVarint(dst, int64(x))
	}
	return dst
}

func appendJoin(dst []byte, j *Join) []byte {
	if j == nil {
		j = &Join{}
	}
	dst = appendView(dst, j.View)
	dst = binary.AppendUvarint(dst, map[bool]uint64{true: 1}[j.Primary])
	dst = binary.AppendVarint(dst, j.Attempt)
	dst = appendInts(dst, j.Members)
	dst = binary.AppendUvarint(dst, uint64(len(j.Recv)))
	for _, r := range j.Recv {
		dst = binary.AppendVarint(dst, r)
	}
	dst = binary.AppendVarint(dst, int64(j.Weight))
	dst = appendInts(dst, j.Left)
	dst = appendView(dst, j.Prim.ID)
	dst = binary.AppendVarint(dst, j.Prim.ConfID)
	dst = appendInts(dst, j.Prim.Members)
	dst = appendInts(dst, j.Prim.Weights)
	return appendInts(dst, j.Heard)
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
	m.View = d.view()
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
	case MsgJoin:
		m.Join = d.join(n)
	case MsgInstall:
		in := &Install{View: d.view(), Members: d.ints(n)}
		k := d.uvarint()
		if d.err == nil && k > uint64(n) {
			d.err = fmt.Errorf("%w: %d joins in a group of %d", ErrCorrupt, k, n)
		}
		for i := uint64(0); i < k && d.err == nil; i++ {
			if j := d.join(n); j != nil {
				in.Joins = append(in.Joins, *j)
			}
		}
		m.Install = in
	case MsgLeave:
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

func (d *dec) view() ViewID {
	seq := d.varint()
	rep := d.varint()
	if d.err == nil && (seq < 0 || rep < 0 || rep > 1<<20) {
		d.err = fmt.Errorf("%w: view %d.%d", ErrCorrupt, seq, rep)
	}
	return ViewID{Seq: seq, Rep: int(rep)}
}

// ints reads a list of at most n values, each in [0, 1<<20) (member indices, weights).
func (d *dec) ints(n int) []int {
	k := d.uvarint()
	if d.err != nil {
		return nil
	}
	if k > uint64(n) {
		d.err = fmt.Errorf("%w: list of %d in a group of %d", ErrCorrupt, k, n)
		return nil
	}
	var out []int
	for range k {
		v := d.varint()
		if d.err != nil {
			return nil
		}
		if v < 0 || v >= 1<<20 {
			d.err = fmt.Errorf("%w: list value %d", ErrCorrupt, v)
			return nil
		}
		out = append(out, int(v))
	}
	return out
}

func (d *dec) join(n int) *Join {
	j := &Join{View: d.view()}
	j.Primary = d.uvarint() == 1
	j.Attempt = d.varint()
	j.Members = d.ints(n)
	k := d.uvarint()
	if d.err != nil {
		return nil
	}
	if k > uint64(n) {
		d.err = fmt.Errorf("%w: receive vector of %d in a group of %d", ErrCorrupt, k, n)
		return nil
	}
	for range k {
		j.Recv = append(j.Recv, d.varint())
	}
	j.Weight = int(d.varint())
	j.Left = d.ints(n)
	j.Prim.ID = d.view()
	j.Prim.ConfID = d.varint()
	j.Prim.Members = d.ints(n)
	j.Prim.Weights = d.ints(n)
	j.Heard = d.ints(n)
	if d.err != nil {
		return nil
	}
	return j
}
