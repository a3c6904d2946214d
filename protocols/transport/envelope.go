package transport

import (
	"encoding/binary"
	"time"
)

// The emulator wraps every payload it carries in a 12-byte envelope: a 4-byte tag that
// names the format, then the message's due time as a big-endian int64 of nanoseconds on
// the sending emulator's wall clock (see emuClock). The receiving emulator's endpoint
// strips it just before the node's handler runs and records how late the message arrived.
//
// Carrying the due time in the message, rather than remembering it on the sending side,
// is what lets the lateness cover the whole path (the inner bus's publish, NATS, the
// subscriber goroutine and the receiver's queue) and what makes it work between machines
// over an external NATS, where the sender's emulator never sees the receipt. The price is
// one copy of each payload on the sender's goroutine and 12 bytes on the wire.
const envelopeLen = 12

// envelopeTag marks the envelope format. A message without it was not sent through an
// emulator of this format (a node running without emulation, or another version of the
// envelope); it is delivered unchanged and counted in Stats.Unstamped.
var envelopeTag = [4]byte{'r', 'b', 'e', '1'}

// newEnvelope copies payload behind an envelope header whose due time is still blank.
func newEnvelope(payload []byte) []byte {
	b := make([]byte, envelopeLen+len(payload))
	copy(b, envelopeTag[:])
	copy(b[envelopeLen:], payload)
	return b
}

// stampEnvelope writes the due time, in emuClock nanoseconds, into an envelope.
func stampEnvelope(b []byte, due int64) {
	binary.BigEndian.PutUint64(b[len(envelopeTag):envelopeLen], uint64(due))
}

// openEnvelope returns the due time and the payload inside b; ok is false (and payload
// is b itself) when b carries no envelope.
func openEnvelope(b []byte) (due int64, payload []byte, ok bool) {
	if len(b) < envelopeLen || [4]byte(b[:len(envelopeTag)]) != envelopeTag {
		return 0, b, false
	}
	return int64(binary.BigEndian.Uint64(b[len(envelopeTag):envelopeLen])), b[envelopeLen:], true
}

// emuClock turns instants into the nanosecond timestamps the envelope carries: the wall
// clock read once when the emulator started, plus the monotonic time elapsed since.
//
// Within one process the sender and the receiver are the same emulator, so the wall-clock
// reading cancels out and the lateness is a pure monotonic difference: exact, and immune
// to clock steps during the run (and exact in virtual time under testing/synctest).
// Between machines each side uses its own emulator's clock, so a measured lateness
// includes the offset between the two machines' wall clocks at the moments their
// emulators started. The monotonic clock follows NTP's rate corrections, so the offset
// does not grow with the length of the run; only a clock step after start is missed.
// A receiver whose clock is behind sees messages arrive before they were due; those
// readings are clamped to 0 and counted in Stats.DelayErrorNegative, which is the sign
// to read cross-machine figures as bounded by the clock sync, not by the emulator.
type emuClock struct {
	epoch     time.Time // carries a monotonic reading outside a synctest bubble
	epochWall int64
}

func newEmuClock() emuClock {
	now := time.Now()
	return emuClock{epoch: now, epochWall: now.UnixNano()}
}

// at is t on the envelope's time scale.
func (c emuClock) at(t time.Time) int64 { return c.epochWall + int64(t.Sub(c.epoch)) }

// now is the present on the envelope's time scale.
func (c emuClock) now() int64 { return c.epochWall + int64(time.Since(c.epoch)) }
