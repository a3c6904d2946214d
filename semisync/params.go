package semisync

import (
	"math"

	"github.com/replbench/replbench/protocols"
)

// Parameter names. The rpl_semi_sync_master_* names are the pre-8.0.26 ones the documents
// use; 8.0.26+ spells them rpl_semi_sync_source_* with the same meaning and defaults.
const (
	ParamTimeout     = "rpl_semi_sync_master_timeout"
	ParamWaitPoint   = "rpl_semi_sync_master_wait_point"
	ParamWaitCount   = "rpl_semi_sync_master_wait_for_slave_count"
	ParamWaitNoSlave = "rpl_semi_sync_master_wait_no_slave"
	ParamWorkers     = "replica_parallel_workers"
	ParamHistory     = "binlog_transaction_dependency_history_size"
	ParamSerialized  = "semisync.serialized"
	ParamOrderCommit = "binlog_order_commits"
	ParamSyncDelay   = "binlog_group_commit_sync_delay"
	ParamNoDelayCnt  = "binlog_group_commit_sync_no_delay_count"
	ParamPreserve    = "replica_preserve_commit_order"
	ParamHeartbeat   = "semisync.heartbeat_period"
	ParamSyncBinlog  = "sync_binlog"
	ParamConnRetry   = "source_connect_retry"
	ParamDirtyExpire = "vm.dirty_expire_centisecs"
	ParamDirtyWB     = "vm.dirty_writeback_centisecs"
)

// commonParams are the parameters of both protocols: the binlog group commit, the
// dependency tracking and the replicas' appliers.
var commonParams = []protocols.Param{
	{Name: ParamSyncDelay, Default: "0", Min: new(0.0), Max: new(1000000.0), Help: "microseconds the binlog sync stage waits before syncing, so that more transactions join the group: one ack wait (semi-sync) then covers more commits, at the price of that much more latency per commit, since events reach the replicas only once synced (sync_binlog=1). Ignored with semisync.serialized."},
	{Name: ParamNoDelayCnt, Default: "0", Min: new(0.0), Max: new(100000.0), Help: "end the sync-stage wait early once this many transactions are queued (0: always wait the full binlog_group_commit_sync_delay)."},
	{Name: ParamSyncBinlog, Default: "1", Min: new(0.0), Max: new(float64(math.MaxUint32)), Help: "N: the binlog is fsynced after every N-th binlog group (MySQL's sync_counter counts groups; 1, the MySQL 5.7.7+ default, fsyncs each group before its events leave for the replicas, one binlog_fsync_us of the cost profile per synced group, shared by the group); 0 (MariaDB's default): never fsynced by the server, only written to the OS, which writes it back after vm.dirty_expire_centisecs. A crash of the machine loses what was neither fsynced nor written back, binlog events the engine may still have (a replica that needs them stops with 1236)."},
	{Name: ParamConnRetry, Aliases: []string{"master_connect_retry"}, Default: "100ms", Min: new(0.001), Help: "a replica's I/O thread retries an unanswered connection (dump request) this often: CHANGE REPLICATION SOURCE TO SOURCE_CONNECT_RETRY (MASTER_CONNECT_RETRY before 8.0.23), 60 s in MySQL and MariaDB. The testbed's default is 100ms, the model's heartbeat period, because its runs last seconds: with 60 s a replica whose source restarted would stay disconnected for the rest of the run. A stream that was answered and went silent is retried after two heartbeat periods (replica_net_timeout against the heartbeat)."},
	{Name: ParamDirtyExpire, Default: "3000", Min: new(0.0), Max: new(float64(math.MaxUint32)), Help: "the node's OS (Linux's default 3000, 30 s): written binlog bytes older than this many centiseconds are written back to disk by the kernel's flusher at its next wake-up (vm.dirty_writeback_centisecs), so a crash keeps them even when the server never fsynced them (sync_binlog 0 or N). Only the binlog file reads it; the engine's log follows innodb_flush_log_at_trx_commit."},
	{Name: ParamDirtyWB, Default: "500", Min: new(0.0), Max: new(float64(math.MaxUint32)), Help: "the node's OS (Linux's default 500, 5 s): the kernel's flusher wakes every this many centiseconds and writes back the dirty binlog bytes older than vm.dirty_expire_centisecs; 0 disables periodic writeback (a crash then loses every unsynced byte)."},
	{Name: ParamPreserve, Aliases: []string{"slave_preserve_commit_order"}, Default: "ON", Help: "replicas commit in binlog order (MySQL 8.0.27+ default); OFF lets a worker commit as soon as its write-set is applied, so a replica may briefly show a later transaction without an earlier independent one."},
	{Name: ParamWorkers, Aliases: []string{"slave_parallel_workers"}, Default: "4", Min: new(0.0), Max: new(1024.0), Help: "applier workers on each replica (MySQL 8.0.27+ default 4); 0 applies in the coordinator, one transaction at a time. Workers apply transactions in parallel after their write-set dependency and commit in binlog order (replica_preserve_commit_order=ON)."},
	{Name: ParamHistory, Default: "25000", Min: new(1.0), Max: new(1000000.0), Help: "rows the source remembers to compute write-set dependencies (binlog_transaction_dependency_tracking=WRITESET); when full it is cleared and parallelism on the replicas drops for a moment."},
	{Name: ParamHeartbeat, Default: "100ms", Min: new(0.001), Help: "model knob: how long a dump stream may stay silent before the source sends a heartbeat, and how long a replica waits before re-requesting an unanswered dump. A replica that learns from a gap or a heartbeat that it lost events re-requests from its relay-log position. MySQL's SOURCE_HEARTBEAT_PERIOD defaults to 30 s and a real partition is noticed by replica_net_timeout (60 s); the model is quicker so that runs converge promptly after a fault."},
}

