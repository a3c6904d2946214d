// Package protocols is the replication contract: the wsrep idea written in Go.
//
// The DBMS side (package storage) executes a transaction optimistically on one node, under
// local row locks, and at COMMIT hands its write-set to a Provider. The provider orders,
// certifies and ships write-sets, tells the originator the outcome, and calls back into the
// storage Applier on every other node to apply remote write-sets in the same order.
//
// The contract is deliberately narrow so that protocols as different as Galera's
// certification over total-order broadcast, Group Replication's majority agreement and
// semi-sync's source/replica binlog can be swapped under identical storage and workloads:
//
//   - WriteSet: what a transaction changed (typed certification keys plus row after-images)
//     and the snapshot position it executed against.
//   - Provider: Replicate returns once the transaction's fate is decided locally, with a
//     Commit that runs the engine commit in the protocol's required order.
//   - Applier: implemented by storage; applies a certified remote write-set as a
//     brute-force applier that may abort conflicting local transactions.
//   - Error: MySQL's error numbers, so the harness can count aborts by cause the way a DBA
//     reads them in an application log.
//
// Nothing in this package knows any particular protocol; protocols register themselves
// (Register) and the harness looks them up by name.
package protocols
