package groupreplication

import (
	"fmt"
	"math"

	"github.com/replbench/replbench/protocols"
)

// Parameter names. The group_replication_* and replica_* ones are MySQL's own, with
// MySQL's defaults; the gr_model_* ones are the model's knobs with no MySQL counterpart.
const (
	pSinglePrimary     = "group_replication_single_primary_mode"
	pConsistency       = "group_replication_consistency"
	pBlockSize         = "group_replication_gtid_assignment_block_size"
	pAutoIncrement     = "group_replication_auto_increment_increment"
	pSizeLimit         = "group_replication_transaction_size_limit"
	pFCMode            = "group_replication_flow_control_mode"
	pFCCertThreshold   = "group_replication_flow_control_certifier_threshold"
	pFCApplyThreshold  = "group_replication_flow_control_applier_threshold"
	pFCPeriod          = "group_replication_flow_control_period"
	pFCHold            = "group_replication_flow_control_hold_percent"
	pFCRelease         = "group_replication_flow_control_release_percent"
	pFCMemberQuota     = "group_replication_flow_control_member_quota_percent"
	pFCMinQuota        = "group_replication_flow_control_min_quota"
	pFCMinRecovery     = "group_replication_flow_control_min_recovery_quota"
	pFCMaxQuota        = "group_replication_flow_control_max_quota"
	pWorkers           = "replica_parallel_workers"
	pExpelTimeout      = "group_replication_member_expel_timeout"
	pUnreachableMaj    = "group_replication_unreachable_majority_timeout"
	pExitAction        = "group_replication_exit_state_action"
	pAutorejoinTries   = "group_replication_autorejoin_tries"
	pMemberWeight      = "group_replication_member_weight"
	pRejoinInterval    = "gr_model_autorejoin_interval"
	pGTIDBroadcast     = "gr_model_gtid_executed_broadcast_period"
	pRaftTick          = "gr_model_raft_tick"
	pRaftElectionTicks = "gr_model_raft_election_ticks"
)

