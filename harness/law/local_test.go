package law

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/internal/precise"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/prototest"
	"github.com/replbench/replbench/protocols/servicetime"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/semisync"
)

// nullApplier accepts every write-set and keeps nothing: enough for a semi-sync replica
// to ack and apply inside a synctest bubble.
type nullApplier struct{}

func (nullApplier) PrepareApply(context.Context, *protocols.WriteSet) (protocols.Applied, error) {
	return nullApplied{}, nil
}
func (nullApplier) SetAutoIncrement(int, int)             {}
func (nullApplier) Checksums() (map[string]uint64, error) { return nil, nil }
func (nullApplier) Snapshot(io.Writer) error              { return nil }
func (nullApplier) Restore(io.Reader) error               { return nil }

type nullApplied struct{}

func (nullApplied) Commit() error { return nil }
func (nullApplied) Abort()        {}

// writeProfile writes a cost profile with a redo fsync at prepare and a binlog fsync per
// group and nothing else, the costs the semi-sync driver itself charges (the harness
// charges the statement costs), and returns its file name.
func writeProfile(t *testing.T, redo, binlog time.Duration) string {
	return writeProfileAck(t, redo, binlog, 0)
}

// writeProfileAck is writeProfile with a replica's relay-log write and ack costing ack.
func writeProfileAck(t *testing.T, redo, binlog, ack time.Duration) string {
	t.Helper()
	p := &servicetime.Profile{Name: "fsyncs", Host: servicetime.HostCosts{Cores: 2}}
	p.Commit.RedoFsyncUs = float64(redo.Microseconds())
	p.Commit.BinlogFsyncUs = float64(binlog.Microseconds())
	p.Replication.ReplicaAckUs = float64(ack.Microseconds())
	data, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "fsyncs.yaml")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// semisyncRun runs threads clients of per commits each on a virtual-time semi-sync cluster
