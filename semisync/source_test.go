package semisync

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/replbench/replbench/protocols"
)

// TestSourceDataDriven drives the source state machine step by step from
// testdata/source.txt, whose cases quote the sentences of gr-semisync.md section 9 they
// check. Commands:
//
//	init [async] [after_commit] [serialized] [count=N] [timeout=D] [no_wait_no_slave]
//	     [sync_delay=D] [no_delay_count=N] [resume=P]
//	                         (resume: a restarted source whose recovered binlog ends at P)
//	time D                   set the clock (D since the start)
//	dump from=R pos=P        replica R (re)opens its dump stream at P
//	submit id=I [key=K]      a transaction enters the commit pipeline
//	cancel id=I
//	interrupt id=I           the session is killed while it waits
//	committed id=I           its engine commit ran
//	ack from=R pos=P
//	quit from=R
//	tick
//	status
//
// Each prints the messages sent and the sessions released, in order.
func TestSourceDataDriven(t *testing.T) {
	var s *Source
	var now time.Time
	t0 := time.Unix(1000, 0)
	datadriven.RunTest(t, "testdata/source.txt", func(t *testing.T, d *datadriven.TestData) string {
		arg := func(name string) string {
			for _, a := range d.CmdArgs {
				if a.Key == name {
					if len(a.Vals) == 0 {
						return "true"
					}
					return a.Vals[0]
				}
			}
			return ""
		}
		num := func(name string) int64 {
			var v int64
			if _, err := fmt.Sscan(arg(name), &v); err != nil {
				t.Fatalf("%s: argument %s: %v", d.Pos, name, err)
			}
			return v
		}
		switch d.Cmd {
		case "init":
			cfg := SourceConfig{Replicas: []string{"n2", "n3"}, SemiSync: arg("async") == "", WaitCount: 1,
				Timeout: 10 * time.Second, WaitNoSlave: arg("no_wait_no_slave") == "", Serialized: arg("serialized") != "",
				HeartbeatPeriod: 100 * time.Millisecond, HistorySize: 25000}
			if arg("after_commit") != "" {
				cfg.WaitPoint = AfterCommit
			}
			if arg("count") != "" {
				cfg.WaitCount = int(num("count"))
			}
			if v := arg("timeout"); v != "" {
				cfg.Timeout, _ = time.ParseDuration(v)
			}
			if v := arg("sync_delay"); v != "" {
				cfg.SyncDelay, _ = time.ParseDuration(v)
			}
			if arg("no_delay_count") != "" {
				cfg.SyncNoDelayCount = int(num("no_delay_count"))
			}
			s = NewSource(cfg)
			if arg("resume") != "" {
				s.resume(num("resume"))
			}
			now = t0
			return ""
		case "time":
			dd, err := time.ParseDuration(d.CmdArgs[0].Key)
			if err != nil {
				t.Fatal(err)
			}
			now = t0.Add(dd)
			return ""
		case "dump":
			s.Step(now, arg("from"), message{Type: msgDump, Pos: num("pos")})
		case "submit":
			key := arg("key")
			if key == "" {
				key = arg("id")
			}
			ws := &protocols.WriteSet{Source: "n1", Keys: []protocols.Key{{Table: "t", Row: []byte(key), Type: protocols.KeyExclusive}},
				Rows: []protocols.RowChange{{Table: "t", Op: protocols.OpUpdate, Row: []byte(key), After: []byte("v")}}}
			s.Submit(now, uint64(num("id")), ws)
		case "cancel":
			return fmt.Sprint(s.Cancel(uint64(num("id"))))
		case "interrupt":
			ended := s.Interrupt(now, uint64(num("id")))
			return fmt.Sprintf("ended a wait: %v\n%s", ended, render(t, s))
		case "committed":
			s.Committed(now, uint64(num("id")))
		case "ack":
			s.Step(now, arg("from"), message{Type: msgAck, Pos: num("pos")})
		case "quit":
			s.Step(now, arg("from"), message{Type: msgQuit})
		case "tick":
			s.Tick(now)
		case "status":
			st := s.Status()
			return fmt.Sprintf("on=%v clients=%d yes_tx=%d no_tx=%d no_times=%d wait_sessions=%d backtraverse=%d tx_waits=%d tx_wait_time=%dus commit_pos=%d reply_pos=%d groups=%d\n",
				st.On, st.Clients, st.YesTx, st.NoTx, st.NoTimes, st.WaitSessions, st.Backtraverse, st.TxWaits, st.TxWaitTime, st.CommitPos, st.ReplyPos, st.Groups) +
				map[bool]string{true: fmt.Sprintf("interrupted=%d\n", st.Interrupted)}[st.Interrupted > 0]
		default:
			t.Fatalf("%s: unknown command %s", d.Pos, d.Cmd)
		}
		return render(t, s)
	})
}

func render(t *testing.T, s *Source) string {
	msgs, evs := s.Ready()
	var b strings.Builder
	for _, m := range msgs {
		dm, err := decodeMessage(m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "-> %s %s pos=%d", m.To, dm.Type, dm.Pos)
		if dm.Type == msgHeartbeat && dm.Sync {
			b.WriteString(" sync")
		}
		if dm.Type == msgEvent {
			ws, _, err := protocols.DecodeWriteSet(dm.WS)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, " depends=%d", ws.DependsSeqno)
			if dm.Sync {
				b.WriteString(" sync")
			}
		}
		b.WriteByte('\n')
	}
	for _, e := range evs {
		fmt.Fprintf(&b, "s%d %s pos=%d", e.Session, e.Kind, e.Pos)
		if e.Kind == EvDone {
			fmt.Fprintf(&b, " acked=%v", e.Acked)
		}
		b.WriteByte('\n')
	}
	if b.Len() == 0 {
		return "ok\n"
	}
	return b.String()
}
