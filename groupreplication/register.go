package groupreplication

import "github.com/replbench/replbench/protocols"

// Notes says where the model departs from MySQL; `replbench params gr` prints it.
const Notes = `Agreement is etcd raft (go.etcd.io/raft/v3 v3.6, CheckQuorum and PreVote) standing in for XCom.
Both commit at a majority, so a slow minority costs nothing; but XCom lets every member order its
own messages, while raft sends every proposal through the leader. In multi-primary mode a write on
a member that is not the raft leader pays an extra forwarding hop (about one one-way delay to the
leader, plus the leader's majority round trip); XCom would not. Single-primary keeps the primary
on the raft leader (n1 campaigns at start), which matches XCom's single-leader mode
(group_replication_paxos_single_leader=ON) and has no extra hop. Raft forwards a follower's proposal
to the leader once; a lost one is gone. XCom retries its instances until decided, so the model keeps
each proposal until the log delivers it and sends it again when overdue (timed on the member's own
ordering latency as TCP times retransmissions, doubling up to the 5 s suspicion window).
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
where the real clone copies while the donor works). Each member persists its agreed log in its engine
(synced as the binlog); after a stop, kill or crash it replays it, skips what its engine kept, catches
up from the leader and rejoins as a new incarnation (refused under innodb_flush_log_at_trx_commit=0).
As in the server, the old incarnation stays UNREACHABLE until it is expelled (a new primary is
elected if it was the primary) and the new one joins only then; messages the old one had in flight
are dropped. The raft peer stays the member's host, not its incarnation: between the restart and
the expulsion raft counts the new incarnation's acknowledgements, where XCom's configuration holds a
dead incarnation. A clean stop of one member leaves the group (STOP GROUP_REPLICATION: its own removal,
agreed like any view change, so no suspicion or expel wait; its restart joins at once). XCom's
event horizon and 10 proposers are modelled: at most min(group_replication_write_concurrency, 10)
instances in flight per member, each batching what waited for it. Not modelled: preemptive GC,
fragmentation and compression, group_replication_clone_threshold.`

func init() {
	protocols.Register(protocols.Protocol{
		Name:     "group-replication",
		Aliases:  []string{"gr"},
		Summary:  "MySQL Group Replication: majority agreement (etcd raft), certification everywhere, single- or multi-primary",
		Notes:    Notes,
		Params:   Params,
		MinNodes: 1,
		MaxNodes: 9,
		Parse:    ParseSettings,
		New:      New,
		Rejoins:  true, // driver_restart.go
		Flavors: []protocols.Flavor{
			{Name: "mysql-8.0", Summary: "MySQL 8.0 (the default and only flavour): binlog ordered_commit after certification, sync_binlog=1; costs from gr-mysql-8.0, derived from the MariaDB 10.11 single-node calibration (not a GR measurement)", Profile: "gr-mysql-8.0"},
		},
	})
}
