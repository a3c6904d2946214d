package target

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Snapshot is one node's SHOW GLOBAL STATUS and SHOW GLOBAL VARIABLES at one moment, plus
// its row of performance_schema.replication_group_member_stats where the server has Group
// Replication (as "gr_member_stats.<column>", lower case). Names are lower case.
type Snapshot struct {
	Node      string
	Status    map[string]string
	Variables map[string]string
}

// Snap reads every node's snapshot, in parallel so the snapshots are close in time.
func (t *Target) Snap(ctx context.Context) ([]Snapshot, error) {
	out := make([]Snapshot, len(t.Nodes))
	errs := make([]error, len(t.Nodes))
	var wg sync.WaitGroup
	for i, n := range t.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = snap(ctx, n.Name(), n.SQL())
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func snap(ctx context.Context, name string, db *sql.DB) (Snapshot, error) {
	s := Snapshot{Node: name}
	var err error
	if s.Status, err = pairs(ctx, db, "SHOW GLOBAL STATUS"); err != nil {
		return s, fmt.Errorf("node %s: SHOW GLOBAL STATUS: %v", name, err)
	}
	if s.Variables, err = pairs(ctx, db, "SHOW GLOBAL VARIABLES"); err != nil {
		return s, fmt.Errorf("node %s: SHOW GLOBAL VARIABLES: %v", name, err)
	}
	if _, gr := s.Variables["group_replication_group_name"]; gr {
		grStats(ctx, db, s.Status)
	}
	return s, nil
}

func pairs(ctx context.Context, db *sql.DB, q string) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var k string
		var v sql.NullString
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		m[strings.ToLower(k)] = v.String
	}
	return m, rows.Err()
}