// of the given members and network, every node on the settings and cost profile of nodes
// (innodb_flush_log_at_trx_commit=1), and returns the elapsed virtual time.
func semisyncRun(t *testing.T, net transport.Network, members []string, nodes []Node, threads, per int) time.Duration {
	t.Helper()
	var el time.Duration
	synctest.Test(t, func(t *testing.T) {
		em := transport.NewEmulator(transport.NewMemBus(), net, transport.EmulatorOptions{Seed: 1, Virtual: true})
		defer em.Close()
		var provs []protocols.Provider
		for i, n := range members {
			ep, err := em.Attach(n)
			if err != nil {
				t.Fatal(err)
			}
			prof, err := servicetime.Load(nodes[i].Settings.Params()[protocols.CostProfileParam])
			if err != nil {
				t.Fatal(err)
			}
			cost := servicetime.NewNode(prof, servicetime.NewHost(prof.Host.Cores), precise.Virtual{})
			if cost != nil {
				cost.FlushAtCommit = 1
			}
			pv, err := semisync.New(protocols.Config{Node: n, Members: members, Endpoint: ep, Applier: nullApplier{}, Settings: nodes[i].Settings, Seed: 1, Cost: cost})
			if err != nil {
				t.Fatal(err)
			}
			provs = append(provs, pv)
		}
		defer prototest.CloseAll(provs)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := prototest.StartAll(ctx, provs); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		var trx uint64
		for range threads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range per {
					mu.Lock()
					trx++
					id := trx
					mu.Unlock()
					row := binary.BigEndian.AppendUint64(nil, id)
					ws := &protocols.WriteSet{Source: members[0], TrxID: id, Flags: protocols.FlagAutocommit,
						Keys: []protocols.Key{{Table: "t", Row: row, Type: protocols.KeyExclusive}},
						Rows: []protocols.RowChange{{Table: "t", Op: protocols.OpInsert, Row: row, After: row}}}
					cm, err := provs[0].Replicate(context.Background(), ws)
					if err != nil {
						t.Error(err)
						return
					}
					if err := cm.Apply(context.Background(), func() error { return nil }); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		el = time.Since(start)
	})
	return el
}

// The semi-sync floor includes the source's local commit path from its cost profile, and
// matches the virtual-time model exactly: one client pays the replica round trip, the
// prepare's redo fsync and the binlog fsync (sync_binlog=1), in both flavours' pipelines
// (MySQL flushes the redo in the flush stage, MariaDB at each prepare). With eight
// clients that start together, AFTER_SYNC completes two groups per floor with the threads
// split between them: the bound's T/floor, reached to within the first group's fsync.
func TestSemisyncFloorMatchesVirtualTime(t *testing.T) {
	const D = 5 * time.Millisecond
	const redo, binlog = 700 * time.Microsecond, 300 * time.Microsecond
	net, members := nw(t, "lan", 2, link("n1", "n2", D))
	prof := writeProfile(t, redo, binlog)
	const per = 10
	for _, fl := range []string{"mysql-8.0", "mariadb-10.11"} {
		t.Run(fl, func(t *testing.T) {
			nodes := resolved(t, "semisync", members, map[string]string{protocols.FlavorParam: fl, semisync.ParamWaitPoint: "AFTER_SYNC",
				semisync.ParamSyncBinlog: "1", protocols.CostProfileParam: prof}, nil)
			e, err := Explain(Input{Network: net, Members: members, Protocol: "semisync", Nodes: nodes, Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			floor := time.Duration(e.Bound.CommitFloorMs * float64(time.Millisecond))
			if want := net.OneWay("n1", "n2") + net.OneWay("n2", "n1") + redo + binlog; floor != want {
				t.Fatalf("floor %v, want %v: %s", floor, want, e.Floor)
			}
			if got := semisyncRun(t, net, members, nodes, 1, per); got != per*floor {
				t.Fatalf("one client: %d commits in %v of virtual time, want exactly %d floors = %v (%s)", per, got, per, per*floor, e.Floor)
			}
			if fl != "mysql-8.0" {
				return
			}
			e8, err := Explain(Input{Network: net, Members: members, Protocol: "semisync", Nodes: nodes, Threads: 8})
			if err != nil {
				t.Fatal(err)
			}
			el := semisyncRun(t, net, members, nodes, 8, per)
			tps := float64(8*per) / el.Seconds()
			t.Logf("8 clients: %v, %.0f tps against the bound %.0f (%s)", el, tps, e8.Bound.MaxTPS, e8.Throughput)
			if tps > e8.Bound.MaxTPS*1.0000001 {
				t.Fatalf("8 clients: %.1f tps above the bound %.1f", tps, e8.Bound.MaxTPS)
			}
			// Two groups per floor, less what the first group's fsyncs and a bunch split
			// by the order the released clients come back in cost (semisync
			// TestGroupFsyncPerRoundTrip): within one fsync per floor of the bound.
			if lo := float64(8) / (floor + redo + binlog).Seconds(); tps < lo {
				t.Fatalf("8 clients: %.1f tps, want at least %.1f (two groups per floor)", tps, lo)
			}
		})
	}
}

// A replica's relay-log write and ack (relay_write_us + replica_ack_us) add to the round
// trip the source waits for, in the bound and, exactly, in virtual time.
func TestSemisyncReplicaAckCost(t *testing.T) {
	const ack = 1500 * time.Microsecond
	net, members := nw(t, "lan", 2, link("n1", "n2", 5*time.Millisecond))
	prof := writeProfileAck(t, 0, 0, ack)
	nodes := resolved(t, "semisync", members, map[string]string{protocols.CostProfileParam: prof}, nil)
	e, err := Explain(Input{Network: net, Members: members, Protocol: "semisync", Nodes: nodes, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	floor := time.Duration(e.Bound.CommitFloorMs * float64(time.Millisecond))
	if want := net.OneWay("n1", "n2") + net.OneWay("n2", "n1") + ack; floor != want {
		t.Fatalf("floor %v, want %v: %s", floor, want, e.Floor)
	}
	if !strings.Contains(e.Floor, "relay-log write and ack 1.5 ms") {
		t.Errorf("the derivation does not name the replica's cost: %s", e.Floor)
	}
	if got := semisyncRun(t, net, members, nodes, 1, 10); got != 10*floor {
		t.Fatalf("10 commits in %v of virtual time, want exactly %v", got, 10*floor)
	}
}

// The derivation says, step by step, where each flavour's pipeline holds its AFTER_SYNC
// wait and what that does with several threads.
func TestSemisyncDerivationNamesThePipeline(t *testing.T) {
	net, members := nw(t, "wan-50", 3)
	for _, c := range []struct {
		params map[string]string
		want   []string
	}{
		{map[string]string{protocols.FlavorParam: "mysql-8.0"}, []string{"ordered_commit", "LOCK_commit", "joins group k+2", "about two groups per floor (40.0 groups/s)", "each thread commits once per floor 50.05 ms"}},
		{map[string]string{protocols.FlavorParam: "mysql-8.0", semisync.ParamOrderCommit: "OFF"}, []string{"binlog_order_commits=OFF", "holds no stage mutex"}},
		{map[string]string{protocols.FlavorParam: "mariadb-10.11", semisync.ParamWaitPoint: "AFTER_SYNC"}, []string{"LOCK_after_binlog_sync", "group k+2 starts writing only when group k is done", "1.5 Q = 75.075 ms", "8 / 75.075 ms = 107 tps (limit: pipeline)", "MariaDB has no"}},
		{map[string]string{protocols.FlavorParam: "mariadb-10.11"}, []string{"AFTER_COMMIT", "overlap freely"}},
	} {
		e, err := Explain(Input{Network: net, Members: members, Protocol: "semisync", Nodes: resolved(t, "semisync", members, c.params, nil), Threads: 8})
		if err != nil {
			t.Fatal(err)
		}
		text := e.Floor + " " + e.Throughput
		for _, w := range c.want {
			if !strings.Contains(text, w) {
				t.Errorf("%v: derivation lacks %q: %s", c.params, w, text)
			}
		}
	}
}

// Local costs from the chosen profile add to every protocol's floor (statement round trip
// and CPU, certification, engine commit, fsyncs), and the CPU budget caps throughput at
// cores / CPU per commit.
func TestLocalCostsFromTheProfile(t *testing.T) {
	net, members := nw(t, "lan", 3)
	for _, proto := range []string{"galera", "semisync"} {
		pure, err := Compute(Input{Network: net, Members: members, Protocol: proto, Nodes: resolved(t, proto, members, nil, nil), Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		name := "mariadb-10.11"
		if proto == "galera" {
			name = "galera-4-mariadb-10.11"
		}
		prof, err := servicetime.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		param := name
		if proto == "galera" {
			// The built-in profile's certification may be all CPU (its calibration decides);
			// a copy with a wait checks that the wait is in the floor and not in the budget.
			prof.Replication.CertifyWaitUs = 54
			data, err := prof.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			param = filepath.Join(t.TempDir(), name+".yaml")
			if err := os.WriteFile(param, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		e, err := Explain(Input{Network: net, Members: members, Protocol: proto, Nodes: resolved(t, proto, members, map[string]string{protocols.CostProfileParam: param}, nil), Threads: 64})
		if err != nil {
			t.Fatal(err)
		}
		s := prof.Statement
		// The cheapest write by CPU + wait: its whole time is in the floor, its CPU in the budget.
		writeCPU, writeAll := s.InsertUs, s.InsertUs+s.InsertWaitUs
		for _, w := range [][2]float64{{s.UpdateUs, s.UpdateWaitUs}, {s.DeleteUs, s.DeleteWaitUs}} {
			if w[0]+w[1] < writeAll {
				writeCPU, writeAll = w[0], w[0]+w[1]
			}
		}
		local := prof.Client.StatementRTTUs + writeAll + prof.Commit.EngineUs + prof.Commit.RedoFsyncUs
		if proto == "galera" {
			local += prof.Replication.CertifyUs + prof.Replication.CertifyKeyUs + prof.Replication.CertifyWaitUs
			// The CPU budget counts certification's CPU, not its wait.
			cpu := writeCPU + prof.Replication.CertifyUs + prof.Replication.CertifyKeyUs + prof.Commit.EngineUs
			if want := float64(prof.Host.Cores) / (cpu / 1e6); e.Bound.Limit != "cpu" || !near(e.Bound.MaxTPS, want) {
				t.Errorf("galera at 64 threads: limit %s, %v tps; want the CPU budget %d cores / %v us = %v tps (%s)", e.Bound.Limit, e.Bound.MaxTPS, prof.Host.Cores, cpu, want, e.Throughput)
			}
		}
		if !near(e.Bound.CommitFloorMs, pure.CommitFloorMs+local/1000) {
			t.Errorf("%s: floor %v ms, want the network's %v + the profile's %v us (%s)", proto, e.Bound.CommitFloorMs, pure.CommitFloorMs, local, e.Floor)
		}
		if !strings.Contains(e.Floor, "cost profile "+name) {
			t.Errorf("%s: the floor's derivation does not name the profile: %s", proto, e.Floor)
		}
	}
	// CPU: 2 cores and 1 ms of CPU per write cap the source at 2000 tps, below 64 threads'
	// share of a LAN floor.
	p := &servicetime.Profile{Name: "slowcpu", Host: servicetime.HostCosts{Cores: 2}}
	p.Statement.InsertUs, p.Statement.UpdateUs, p.Statement.DeleteUs = 1000, 1000, 1000
	data, _ := p.Marshal()
	f := filepath.Join(t.TempDir(), "slowcpu.yaml")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := Explain(Input{Network: net, Members: members, Protocol: "semisync", Nodes: resolved(t, "semisync", members, map[string]string{protocols.CostProfileParam: f}, nil), Threads: 64})
	if err != nil {
		t.Fatal(err)
	}
	if e.Bound.Limit != "cpu" || !near(e.Bound.MaxTPS, 2000) {
		t.Fatalf("limit %s, max tps %v, want cpu at 2000: %s", e.Bound.Limit, e.Bound.MaxTPS, e.Throughput)
	}
	if !strings.Contains(e.Throughput, "2 cores / 1 ms of CPU per commit") {
		t.Errorf("the throughput derivation does not show the CPU budget: %s", e.Throughput)
	}
}

// Each semi-sync pipeline's bound at eight threads against the semi-sync driver in virtual
// time (the replica 5 ms away each way, sync_binlog=1). With a binlog fsync F and nothing
// else, MariaDB's AFTER_SYNC takes exactly 1.5 Q per commit and thread, Q = R + F being a
// group's write and ack under the locks (semisyncPipeline), so the driver reaches the bound
// exactly. With a redo fsync at prepare too, the clients come back spread out: AFTER_COMMIT,
// MySQL's AFTER_SYNC and binlog_order_commits=OFF stay within one fsync per floor of
// threads/floor, and MariaDB's AFTER_SYNC between the bound and 2Q per commit (a thread
// whose prepare outlasts the shorter gap between two completions misses one more group).
func TestSemisyncPipelineMatchesVirtualTime(t *testing.T) {
	const D = 5 * time.Millisecond
	const per, threads = 10, 8
	net, members := nw(t, "lan", 2, link("n1", "n2", D))
	R := net.OneWay("n1", "n2") + net.OneWay("n2", "n1")
	for _, pr := range []struct{ redo, binlog time.Duration }{{0, time.Millisecond}, {700 * time.Microsecond, 300 * time.Microsecond}} {
		prof := writeProfile(t, pr.redo, pr.binlog)
		floor := R + pr.redo + pr.binlog
		Q := R + pr.binlog
		for _, c := range []struct {
			name   string
			params map[string]string
		}{
			{"mysql-8.0/AFTER_SYNC", map[string]string{protocols.FlavorParam: "mysql-8.0"}},
			{"mysql-8.0/AFTER_SYNC/order_commits=OFF", map[string]string{protocols.FlavorParam: "mysql-8.0", semisync.ParamOrderCommit: "OFF"}},
			{"mysql-8.0/AFTER_COMMIT", map[string]string{protocols.FlavorParam: "mysql-8.0", semisync.ParamWaitPoint: "AFTER_COMMIT"}},
			{"mariadb-10.11/AFTER_SYNC", map[string]string{protocols.FlavorParam: "mariadb-10.11", semisync.ParamWaitPoint: "AFTER_SYNC"}},
			{"mariadb-10.11/AFTER_COMMIT", map[string]string{protocols.FlavorParam: "mariadb-10.11", semisync.ParamWaitPoint: "AFTER_COMMIT"}},
		} {
			t.Run(fmt.Sprintf("redo=%v,binlog=%v/%s", pr.redo, pr.binlog, c.name), func(t *testing.T) {
				c.params[semisync.ParamSyncBinlog] = "1"
				c.params[protocols.CostProfileParam] = prof
				nodes := resolved(t, "semisync", members, c.params, nil)
				e, err := Explain(Input{Network: net, Members: members, Protocol: "semisync", Nodes: nodes, Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				if got := time.Duration(e.Bound.CommitFloorMs * float64(time.Millisecond)); got != floor {
					t.Fatalf("floor %v, want %v", got, floor)
				}
				el := semisyncRun(t, net, members, nodes, threads, per)
				tps := float64(threads*per) / el.Seconds()
				t.Logf("%v for %d commits: %.1f tps against the bound %.1f (%s)", el, threads*per, tps, e.Bound.MaxTPS, e.Bound.Limit)
				if tps > e.Bound.MaxTPS*1.0000001 {
					t.Fatalf("%.1f tps above the bound %.1f (%s)", tps, e.Bound.MaxTPS, e.Throughput)
				}
				if c.name != "mariadb-10.11/AFTER_SYNC" {
					if e.Bound.Limit != "latency" || !near(e.Bound.MaxTPS, threads/floor.Seconds()) {
						t.Fatalf("bound %.1f (%s), want threads/floor %.1f", e.Bound.MaxTPS, e.Bound.Limit, threads/floor.Seconds())
					}
					if lo := threads / (floor + pr.redo + pr.binlog).Seconds(); tps < lo {
						t.Fatalf("%.1f tps, want at least %.1f (within one fsync per floor)", tps, lo)
					}
					return
				}
				cycle := max(floor, Q*3/2)
				if e.Bound.Limit != "pipeline" || !near(e.Bound.MaxTPS, threads/cycle.Seconds()) {
					t.Fatalf("bound %.1f (%s), want threads / max(floor, 1.5 Q) = %.1f: %s", e.Bound.MaxTPS, e.Bound.Limit, threads/cycle.Seconds(), e.Throughput)
				}
				if pr.redo == 0 {
					if want := per * cycle; el != want {
						t.Fatalf("%d commits per thread took %v, want exactly %d x 1.5 Q = %v", per, el, per, want)
					}
					return
				}
				if lo := threads / (2 * Q).Seconds(); tps < lo {
					t.Fatalf("%.1f tps, want at least %.1f (2 Q per commit)", tps, lo)
				}
			})
		}
	}
}
