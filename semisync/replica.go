package semisync

import (
	"fmt"
	"time"

	"github.com/replbench/replbench/protocols"
)

// RelayEntry is one transaction written to the relay log, for the applier.
type RelayEntry struct {
	WS *protocols.WriteSet
	TS int64 // the source's commit time, Unix ns
}

// ReplicaStatus are the receiver's counters.
type ReplicaStatus struct {
	RelayPos   int64 // last position in the relay log (Retrieved_Gtid_Set's end)
	SourcePos  int64 // newest source position this replica has heard of
	Connected  bool  // heard from the source since the last dump request
	Requests   int64 // dump requests sent (the first one plus every re-request)
	Gaps       int64 // events dropped because an earlier one was missing
	Duplicates int64 // events already in the relay log
	Acks       int64 // semi-sync replies sent
	Corrupt    int64 // events whose write-set did not decode
	// IOErrno and IOError are Last_IO_Errno and Last_IO_Error: set when the source refused
	// the dump (1236) and the I/O thread stopped (Replica_IO_Running=No).
	IOErrno int
	IOError string
}

// Replica is a replica's receiver (the I/O thread) as a state machine: it keeps the relay
// log contiguous, acks the events the source flagged once they are in the relay log, and
// re-requests the dump stream from its relay-log position when it learns it lost events
// (a gap, or a heartbeat announcing positions it lacks), when a request went unanswered
// for the connect retry (SOURCE_CONNECT_RETRY), or when the stream went silent for
// netTimeoutBeats heartbeat periods. Applying the relay log is the driver's applier,
// outside.
type Replica struct {
	source string
	retry  time.Duration // SOURCE_CONNECT_RETRY: between attempts while unanswered
	beat   time.Duration // the source's heartbeat period

	next      int64 // next position expected; the relay log holds 1..next-1
	sourcePos int64

	requested bool
	reqFrom   int64
	reqAt     time.Time
	heard     bool
	heardAt   time.Time // last message from the source: silence past netTimeout reconnects

	stopped bool // the I/O thread stopped on an error (st.IOErrno)

	st    ReplicaStatus
	msgs  []Envelope
	relay []RelayEntry
}

// NewReplica returns a receiver whose relay log ends at position relayEnd, which retries
// an unanswered dump request every retry (source_connect_retry) and takes a stream
// silent for netTimeoutBeats heartbeat periods beat as lost.
func NewReplica(source string, relayEnd int64, retry, beat time.Duration) *Replica {
	return &Replica{source: source, retry: retry, beat: beat, next: relayEnd + 1, sourcePos: relayEnd}
}

// Start sends the first dump request.
func (r *Replica) Start(now time.Time) { r.request(now) }

func (r *Replica) request(now time.Time) {
	r.requested, r.reqFrom, r.reqAt, r.heard = true, r.next, now, false
	r.st.Requests++
	r.msgs = append(r.msgs, Envelope{To: r.source, Payload: appendMessage(nil, message{Type: msgDump, Pos: r.next})})
}

// maybeRequest re-requests from the relay-log end unless the same request is still
// fresh (sent less than a heartbeat period ago): the events in flight from before a gap
// arrive as further gaps and must not each restart the stream.
func (r *Replica) maybeRequest(now time.Time) {
	if r.stopped {
		return
	}
	if r.requested && r.reqFrom == r.next && now.Sub(r.reqAt) < r.beat {
		return
	}
	r.request(now)
}

