package group

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/replbench/replbench/groupreplication/flowcontrol"
	"github.com/replbench/replbench/protocols"
)

// Kind is the type of a group message. The group messages travel through the agreed log,
// one per raft entry. Every member delivers the same sequence, so anything decided from
// them (certification, garbage collection, the primary, flow-control inputs) is decided
// identically everywhere.
type Kind byte

// The message kinds, with the server message each stands for.
const (
	KindTxn          Kind = 1  // a transaction: Transaction_context + write-set
	KindStats        Kind = 2  // Pipeline_stats_member_message (flow control), every period
	KindGTIDExecuted Kind = 3  // the periodic gtid_executed broadcast (garbage collection)
	KindSyncBefore   Kind = 4  // Sync_before_execution_message (consistency BEFORE)
	KindPrepared     Kind = 5  // Transaction_prepared_message (consistency AFTER)
	KindNewPrimary   Kind = 6  // a new primary was elected (single-primary)
	KindQueueApplied Kind = 7  // the new primary applied its backlog (single-primary)
	KindExpel        Kind = 8  // view change: ID is the member expelled (proposed by the notifier)
	KindJoin         Kind = 9  // view change: Origin (re)joins as RECOVERING; ID is its member_weight
	KindOnline       Kind = 10 // Origin finished distributed recovery and is ONLINE
	KindWeight       Kind = 11 // Origin's group_replication_member_weight (ID), sent once at start
	// KindReboot: a restarted incarnation found every member of the view silent (the whole
	// group went down): the old configuration is dropped, as group_replication_bootstrap_group
	// would start a new group, and the restarted members join it.
	KindReboot Kind = 12
)

// Message is one decoded group message. Which fields are set depends on Kind.
type Message struct {
	Kind   Kind
	Origin int   // sending member's index
	ID     int64 // txn: proposal id on the origin; sync: token; prepared: position; gtid: position
	// Inc is the origin's incarnation (Config.Incarnation), on every message: XCom's node
	// identity includes the incarnation, and a message counts only when the view holds its
	// origin as that incarnation, so what an old incarnation had in flight is dropped once
	// it has been expelled or replaced, and a restarted member tells its own messages from
	// its previous life's.
	Inc int64
	// TargetInc is, on an expulsion, the incarnation of the member expelled (ID): an
	// expulsion decided for an old incarnation never removes the new one.
	TargetInc int64
	Level     Consistency
	WS        *protocols.WriteSet
	Stats     flowcontrol.Stats
}

// ErrCorruptMessage wraps every decoding failure of a group message or a bus frame.
// It is the one error convention of the package's decoders: wrap it, say what was wrong.
var ErrCorruptMessage = errors.New("groupreplication: corrupt message")

// AppendMessage appends m's encoding to dst: the kind, the origin and its incarnation,
// then the fields that kind carries.
func AppendMessage(dst []byte, m *Message) []byte {
	dst = append(dst, byte(m.Kind))
	dst = binary.AppendUvarint(dst, uint64(m.Origin))
	dst = binary.AppendVarint(dst, m.Inc)
	switch m.Kind {
	case KindTxn:
		dst = binary.AppendUvarint(dst, uint64(m.ID))
		dst = append(dst, byte(m.Level))
		dst = protocols.AppendWriteSet(dst, m.WS)
	case KindStats:
		s := m.Stats
		for _, v := range []int64{s.CertQueue, s.ApplyQueue, s.Certified, s.Applied, s.Local} {
			dst = binary.AppendVarint(dst, v)
		}
		if s.Recovering {
			dst = append(dst, 1)
		} else {
			dst = append(dst, 0)
		}
	case KindGTIDExecuted, KindSyncBefore, KindPrepared, KindWeight, KindJoin:
		dst = binary.AppendVarint(dst, m.ID)
	case KindExpel:
		dst = binary.AppendVarint(dst, m.ID)
		dst = binary.AppendVarint(dst, m.TargetInc)
	case KindOnline, KindNewPrimary, KindQueueApplied, KindReboot:
	}
	return dst
}

// DecodeMessage decodes one message AppendMessage wrote; anything else is an error wrapping
// ErrCorruptMessage, never a panic.
func DecodeMessage(b []byte) (*Message, error) {
	fail := func(what string) (*Message, error) {
		return nil, fmt.Errorf("%w: %s", ErrCorruptMessage, what)
	}
	if len(b) < 2 {
		return fail("too short")
	}
	m := &Message{Kind: Kind(b[0])}
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
	inc, ok := varint()
	if !ok {
		return fail("incarnation")
	}
	m.Inc = inc
	switch m.Kind {
	case KindTxn:
		id, n := binary.Uvarint(b)
		if n <= 0 || len(b) < n+1 {
			return fail("txn header")
		}
		m.ID, m.Level = int64(id), Consistency(b[n])
		if m.Level > BeforeAndAfter {
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
	case KindStats:
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
	case KindGTIDExecuted, KindSyncBefore, KindPrepared, KindWeight, KindJoin:
		v, ok := varint()
		if !ok || len(b) != 0 {
			return fail("position")
		}
		m.ID = v
		return m, nil
	case KindExpel:
		id, ok := varint()
		inc, ok2 := varint()
		if !ok || !ok2 || len(b) != 0 {
			return fail("expel")
		}
		m.ID, m.TargetInc = id, inc
		return m, nil
	case KindOnline, KindNewPrimary, KindQueueApplied, KindReboot:
		if len(b) != 0 {
			return fail("trailing bytes")
		}
		return m, nil
	}
	return fail(fmt.Sprintf("kind %d", m.Kind))
}

// IsTxn reports whether an encoded message is a transaction (COUNT_TRANSACTIONS_IN_QUEUE
// counts only those), without decoding it.
func IsTxn(data []byte) bool { return len(data) > 0 && Kind(data[0]) == KindTxn }