// Params lists every parameter of the model with MySQL's default.
var Params = []protocols.Param{
	{Name: pSinglePrimary, Default: "ON", Help: "ON: n1 (the raft leader) is the only writer, secondaries refuse writes with 1290 (super_read_only) and certification skips conflict detection; OFF: multi-primary, every member writes, conflicts fail with 3101 and auto-increment moves to step 7 / offset server_id"},
	{Name: pConsistency, Default: "EVENTUAL", Choices: consistencyNames, Help: "EVENTUAL: commit once ordered and certified locally; BEFORE_ON_PRIMARY_FAILOVER: a new primary holds transactions until its backlog is applied; BEFORE: each transaction first orders a sync message and waits for the local applier (one ordering round + drain); AFTER: every member reports prepared through the group before anyone commits (slowest member's apply + one ordering round); BEFORE_AND_AFTER: both. 8.0's default; 8.4 defaults to BEFORE_ON_PRIMARY_FAILOVER"},
	{Name: pBlockSize, Default: "1000000", Min: new(1.0), Help: "GNOs each member reserves at once; several writers leave holes in gtid_executed until the blocks are recollected"},
	{Name: pAutoIncrement, Default: "7", Min: new(1.0), Max: new(65535.0), Help: "auto_increment_increment set on every member in multi-primary mode, with auto_increment_offset = server_id (member index + 1); not applied in single-primary mode"},
	{Name: pSizeLimit, Default: "150000000", Min: new(0.0), Max: new(float64(math.MaxInt32)), Help: "bytes; a larger write-set is rolled back on its member before it is sent (0: no limit)"},
	{Name: pFCMode, Default: "QUOTA", Choices: []string{"QUOTA", "DISABLED"}, Help: "QUOTA: the 1-second quota loop throttles writers when any member's certifier or applier queue exceeds its threshold"},
	{Name: pFCCertThreshold, Default: "25000", Min: new(0.0), Max: new(float64(math.MaxInt32)), Help: "transactions waiting for certification on a member before flow control holds writers"},
	{Name: pFCApplyThreshold, Default: "25000", Min: new(0.0), Max: new(float64(math.MaxInt32)), Help: "remote transactions waiting in a member's applier queue before flow control holds writers"},
	{Name: pFCPeriod, Default: "1", Min: new(1.0), Max: new(60.0), Help: "seconds between flow-control steps and stats broadcasts (1-60)"},
	{Name: pFCHold, Default: "10", Min: new(0.0), Max: new(100.0), Help: "percent below the lagging member's pace that the quota is set while holding"},
	{Name: pFCRelease, Default: "50", Min: new(0.0), Max: new(1000.0), Help: "percent the quota grows per period once no member lags"},
	{Name: pFCMemberQuota, Default: "0", Min: new(0.0), Max: new(100.0), Help: "percent of the quota each writer gets; 0 splits it evenly between the members that wrote"},
	{Name: pFCMinQuota, Default: "0", Min: new(0.0), Max: new(float64(math.MaxInt32)), Help: "lowest quota while holding (0: 5% of the lower threshold)"},
	{Name: pFCMinRecovery, Default: "0", Min: new(0.0), Max: new(float64(math.MaxInt32)), Help: "lowest quota when only recovering members lag (0: none)"},
	{Name: pFCMaxQuota, Default: "0", Min: new(0.0), Max: new(float64(math.MaxInt32)), Help: "highest quota (0: none)"},
	{Name: pWorkers, Aliases: []string{"slave_parallel_workers"}, Default: "4", Min: new(0.0), Max: new(1024.0), Help: "parallel applier workers for remote transactions; they apply independent write-sets in parallel (write-set dependencies from the certifier) and commit in order (replica_preserve_commit_order=ON)"},
	{Name: pExpelTimeout, Default: "5", Min: new(0.0), Max: new(3600.0), Help: "seconds a member stays UNREACHABLE (after 5 s of silence) before the others expel it, 0-3600; expulsion is a view change and needs a majority. 8.0.21+ default; 0 before"},
	{Name: pUnreachableMaj, Default: "0", Min: new(0.0), Max: new(31536000.0), Help: "seconds a member without a majority waits before it rolls back its pending transactions and goes to ERROR; 0 waits for ever (commits on the minority side hang until the partition heals)"},
	{Name: pExitAction, Default: "READ_ONLY", Choices: []string{"READ_ONLY", "OFFLINE_MODE", "ABORT_SERVER"}, Help: "what a member in ERROR does once auto-rejoin is exhausted: READ_ONLY keeps serving (stale) reads and refuses writes with 1290 (8.0's default); OFFLINE_MODE refuses every transaction (3032, 8.4's default); ABORT_SERVER stops the server (every transaction fails as not ready)"},
	{Name: pAutorejoinTries, Default: "3", Min: new(0.0), Max: new(2016.0), Help: "times an expelled member (or one that hit unreachable_majority_timeout) tries to rejoin by itself, the first at once and the next gr_model_autorejoin_interval apart; during them it is ERROR and super_read_only. 8.0.21+ default; 0: only a manual rejoin (Provider.Rejoin, START GROUP_REPLICATION)"},
	{Name: pMemberWeight, Default: "50", Min: new(0.0), Max: new(100.0), Help: "0-100; when the primary leaves, the ONLINE member with the highest weight becomes primary, ties going to the lowest server_uuid (the raft leader then hands leadership to it). Set it per node: --param n2:group_replication_member_weight=80"},
	{Name: pRejoinInterval, Default: "300s", Min: new(0.001), Help: "model: time between auto-rejoin attempts (the server's compile-time 5 minutes)"},
	{Name: pGTIDBroadcast, Default: "60s", Help: "model: how often each member broadcasts gtid_executed so the certifier can drop entries every member has committed (MySQL's compile-time BROADCAST_GTID_EXECUTED_PERIOD, 60 s); the sweep is the cause of the periodic dip of bug #84774"},
	{Name: pRaftTick, Default: "100ms", Min: new(0.001), Help: "model: one raft tick; the leader heartbeats every tick"},
	{Name: pRaftElectionTicks, Default: "50", Min: new(3.0), Max: new(float64(math.MaxInt32)), Help: "model: raft ticks without a leader before a member campaigns, and without a majority before a leader steps down (CheckQuorum): 50 x 100 ms = 5 s, GR's suspicion timeout. Keep it well above the slowest round trip"},
	{Name: pMessageCacheSize, Default: "1073741824", Min: new(4096.0), Max: new(4611686018427387904.0), Help: "bytes of agreed messages each member keeps for members that fall behind (the XCom cache); a member whose gap is beyond it rejoins by clone (database, certifier and view from a donor). MySQL's minimum is 134217728; the model accepts less so that tests can force a clone"},
}

