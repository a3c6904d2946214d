package semisync

import (
	"fmt"
	"time"

	"github.com/replbench/replbench/protocols"
)

// sourceStatus returns the source state machine's counters.
func (p *Provider) sourceStatus() SourceStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.src.Status()
}

// Status implements protocols.Provider: the Rpl_semi_sync_master_* variables on the
// source (semisync), binlog counters, and on replicas SHOW REPLICA STATUS's lag.
func (p *Provider) Status() []protocols.StatusVar {
	var out []protocols.StatusVar
	add := func(n string, v any) { out = append(out, protocols.StatusVar{Name: n, Value: fmt.Sprint(v)}) }
	if p.isSource {
		st := p.sourceStatus()
		if p.semi {
			add("Rpl_semi_sync_master_status", onOff(st.On))
			add("Rpl_semi_sync_master_clients", st.Clients)
			add("Rpl_semi_sync_master_yes_tx", st.YesTx)
			add("Rpl_semi_sync_master_no_tx", st.NoTx)
			add("Rpl_semi_sync_master_no_times", st.NoTimes)
			add("Rpl_semi_sync_master_timefunc_failures", 0)
			add("Rpl_semi_sync_master_tx_wait_time", st.TxWaitTime)
			add("Rpl_semi_sync_master_tx_waits", st.TxWaits)
			avg := int64(0)
			if st.TxWaits > 0 {
				avg = st.TxWaitTime / st.TxWaits
			}
			add("Rpl_semi_sync_master_tx_avg_wait_time", avg)
			add("Rpl_semi_sync_master_net_avg_wait_time", 0)
			add("Rpl_semi_sync_master_wait_sessions", st.WaitSessions)
			add("Rpl_semi_sync_master_wait_pos_backtraverse", st.Backtraverse)
		}
		add("Binlog_commits", st.CommitPos)
		add("Binlog_group_commits", st.Groups)
		for _, r := range p.cfg.Members[1:] {
			if p.semi {
				add("Replica_"+r+"_acked_position", st.ReplicaAcked[r])
			}
		}
		return out
	}
	p.mu.Lock()
	rs := p.rep.Status()
	applied := p.order.LastLeft()
	p.trimLagLocked()
	lag := int64(0)
	if len(p.lagTS) > 0 {
		lag = int64(time.Since(time.Unix(0, p.lagTS[0].ts)) / time.Second)
		if lag < 0 {
			lag = 0
		}
	}
	sqlErr := p.sqlErr
	p.mu.Unlock()
	io := "Yes"
	switch {
	case rs.IOErrno != 0:
		io = "No"
	case !rs.Connected:
		io = "Connecting"
	}
	add("Replica_IO_Running", io)
	add("Last_IO_Errno", rs.IOErrno)
	add("Last_IO_Error", rs.IOError)
	add("Seconds_Behind_Source", lag)
	add("Replica_transactions_behind", max(rs.SourcePos, rs.RelayPos)-applied)
	add("Retrieved_position", rs.RelayPos)
	add("Executed_position", applied)
	add("Replica_dump_requests", rs.Requests)
	add("Relay_log_gaps", rs.Gaps)
	add("Last_SQL_Error", sqlErr)
	return out
}

func onOff(b bool) string {
	if b {
		return "ON"
	}
	return "OFF"
}

func (p *Provider) trimLagLocked() {
	applied := p.order.LastLeft()
	i := 0
	for i < len(p.lagTS) && p.lagTS[i].pos <= applied {
		i++
	}
	p.lagTS = append(p.lagTS[:0], p.lagTS[i:]...)
}

// Halted implements protocols.Halter: on a replica whose I/O thread stopped (1236) or
// whose applier stopped on an error, the error (Last_IO_Error, else Last_SQL_Error); ""
// while it replicates, and always on the source.
func (p *Provider) Halted() string {
	if p.isSource {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.rep.Status(); st.IOErrno != 0 {
		return fmt.Sprintf("Last_IO_Errno %d: %s", st.IOErrno, st.IOError)
	}
	if p.sqlErr != "" {
		return "Last_SQL_Error: " + p.sqlErr
	}
	return ""
}
