package groupreplication

import (
	"fmt"
	"maps"
	"math"
	"strings"
	"time"

	"github.com/replbench/replbench/groupreplication/flowcontrol"
	"github.com/replbench/replbench/groupreplication/group"
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
	pMessageCacheSize  = "group_replication_message_cache_size"
	pSyncBinlog        = "sync_binlog"
	pWriteConcurrency  = "group_replication_write_concurrency"
)

// Params lists every parameter of the model with MySQL's default.
var Params = []protocols.Param{
	{Name: pSinglePrimary, Default: "ON", Help: "ON: n1 (the raft leader) is the only writer, secondaries refuse writes with 1290 (super_read_only) and certification skips conflict detection; OFF: multi-primary, every member writes, conflicts fail with 3101 and auto-increment moves to step 7 / offset server_id"},
	{Name: pConsistency, Default: "EVENTUAL", Choices: group.ConsistencyNames, Help: "EVENTUAL: commit once ordered and certified locally; BEFORE_ON_PRIMARY_FAILOVER: a new primary holds transactions until its backlog is applied; BEFORE: each transaction first orders a sync message and waits for the local applier (one ordering round + drain); AFTER: every member reports prepared through the group before anyone commits (slowest member's apply + one ordering round); BEFORE_AND_AFTER: both. 8.0's default; 8.4 defaults to BEFORE_ON_PRIMARY_FAILOVER"},
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
	{Name: pSyncBinlog, Default: "1", Choices: []string{"0", "1"}, Help: "1: the binlog group commit's sync stage fsyncs the binary log once per group (on the originator and on every applier, log_replica_updates=ON); 0: no binlog fsync. Only the service-time model reads it (--cost-profile none charges nothing either way)"},
	{Name: pWriteConcurrency, Default: "10", Min: new(10.0), Max: new(200.0), Help: "XCom's event horizon: a member's proposers never go beyond the last executed message plus this many (set in the server with SELECT group_replication_set_write_concurrency(N), 8.0.13+; fixed at 10 in 5.7). With XCom's 10 proposer tasks per member it caps the member's Paxos instances in flight at min(N, 10); each instance batches every message that waited for it, so with more clients than instances some commits wait for an instance: up to one more round trip"},
	{Name: pMessageCacheSize, Default: "1073741824", Min: new(4096.0), Max: new(4611686018427387904.0), Help: "bytes of agreed messages each member keeps for members that fall behind (the XCom cache); a member whose gap is beyond it rejoins by clone (database, certifier and view from a donor). MySQL's minimum is 134217728; the model accepts less so that tests can force a clone"},
}

// Settings are one member's Group Replication parameters, resolved once (ParseSettings):
// the provider, the bounds (harness/law) and the results all read these fields rather than
// the parameter strings, so a parameter cannot mean one thing to the model and another to
// its bound. Durations are converted from the server's seconds; counts are the server's
// own units.
type Settings struct {
	// SinglePrimary is group_replication_single_primary_mode: one writer (kept on the raft
	// leader) and no conflict detection, or every member writes and certification decides.
	SinglePrimary bool
	// Consistency is group_replication_consistency, this member's sessions' level.
	Consistency group.Consistency
	// GTIDBlockSize is group_replication_gtid_assignment_block_size.
	GTIDBlockSize int64
	// AutoIncrementIncrement is group_replication_auto_increment_increment (multi-primary
	// only; the offset is server_id, member index + 1).
	AutoIncrementIncrement int64
	// TransactionSizeLimit is group_replication_transaction_size_limit in bytes (0: none).
	TransactionSizeLimit int64
	// FlowControl is the group_replication_flow_control_* settings the quota loop runs on.
	FlowControl flowcontrol.Config
	// FlowControlPeriod is group_replication_flow_control_period: between quota steps and
	// stats broadcasts.
	FlowControlPeriod time.Duration
	// ApplierWorkers is replica_parallel_workers, at least 1 (0 runs one worker, as the
	// server's single applier thread).
	ApplierWorkers int
	// GTIDExecutedPeriod is how often each member broadcasts gtid_executed for the
	// certifier's garbage collection (0: never).
	GTIDExecutedPeriod time.Duration
	// RaftTick is one tick of the agreement layer and of the failure detector.
	RaftTick time.Duration
	// RaftElectionTicks is raft's election timeout in ticks (the suspicion timeout).
	RaftElectionTicks int
	// MessageCacheSize is group_replication_message_cache_size in bytes: the agreed
	// messages kept for members that fall behind; beyond it a member rejoins by clone.
	MessageCacheSize uint64
	// ExpelTimeout is group_replication_member_expel_timeout.
	ExpelTimeout time.Duration
	// UnreachableMajorityTimeout is group_replication_unreachable_majority_timeout (0:
	// wait for ever).
	UnreachableMajorityTimeout time.Duration
	// ExitAction is group_replication_exit_state_action, upper case: READ_ONLY,
	// OFFLINE_MODE or ABORT_SERVER.
	ExitAction string
	// AutorejoinTries is group_replication_autorejoin_tries.
	AutorejoinTries int
	// AutorejoinInterval is the time between auto-rejoin attempts.
	AutorejoinInterval time.Duration
	// MemberWeight is group_replication_member_weight (0-100), for primary elections.
	MemberWeight int
	// WriteConcurrency is XCom's event horizon (group_replication_set_write_concurrency):
	// with the 10 proposers, min(it, 10) instances in flight per member (driver_horizon.go).
	WriteConcurrency int
	// SyncBinlog is sync_binlog=1: one binlog fsync per group commit (the cost model's
	// sync stage, driver_cost.go).
	SyncBinlog bool

	params protocols.Params
}

