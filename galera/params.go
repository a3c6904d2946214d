package galera

import (
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
	ParamPCRecovery         = "pc.recovery"
	ParamPCBootstrap        = "pc.bootstrap"
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
	{Name: ParamFCSinglePrimary, Aliases: []string{"gcs.fc_master_slave"}, Default: "false", Help: "flow control: do not scale gcs.fc_limit by sqrt(N) (gcs.fc_master_slave)"},
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
	{Name: ParamPCRecovery, Default: "true", Help: "a node saves the primary view it is in to gvwstate.dat (removed on a clean shutdown), and after every node went down that view is restored as the primary component once all of its members, and no other node, meet again (2 of 3 restarted stay non-primary until the third returns); false: after restart=all no node knows a primary component and the cluster is bootstrapped as the documented procedure says (the node with safe_to_bootstrap: 1, else the highest recovered seqno, starts a new cluster; the others join it by IST or SST; replbench_bootstrap says which and why)"},
	{Name: ParamPCBootstrap, Default: "false", Help: "a restarted node starts a new cluster (--wsrep-new-cluster, galera_new_cluster): refused unless its grastate.dat says safe_to_bootstrap: 1; per node, e.g. --param n2:pc.bootstrap=true with restart=n2"},
	{Name: ParamRetransmitInterval, Default: "100ms", Min: new(0.001), Help: "model-only: the EVS timer tick; keepalives and loss recovery run on it (retransmission after ten ticks without progress)"},
}