// CheckParams enforces the rules between parameters that the server's own variable checks
// refuse, on one node's resolved parameters (each value already within its range): with a
// maximum quota set (group_replication_flow_control_max_quota > 0), neither the minimum
// quota nor the minimum recovery quota may exceed it. The harness runs it before any node
// starts (protocols.Protocol.Check).
func CheckParams(p protocols.Params) error {
	maxQ := p.Int(pFCMaxQuota)
	if maxQ == 0 {
		return nil
	}
	for _, name := range []string{pFCMinQuota, pFCMinRecovery} {
		if v := p.Int(name); v > maxQ {
			return fmt.Errorf("group-replication: %s (%d) cannot be larger than %s (%d): lower it, or raise %s (0 means no maximum)",
				name, v, pFCMaxQuota, maxQ, pFCMaxQuota)
		}
	}
	return nil
}

// Notes says where the model departs from MySQL; `replbench params gr` prints it.
const Notes = `Agreement is etcd raft (go.etcd.io/raft/v3 v3.6, CheckQuorum and PreVote) standing in for XCom.
Both commit at a majority, so a slow minority costs nothing; but XCom lets every member order its
own messages, while raft sends every proposal through the leader. In multi-primary mode a write on
a member that is not the raft leader pays an extra forwarding hop (about one one-way delay to the
leader, plus the leader's majority round trip); XCom would not. Single-primary keeps the primary
on the raft leader (n1 campaigns at start), which matches XCom's single-leader mode
(group_replication_paxos_single_leader=ON) and has no extra hop.
Certification, GTID blocks, write-set dependencies, flow control, the gtid_executed garbage
collection and the consistency levels follow the server. GTID sets are represented by the prefix
of the agreed order they equal, which is exact because every member commits in that order.
Failures: a member silent for 5 s is UNREACHABLE, and expelled member_expel_timeout later by a
view change agreed through the log; a member that learns it was expelled (or hits
unreachable_majority_timeout) goes to ERROR and super_read_only, rolls back what is pending, and
auto-rejoins: it catches up from the agreed log (incremental recovery from a donor's binlog) as
RECOVERING, then goes ONLINE. A new primary is elected from the view (member_weight, then lowest
server_uuid) and the raft leader hands leadership to it. Differences from XCom: raft's voters stay
fixed, so after an expulsion raft still counts the expelled member in its majority (identical for
3 members; with 5 members and 2 expelled, raft needs all 3 survivors where XCom needs 2 of 3);
the notifier campaigns for raft leadership as soon as it suspects the leader (5 s), so the raft
leader moves before the GR primary does (10 s) and then hands leadership to the elected primary. A member whose gap is beyond
group_replication_message_cache_size rejoins by clone (the donor pauses while it snapshots,
where the real clone copies while the donor works). Not modelled: preemptive GC, fragmentation and compression, the XCom event horizon.`

func init() {
	protocols.Register(protocols.Protocol{
		Name:     "group-replication",
		Aliases:  []string{"gr"},
		Summary:  "MySQL Group Replication: majority agreement (etcd raft), certification everywhere, single- or multi-primary",
		Notes:    Notes,
		Params:   Params,
		MinNodes: 1,
		MaxNodes: 9,
		Check:    CheckParams,
		New:      New,
	})
}
