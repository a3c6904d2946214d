package semisync

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// msgType is the first byte of every message this package puts on the bus.
type msgType byte

const (
	// msgDump is a replica's COM_BINLOG_DUMP: stream the binlog to me from Pos.
	msgDump msgType = 1
	// msgEvent is one transaction of the binlog, at Pos, with the semi-sync flag Sync
	// (the source asks for an ack), the source's commit timestamp TS (Unix ns, for
	// Seconds_Behind_Source) and the encoded write-set.
	msgEvent msgType = 2
	// msgAck is a replica's semi-sync reply: Pos is in its relay log.
	msgAck msgType = 3
	// msgHeartbeat is the source's heartbeat on an idle dump stream; Pos is the newest
	// binlog position, so a replica that lacks it knows events were lost. Sync asks a
	// replica that has everything up to Pos to ack it again: the emulator drops messages
	// where TCP would retransmit them, and a lost ack must not cost the whole timeout.
	msgHeartbeat msgType = 4
	// msgQuit is a replica closing its dump stream (the source's client count drops).
	msgQuit msgType = 5
)

func (t msgType) String() string {
	switch t {
	case msgDump:
		return "dump"
	case msgEvent:
		return "event"
	case msgAck:
		return "ack"
	case msgHeartbeat:
		return "heartbeat"
	case msgQuit:
		return "quit"
	}
	return fmt.Sprintf("msgType(%d)", byte(t))
}

// message is the decoded form of every message. Fields a type does not use are zero.
type message struct {
	Type msgType
	Pos  int64
	Sync bool
	TS   int64
	WS   []byte // msgEvent: the write-set, still encoded (protocols.AppendWriteSet)
}

// errBadMessage is wrapped by decodeMessage for any malformed input.
var errBadMessage = errors.New("semisync: malformed message")

// appendMessage appends m's encoding: type byte, varint position, for events and
// heartbeats a flag byte, and for events a varint timestamp and the write-set bytes to
// the end. It is compact because its
// size is what the network emulator charges.
func appendMessage(dst []byte, m message) []byte {
	dst = append(dst, byte(m.Type))
	dst = binary.AppendUvarint(dst, uint64(m.Pos))
	if m.Type == msgEvent || m.Type == msgHeartbeat {
		var f byte
		if m.Sync {
			f = 1
		}
		dst = append(dst, f)
	}
	if m.Type == msgEvent {
		dst = binary.AppendVarint(dst, m.TS)
		dst = append(dst, m.WS...)
	}
	return dst
}

// decodeMessage decodes b. Garbage gives an error wrapping errBadMessage, never a panic.
// An event's WS aliases b (the handler owns the payload, so no copy is needed).
func decodeMessage(b []byte) (message, error) {
	var m message
	if len(b) == 0 {
		return m, fmt.Errorf("%w: empty", errBadMessage)
	}
	m.Type = msgType(b[0])
	if m.Type < msgDump || m.Type > msgQuit {
		return m, fmt.Errorf("%w: unknown type %d", errBadMessage, b[0])
	}
	pos, n := binary.Uvarint(b[1:])
	if n <= 0 || pos > 1<<62 {
		return m, fmt.Errorf("%w: bad position in %s", errBadMessage, m.Type)
	}
	m.Pos = int64(pos)
	rest := b[1+n:]
	if m.Type == msgHeartbeat {
		if len(rest) != 1 || rest[0] > 1 {
			return m, fmt.Errorf("%w: bad heartbeat flags", errBadMessage)
		}
		m.Sync = rest[0] == 1
		return m, nil
	}
	if m.Type != msgEvent {
		if len(rest) != 0 {
			return m, fmt.Errorf("%w: %d trailing bytes after %s", errBadMessage, len(rest), m.Type)
		}
		return m, nil
	}
	if m.Pos == 0 {
		return m, fmt.Errorf("%w: event at position 0", errBadMessage)
	}
	if len(rest) == 0 || rest[0] > 1 {
		return m, fmt.Errorf("%w: bad event flags", errBadMessage)
	}
	m.Sync = rest[0] == 1
	ts, n := binary.Varint(rest[1:])
	if n <= 0 {
		return m, fmt.Errorf("%w: bad event timestamp", errBadMessage)
	}
	m.TS = ts
	m.WS = rest[1+n:]
	if len(m.WS) == 0 {
		return m, fmt.Errorf("%w: event without a write-set", errBadMessage)
	}
	return m, nil
}
