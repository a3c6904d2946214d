package replicator

import (
	"encoding/binary"
	"errors"

	"github.com/replbench/replbench/protocols"
)

// Action kinds: the GCS layer's messages inside EVS actions.
const (
	actWriteSet byte = 1 // uvarint action id, then the encoded write-set
	actFlow     byte = 2 // gcs_fc_event: one byte, 1 = STOP, 0 = CONT
	actLast     byte = 3 // GCS_MSG_LAST: varint safe-to-discard seqno
	actState    byte = 4 // GCS_MSG_STATE_MSG: varint seqno, state byte, uvarint weight
	actStateReq byte = 5 // GCS_ACT_STATE_REQ: this node asks for a state transfer
	actJoin     byte = 6 // GCS_MSG_JOIN: one byte, 1 = the transfer succeeded
	actSync     byte = 7 // GCS_MSG_SYNC: caught up
	// actRecovered is what the recovery procedure reads off a node after every member went
	// down (bootstrap.go): varint recovered seqno, one byte safe_to_bootstrap.
	actRecovered byte = 8
)

// msgTransfer starts a point-to-point state-transfer message (IST or SST), outside EVS;
// EVS message types are below it.
const msgTransfer byte = 0xF1

// IsTransfer reports whether a message from a peer is a state transfer (Machine.Transfer)
// rather than an EVS message (Machine.Step).
func IsTransfer(payload []byte) bool { return len(payload) > 0 && payload[0] == msgTransfer }

// EncodeWriteSet appends the action that carries local write-set ws under action id id:
// what Propose takes. The driver encodes in the client's goroutine, so that encoding runs in
// parallel rather than in the single loop.
func EncodeWriteSet(dst []byte, id uint64, ws *protocols.WriteSet) []byte {
	dst = append(dst, actWriteSet)
	dst = binary.AppendUvarint(dst, id)
	return protocols.AppendWriteSet(dst, ws)
}

// actionID is the action id of a write-set action (0 for any other action).
func actionID(a []byte) uint64 {
	if len(a) < 2 || a[0] != actWriteSet {
		return 0
	}
	id, n := binary.Uvarint(a[1:])
	if n <= 0 {
		return 0
	}
	return id
}

var errTransfer = errors.New("galera: malformed state transfer")

// decodeAction reads the write-set of a write-set action.
func decodeAction(action []byte) (*protocols.WriteSet, error) {
	_, n := binary.Uvarint(action[1:])
	if n <= 0 {
		return nil, errTransfer
	}
	ws, _, err := protocols.DecodeWriteSet(action[1+n:])
	return ws, err
}

// cached is one ordered write-set action kept in gcache (or queued by a joiner).
type cached struct {
	g      int64
	action []byte
	passed bool // it passed certification (gcache only)
}

// encodeTransfer is a state-transfer message without its snapshot: kind, the position it
// brings the joiner to, and the write-set actions it carries, each with its verdict.
// encodeTransfer is a state-transfer message: its kind, the position it brings the joiner
// to, the donor's certification initial position (what its index could never certify
// below) and the write-sets, each with its verdict.
func encodeTransfer(kind Kind, at, initial int64, list []cached) []byte {
	b := []byte{msgTransfer, byte(kind)}
	b = binary.AppendVarint(b, at)
	b = binary.AppendVarint(b, initial)
	b = binary.AppendUvarint(b, uint64(len(list)))
	for _, c := range list {
		b = binary.AppendVarint(b, c.g)
		b = append(b, map[bool]byte{false: 0, true: 1}[c.passed])
		b = binary.AppendUvarint(b, uint64(len(c.action)))
		b = append(b, c.action...)
	}
	return b
}

// AppendSnapshot completes an SST message (Donate.Message) with the donor's storage
// snapshot.
func AppendSnapshot(msg, snapshot []byte) []byte {
	msg = binary.AppendUvarint(msg, uint64(len(snapshot)))
	return append(msg, snapshot...)
}

func decodeTransfer(b []byte) (kind Kind, at, initial int64, list []cached, snap []byte, err error) {
	if len(b) < 2 {
		return 0, 0, 0, nil, nil, errTransfer
	}
	kind, b = Kind(b[1]), b[2:]
	at, n := binary.Varint(b)
	if n <= 0 {
		return 0, 0, 0, nil, nil, errTransfer
	}
	b = b[n:]
	initial, n = binary.Varint(b)
	if n <= 0 {
		return 0, 0, 0, nil, nil, errTransfer
	}
	b = b[n:]
	k, n := binary.Uvarint(b)
	if n <= 0 || k > uint64(len(b)) {
		return 0, 0, 0, nil, nil, errTransfer
	}
	b = b[n:]
	for range k {
		g, n := binary.Varint(b)
		if n <= 0 || n >= len(b) || b[n] > 1 {
			return 0, 0, 0, nil, nil, errTransfer
		}
		passed := b[n] == 1
		b = b[n+1:]
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) || l == 0 {
			return 0, 0, 0, nil, nil, errTransfer
		}
		list = append(list, cached{g: g, action: b[n : n+int(l)], passed: passed})
		b = b[n+int(l):]
	}
	if kind == SST {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return 0, 0, 0, nil, nil, errTransfer
		}
		snap = b[n : n+int(l)]
	} else if kind != IST {
		return 0, 0, 0, nil, nil, errTransfer
	}
	return kind, at, initial, list, snap, nil
}