// SemiSyncParams are the parameters of protocol semisync: the ack wait's, then the common ones.
var SemiSyncParams = append([]protocols.Param{
	{Name: ParamTimeout, Aliases: []string{"rpl_semi_sync_source_timeout"}, Default: "10000", Min: new(0.0), Max: new(float64(math.MaxUint32)), Help: "milliseconds a commit waits for acks before the source silently switches to async; it switches back when an ack reaches the newest written position."},
	{Name: ParamWaitPoint, Aliases: []string{"rpl_semi_sync_source_wait_point"}, Default: "AFTER_SYNC", Choices: []string{"AFTER_SYNC", "AFTER_COMMIT"}, Help: "AFTER_SYNC waits before the engine commit, once per binlog group, holding the commit-stage lock (nothing unacknowledged is visible); AFTER_COMMIT commits first and each session then waits for its own ack."},
	{Name: ParamWaitCount, Aliases: []string{"rpl_semi_sync_source_wait_for_replica_count"}, Default: "1", Min: new(1.0), Max: new(65535.0), Help: "replica acks a commit needs: 1 means the fastest replica's round trip decides, N the N-th fastest's."},
	{Name: ParamWaitNoSlave, Aliases: []string{"rpl_semi_sync_source_wait_no_replica"}, Default: "ON", Help: "ON: with fewer connected replicas than wait_for_slave_count, commits still wait for the timeout; OFF: the source switches to async as soon as a replica disconnects below the count."},
	{Name: ParamOrderCommit, Default: "ON", Help: "MySQL: ON runs the commit stage, and AFTER_SYNC waits for the ack inside it holding LOCK_commit, so binlog groups do not overlap their waits; OFF skips the commit stage and the after-sync wait holds no stage mutex, so the next group flushes, syncs and waits at once (commits may then become visible out of binlog order). MariaDB has no such option."},
	{Name: ParamSerialized, Default: "false", Help: "model switch: true makes every commit wait alone, holding the binlog lock from the binlog write through the ack (MySQL 5.5/5.6 as the documents describe it); false is 5.7+ group commit, where one ack wait covers a whole binlog group."},
}, commonParams...)

// AsyncParams are the parameters of protocol async: the common ones only (no ack wait).
var AsyncParams = append([]protocols.Param(nil), commonParams...)
