package gcs

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/replbench/replbench/internal/codec"
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
	flags := uint64(0) // 1 primary, 2 restored prim (non-primary)
	if j.Primary {
		flags = 1
	} else if j.Restored {
		flags = 2
	}
	dst = binary.AppendUvarint(dst, flags)
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
// input, or a source outside the group, is an error wrapping ErrCorrupt, never a panic. It
// reads through the project's one binary reader (internal/codec), with its sticky error.
func Decode(b []byte, n int) (*Msg, error) {
	r := codec.NewReader(b, ErrCorrupt)
	m := &Msg{Type: MsgType(r.Byte()), ReqFrom: -1}
	src := r.Uvarint()
	m.Seq = r.Varint()
	rng := r.Uvarint()
	m.Aru = r.Varint()
	m.View = readView(&r)
	if r.Failed() {
		return nil, r.Err()
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
		from := r.Varint()
		if !r.Failed() && (from < -1 || from >= int64(n)) {
			return nil, fmt.Errorf("%w: retransmission request for member %d", ErrCorrupt, from)
		}
		m.ReqFrom = int(from)
		if from >= 0 {
			m.ReqLo, m.ReqHi = r.Varint(), r.Varint()
		}
	case MsgUser:
		if k := r.Count(maxActions); k > 0 {
			m.Actions = make([][]byte, k)
			for i := range m.Actions {
				m.Actions[i] = r.Bytes(r.Len())
			}
		}
	case MsgJoin:
		m.Join = readJoin(&r, n)
	case MsgInstall:
		in := &Install{View: readView(&r), Members: readInts(&r, n)}
		k := r.Count(n)
		for i := 0; i < k && !r.Failed(); i++ {
			if j := readJoin(&r, n); j != nil {
				in.Joins = append(in.Joins, *j)
			}
		}
		m.Install = in
	case MsgLeave:
	default:
		return nil, fmt.Errorf("%w: message type %d", ErrCorrupt, m.Type)
	}
	if r.Failed() {
		return nil, r.Err()
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, r.Len())
	}
	return m, nil
}

func readView(r *codec.Reader) ViewID {
	seq := r.Varint()
	rep := r.Varint()
	if !r.Failed() && (seq < 0 || rep < 0 || rep > 1<<20) {
		r.Fail("view %d.%d", seq, rep)
	}
	return ViewID{Seq: seq, Rep: int(rep)}
}

// readInts reads a list of at most n values, each in [0, 1<<20) (member indices, weights).
func readInts(r *codec.Reader, n int) []int {
	k := r.Count(n)
	var out []int
	for range k {
		v := r.Varint()
		if r.Failed() {
			return nil
		}
		if v < 0 || v >= 1<<20 {
			r.Fail("list value %d", v)
			return nil
		}
		out = append(out, int(v))
	}
	return out
}

func readJoin(r *codec.Reader, n int) *Join {
	j := &Join{View: readView(r)}
	flags := r.Uvarint()
	j.Primary, j.Restored = flags == 1, flags == 2
	j.Attempt = r.Varint()
	j.Members = readInts(r, n)
	k := r.Count(n)
	for range k {
		j.Recv = append(j.Recv, r.Varint())
	}
	j.Weight = int(r.Varint())
	j.Left = readInts(r, n)
	j.Prim.ID = readView(r)
	j.Prim.ConfID = r.Varint()
	j.Prim.Members = readInts(r, n)
	j.Prim.Weights = readInts(r, n)
	j.Heard = readInts(r, n)
	if r.Failed() {
		return nil
	}
	return j
}