// Step handles a message from the source.
func (r *Replica) Step(now time.Time, from string, m message) {
	if from != r.source {
		return
	}
	if r.stopped {
		return // the I/O thread is not running: nothing reads the connection
	}
	r.heardAt = now
	switch m.Type {
	case msgError:
		// ER_SOURCE_FATAL_ERROR_READING_BINLOG: the I/O thread stops and stays stopped
		// (START REPLICA would only get the same answer); the relay log already written
		// is still applied.
		r.stopped, r.requested, r.heard = true, false, false
		r.st.IOErrno = ErrSourceFatalReadingBinlog
		r.st.IOError = fmt.Sprintf("Got fatal error %d from source when reading data from binary log: '%s'", ErrSourceFatalReadingBinlog, m.Text)
	case msgEvent:
		r.heard = true
		if m.Pos > r.sourcePos {
			r.sourcePos = m.Pos
		}
		switch {
		case m.Pos < r.next:
			r.st.Duplicates++
			if m.Sync {
				r.sendAck(m.Pos)
			}
		case m.Pos > r.next:
			r.st.Gaps++
			r.maybeRequest(now)
		default:
			ws, _, err := protocols.DecodeWriteSet(m.WS)
			if err != nil || ws.Seqno != m.Pos {
				// A corrupt event is treated as lost: re-read it from the source.
				r.st.Corrupt++
				r.maybeRequest(now)
				return
			}
			r.relay = append(r.relay, RelayEntry{WS: ws, TS: m.TS})
			r.next++
			if m.Sync {
				r.sendAck(m.Pos)
			}
		}
	case msgHeartbeat:
		r.heard = true
		if m.Pos > r.sourcePos {
			r.sourcePos = m.Pos
		}
		// Per-link FIFO: every event up to m.Pos was sent before this heartbeat, so a
		// position we lack is lost, not late.
		if m.Pos >= r.next {
			r.st.Gaps++
			r.maybeRequest(now)
		} else if m.Sync && m.Pos > 0 {
			r.sendAck(m.Pos)
		}
	}
}

func (r *Replica) sendAck(pos int64) {
	r.st.Acks++
	r.msgs = append(r.msgs, Envelope{To: r.source, Payload: appendMessage(nil, message{Type: msgAck, Pos: pos})})
}

// Tick re-sends a dump request that has gone unanswered for the connect retry (the
// source was unreachable or not up yet), as the I/O thread's reconnect loop does every
// SOURCE_CONNECT_RETRY seconds.
//
// A stream that was answered and then went silent for netTimeoutBeats heartbeat periods
// (a source that died and came back, with no dump stream for this replica any more) is
// requested again from the relay-log end, as replica_net_timeout makes the I/O thread
// reconnect.
func (r *Replica) Tick(now time.Time) {
	if r.stopped {
		return
	}
	if r.requested && !r.heard && now.Sub(r.reqAt) >= r.retry {
		r.request(now)
		return
	}
	if r.heard && !r.heardAt.IsZero() && now.Sub(r.heardAt) >= netTimeoutBeats*r.beat {
		r.request(now)
	}
}

// ErrSourceFatalReadingBinlog is MySQL's error 1236 (ER_SOURCE_FATAL_ERROR_READING_BINLOG,
// formerly ER_MASTER_FATAL_ERROR_READING_BINLOG): the source cannot serve the binlog from
// where the replica needs it.
const ErrSourceFatalReadingBinlog = 1236

// netTimeoutBeats is replica_net_timeout in heartbeat periods (MySQL's defaults: 60 s
// against a 30 s heartbeat).
const netTimeoutBeats = 2

// Quit returns the message that closes the dump stream.
func (r *Replica) Quit() Envelope {
	return Envelope{To: r.source, Payload: appendMessage(nil, message{Type: msgQuit})}
}

// Ready returns and forgets the messages to send and the relay-log entries to apply.
func (r *Replica) Ready() ([]Envelope, []RelayEntry) {
	m, e := r.msgs, r.relay
	r.msgs, r.relay = nil, nil
	return m, e
}

// Stopped returns Last_IO_Error if the I/O thread stopped on an error, else "".
func (r *Replica) Stopped() string { return r.st.IOError }

// Heard reports whether the source has answered since the last dump request: the driver
// reports the replica ready once it has.
func (r *Replica) Heard() bool { return r.heard }

// SourcePos is the newest source position this replica has heard of: what a causal read on
// the replica waits to have applied.
func (r *Replica) SourcePos() int64 { return r.sourcePos }

// Status returns a copy of the counters.
func (r *Replica) Status() ReplicaStatus {
	st := r.st
	st.RelayPos = r.next - 1
	st.SourcePos = r.sourcePos
	st.Connected = r.heard
	return st
}
