package groupreplication

import (
	"encoding/binary"
	"github.com/replbench/replbench/internal/codec"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/replbench/replbench/groupreplication/group"
)

// Every bus payload starts with a frame type (raft messages, or the failure detector's
// "I am alive" beacon, which members exchange directly: raft followers never talk to each
// other, but XCom's detector needs every member to hear from every other) and the sender's
// incarnation (frameHeader): XCom's node identity includes it, so a restarted server's
// frames do not keep its previous incarnation alive in the others' detectors.
const (
	frameRaft  byte = 1
	frameAlive byte = 2
	// Clone (clone.go): a member that lost the log asks a donor for its state; the donor
	// answers with the state in chunks. They travel member to member, outside the agreed
	// log, like the server's clone connection.
	frameCloneRequest byte = 3
	frameCloneData    byte = 4
)

// frameHeader starts a frame of type t from incarnation inc.
func frameHeader(t byte, inc int64) []byte { return binary.AppendVarint([]byte{t}, inc) }

// splitHeader reads a frame's type and sender incarnation; ok is false for a frame too
// short or with no incarnation.
func splitHeader(b []byte) (t byte, inc int64, rest []byte, ok bool) {
	if len(b) < 2 {
		return 0, 0, nil, false
	}
	inc, n := binary.Varint(b[1:])
	if n <= 0 {
		return 0, 0, nil, false
	}
	return b[0], inc, b[1+n:], true
}

// A bus frame carries every raft message one Ready produced for one destination: a count,
// then each message length-prefixed. Batching per destination keeps the bus's per-message
// cost (a NATS publish, an emulator timer) off each raft message.
func appendFrame(dst []byte, msgs []raftpb.Message) ([]byte, error) {
	dst = binary.AppendUvarint(dst, uint64(len(msgs)))
	for i := range msgs {
		sz := msgs[i].Size()
		dst = binary.AppendUvarint(dst, uint64(sz))
		start := len(dst)
		dst = append(dst, make([]byte, sz)...)
		if _, err := msgs[i].MarshalToSizedBuffer(dst[start:]); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

func decodeFrame(b []byte) ([]raftpb.Message, error) {
	r := codec.NewReader(b, group.ErrCorruptMessage)
	n := r.Count(len(b))
	out := make([]raftpb.Message, 0, n)
	for i := range n {
		raw := r.Bytes(r.Len())
		if r.Failed() {
			break
		}
		var m raftpb.Message
		if err := m.Unmarshal(raw); err != nil {
			r.Fail("raft message %d: %v", i, err)
			break
		}
		out = append(out, m)
	}
	if r.Len() != 0 {
		r.Fail("%d trailing bytes in frame", r.Len())
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
