package semisync

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/replbench/replbench/internal/codec"
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
	// msgError is the source refusing a dump request it cannot serve (MySQL's error packet
	// on COM_BINLOG_DUMP, which the replica's I/O thread reports as error 1236 and stops):
	// Pos is the position asked for, Text the reason.
	msgError msgType = 6
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
	case msgError:
		return "error"
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
	Text string // msgError: why the dump was refused
}

// errBadMessage is wrapped by decodeMessage for any malformed input.
var errBadMessage = errors.New("semisync: malformed message")

// appendMessage appends m's encoding: type byte, varint position, for events and
// heartbeats a flag byte, for events a varint timestamp and the write-set bytes to the
// end, and for an error its text to the end. It is compact because its
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
	if m.Type == msgError {
		dst = append(dst, m.Text...)
	}
	return dst
}

// decodeMessage decodes b. Garbage gives an error wrapping errBadMessage, never a panic.
// An event's WS aliases b (the handler owns the payload, so no copy is needed).
func decodeMessage(b []byte) (message, error) {
	var m message
	d := codec.NewReader(b, errBadMessage)
	m.Type = msgType(d.Byte())
	if !d.Failed() && (m.Type < msgDump || m.Type > msgError) {
		d.Fail("unknown type %d", byte(m.Type))
	}
	pos := d.Uvarint()
	if !d.Failed() && pos > 1<<62 {
		d.Fail("position %d in %s", pos, m.Type)
	}
	m.Pos = int64(pos)
	switch m.Type {
	case msgHeartbeat:
		m.Sync = d.Bool()
	case msgEvent:
		if !d.Failed() && m.Pos == 0 {
			d.Fail("event at position 0")
		}
		m.Sync = d.Bool()
		m.TS = d.Varint()
		m.WS = d.Rest()
		if !d.Failed() && len(m.WS) == 0 {
			d.Fail("event without a write-set")
		}
	case msgError:
		m.Text = string(d.Rest())
	}
	if n := d.Len(); n != 0 {
		d.Fail("%d trailing bytes after %s", n, m.Type)
	}
	return m, d.Err()
}
