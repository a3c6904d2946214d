package semisync

import "github.com/replbench/replbench/protocols"

func init() {
	protocols.Register(protocols.Protocol{
		Name:    "semisync",
		Aliases: []string{"semi-sync", "semisynchronous"},
		Summary: "MySQL semi-sync: source n1 waits for wait_for_slave_count relay-log acks per binlog group; 10 s timeout falls back to async",
		Notes: "n1 is the source and the only writer; replicas refuse writes with 1290. " +
			"The binlog group commit is each flavour's: MySQL's ordered_commit stages (flush under LOCK_log, sync under LOCK_sync, commit under LOCK_commit, each leader taking its stage's whole queue; AFTER_SYNC waits in the commit stage, so later groups flush and sync meanwhile and merge into the next commit group), MariaDB's trx_group_commit_leader (the AFTER_SYNC wait under LOCK_after_binlog_sync, taken before LOCK_log is released, so a third group cannot write while one waits). " +
			"Under the cost profile each group's flush (MySQL: the prepared transactions' redo fsync, then binlog_write_us per transaction and group_commit_us) and sync (binlog_fsync_us with sync_binlog=1) queue on the source's CPU and log devices; MariaDB flushes the redo at each prepare (group-committed), and the engine commit costs engine_us in binlog order; events leave the source once synced. " +
			"binlog_group_commit_sync_delay holds MySQL's sync stage. " +
			"semisync.serialized=true holds the binlog lock from the write through the ack (5.5/5.6 behaviour as the documents describe it), so the source commits at most once per round trip. " +
			"Under AFTER_SYNC yes_tx/no_tx count ack waits, i.e. binlog groups, as commitTrx does; under AFTER_COMMIT they count transactions. " +
			"A dump stream is never broken by a partition (TCP would retransmit); events lost by the emulator are re-requested by the replica from its relay-log position, and a heartbeat sent while a session waits asks a caught-up replica to ack again, so a lost ack costs about semisync.heartbeat_period rather than the timeout. " +
			"The whole binlog stays in memory for the run (no purge); the source also writes it to a file of its own on the node's crash-testing filesystem, fsynced every sync_binlog-th group (never with 0) and written back by the OS once vm.dirty_expire_centisecs old, so a crash keeps what those say apart from innodb_flush_log_at_trx_commit, and a restarted source recovers by the XA rule (prepared and in the binlog commits, prepared and not rolls back; a replica that needs an event the engine committed but the binlog lost, or that holds events a truncated binlog lacks, is refused and its I/O thread stops with error 1236, Last_IO_Error in its status). Under a cost profile a replica's ack leaves after its relay-log write and ack CPU (relay_write_us per event, replica_ack_us per ack), in order on the link. " +
			"A session whose context ends while it waits for an ack (a killed query) stops waiting: its transaction is in the binlog, so it still commits in the engine, in binlog order, and the client gets 1317; under AFTER_SYNC any member's kill ends its group's wait (MySQL: the group leader's), and the wait counts as no_tx.",
		Params:   SemiSyncParams,
		Parse:    ParseSettings,
		MinNodes: 2,
		New:      New,
		Rejoins:  true, FixedSource: true, // driver_restart.go
		Flavors: []protocols.Flavor{
			{Name: "mysql-8.0", Summary: "MySQL 8.0 (the default): ordered_commit's flush/sync/commit stages, AFTER_SYNC under LOCK_commit, rpl_semi_sync_master_wait_for_slave_count, sync_binlog=1; costs from semisync-mysql-8.0, derived from the MariaDB 10.11 single-node measurements (not a MySQL measurement)", Profile: "semisync-mysql-8.0"},
			{Name: "mysql-5.7", Summary: "MySQL 5.7: the same pipeline and defaults as 8.0 for what the model covers; costs from semisync-mysql-8.0 (derived, as for 8.0)", Profile: "semisync-mysql-8.0"},
			{Name: "mariadb-10.11", Summary: "MariaDB 10.11: trx_group_commit_leader (the AFTER_SYNC wait under LOCK_after_binlog_sync, so a third group cannot write meanwhile), waits AFTER_COMMIT by default, always for one ACK (no wait_for_slave_count), sync_binlog=0; costs from semisync-mariadb-10.11 (the measured mariadb-10.11 profile and the measured binlog fsync)",
				Defaults: map[string]string{ParamWaitPoint: "AFTER_COMMIT", ParamSyncBinlog: "0"}, Lacks: []string{ParamWaitCount, ParamOrderCommit, ParamSyncDelay, ParamNoDelayCnt}, Profile: "semisync-mariadb-10.11"},
		},
	})
	protocols.Register(protocols.Protocol{
		Name:    "async",
		Aliases: []string{"asynchronous"},
		Summary: "MySQL asynchronous replication: source n1 ships binlog events, replicas apply them, commit never waits",
		Notes: "The same source and replicas as semisync without the ack wait. n1 is the only writer; replicas refuse writes with 1290. " +
			"The binlog is in memory and there is no fsync. Events lost by the emulator are re-requested by the replica from its relay-log position.",
		Params:   AsyncParams,
		Parse:    ParseAsyncSettings,
		MinNodes: 2,
		New:      New,
		Rejoins:  true, FixedSource: true, // driver_restart.go
		// The servers async stands for: the same binlog pipelines and cost profiles as
		// semisync's flavours (nothing waits for a replica, so only the binlog group commit
		// and its costs differ between them).
		Flavors: []protocols.Flavor{
			{Name: "mysql-8.0", Summary: "MySQL 8.0 (the default): ordered_commit's stages, sync_binlog=1; costs from semisync-mysql-8.0 (derived from the MariaDB 10.11 single-node measurements)", Profile: "semisync-mysql-8.0"},
			{Name: "mysql-5.7", Summary: "MySQL 5.7: as 8.0 for what the model covers; costs from semisync-mysql-8.0", Profile: "semisync-mysql-8.0"},
			{Name: "mariadb-10.11", Summary: "MariaDB 10.11: trx_group_commit_leader, sync_binlog=0; costs from semisync-mariadb-10.11 (measured)",
				Defaults: map[string]string{ParamSyncBinlog: "0"}, Lacks: []string{ParamSyncDelay, ParamNoDelayCnt}, Profile: "semisync-mariadb-10.11"},
		},
	})
}
