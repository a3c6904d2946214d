package law

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/replbench/replbench/groupreplication/flowcontrol"
)

// applier is one node's remote-apply capacity.
type applier struct {
	node  string
	delay time.Duration
	rate  float64 // remote write-sets per second
	how   string  // why that rate
}

// appliers returns the nodes with a replbench.apply_delay and what each can apply per
// second. The storage engine spends the delay in the commit step of a remote write-set,
// holding its locks (storage/apply.go), so where the protocol commits remote write-sets
// one at a time in order, more applier threads do not help: the node applies 1/delay.
func (m model) appliers() []applier {
	var out []applier
	for _, n := range m.in.Members {
		d := m.applyDelay(n)
		if d <= 0 {
			continue
		}
		a := applier{node: n, delay: d, rate: 1 / d.Seconds()}
		switch m.proto {
		case "galera":
			st := m.galeraAt(n)
			if st.SerialRemoteCommit() {
				a.how = fmt.Sprintf("commits remote write-sets one at a time in seqno order (repl.commit_order=%d), %s each", st.CommitOrder, fmtD(d))
			} else {
				a.rate = float64(st.SlaveThreads) / d.Seconds()
				a.how = fmt.Sprintf("applies with %d threads out of order (repl.commit_order=%d), %s each", st.SlaveThreads, st.CommitOrder, fmtD(d))
			}
		case "semisync", "async":
			st := m.semisyncAt(n)
			if st.PreserveOrder {
				a.how = fmt.Sprintf("commits in binlog order (replica_preserve_commit_order=ON), %s each", fmtD(d))
			} else {
				a.rate = float64(st.ApplierWorkers()) / d.Seconds()
				a.how = fmt.Sprintf("applies with %d workers out of order, %s each", st.ApplierWorkers(), fmtD(d))
			}
		default:
			a.how = fmt.Sprintf("commits remote transactions one at a time in order, %s each", fmtD(d))
		}
		out = append(out, a)
	}
	return out
}