// grStats adds this member's replication_group_member_stats row; a server without the
// table (no GR) adds nothing.
func grStats(ctx context.Context, db *sql.DB, into map[string]string) {
	rows, err := db.QueryContext(ctx, "SELECT * FROM performance_schema.replication_group_member_stats WHERE MEMBER_ID=@@server_uuid")
	if err != nil {
		return
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		return
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if rows.Scan(ptrs...) != nil {
		return
	}
	for i, c := range cols {
		into["gr_member_stats."+strings.ToLower(c)] = vals[i].String
	}
}

// Kind says how a status value is reported.
type Kind string

const (
	Counter Kind = "counter" // reported as after - before
	Gauge   Kind = "gauge"   // reported as the value after
)

// Stat is one status variable across a point.
type Stat struct {
	Node   string  `json:"node"`
	Name   string  `json:"name"`
	Kind   Kind    `json:"kind"`
	Before string  `json:"before"`
	After  string  `json:"after"`
	Delta  float64 `json:"delta,omitempty"` // counters only
}

// gauges are the numeric status values that are levels, not running totals. The rule
// (ClassifyStatus): a value that is not a number is a gauge; a name in this table, or with
// one of gaugeParts in it, is a gauge; every other number is a counter, which is what the
// servers' status variables mostly are (Com_*, Handler_*, Innodb_rows_*, wsrep_replicated,
// wsrep_local_cert_failures, wsrep_local_bf_aborts, Rpl_semi_sync_master_yes_tx, ...).
var gauges = map[string]bool{
	// Galera: states, sizes, queue levels, and the averages Galera keeps since the last
	// FLUSH STATUS (the value after the point is what is reported).
	"wsrep_local_state": true, "wsrep_cluster_size": true, "wsrep_cluster_conf_id": true,
	"wsrep_local_index": true, "wsrep_local_recv_queue": true, "wsrep_local_send_queue": true,
	"wsrep_flow_control_paused": true, "wsrep_cert_deps_distance": true,
	"wsrep_apply_oooe": true, "wsrep_apply_oool": true, "wsrep_apply_window": true,
	"wsrep_commit_oooe": true, "wsrep_commit_oool": true, "wsrep_commit_window": true,
	"wsrep_cert_index_size": true, "wsrep_cert_interval": true, "wsrep_desync_count": true,
	"wsrep_gcache_pool_size": true, "wsrep_local_cached_downto": true, "wsrep_open_connections": true,
	"wsrep_open_transactions": true, "wsrep_applier_thread_count": true, "wsrep_rollbacker_thread_count": true,
	"wsrep_thread_count": true, "wsrep_cluster_weight": true, "wsrep_protocol_version": true,
	"wsrep_flow_control_active": true, "wsrep_flow_control_requested": true, "wsrep_evs_evict_list": true,
	// Semi-sync (MariaDB and MySQL names).
	"rpl_semi_sync_master_clients": true, "rpl_semi_sync_master_wait_sessions": true,
	"rpl_semi_sync_master_net_avg_wait_time": true, "rpl_semi_sync_master_tx_avg_wait_time": true,
	"rpl_semi_sync_source_clients": true, "rpl_semi_sync_source_wait_sessions": true,
	"rpl_semi_sync_source_net_avg_wait_time": true, "rpl_semi_sync_source_tx_avg_wait_time": true,
	"rpl_semi_sync_master_status": true, "rpl_semi_sync_slave_status": true,
	// Group Replication member stats: queue levels.
	"gr_member_stats.count_transactions_in_queue": true, "gr_member_stats.count_transactions_rows_validating": true,
	"gr_member_stats.count_transactions_remote_in_applier_queue": true,
	// The server's own levels.
	"threads_connected": true, "threads_running": true, "threads_cached": true, "max_used_connections": true,
	"open_files": true, "open_tables": true, "open_streams": true, "open_table_definitions": true,
	"memory_used": true, "memory_used_initial": true, "innodb_page_size": true, "innodb_history_list_length": true,
	"innodb_row_lock_current_waits": true, "innodb_row_lock_time_avg": true, "innodb_row_lock_time_max": true,
	"innodb_lsn_current": true, "innodb_lsn_flushed": true, "innodb_lsn_last_checkpoint": true,
	"innodb_checkpoint_age": true, "innodb_num_open_files": true, "uptime_since_flush_status": true,
	"slave_running": true, "slaves_connected": true, "slaves_running": true,
}

// gaugeParts mark families of levels: buffer pool page counts and bytes, averages,
// high-water marks.
var gaugeParts = []string{"innodb_buffer_pool_pages_", "innodb_buffer_pool_bytes_", "_avg", "avg_", "_max_", "_current", "_status", "_state"}

// counterExceptions are names gaugeParts would catch that are running totals.
var counterExceptions = map[string]bool{"innodb_buffer_pool_pages_flushed": true, "innodb_buffer_pool_pages_lru_flushed": true}

// ClassifyStatus decides how a status value is reported (see gauges).
func ClassifyStatus(name, value string) Kind {
	if _, err := strconv.ParseFloat(value, 64); err != nil {
		return Gauge
	}
	if gauges[name] {
		return Gauge
	}
	if counterExceptions[name] {
		return Counter
	}
	for _, p := range gaugeParts {
		if strings.Contains(name, p) {
			return Gauge
		}
	}
	return Counter
}

// Diff reports every status variable of every node across a point: counters as deltas,
// gauges as their value after. Variables are settings, not measurements: VariableChanges
// lists the ones that moved.
func Diff(before, after []Snapshot) []Stat {
	var out []Stat
	for i := range after {
		var b map[string]string
		if i < len(before) {
			b = before[i].Status
		}
		a := after[i].Status
		names := make([]string, 0, len(a))
		for k := range a {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			s := Stat{Node: after[i].Node, Name: k, Kind: ClassifyStatus(k, a[k]), Before: b[k], After: a[k]}
			if s.Kind == Counter {
				x, _ := strconv.ParseFloat(s.Before, 64)
				y, _ := strconv.ParseFloat(s.After, 64)
				s.Delta = y - x
			}
			out = append(out, s)
		}
	}
	return out
}

// VariableChanges lists the global variables whose value changed across a point, per node,
// as "name: before -> after".
func VariableChanges(before, after []Snapshot) []string {
	var out []string
	for i := range after {
		if i >= len(before) {
			break
		}
		for k, v := range after[i].Variables {
			if w := before[i].Variables[k]; w != v {
				out = append(out, fmt.Sprintf("%s %s: %s -> %s", after[i].Node, k, w, v))
			}
		}
	}
	sort.Strings(out)
	return out
}

// Select returns the stats whose names start with one of the prefixes (such as "wsrep_",
// "rpl_semi_sync_", "gr_member_stats.", "innodb_deadlocks"), for the status columns a
// result prints.
func Select(stats []Stat, prefixes ...string) []Stat {
	var out []Stat
	for _, s := range stats {
		for _, p := range prefixes {
			if strings.HasPrefix(s.Name, p) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}
