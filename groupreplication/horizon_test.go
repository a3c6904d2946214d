package groupreplication

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols/transport"
)

// perCommit runs c clients inserting on the primary n1 of 3 members whose only delay is
// 50 ms on n1's egress (the documents' wan-50: every message n1 sends takes 50 ms longer),
// in virtual time with no service time, and returns what one commit costs a client in the
// steady state (c x the measured window / commits) and the round trip n1-n2.
func perCommit(t *testing.T, c int, params map[string]string) (cost, rtt time.Duration, maxInFlight int) {
	synctest.Test(t, func(t *testing.T) {
		nw, err := transport.Preset("wan-50", []string{"n1", "n2", "n3"})
		if err != nil {
			t.Fatal(err)
		}
		cl := start(t, 3, transport.NewMemBus(), nw, true, params, nil)
		defer cl.close()
		var committed atomic.Int64
		stop := cl.insertLoad(context.Background(), c, &committed)
		time.Sleep(2 * time.Second)
		from, t0 := committed.Load(), time.Now()
		time.Sleep(4 * time.Second)
		n, window := committed.Load()-from, time.Since(t0)
		stop()
		cost, rtt = time.Duration(int64(window)*int64(c)/n), nw.RTT("n1", "n2")
		maxInFlight, _ = strconv.Atoi(cl.status(0, "gr_model_instances_in_flight_max"))
	})
	return cost, rtt, maxInFlight
}

// gr-semisync.md §3: "proposers will not go beyond executed+α. α is the event horizon,
// EVENT_HORIZON_MIN = 10"; XCom's 10 proposer tasks each hold one instance, which batches
// every payload queued when it starts (AUTOBATCH). Up to 10 clients, every commit costs
// one round trip, exactly as without the horizon. Beyond 10, a message sent while all 10
// instances are in flight waits for one to be decided: the per-commit cost rises above
// the round trip and stays below two of them (nobody waits for more than one instance).
// With the horizon raised to 200 (group_replication_set_write_concurrency) the 10
// proposers still bind: never more than 10 instances in flight. (The cost beyond 10
// clients depends on how the clients' resubmissions fall into instances, which follows
// goroutine scheduling: with no service time a cohort of clients answered together may
// resubmit together and ride one instance again, so the cost ranges from one round trip,
// when every cohort stays whole, to almost two, and is bounded here, not pinned; the rule
// itself is TestHorizon_TenInstancesThenOneBatch.)
func TestEventHorizon_PerCommitCostAtCClients(t *testing.T) {
	for _, wc := range []int{10, 200} {
		for _, c := range []int{1, 10, 20, 40} {
			cost, rtt, inflight := perCommit(t, c, map[string]string{pWriteConcurrency: strconv.Itoa(wc)})
			t.Logf("write concurrency %d, c=%d: per-commit %v (%.2f x RTT %v), at most %d instances in flight",
				wc, c, cost, float64(cost)/float64(rtt), rtt, inflight)
			if inflight > Proposers || (c > Proposers && inflight != Proposers) {
				t.Errorf("%d instances in flight, want at most %d (exactly that with more clients)", inflight, Proposers)
			}
			if diff := cost - rtt; c <= Proposers && (diff < -rtt/100 || diff > rtt/100) {
				t.Errorf("c=%d <= %d instances: per-commit %v, want one round trip %v", c, Proposers, cost, rtt)
			}
			if c > Proposers && (cost < rtt-rtt/100 || cost >= 2*rtt) {
				t.Errorf("c=%d > %d instances: per-commit %v, want from one round trip %v to below two", c, Proposers, cost, rtt)
			}
		}
	}
}

// The rule, message by message: ten messages sent one at a time take the ten instances;
// the next ones wait, and when one instance is decided the first free proposer takes
// everything that waited as one batch.
func TestHorizon_TenInstancesThenOneBatch(t *testing.T) {
	h := newHorizon(10)
	now := time.Unix(0, 0)
	msg := func(i int) []byte { return []byte{byte(i)} }
	for i := range 10 {
		h.Queue(msg(i))
		if b := h.Take(now); len(b) != 1 {
			t.Fatalf("message %d: batch %d, want a proposer of its own", i, len(b))
		}
	}
	h.Queue(msg(10))
	h.Queue(msg(11))
	if b := h.Take(now); b != nil || h.InFlight() != 10 || h.Waiting() {
		t.Fatalf("an 11th instance started (%d in flight)", h.InFlight())
	}
	h.Delivered(msg(3))
	if !h.Waiting() {
		t.Fatal("an instance was decided, yet nothing may go")
	}
	if b := h.Take(now); len(b) != 2 || h.InFlight() != 10 {
		t.Fatalf("batch %d with %d in flight, want the 2 waiting messages in one instance", len(b), h.InFlight())
	}
	// An instance that is never decided (its messages lost) stops counting after
	// instanceLostAfter, so the resends are not held behind it.
	h.Queue(msg(12))
	if b := h.Take(now.Add(instanceLostAfter)); len(b) != 1 {
		t.Fatal("lost instances still hold the proposers")
	}
	// With the horizon at 200 the ten proposers still bind.
	if newHorizon(200).limit != Proposers {
		t.Fatal("more instances than proposers")
	}
}
