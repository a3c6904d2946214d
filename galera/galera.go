// Package galera is the Galera model, registered as protocol "galera": EVS-style total
// order with SAFE (all-member) delivery (package gcs), deterministic certification (package
// cert), appliers that apply non-conflicting write-sets in parallel while every commit,
// local or remote, happens in global seqno order (the apply and commit monitors), flow
// control that lets one slow node pace the whole cluster, and the wsrep_* status variables.
//
// The provider is a thin driver around the two state machines: one goroutine owns the EVS
// and the certifier (it is Galera's local monitor: certification is serial, in delivery
// order), a ticker feeds it time, wsrep_slave_threads applier goroutines take certified
// remote write-sets in order, and client goroutines block in Replicate until their own
// write-set comes back in total order. Nothing in the hot path runs a goroutine per message.
package galera

import (
	"fmt"
	"math"

	"github.com/replbench/replbench/protocols"
)

// Parameter names, under their real names (MariaDB server options and provider options).
const (
	ParamSlaveThreads       = "wsrep_slave_threads"
	ParamRetryAutocommit    = "wsrep_retry_autocommit"
	ParamSyncWait           = "wsrep_sync_wait"
	ParamAutoIncControl     = "wsrep_auto_increment_control"
	ParamKeepalive          = "evs.keepalive_period"
	ParamCausalKeepalive    = "evs.causal_keepalive_period"
	ParamUserSendWindow     = "evs.user_send_window"
	ParamSendWindow         = "evs.send_window"
	ParamUseAggregate       = "evs.use_aggregate"
	ParamFCLimit            = "gcs.fc_limit"
	ParamFCFactor           = "gcs.fc_factor"
	ParamFCSinglePrimary    = "gcs.fc_single_primary"
	ParamMaxPacket          = "gcs.max_packet_size"
	ParamCertMaxLength      = "cert.max_length"
	ParamCertLengthCheck    = "cert.length_check"
	ParamCertOptimisticPA   = "cert.optimistic_pa"
	ParamCommitOrder        = "repl.commit_order"
	ParamCausalReadTimeout  = "repl.causal_read_timeout"
	ParamRetransmitInterval = "replbench.evs_tick"
	ParamSuspectTimeout     = "evs.suspect_timeout"
	ParamInactiveTimeout    = "evs.inactive_timeout"
	ParamJoinRetrans        = "evs.join_retrans_period"
	ParamWeight             = "pc.weight"
	ParamGCacheSize         = "gcache.size"
)

// Params lists every parameter the model implements, with the real default.
var Params = []protocols.Param{
	{Name: ParamSlaveThreads, Aliases: []string{"wsrep_applier_threads"}, Default: "1", Min: new(1.0), Max: new(512.0), Help: "applier threads: remote write-sets whose depends_seqno has committed apply in parallel; commits stay in seqno order (wsrep_applier_threads in MySQL 8.0.26+)"},
	{Name: ParamRetryAutocommit, Default: "1", Min: new(0.0), Max: new(10000.0), Help: "times an autocommit statement that failed certification is re-run before the client sees 1213; the harness's client loop re-runs the statement as the server would (the client sees only the latency) and counts autocommit_retries"},
	{Name: ParamSyncWait, Default: "0", Min: new(0.0), Max: new(15.0), Help: "causal-read bitmask: 1 reads and BEGIN, 2 UPDATE/DELETE, 4 INSERT/REPLACE (8 SHOW is not modelled); a wait costs a causal token through the total order (about one RTT unless a causal keepalive is recent) plus applying what was ordered before it"},
	{Name: ParamAutoIncControl, Default: "ON", Help: "set auto_increment_increment to the cluster size and auto_increment_offset to the node index + 1"},
	{Name: ParamKeepalive, Default: "1s", Help: "idle nodes send an empty EVS message this often (real default PT1S)"},
	{Name: ParamCausalKeepalive, Default: "1s", Help: "a causal read is answered without a round trip if this node sent a causal keepalive within this period (real default: evs.keepalive_period)"},
	{Name: ParamUserSendWindow, Default: "2", Min: new(1.0), Max: new(float64(math.MaxInt32)), Help: "a fresh write-set is sent at once only if its seq is within safe_seq + this window"},
	{Name: ParamSendWindow, Default: "4", Min: new(1.0), Max: new(float64(math.MaxInt32)), Help: "queued write-sets are sent while within safe_seq + this window"},
	{Name: ParamUseAggregate, Default: "true", Help: "aggregate queued small actions into one EVS message (up to gcs.max_packet_size)"},
	{Name: ParamFCLimit, Default: "16", Min: new(1.0), Max: new(float64(math.MaxInt32)), Help: "flow control: a node whose receive queue exceeds round(fc_limit*sqrt(N)) sends STOP and every writer in the cluster pauses"},
	{Name: ParamFCFactor, Default: "1.0", Min: new(0.0), Max: new(1.0), Help: "flow control: CONT is sent when the receive queue falls to upper*fc_factor (the source's default is 1.0; one doc page says 0.5)"},
	{Name: ParamFCSinglePrimary, Default: "false", Help: "flow control: do not scale gcs.fc_limit by sqrt(N) (gcs.fc_master_slave)"},
	{Name: ParamMaxPacket, Default: "64500", Min: new(1.0), Max: new(float64(math.MaxInt32)), Help: "bytes of actions aggregated into one EVS message (actions are not fragmented in the model)"},
	{Name: ParamCertMaxLength, Default: "16384", Min: new(1.0), Max: new(float64(math.MaxInt32)), Help: "a write-set ordered more than this many positions after its last_seen fails certification; also the certification window's length"},
	{Name: ParamCertLengthCheck, Default: "127", Min: new(0.0), Max: new(float64(math.MaxInt32)), Help: "the certification window's length is checked every this many positions (a mask: 127 means every 128)"},
	{Name: ParamCertOptimisticPA, Default: "true", Help: "when off, every write-set also depends on its last_seen, which serialises parallel apply more"},
	{Name: ParamCommitOrder, Default: "3", Choices: []string{"0", "1", "2", "3"}, Help: "0 BYPASS, 1 OOOC (commit out of order), 2 LOCAL_OOOC (local commits out of order), 3 NO_OOOC (every commit in seqno order)"},
	{Name: ParamCausalReadTimeout, Default: "30s", Help: "a causal wait (wsrep_sync_wait) that takes longer fails with 1205 (real default PT30S)"},
	{Name: ParamSuspectTimeout, Default: "5s", Help: "a peer silent this long is suspected; it leaves the view once every remaining member suspects it (real default PT5S; keepalives must come at least three times as often)"},
	{Name: ParamInactiveTimeout, Default: "15s", Help: "a view change without agreement this long declares the disagreeing peers inactive, unilaterally (real default PT15S)"},
	{Name: ParamJoinRetrans, Default: "1s", Help: "JOIN messages are repeated this often while a view change gathers (real default PT1S)"},
	{Name: ParamWeight, Default: "1", Min: new(0.0), Max: new(255.0), Help: "this node's weight in the quorum rule 2*w(kept) + w(left gracefully) > w(last primary component); 0..255"},
	{Name: ParamGCacheSize, Default: "128M", Help: "bytes of recent write-sets kept for IST; a rejoining node whose gap reaches past them gets an SST (a full snapshot) instead"},
	{Name: ParamRetransmitInterval, Default: "100ms", Min: new(0.001), Help: "model-only: the EVS timer tick; keepalives and loss recovery run on it (retransmission after ten ticks without progress)"},
}

