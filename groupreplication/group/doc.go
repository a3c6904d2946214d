// Package group is Group Replication's group-state machine: what a member does with the
// agreed order of group messages, and with the local events around it.
//
// It holds the view, the primary, the certifier, flow control, the AFTER prepared
// positions, this member's state (ONLINE, RECOVERING, ERROR, OFFLINE) and its expel and
// rejoin decisions. It takes agreed messages (raft's committed entries, in order) and local
// events (a proposal, a tick, a backlog applied, a member suspected) and returns effects:
// verdicts for waiting clients, write-sets to apply, messages to propose, state changes,
// clone and recovery decisions, flow-control throttling. Every member that feeds its
// machine the same agreed sequence decides the same things, which is what keeps Group
// Replication's members identical without any other coordination.
//
// The machine has no goroutines, reads no clock (time comes in as ticks and as the
// instants a tick carries), takes no locks and knows nothing of the bus: the provider in
// the parent package is the driver that owns those. That split is what lets the
// interaction tests (testdata/) run a whole group of machines step by step.
package group