// applyCap lowers the throughput bound to the slowest applier's pace where flow control
// makes the writers wait for it. Galera: a node whose receive queue passes
// gcs.fc_limit*sqrt(N) sends STOP and every writer pauses, so the cluster runs at its
// slowest node's apply rate; a writer's own transactions need no remote apply there, so a
// node caps the others' share (its rate plus its own writers' bound). Group Replication:
// the quota loop holds writers to a lagging member's pace, but only once its queue passed
// group_replication_flow_control_applier_threshold (25000 by default) and a period went
// by, so the cap is counted only when Duration is known. Semi-sync and async: the source
// never waits for a replica's apply (the ack follows the relay-log write), so a slow
// replica lags instead and the bound is unchanged. The backlog a writer may run ahead by
// is added as backlog/Duration when Duration is known, so the cap stays a bound.
func (m model) applyCap(e *Explanation) error {
	as := m.appliers()
	if len(as) == 0 {
		return nil
	}
	b := e.Bound
	tp := m.threadsPer()
	// A node applies everything but its own writers' transactions, so the cluster commits
	// at most its rate plus what its own threads can commit; the node with the lowest such
	// figure binds (a writer with a slow applier may bind less than a slower-looking peer).
	capOf := func(a applier) float64 {
		c := a.rate
		if f, ok := e.PerWriterFloor[a.node]; ok && tp[a.node] > 0 {
			if f <= 0 {
				return math.Inf(1)
			}
			c += float64(tp[a.node]) / f.Seconds()
		}
		return c
	}
	slow := as[0]
	for _, a := range as {
		if capOf(a) < capOf(slow) {
			slow = a
		}
	}
	switch m.proto {
	case "semisync", "async":
		what := "the semi-sync ack follows the relay-log write, not the apply"
		if m.proto == "async" {
			what = "async commits without waiting for any replica"
		}
		e.Throughput = strings.TrimSuffix(e.Throughput, ".") + fmt.Sprintf("; the slow applier on %s (%s, at most %s tps) does not slow the source, because %s, so %s lags behind instead.", slow.node, slow.how, FormatTPS(slow.rate), what, slow.node)
		return nil
	case "standalone":
		return nil
	}
	limit := capOf(slow)
	var backlog float64
	var fcWhy string
	switch m.proto {
	case "galera":
		// The slow node's own limits decide when it sends STOP (gcs.Limits, as its provider
		// sets them for the primary component).
		_, upper := m.galeraAt(slow.node).FCLimits(len(m.in.Members))
		backlog = float64(upper + int64(m.in.Threads))
		fcWhy = fmt.Sprintf("Galera's flow control (a receive queue past %d write-sets sends STOP and every writer pauses) holds the cluster to it", upper)
	case "group-replication":
		fc := m.grAt(m.writers[0])
		if fc.FlowControl.Mode != flowcontrol.Quota {
			e.Throughput = strings.TrimSuffix(e.Throughput, ".") + fmt.Sprintf("; the slow applier on %s (at most %s tps) does not slow the writers with group_replication_flow_control_mode=DISABLED, so it lags behind instead.", slow.node, FormatTPS(slow.rate))
			return nil
		}
		th := fc.FlowControl.ApplierThreshold
		if m.in.Duration <= 0 {
			e.Throughput = strings.TrimSuffix(e.Throughput, ".") + fmt.Sprintf("; the slow applier on %s (%s) holds writers to at most %s tps once its queue passes group_replication_flow_control_applier_threshold=%d, which the model cannot place in time without the run's duration, so it is not counted.", slow.node, slow.how, FormatTPS(slow.rate), th)
			return nil
		}
		// Before the quota holds, the writers run free for up to the threshold and one
		// flow-control period at the network bound.
		backlog = float64(th) + float64(m.in.Threads)
		if b.MaxTPS > 0 {
			backlog += b.MaxTPS * fc.FlowControlPeriod.Seconds()
		}
		fcWhy = fmt.Sprintf("the flow-control quota holds the writers to the lagging member's pace once its applier queue passes %d", th)
		if held := m.grHeldRate(slow); held > limit {
			// The quota rule never goes below its minimum (min_quota, or 5% of the lower
			// threshold), so a lagger slower than that does not hold the writers to its
			// pace: they run at the minimum and its queue grows.
			limit = held
			fcWhy = fmt.Sprintf("once its applier queue passes %d the flow-control quota holds the writers, but not below the quota rule's minimum, %s tps over them, so its queue grows", th, FormatTPS(held))
		}
	}

	if math.IsInf(limit, 1) {
		return nil
	}
	allowance := ""
	if m.in.Duration > 0 {
		limit += backlog / m.in.Duration.Seconds()
		allowance = fmt.Sprintf(" (plus a backlog of %d transactions the writers may run ahead by, over %s)", int64(backlog), m.in.Duration)
	}
	why := fmt.Sprintf("%s %s, so at most %s tps, and %s%s", slow.node, slow.how, FormatTPS(slow.rate), fcWhy, allowance)
	if b.MaxTPS > 0 && limit >= b.MaxTPS {
		e.Throughput = strings.TrimSuffix(e.Throughput, ".") + fmt.Sprintf("; the slowest applier does not bind: %s (%s tps).", why, FormatTPS(limit))
		return nil
	}
	b.MaxTPS = limit
	b.Limit = "apply"
	e.Throughput = fmt.Sprintf("model: the slowest applier binds: %s: %s tps.", why, FormatTPS(limit))
	b.Derivation = strings.TrimSuffix(b.Derivation, ".") + fmt.Sprintf("; throughput is capped at %s tps because %s.", FormatTPS(limit), why)
	return nil
}

// grHeldRate is the rate Group Replication's quota holds the writers to while slow lags, in
// the steady state: each writer's own controller evaluates the quota rule
// (flowcontrol.Config.NextQuota, the function the provider's controller runs every period)
// on a period in which slow applied at its pace with its queue past the threshold, and the
// writers' quotas per period add up to the rate.
func (m model) grHeldRate(slow applier) float64 {
	tp := m.threadsPer()
	var total float64
	for _, w := range m.writers {
		if tp[w] == 0 {
			continue
		}
		st := m.grAt(w)
		period := st.FlowControlPeriod.Seconds()
		var members []flowcontrol.Period
		for _, n := range m.in.Members {
			var p flowcontrol.Period
			if n == slow.node {
				p.ApplyQueue = st.FlowControl.ApplierThreshold + 1
				p.Applied = max(int64(math.Round(slow.rate*period)), 1)
			}
			if tp[n] > 0 {
				p.Local = 1 // it wrote in the period
			}
			members = append(members, p)
		}
		total += float64(st.FlowControl.NextQuota(0, 0, true, members)) / period
	}
	return total
}