// CheckParams enforces the rules between parameters that Galera's own configuration check
// refuses, on one node's resolved parameters (each value is already within its range):
// evs.user_send_window at most evs.send_window, evs.keepalive_period at most a third of
// evs.suspect_timeout (or peers are suspected between keepalives), evs.inactive_timeout
// not shorter than evs.suspect_timeout, and a gcache.size that parses as a size. The
// harness runs it before any node starts (protocols.Protocol.Check); New runs it too.
func CheckParams(p protocols.Params) error {
	if u, s := p.Int(ParamUserSendWindow), p.Int(ParamSendWindow); u > s {
		return fmt.Errorf("galera: %s (%d) must not exceed %s (%d): raise %s or lower %s",
			ParamUserSendWindow, u, ParamSendWindow, s, ParamSendWindow, ParamUserSendWindow)
	}
	if p.Duration(ParamInactiveTimeout) < p.Duration(ParamSuspectTimeout) {
		return fmt.Errorf("galera: %s (%s) must not be shorter than %s (%s)",
			ParamInactiveTimeout, p.String(ParamInactiveTimeout), ParamSuspectTimeout, p.String(ParamSuspectTimeout))
	}
	if p.Duration(ParamKeepalive) > p.Duration(ParamSuspectTimeout)/3 {
		return fmt.Errorf("galera: %s (%s) must be at most a third of %s (%s), or peers are suspected between keepalives",
			ParamKeepalive, p.String(ParamKeepalive), ParamSuspectTimeout, p.String(ParamSuspectTimeout))
	}
	if _, err := parseSize(p.String(ParamGCacheSize)); err != nil {
		return fmt.Errorf("galera: %s: %w", ParamGCacheSize, err)
	}
	return nil
}

const notes = `Departures from the real Galera 4 provider:
- Membership: every node starts SYNCED in one primary component of all members (no
  bootstrap or join sequence, no gvwstate.dat). A peer silent for evs.suspect_timeout
  starts a view change (JOIN/INSTALL, simplified: no transitional view is reported, no
  DELAYED_LIST or auto-evict); a node outside the view that is heard again merges back.
  The new view delivers the old view's messages up to a cut all its members have, so no
  write-set is delivered on one side of a partition and not the other. The quorum rule
  2*w(kept) + w(left) > w(last primary) decides the primary component (pc.weight; Close
  is a graceful leave); a non-primary node answers 1047 and its in-flight transactions
  fail. pc.ignore_sb, pc.ignore_quorum, pc.npvo and pc.bootstrap are not modelled, and an
  asymmetric partition ends only when evs.inactive_timeout drops the disagreeing peers.
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
		Check:    CheckParams,
		New:      New,
	})
}
