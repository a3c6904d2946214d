package law

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/servicetime"
)

// localCost is what member n's own server spends on the cheapest write commit under its
// cost profile (replbench.cost_profile): the latency it adds to the commit floor, and the
// CPU each commit books on the node's cores, which caps the node's throughput at
// cores/cpu whatever the network allows. The cheapest write commit is one single-row
// autocommit statement (the least of insert, update and delete), so the floor stays a
// floor for any workload. Costs a group shares (an fsync, the binlog group leader's work)
// add to the floor but not to the CPU per commit, since a large group spreads them thin.
type localCost struct {
	profile string
	floor   time.Duration
	cpu     time.Duration
	cores   int
	parts   []string // "name 34 us" per non-zero piece of the floor, in order
	// binlog is the part of the floor a semi-sync or async source spends in its binlog
	// group commit under LOCK_log: one transaction's binlog write, the group leader's
	// work and, with sync_binlog=1, the binlog fsync.
	binlog time.Duration
}

// localCostOf reads member n's profile and settings. Zero for profile none, for a member
// without a profile and for standalone without settings.
func (m model) localCostOf(n string) localCost {
	nd, ok := m.nodes[n]
	if !ok || nd.Settings == nil {
		return localCost{}
	}
	name, ok := nd.Settings.Params()[protocols.CostProfileParam]
	if !ok || name == servicetime.None {
		return localCost{}
	}
	p, err := servicetime.Load(name)
	if err != nil || p.IsZero() {
		return localCost{}
	}
	lc := localCost{profile: p.Name, cores: p.Host.Cores}
	add := func(what string, us float64, cpu bool) {
		if us <= 0 {
			return
		}
		d := servicetime.Us(us)
		lc.floor += d
		if cpu {
			lc.cpu += d
		}
		lc.parts = append(lc.parts, fmt.Sprintf("%s %s", what, fmtD(d)))
	}
	s := p.Statement
	add("client round trip", p.Client.StatementRTTUs, false)
	// The cheapest write by its whole one-client time; its wait holds no core.
	w := [][2]float64{{s.InsertUs, s.InsertWaitUs}, {s.UpdateUs, s.UpdateWaitUs}, {s.DeleteUs, s.DeleteWaitUs}}
	cheapest := slices.MinFunc(w, func(a, b [2]float64) int { return cmp.Compare(a[0]+a[1], b[0]+b[1]) })
	add("cheapest write statement", cheapest[0], true)
	add("its wait", cheapest[1], false)
	switch m.proto {
	case "galera", "group-replication":
		add("certification", p.Replication.CertifyUs+p.Replication.CertifyKeyUs, true)
	}
	if m.proto == "galera" {
		// The Galera driver waits certify_wait_us after certification (Node.Certify),
		// holding no core.
		add("replication wait", p.Replication.CertifyWaitUs, false)
	}
	add("engine commit", p.Commit.EngineUs, true)
	switch m.proto {
	case "semisync", "async":
		st := m.semisyncAt(n)
		if nd.Engine.Sync {
			add("redo fsync of the prepare", p.Commit.RedoFsyncUs, false)
		}
		before := lc.floor
		add("binlog write", p.Commit.BinlogWriteUs, true)
		add("group commit leader", p.Replication.GroupCommitUs, false)
		if st.SyncBinlog {
			add("binlog fsync (sync_binlog=1)", p.Commit.BinlogFsyncUs, false)
		}
		lc.binlog = lc.floor - before
	default:
		if nd.Engine.Sync {
			add("redo fsync", p.Commit.RedoFsyncUs, false)
		} else {
			add("redo write", p.Commit.RedoWriteUs, true)
		}
		if m.proto == "group-replication" {
			// GR commits through the binlog group commit (log_bin is on in every member),
			// as the driver charges it: the transaction's binlog write and, with
			// sync_binlog=1, one binlog fsync per group (the floor is one client's).
			add("binlog write", p.Commit.BinlogWriteUs, true)
			if m.grAt(n).SyncBinlog {
				add("binlog fsync (sync_binlog=1)", p.Commit.BinlogFsyncUs, false)
			}
		}
	}
	return lc
}

// localFloor is what member n adds to every floor of its own commits: the --sync cost and
// its profile's commit path.
func (m model) localFloor(n string) time.Duration { return m.in.SyncCost + m.localCostOf(n).floor }

// binlogStage is the part of member n's floor its binlog group commit holds LOCK_log for
// (localCost.binlog).
func (m model) binlogStage(n string) time.Duration { return m.localCostOf(n).binlog }

// localNote says what localFloor(n) is made of, for the derivations: "" when nothing.
func (m model) localNote(n string) string {
	lc := m.localCostOf(n)
	var out string
	if lc.floor > 0 {
		out = fmt.Sprintf(" plus the local commit path of cost profile %s, %s = %s", lc.profile, strings.Join(lc.parts, " + "), fmtD(lc.floor))
	}
	return out + m.syncNote()
}

// cpuCap is member n's throughput cap from its CPU budget: cores / CPU per commit, with
// the sentence that says so; 0 when the profile sets no core limit or charges no CPU.
func (m model) cpuCap(n string) (float64, string) {
	lc := m.localCostOf(n)
	if lc.cores <= 0 || lc.cpu <= 0 {
		return 0, ""
	}
	tps := float64(lc.cores) / lc.cpu.Seconds()
	return tps, fmt.Sprintf("the CPU budget of %s (cost profile %s: %d cores / %s of CPU per commit = %s tps)", n, lc.profile, lc.cores, fmtD(lc.cpu), FormatTPS(tps))
}

// replicaAck is what semi-sync replica n spends between receiving an event and its ack
// leaving, under its cost profile: the relay-log write and the ack (relay_write_us +
// replica_ack_us), which the source's wait includes. 0 for profile none.
func (m model) replicaAck(n string) (time.Duration, string) {
	nd, ok := m.nodes[n]
	if !ok || nd.Settings == nil {
		return 0, ""
	}
	name, ok := nd.Settings.Params()[protocols.CostProfileParam]
	if !ok || name == servicetime.None {
		return 0, ""
	}
	p, err := servicetime.Load(name)
	if err != nil {
		return 0, ""
	}
	return servicetime.Us(p.Replication.RelayWriteUs + p.Replication.ReplicaAckUs), p.Name
}
