// Package membership is Group Replication's view of who is in the group: the failure
// detector every member runs locally (Detector) and the group view every member derives
// from the agreed log (View), with the deterministic primary election over it.
//
// The split follows the server. Suspicion is local: a member that has heard nothing from a
// peer for 5 s shows it as UNREACHABLE, and the others may not agree. Expulsion is not: it
// is a view change, proposed by one member (the notifier) once the peer has been suspected
// for group_replication_member_expel_timeout, and it takes effect only when a majority has
// agreed it in the log. A minority therefore cannot expel anyone; it can only wait
// (group_replication_unreachable_majority_timeout 0, the default) or give up after that
// timeout. Because the view changes only through the log, every member that processes the
// log sees the same views in the same order and elects the same primary.
//
// Both types are plain state machines: time comes in as an argument, nothing here starts a
// goroutine or reads a clock, so tests drive them step by step.
package membership
