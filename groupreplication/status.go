package groupreplication

import (
	"strconv"
	"strings"

	"github.com/replbench/replbench/protocols"
)

// Status implements protocols.Provider: the replication_group_members and
// replication_group_member_stats columns for this member, the primary, and a few of the
// model's own counters (prefixed gr_model_).
func (p *Provider) Status() []protocols.StatusVar {
	p.mu.Lock()
	ms := p.m.Status()
	members := formatMembers(p.m.Members())
	p.mu.Unlock()
	st, executed := ms.Cert, ms.GTIDExecuted
	state, primary, lead := ms.State, ms.Primary, ms.Lead
	role := "SECONDARY"
	if !p.set.SinglePrimary || primary == p.self {
		role = "PRIMARY"
	}
	inQueue := p.pipeTxns.Load()
	p.clone.mu.Lock()
	lastClone := p.clone.last
	p.clone.mu.Unlock()

	gtidSet := func(gnos string) string {
		if gnos == "" {
			return ""
		}
		return p.group + ":" + gnos
	}
	lastFree := ""
	if st.LastConflictFree > 0 {
		lastFree = protocols.GTID{UUID: p.group, Seqno: st.LastConflictFree}.String()
	}
	primaryUUID := ""
	if p.set.SinglePrimary && primary >= 0 {
		primaryUUID = memberUUID(p.cfg.Members[primary])
	}
	leader := ""
	if lead >= 0 && lead < len(p.cfg.Members) {
		leader = p.cfg.Members[lead]
	}
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	return []protocols.StatusVar{
		{Name: "MEMBER_ID", Value: memberUUID(p.cfg.Node)},
		{Name: "MEMBER_HOST", Value: p.cfg.Node},
		{Name: "MEMBER_STATE", Value: string(state)},
		{Name: "MEMBER_ROLE", Value: role},
		{Name: "replication_group_members", Value: members},
		{Name: "super_read_only", Value: onOff(ms.ReadOnly)},
		{Name: "group_replication_primary_member", Value: primaryUUID},
		{Name: "group_replication_single_primary_mode", Value: onOff(p.set.SinglePrimary)},
		{Name: "group_replication_consistency", Value: p.set.Consistency.String()},
		{Name: "COUNT_TRANSACTIONS_IN_QUEUE", Value: i(inQueue)},
		{Name: "COUNT_TRANSACTIONS_CHECKED", Value: i(st.Checked)},
		{Name: "COUNT_CONFLICTS_DETECTED", Value: i(st.Conflicts)},
		{Name: "COUNT_TRANSACTIONS_ROWS_VALIDATING", Value: i(st.RowsValidating)},
		{Name: "TRANSACTIONS_COMMITTED_ALL_MEMBERS", Value: gtidSet(st.CommittedAll)},
		{Name: "LAST_CONFLICT_FREE_TRANSACTION", Value: lastFree},
		{Name: "COUNT_TRANSACTIONS_REMOTE_IN_APPLIER_QUEUE", Value: i(p.applyQueued.Load())},
		{Name: "COUNT_TRANSACTIONS_REMOTE_APPLIED", Value: i(p.remoteApplied.Load())},
		{Name: "COUNT_TRANSACTIONS_LOCAL_PROPOSED", Value: i(p.localProposed.Load())},
		{Name: "COUNT_TRANSACTIONS_LOCAL_ROLLBACK", Value: i(p.localRollback.Load())},
		{Name: "gtid_executed", Value: gtidSet(executed)},
		{Name: "gr_model_last_committed_position", Value: i(p.commitMon.LastLeft())},
		{Name: "gr_model_flow_control_quota", Value: i(ms.Quota)},
		{Name: "gr_model_certification_gc_runs", Value: i(st.GCRuns)},
		{Name: "gr_model_raft_leader", Value: leader},
		{Name: "gr_model_view_changes", Value: i(ms.ViewChanges)},
		{Name: "gr_model_majority_lost", Value: onOff(ms.MajorityLost)},
		{Name: "gr_model_autorejoin_attempts", Value: i(ms.RejoinTotal)},
		{Name: "gr_model_error_reason", Value: ms.ErrorReason},
		{Name: "gr_model_incarnation", Value: i(ms.Incarnation)},
		{Name: "gr_model_join_refused", Value: onOff(ms.JoinRefused)},
		{Name: "gr_model_applier_errors", Value: i(p.applierErrors.Load())},
		{Name: "gr_model_corrupt_messages", Value: i(p.corruptFrames.Load() + ms.Corrupt)},
		{Name: "gr_model_message_cache_limit", Value: strconv.FormatUint(p.set.MessageCacheSize, 10)},
		{Name: "gr_model_message_cache_bytes", Value: strconv.FormatUint(p.cachedBytes.Load(), 10)},
		{Name: "gr_model_clones_received", Value: i(p.clone.received.Load())},
		{Name: "gr_model_clones_donated", Value: i(p.clone.donated.Load())},
		{Name: "gr_model_last_clone", Value: lastClone},
		{Name: "gr_model_instances_in_flight_max", Value: i(p.instancesMax.Load())},
	}
}

// memberUUID is a member's server_uuid, derived from its name so runs repeat.
func memberUUID(node string) string { return protocols.NameUUID("server/" + node) }

func onOff(b bool) string {
	if b {
		return "ON"
	}
	return "OFF"
}

func formatMembers(rows []MemberRow) string {
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = r.Host + "=" + r.State + "/" + r.Role
	}
	return strings.Join(parts, ",")
}
