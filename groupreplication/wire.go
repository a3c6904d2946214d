package groupreplication

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/replbench/replbench/groupreplication/group"
)

// Every bus payload starts with a frame type: raft messages, or the failure detector's
// "I am alive" beacon, which members exchange directly (raft followers never talk to each
// other, but XCom's detector needs every member to hear from every other).
const (
	frameRaft  byte = 1
	frameAlive byte = 2
	// Clone (clone.go): a member that lost the log asks a donor for its state; the donor
	// answers with the state in chunks. They travel member to member, outside the agreed
	// log, like the server's clone connection.
	frameCloneRequest byte = 3
	frameCloneData    byte = 4
)

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
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: frame count", group.ErrCorruptMessage)
	}
	b = b[k:]
	out := make([]raftpb.Message, 0, n)
	for i := uint64(0); i < n; i++ {
		sz, k := binary.Uvarint(b)
		if k <= 0 || sz > uint64(len(b)-k) {
			return nil, fmt.Errorf("%w: frame message %d length", group.ErrCorruptMessage, i)
		}
		var m raftpb.Message
		if err := m.Unmarshal(b[k : k+int(sz)]); err != nil {
			return nil, fmt.Errorf("%w: raft message %d: %v", group.ErrCorruptMessage, i, err)
		}
		out = append(out, m)
		b = b[k+int(sz):]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes in frame", group.ErrCorruptMessage, len(b))
	}
	return out, nil
}
