package groupreplication

import (
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/replbench/replbench/groupreplication/flowcontrol"
	"github.com/replbench/replbench/groupreplication/group"
	"github.com/replbench/replbench/protocols"
)

// The group messages that travel through the agreed log, one per raft entry. Every member
// delivers the same sequence, so anything decided from them (certification, garbage
// collection, the primary, flow-control inputs) is decided identically everywhere.
type msgKind byte

const (
	kindTxn          msgKind = 1  // a transaction: Transaction_context + write-set
	kindStats        msgKind = 2  // Pipeline_stats_member_message (flow control), every period
	kindGTIDExecuted msgKind = 3  // the periodic gtid_executed broadcast (garbage collection)
	kindSyncBefore   msgKind = 4  // Sync_before_execution_message (consistency BEFORE)
	kindPrepared     msgKind = 5  // Transaction_prepared_message (consistency AFTER)
	kindNewPrimary   msgKind = 6  // a new primary was elected (single-primary)
	kindQueueApplied msgKind = 7  // the new primary applied its backlog (single-primary)
	kindExpel        msgKind = 8  // view change: ID is the member expelled (proposed by the notifier)
	kindJoin         msgKind = 9  // view change: Origin (re)joins as RECOVERING; ID is its member_weight
	kindOnline       msgKind = 10 // Origin finished distributed recovery and is ONLINE
	kindWeight       msgKind = 11 // Origin's group_replication_member_weight (ID), sent once at start
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

// message is one decoded group message. Which fields are set depends on Kind.
type message struct {
	Kind   msgKind
	Origin int   // sending member's index
	ID     int64 // txn: proposal id on the origin; sync: token; prepared: position; gtid: position
	Level  group.Consistency
	WS     *protocols.WriteSet
	Stats  flowcontrol.Stats
}

// ErrCorruptMessage wraps every decoding failure of a group message or a bus frame.
var ErrCorruptMessage = errors.New("groupreplication: corrupt message")

func appendMessage(dst []byte, m *message) []byte {
	dst = append(dst, byte(m.Kind))
	dst = binary.AppendUvarint(dst, uint64(m.Origin))
	switch m.Kind {
	case kindTxn:
		dst = binary.AppendUvarint(dst, uint64(m.ID))
		dst = append(dst, byte(m.Level))
		dst = protocols.AppendWriteSet(dst, m.WS)
	case kindStats:
		s := m.Stats
		for _, v := range []int64{s.CertQueue, s.ApplyQueue, s.Certified, s.Applied, s.Local} {
			dst = binary.AppendVarint(dst, v)
		}
		if s.Recovering {
			dst = append(dst, 1)
		} else {
			dst = append(dst, 0)
		}
	case kindGTIDExecuted, kindSyncBefore, kindPrepared, kindExpel, kindJoin, kindWeight:
		dst = binary.AppendVarint(dst, m.ID)
	case kindNewPrimary, kindQueueApplied, kindOnline:
	}
	return dst
}

func decodeMessage(b []byte) (*message, error) {
	fail := func(what string) (*message, error) {
		return nil, fmt.Errorf("%w: %s", ErrCorruptMessage, what)
	}
	if len(b) < 2 {
		return fail("too short")
	}
	m := &message{Kind: msgKind(b[0])}
	b = b[1:]
	o, n := binary.Uvarint(b)
	if n <= 0 || o > 1<<16 {
		return fail("origin")
	}
	m.Origin, b = int(o), b[n:]
	varint := func() (int64, bool) {
		v, n := binary.Varint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	switch m.Kind {
	case kindTxn:
		id, n := binary.Uvarint(b)
		if n <= 0 || len(b) < n+1 {
			return fail("txn header")
		}
		m.ID, m.Level = int64(id), group.Consistency(b[n])
		if m.Level > group.BeforeAndAfter {
			return fail("consistency level")
		}
		ws, used, err := protocols.DecodeWriteSet(b[n+1:])
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorruptMessage, err)
		}
		if used != len(b[n+1:]) {
			return fail("trailing bytes")
		}
		m.WS = ws
		return m, nil
	case kindStats:
		var vs [5]int64
		for i := range vs {
			v, ok := varint()
			if !ok {
				return fail("stats")
			}
			vs[i] = v
		}
		if len(b) != 1 || b[0] > 1 {
			return fail("stats flag")
		}
		m.Stats = flowcontrol.Stats{CertQueue: vs[0], ApplyQueue: vs[1], Certified: vs[2],
			Applied: vs[3], Local: vs[4], Recovering: b[0] == 1}
		return m, nil
	case kindGTIDExecuted, kindSyncBefore, kindPrepared, kindExpel, kindJoin, kindWeight:
		v, ok := varint()
		if !ok || len(b) != 0 {
			return fail("position")
		}
		m.ID = v
		return m, nil
	case kindNewPrimary, kindQueueApplied, kindOnline:
		if len(b) != 0 {
			return fail("trailing bytes")
		}
		return m, nil
	}
	return fail(fmt.Sprintf("kind %d", m.Kind))
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
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: frame count", ErrCorruptMessage)
	}
	b = b[k:]
	out := make([]raftpb.Message, 0, n)
	for i := uint64(0); i < n; i++ {
		sz, k := binary.Uvarint(b)
		if k <= 0 || sz > uint64(len(b)-k) {
			return nil, fmt.Errorf("%w: frame message %d length", ErrCorruptMessage, i)
		}
		var m raftpb.Message
		if err := m.Unmarshal(b[k : k+int(sz)]); err != nil {
			return nil, fmt.Errorf("%w: raft message %d: %v", ErrCorruptMessage, i, err)
		}
		out = append(out, m)
		b = b[k+int(sz):]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes in frame", ErrCorruptMessage, len(b))
	}
	return out, nil
}
