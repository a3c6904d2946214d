// Package galera is the Galera model, registered as protocol "galera": EVS-style total
// order with SAFE (all-member) delivery (package gcs), deterministic certification (package
// cert), appliers that apply non-conflicting write-sets in parallel while every commit,
// local or remote, happens in global seqno order (the apply and commit monitors), flow
// control that lets one slow node pace the whole cluster, and the wsrep_* status variables.
//
// The layers, bottom up: package gcs is the group communication (EVS total order, views
// and quorum, flow control's arithmetic), package cert the certifier, package replicator the
// pure machine that ties them into Galera's replicator (what each delivery means: positions,
// verdicts, applies, flow control, state exchange and state transfer decisions), all three
// without goroutines, clocks or locks. This package is the driver around the machine: one
// loop goroutine owns it (loop.go; it is Galera's local monitor: certification is serial, in
// delivery order), a ticker feeds it time, wsrep_slave_threads applier goroutines take
// certified remote write-sets in order (appliers.go), and client goroutines block in
// Replicate until their own write-set comes back in total order (client.go). Nothing in the
// hot path runs a goroutine per message. Package galeratest replays clusters of machines
// step by step from scripts. Parameters are declared once (params.go) and resolved once into
// Settings (settings.go).
package galera

import "github.com/replbench/replbench/protocols"

const notes = `Departures from the real Galera 4 provider:
- Membership: every node starts SYNCED in one primary component of all members (no
  bootstrap or join sequence at the start). A peer silent for evs.suspect_timeout
  starts a view change (JOIN/INSTALL, simplified: no transitional view is reported, no
  DELAYED_LIST or auto-evict); a node outside the view that is heard again merges back.
  The new view delivers the old view's messages up to a cut all its members have, so no
  write-set is delivered on one side of a partition and not the other. The quorum rule
  2*w(kept) + w(left) > w(last primary) decides the primary component when some member
  comes from one (pc.weight; Close
  is a graceful leave); a non-primary node answers 1047 and its in-flight transactions
  fail; a member whose transitional configuration (the members coming with it from its
  old view) lacks that quorum delivers nothing more of the old view (handle_trans).
  pc.ignore_sb, pc.ignore_quorum and pc.npvo are not modelled, and an asymmetric
  partition ends only when evs.inactive_timeout drops the disagreeing peers. A restarted
  process is not heard while its old incarnation is still in the view: it merges once
  evs.suspect_timeout has excluded that one (is_msg_from_previous_view).
- After every node went down: with pc.recovery the view saved in gvwstate.dat is
  restored as the primary component only when all of its members, and no one else, meet
  again (pc_proto handle_reg): two of three restarted nodes stay non-primary (1047) until
  the third returns. Likewise components that all lost quorum re-form a primary one only
  when every member of the last one is back (is_prim). Without pc.recovery, or after a clean
  shutdown removed the file, the model carries out the operator's documented procedure
  once every node is back in one non-primary view: the node with safe_to_bootstrap: 1,
  else the highest recovered seqno, bootstraps (replbench_bootstrap says which and why).
  pc.bootstrap on a restarted node is refused without safe_to_bootstrap: 1.
- State transfer: after each primary view a state exchange in total order finds members
  whose history is behind; they ask for a transfer, every member picks the same donor
  (the lowest-index SYNCED one; no segment preference, no wsrep_sst_donor), which sends
  IST from a gcache of gcache.size bytes (evicted by size, not by the commit cut; the
  >>7 safety gap applies) or else SST (storage Snapshot/Restore, the donor's ordering
  blocked while it is taken) plus the cached write-sets to rebuild the certification
  index. The joiner queues live write-sets meanwhile, then goes JOINER -> JOINED ->
  SYNCED. A transfer lost to a new partition is not retried until the next view; JOINER
  flow control and the donor's desync window are not modelled, and primary configuration
  changes do not consume a seqno.
- EVS keeps its order (seq, node index), SAFE delivery, fills, send windows and
  aggregation; loss is recovered by gap requests and by resending unsafe messages after ten
  ticks without progress (replbench.evs_tick), not by the real retransmission timers. No
  fragmentation (gcs.max_packet_size only bounds aggregation) and no WAN segments.
- Certification keys are FLAT8 hashes of table/index/row with the table as a SHARED branch
  key; the zero-level key of write-set v6 is omitted.
- A client whose context ends while its write-set waits for total order returns at once
  (the real server keeps a killed COMMIT waiting): a write-set not yet sent is withdrawn;
  one already sent is certified and applied here like a remote one when it is delivered,
  so nodes stay identical, and until then later local transactions on its rows fail with
  1213 (replbench_detached_conflicts). After a brute-force abort it still waits.
- wsrep_retry_autocommit is reported, not executed: re-running a statement is the server's
  job. wsrep_sync_wait bit 8 (SHOW) is not modelled.
- Flow control counts write-sets, not bytes, and JOINER throttling is not modelled. A slow
  node is the storage parameter replbench.apply_delay set on one node
  (--param n3:replbench.apply_delay=2ms): flow control then paces every writer.`

func init() {
	protocols.Register(protocols.Protocol{
		Name:     "galera",
		Aliases:  []string{"pxc", "mariadb-galera"},
		Summary:  "Galera: total order with all-member (SAFE) delivery, certification, ordered commits, flow control",
		Notes:    notes,
		Params:   Params,
		MinNodes: 1,
		Parse:    ParseSettings,
		New:      New,
		Rejoins:  true, // restart.go
		Flavors: []protocols.Flavor{
			{Name: "mariadb-10.11", Summary: "MariaDB 10.11 with Galera 4 (the default): commit order released before the redo flush, cost profile measured on this machine type", Profile: "galera-4-mariadb-10.11"},
			{Name: "pxc-8.0", Summary: "Percona XtraDB Cluster 8.0: the same pipeline and, for want of a PXC measurement, the MariaDB Galera 4 cost profile", Profile: "galera-4-mariadb-10.11"},
		},
	})
}
