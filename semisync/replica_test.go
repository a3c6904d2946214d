package semisync

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/replbench/replbench/protocols"
)

func event(pos int64, sync bool) message {
	ws := &protocols.WriteSet{Source: "n1", Seqno: pos, Keys: []protocols.Key{{Table: "t", Row: []byte{byte(pos)}, Type: protocols.KeyExclusive}}}
	return message{Type: msgEvent, Pos: pos, Sync: sync, TS: 1, WS: protocols.EncodeWriteSet(ws)}
}

// out renders what the replica sent and relay-logged since the last call.
func out(r *Replica) string {
	msgs, relay := r.Ready()
	var parts []string
	for _, m := range msgs {
		dm, _ := decodeMessage(m.Payload)
		parts = append(parts, fmt.Sprintf("%s:%s@%d", m.To, dm.Type, dm.Pos))
	}
	for _, e := range relay {
		parts = append(parts, fmt.Sprintf("relay@%d", e.WS.Seqno))
	}
	return strings.Join(parts, " ")
}

// The receiver keeps the relay log contiguous and re-requests the dump stream from its
// relay-log position when it learns it lost events, as a reconnecting replica does.
func TestReplicaReceiver(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type step struct {
		at   int // ms
		from string
		m    *message // nil: Tick
		want string
	}
	ev := func(p int64, s bool) *message { m := event(p, s); return &m }
	hb := func(p int64) *message { return &message{Type: msgHeartbeat, Pos: p} }
	hbSync := func(p int64) *message { return &message{Type: msgHeartbeat, Pos: p, Sync: true} }
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"in order, ack only when asked (9.3: reply after writing to the relay log)", []step{
			{0, "n1", ev(1, true), "n1:ack@1 relay@1"},
			{0, "n1", ev(2, false), "relay@2"},
			{0, "n1", hb(2), ""},
		}},
		{"a gap re-requests once from the relay-log end; later gaps in flight do not", []step{
			{0, "n1", ev(1, false), "relay@1"},
			{1, "n1", ev(3, true), "n1:dump@2"},
			{2, "n1", ev(4, true), ""},
			{3, "n1", ev(2, false), "relay@2"},
			{3, "n1", ev(3, true), "n1:ack@3 relay@3"},
			{3, "n1", ev(4, true), "n1:ack@4 relay@4"},
			{3, "n1", ev(3, true), "n1:ack@3"}, // duplicate: acked, not relayed twice
		}},
		{"a heartbeat announcing a position we lack means it was lost (per-link FIFO)", []step{
			{0, "n1", hb(0), ""},
			{150, "n1", hb(2), "n1:dump@1"},
			{160, "n1", hb(2), ""},          // the same request is still fresh
			{300, "n1", hb(2), "n1:dump@1"}, // it was lost too: ask again
		}},
		{"an unanswered dump request is retried after the retry period", []step{
			{50, "", nil, ""},
			{100, "", nil, "n1:dump@1"},
			{150, "", nil, ""},
			{160, "n1", hb(0), ""},
			{300, "", nil, ""}, // answered: no more retries
		}},
		{"a stream silent for two heartbeat periods is requested again (replica_net_timeout)", []step{
			{50, "n1", hb(0), ""},
			{200, "", nil, ""},
			{250, "", nil, "n1:dump@1"}, // the source went away: reconnect from the relay-log end
			{300, "", nil, ""},
		}},
		{"a heartbeat asking for an ack re-acks the relay-log end (a lost ack is resent)", []step{
			{0, "n1", ev(1, true), "n1:ack@1 relay@1"},
			{100, "n1", hbSync(1), "n1:ack@1"},
			{200, "n1", hbSync(2), "n1:dump@2"}, // lacking position 2: re-request, not ack
		}},
		{"a refused dump stops the I/O thread for good (1236): no more requests, events ignored", []step{
			{0, "n1", ev(1, false), "relay@1"},
			{10, "n1", &message{Type: msgError, Pos: 2, Text: "purged"}, ""},
			{500, "", nil, ""},            // no retry, however long
			{600, "n1", ev(2, false), ""}, // nothing reads the connection
			{700, "n1", hb(5), ""},        // nor learns of a gap
			{10000, "", nil, ""},          // nor reconnects on silence
		}},
		{"messages from another node are ignored", []step{
			{0, "n3", ev(1, true), ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReplica("n1", 0, 100*time.Millisecond, 100*time.Millisecond)
			r.Start(t0)
			if got := out(r); got != "n1:dump@1" {
				t.Fatalf("start sent %q", got)
			}
			for i, s := range tc.steps {
				if s.m == nil {
					r.Tick(at(s.at))
				} else {
					r.Step(at(s.at), s.from, *s.m)
				}
				if got := out(r); got != s.want {
					t.Fatalf("step %d: got %q, want %q", i, got, s.want)
				}
			}
		})
	}
}

// The refusal shows as SHOW REPLICA STATUS does: Last_IO_Errno 1236 and the source's reason.
func TestReplicaStoppedStatus(t *testing.T) {
	r := NewReplica("n1", 7, 100*time.Millisecond, 100*time.Millisecond)
	r.Start(time.Unix(0, 0))
	r.Step(time.Unix(0, 0), "n1", message{Type: msgError, Pos: 8, Text: "the binary log starts at 12"})
	st := r.Status()
	if st.IOErrno != 1236 || r.Stopped() == "" || st.Connected || st.RelayPos != 7 {
		t.Fatalf("status %+v, stopped %q", st, r.Stopped())
	}
	want := "Got fatal error 1236 from source when reading data from binary log: 'the binary log starts at 12'"
	if st.IOError != want {
		t.Fatalf("Last_IO_Error %q, want %q", st.IOError, want)
	}
}

// An unanswered dump request is retried every source_connect_retry, whatever the
// heartbeat period; silence on an answered stream is timed by the heartbeat.
func TestReplicaConnectRetry(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	r := NewReplica("n1", 0, time.Second, 100*time.Millisecond)
	r.Start(t0)
	if got := out(r); got != "n1:dump@1" {
		t.Fatalf("start sent %q", got)
	}
	for _, s := range []struct {
		ms   int
		hb   bool // a heartbeat arrives instead of a tick
		want string
	}{
		{500, false, ""},
		{999, false, ""},
		{1000, false, "n1:dump@1"}, // the connect retry
		{1500, false, ""},
		{2000, false, "n1:dump@1"},
		{2050, true, ""},           // answered
		{2200, false, ""},          // silent for less than two heartbeats
		{2250, false, "n1:dump@1"}, // two heartbeats of silence: reconnect
		{2300, false, ""},          // and wait the connect retry again
		{3250, false, "n1:dump@1"},
	} {
		if s.hb {
			r.Step(at(s.ms), "n1", message{Type: msgHeartbeat})
		} else {
			r.Tick(at(s.ms))
		}
		if got := out(r); got != s.want {
			t.Fatalf("at %dms: got %q, want %q", s.ms, got, s.want)
		}
	}
}