// Params implements protocols.Settings: the resolved values under their real names.
func (s *Settings) Params() protocols.Params { return s.params }

// ParseSettings builds a member's Settings from its parameters, as protocols.Resolve gives
// them (names not given take their defaults; every value is checked against its
// declaration), and enforces the rule between parameters that the server's own variable
// checks refuse: with a maximum quota set (group_replication_flow_control_max_quota > 0),
// neither the minimum quota nor the minimum recovery quota may exceed it. It is the
// protocol's registered Parse: the harness runs it for every node before any starts.
func ParseSettings(given protocols.Params) (protocols.Settings, error) {
	// The flavour and the cost profile are the registry's (declared by protocols.Register
	// for a protocol with flavours, resolved by Protocol.Resolve): keep them as given.
	rest, model := protocols.Params{}, protocols.Params{}
	for k, v := range given {
		if k == protocols.FlavorParam || k == protocols.CostProfileParam {
			model[k] = v
		} else {
			rest[k] = v
		}
	}
	p, err := protocols.Resolve(Params, rest)
	if err != nil {
		return nil, err
	}
	maps.Copy(p, model)
	if maxQ := p.Int(pFCMaxQuota); maxQ > 0 {
		for _, name := range []string{pFCMinQuota, pFCMinRecovery} {
			if v := p.Int(name); v > maxQ {
				return nil, fmt.Errorf("group-replication: %s (%d) cannot be larger than %s (%d): lower it, or raise %s (0 means no maximum)",
					name, v, pFCMaxQuota, maxQ, pFCMaxQuota)
			}
		}
	}
	s := &Settings{params: p}
	s.SinglePrimary = p.Bool(pSinglePrimary)
	if s.Consistency, err = group.ParseConsistency(p.String(pConsistency)); err != nil {
		return nil, err
	}
	s.GTIDBlockSize = p.Int(pBlockSize)
	s.AutoIncrementIncrement = p.Int(pAutoIncrement)
	s.TransactionSizeLimit = p.Int(pSizeLimit)
	s.FlowControl = flowcontrol.Config{
		Mode:               flowcontrol.Quota,
		CertifierThreshold: p.Int(pFCCertThreshold),
		ApplierThreshold:   p.Int(pFCApplyThreshold),
		HoldPercent:        p.Int(pFCHold),
		ReleasePercent:     p.Int(pFCRelease),
		MemberQuotaPercent: p.Int(pFCMemberQuota),
		MinQuota:           p.Int(pFCMinQuota),
		MinRecoveryQuota:   p.Int(pFCMinRecovery),
		MaxQuota:           p.Int(pFCMaxQuota),
		PurgeAfterSteps:    10,
	}
	if strings.EqualFold(p.String(pFCMode), string(flowcontrol.Disabled)) {
		s.FlowControl.Mode = flowcontrol.Disabled
	}
	s.FlowControlPeriod = time.Duration(p.Int(pFCPeriod)) * time.Second
	s.ApplierWorkers = max(int(p.Int(pWorkers)), 1)
	s.GTIDExecutedPeriod = p.Duration(pGTIDBroadcast)
	s.RaftTick = p.Duration(pRaftTick)
	s.RaftElectionTicks = int(p.Int(pRaftElectionTicks))
	s.MessageCacheSize = uint64(p.Int(pMessageCacheSize))
	s.ExpelTimeout = time.Duration(p.Int(pExpelTimeout)) * time.Second
	s.UnreachableMajorityTimeout = time.Duration(p.Int(pUnreachableMaj)) * time.Second
	s.ExitAction = strings.ToUpper(p.String(pExitAction))
	s.AutorejoinTries = int(p.Int(pAutorejoinTries))
	s.AutorejoinInterval = p.Duration(pRejoinInterval)
	s.MemberWeight = int(p.Int(pMemberWeight))
	s.SyncBinlog = p.Int(pSyncBinlog) == 1
	s.WriteConcurrency = int(p.Int(pWriteConcurrency))
	return s, nil
}

// DefaultSettings returns the settings of a member given no parameters: MySQL's defaults.
func DefaultSettings() *Settings {
	s, err := ParseSettings(nil)
	if err != nil {
		panic("groupreplication: the defaults fail: " + err.Error())
	}
	return s.(*Settings)
}
