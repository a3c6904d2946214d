package semisync

import (
	"fmt"
	"strings"
	"time"

	"github.com/replbench/replbench/protocols"
)

// Settings is one node's source/replica parameters, resolved once (protocols.Protocol.Resolve
// runs ParseSettings or ParseAsyncSettings) and read by the provider, the bounds
// (harness/law) and the results alike, so that a parameter cannot mean one thing to the
// replication and another to its bound. Units are converted here from the server's own
// (milliseconds for the timeout, microseconds for the sync delay), once. Build it with
// ParseSettings (semisync) or ParseAsyncSettings (async), never by hand.
type Settings struct {
	// SemiSync is true for protocol semisync: a commit waits for replica acks. Async's
	// settings have it false and the ack-wait fields at their zero values.
	SemiSync bool
	// WaitPoint is rpl_semi_sync_master_wait_point.
	WaitPoint WaitPoint
	// WaitCount is rpl_semi_sync_master_wait_for_slave_count: the acks a commit needs, so
	// the k-th fastest replica's round trip sets the commit's cost.
	WaitCount int
	// Timeout is rpl_semi_sync_master_timeout.
	Timeout time.Duration
	// WaitNoSlave is rpl_semi_sync_master_wait_no_slave.
	WaitNoSlave bool
	// Serialized is semisync.serialized: every commit waits alone, holding the binlog lock
	// through the ack (5.5/5.6), so the whole source commits once per round trip.
	Serialized bool
	// OrderCommits is binlog_order_commits (MySQL): see SourceConfig.OrderCommits.
	OrderCommits bool

	// Workers is replica_parallel_workers (0: the coordinator applies, one at a time).
	Workers int
	// PreserveOrder is replica_preserve_commit_order: replicas commit in binlog order.
	PreserveOrder bool
	// HistorySize is binlog_transaction_dependency_history_size.
	HistorySize int
	// SyncDelay is binlog_group_commit_sync_delay.
	SyncDelay time.Duration
	// SyncNoDelayCount is binlog_group_commit_sync_no_delay_count (0: no limit).
	SyncNoDelayCount int
	// SyncBinlog is sync_binlog=1: each binlog group is fsynced in the sync stage.
	SyncBinlog bool
	// SyncPeriod is sync_binlog's N: the binlog is fsynced after every N-th group (0:
	// never by the server).
	SyncPeriod int
	// DirtyExpire and DirtyWriteback are vm.dirty_expire_centisecs and
	// vm.dirty_writeback_centisecs: the OS writes unsynced binlog bytes back once they
	// are DirtyExpire old, at its flusher's next wake-up (every DirtyWriteback; 0: never).
	DirtyExpire, DirtyWriteback time.Duration
	// Pipeline is the flavour's binlog group commit: MariaDB's trx_group_commit_leader for
	// replbench.flavor mariadb-*, else MySQL's ordered_commit.
	Pipeline Pipeline
	// Heartbeat is semisync.heartbeat_period: the dump stream's heartbeat and the replica's
	// re-request interval.
	Heartbeat time.Duration
	// ConnectRetry is source_connect_retry: how often a replica retries an unanswered
	// dump request.
	ConnectRetry time.Duration

	params protocols.Params
}

// ParseSettings builds protocol semisync's Settings from one node's resolved parameters
// (each within its declared range; no rule ties two of them together). It is the protocol's
// registered Parse.
func ParseSettings(p protocols.Params) (protocols.Settings, error) {
	s, err := parseCommon(p)
	if err != nil {
		return nil, err
	}
	s.SemiSync = true
	s.Timeout = time.Duration(p.Int(ParamTimeout)) * time.Millisecond
	s.WaitCount = int(p.Int(ParamWaitCount))
	s.WaitNoSlave = p.Bool(ParamWaitNoSlave)
	s.Serialized = p.Bool(ParamSerialized)
	s.OrderCommits = p.Bool(ParamOrderCommit)
	switch wp := p.String(ParamWaitPoint); {
	case strings.EqualFold(wp, AfterCommit.String()):
		s.WaitPoint = AfterCommit
	case strings.EqualFold(wp, AfterSync.String()):
		s.WaitPoint = AfterSync
	default:
		return nil, fmt.Errorf("semisync: %s: invalid value %q (accepted: AFTER_SYNC, AFTER_COMMIT)", ParamWaitPoint, wp)
	}
	return s, nil
}

// ParseAsyncSettings builds protocol async's Settings: the common parameters only, and no
// ack wait. It is the protocol's registered Parse.
func ParseAsyncSettings(p protocols.Params) (protocols.Settings, error) {
	return parseCommon(p)
}

func parseCommon(p protocols.Params) (*Settings, error) {
	return &Settings{
		Workers:          int(p.Int(ParamWorkers)),
		PreserveOrder:    p.Bool(ParamPreserve),
		HistorySize:      int(p.Int(ParamHistory)),
		SyncDelay:        time.Duration(p.Int(ParamSyncDelay)) * time.Microsecond,
		SyncNoDelayCount: int(p.Int(ParamNoDelayCnt)),
		Heartbeat:        p.Duration(ParamHeartbeat),
		ConnectRetry:     p.Duration(ParamConnRetry),
		SyncBinlog:       p.Int(ParamSyncBinlog) == 1,
		SyncPeriod:       int(p.Int(ParamSyncBinlog)),
		DirtyExpire:      time.Duration(p.Int(ParamDirtyExpire)) * 10 * time.Millisecond,
		DirtyWriteback:   time.Duration(p.Int(ParamDirtyWB)) * 10 * time.Millisecond,
		Pipeline:         pipelineOf(p.String(protocols.FlavorParam)),
		params:           p,
	}, nil
}

// pipelineOf is the group commit of a flavour: MariaDB's for mariadb-*, MySQL's for the
// rest (and for async, which has no flavours).
func pipelineOf(flavor string) Pipeline {
	if strings.HasPrefix(strings.ToLower(flavor), "mariadb") {
		return PipelineMariaDB
	}
	return PipelineMySQL
}

// DefaultSettings returns the settings of a node with every parameter at its default: of
// semisync when semi, else of async.
func DefaultSettings(semi bool) *Settings {
	defs, parse := AsyncParams, ParseAsyncSettings
	if semi {
		defs, parse = SemiSyncParams, ParseSettings
	}
	s, err := protocols.ResolveSettings(defs, parse, nil)
	if err != nil {
		panic("semisync: the defaults fail: " + err.Error()) // Register refuses such a list first
	}
	return s.(*Settings)
}

// Params implements protocols.Settings: the resolved values under their real names.
func (s *Settings) Params() protocols.Params { return s.params }

// SourceConfig is the source state machine's configuration for these settings, with the
// given replicas.
func (s *Settings) SourceConfig(replicas []string) SourceConfig {
	return SourceConfig{
		Replicas:         replicas,
		SemiSync:         s.SemiSync,
		WaitPoint:        s.WaitPoint,
		WaitCount:        s.WaitCount,
		Timeout:          s.Timeout,
		WaitNoSlave:      s.WaitNoSlave,
		Serialized:       s.Serialized,
		UnorderedCommits: !s.OrderCommits,
		HeartbeatPeriod:  s.Heartbeat,
		HistorySize:      s.HistorySize,
		SyncDelay:        s.SyncDelay,
		SyncNoDelayCount: s.SyncNoDelayCount,
		Pipeline:         s.Pipeline,
	}
}

// ApplierWorkers is how many transactions a replica applies at once: replica_parallel_workers,
// or 1 when it is 0 (the coordinator applies them itself).
func (s *Settings) ApplierWorkers() int { return max(s.Workers, 1) }
