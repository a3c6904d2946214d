// Package semisync models MySQL's source/replica replication: plain asynchronous
// replication (protocol "async") and semi-synchronous replication (protocol "semisync"),
// which share one source and one replica machinery and differ only in whether a commit
// waits for a replica's acknowledgement.
//
// The first member (n1) is the source. It writes every transaction to an in-memory binlog
// (a position per transaction, group commit), streams the binlog to each replica over the
// bus (one dump stream per replica), and, under semi-sync, collects acks on an ack
// receiver. Replicas write each event to their relay log, ack it when the source asked
// for an ack, and apply the relay log with parallel workers ordered by the write-set
// dependencies the source computed; they refuse client writes with 1290.
//
// The protocol logic lives in two pure state machines, Source and Replica, in the style
// of etcd's raft: explicit inputs (client submissions, messages, ticks with the current
// time) and explicit outputs (messages to send, sessions to release), no goroutines and
// no clock inside (source*.go, replica.go, deps.go, wire.go; machines_test.go checks it).
// Provider is the driver that connects them to the bus, the storage engine and the time
// package (driver.go, and the replica's applier in driver_apply.go), so the same code runs
// in wall-clock time in the CLI, in virtual time (testing/synctest) in tests, where the
// latency claims are exact, and step by step in testdata/source.txt. A node's parameters
// arrive resolved, as Settings (settings.go), which the bounds (harness/law) read too.
//
// What the model keeps from the real system, because it decides the numbers:
//   - AFTER_SYNC waits once per binlog group, where each flavour's source waits: MySQL's
//     ordered_commit in the commit stage under LOCK_commit, so later groups flush and sync
//     (their events already travel) and merge into the next commit group; MariaDB's
//     trx_group_commit_leader under LOCK_after_binlog_sync, so the next group writes but
//     a third cannot until the ack comes. Either way about two groups complete per round
//     trip, and scaling with threads comes out of the queueing rather than being assumed.
//   - Each group's flush and sync cost service time from the node's cost profile, queued on
//     its CPU and log devices (driver_cost.go prices them; the machine keeps their ends as
//     deadlines, so it stays pure).
//   - AFTER_COMMIT commits first and then each session waits for its own position, so data
//     is visible on the source before any replica has it.
//   - semisync.serialized=true holds the binlog lock from the binlog write to the ack, the
//     behaviour of 5.5/5.6 the documents describe: the whole source commits at most once
//     per round trip, whatever the thread count.
//   - the timeout switches the source to async silently; it switches back only when an
//     ack reaches the newest written position.
//
// The dump stream survives loss and partitions: a replica that sees a gap, or a heartbeat
// announcing positions it lacks, re-requests the stream from its relay-log position, as a
// reconnecting replica does. The source keeps its whole binlog in memory for that.
package semisync
