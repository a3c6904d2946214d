package groupreplication

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/servicetime"
	"github.com/replbench/replbench/protocols/transport"
)

// The commit path's stage costs the tests charge (microseconds), all distinct so that a
// missing or doubled stage shows in the exact sum.
const (
	tSend    = 110  // write-set broadcast, per message
	tCertify = 70   // certification, per transaction
	tRedo    = 1000 // redo fsync
	tBinlog  = 2300 // binlog fsync
	tEngine  = 40   // engine commit
)

func testProfile() *servicetime.Profile {
	return &servicetime.Profile{Name: "t",
		Commit:      servicetime.CommitCosts{RedoFsyncUs: tRedo, BinlogFsyncUs: tBinlog, EngineUs: tEngine},
		Replication: servicetime.ReplicationCosts{SendMsgUs: tSend, RecvMsgUs: 90, CertifyUs: tCertify, ApplyRowUs: 30, RelayWriteUs: 20}}
}

// costNodes gives every member its own host (no core limit) and log devices, flush=1.
func costNodes(prof *servicetime.Profile, nodes map[string]*servicetime.Node) func(string) *servicetime.Node {
	return func(node string) *servicetime.Node {
		n := servicetime.NewNode(prof, servicetime.NewHost(0), nil)
		if n != nil {
			n.FlushAtCommit = 1
		}
		nodes[node] = n
		return n
	}
}

// One client on a WAN (D on the primary's links) pays exactly one majority round trip
// plus the profile's commit path on the originator: the broadcast's send, its own
// certification, the redo fsync and the binlog fsync of its group commit (a group of one),
// and the engine commit. The remote members' receive, relay write, apply and commit are on
// their own hosts and disks and cost the client nothing.
func TestServiceTime_OneClientPaysRoundTripPlusCommitPath(t *testing.T) {
	nw := slowLinks(lan(t, 3), 3, D, "n1")
	rtt := nw.RTT("n1", "n2")
	want := rtt + servicetime.Us(tSend+tCertify+tRedo+tBinlog+tEngine)
	var cost time.Duration
	var redo, binlog, commits int64
	synctest.Test(t, func(t *testing.T) {
		nodes := map[string]*servicetime.Node{}
		c := startCost(t, 3, transport.NewMemBus(), nw, true, nil, nil, costNodes(testProfile(), nodes))
		defer c.close()
		ctx := context.Background()
		if err := c.insert(ctx, 0, 0); err != nil {
			t.Fatal(err)
		}
		const n = 10
		f0, _ := nodes["n1"].Redo.Counts()
		t0 := time.Now()
		for i := 1; i <= n; i++ {
			if err := c.insert(ctx, 0, int64(i)); err != nil {
				t.Fatal(err)
			}
		}
		cost = time.Since(t0) / n
		f1, _ := nodes["n1"].Redo.Counts()
		b1, _ := nodes["n1"].Binlog.Counts()
		redo, binlog, commits = f1-f0, b1, n
		if !c.quiesce(ctx) {
			t.Error("members did not converge")
		}
	})
	t.Logf("one client, D=%v on n1: commit %v = RTT %v + commit path %v; n1 redo fsyncs %d over %d commits, binlog %d in all",
		D, cost, rtt, cost-rtt, redo, commits, binlog)
	if cost != want {
		t.Fatalf("commit cost %v, want exactly RTT %v + send %dus + certify %dus + redo %dus + binlog %dus + engine %dus = %v",
			cost, rtt, tSend, tCertify, tRedo, tBinlog, tEngine, want)
	}
	if redo != commits {
		t.Fatalf("%d redo fsyncs for %d sequential commits, want one each", redo, commits)
	}
}

// With c concurrent clients the commits that reach the flush and sync stages together
// share their fsyncs: fewer fsyncs than commits, and more commits per second than one
// fsync allows.
func TestServiceTime_ConcurrentCommitsShareFsyncs(t *testing.T) {
	const clients = 8
	const window = 2 * time.Second
	nw := lan(t, 3)
	var committed atomic.Int64
	var redo, binlog int64
	synctest.Test(t, func(t *testing.T) {
		nodes := map[string]*servicetime.Node{}
		c := startCost(t, 3, transport.NewMemBus(), nw, true, nil, nil, costNodes(testProfile(), nodes))
		defer c.close()
		ctx := context.Background()
		if err := c.insert(ctx, 0, -1); err != nil {
			t.Fatal(err)
		}
		f0, _ := nodes["n1"].Redo.Counts()
		b0, _ := nodes["n1"].Binlog.Counts()
		stop := c.insertLoad(ctx, clients, &committed)
		time.Sleep(window)
		stop()
		f1, _ := nodes["n1"].Redo.Counts()
		b1, _ := nodes["n1"].Binlog.Counts()
		redo, binlog = f1-f0, b1-b0
		if !c.quiesce(ctx) {
			t.Error("members did not converge")
		}
	})
	n := committed.Load()
	perSec := float64(n) / window.Seconds()
	oneFsync := 1 / servicetime.Us(tBinlog).Seconds()
	t.Logf("%d clients on the LAN: %d commits in %v (%.0f/s; one binlog fsync allows %.0f/s), n1 redo fsyncs %d, binlog fsyncs %d",
		clients, n, window, perSec, oneFsync, redo, binlog)
	if redo >= n || binlog >= n {
		t.Fatalf("fsyncs redo %d, binlog %d for %d commits: want fewer than commits (group commit)", redo, binlog, n)
	}
	if perSec <= oneFsync {
		t.Fatalf("%.0f commits/s, want more than one binlog fsync allows (%.0f/s)", perSec, oneFsync)
	}
}

// --cost-profile none gives every member a nil model, and the commit costs exactly the
// round trip, as without a model. The flavour's default is the derived gr-mysql-8.0.
func TestServiceTime_ProfileNoneUnchanged(t *testing.T) {
	gr, err := protocols.Lookup("gr")
	if err != nil {
		t.Fatal(err)
	}
	def, err := gr.Resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := def.Params()[protocols.CostProfileParam]; got != "gr-mysql-8.0" {
		t.Fatalf("default cost profile %q, want gr-mysql-8.0", got)
	}
	st, err := gr.Resolve(map[string]string{protocols.CostProfileParam: "none"})
	if err != nil {
		t.Fatal(err)
	}
	prof, err := servicetime.Load(st.Params()[protocols.CostProfileParam])
	if err != nil {
		t.Fatal(err)
	}
	if servicetime.NewNode(prof, servicetime.NewHost(2), nil) != nil {
		t.Fatal("profile none gives a model that charges")
	}
	if _, err := servicetime.Load("gr-mysql-8.0"); err != nil {
		t.Fatal(err)
	}
	nw := slowLinks(lan(t, 3), 3, D, "n1")
	var cost time.Duration
	synctest.Test(t, func(t *testing.T) {
		c := startCost(t, 3, transport.NewMemBus(), nw, true, nil, nil, func(string) *servicetime.Node {
			return servicetime.NewNode(prof, servicetime.NewHost(2), nil)
		})
		defer c.close()
		ctx := context.Background()
		_ = c.insert(ctx, 0, 0)
		t0 := time.Now()
		for i := 1; i <= 5; i++ {
			if err := c.insert(ctx, 0, int64(i)); err != nil {
				t.Fatal(err)
			}
		}
		cost = time.Since(t0) / 5
	})
	if cost != nw.RTT("n1", "n2") {
		t.Fatalf("profile none: commit %v, want exactly the round trip %v", cost, nw.RTT("n1", "n2"))
	}
}
