package gcs

import "math"

// FlowControl is the GCS flow-control decision (gcs/src/gcs.cpp): when a member's receive
// queue (write-sets delivered but not yet taken by an applier) grows past the upper limit it
// sends STOP through the total order, and every member that delivers a STOP pauses its
// writers until as many CONTs have been delivered. One slow member therefore paces the
// whole cluster, which is the behaviour users complain about and the model must show.
//
// FlowControl holds no lock and no clock; the caller serialises access.
type FlowControl struct {
	Upper, Lower int64 // the limits, fixed for a group size

	QueueLen  int64 // wsrep_local_recv_queue
	StopSent  int64 // this member's outstanding STOPs (wsrep_flow_control_requested when > 0)
	StopCount int64 // STOPs minus CONTs delivered from everyone (paused when > 0)

	Sent, Recv uint64 // wsrep_flow_control_sent / _recv
}

// Limits computes the upper and lower limits as _set_fc_limits does: upper = fc_limit
// scaled by sqrt(N) (unless fc_single_primary), lower = upper*fc_factor, both rounded.
func Limits(fcLimit int64, fcFactor float64, n int, singlePrimary bool) (upper, lower int64) {
	u := float64(fcLimit)
	if !singlePrimary {
		u = math.Floor(float64(fcLimit)*math.Sqrt(float64(n)) + 0.5)
	}
	return int64(u), int64(math.Floor(u*fcFactor + 0.5))
}

// Pushed records a foreign write-set entering the receive queue and reports whether this
// member must send STOP now.
func (f *FlowControl) Pushed() bool {
	f.QueueLen++
	if f.StopCount <= 0 && f.StopSent <= 0 && f.QueueLen > f.Upper {
		f.StopSent++
		f.Sent++
		return true
	}
	return false
}

// Dequeued records an applier taking a write-set and reports whether this member must send
// CONT now.
func (f *FlowControl) Dequeued() bool {
	f.QueueLen--
	if f.StopSent > 0 && f.QueueLen <= f.Lower {
		f.StopSent--
		return true
	}
	return false
}

// Delivered applies a STOP (stop) or CONT delivered in total order, from any member
// including this one, and reports whether writers must now pause (0->1) or resume (->0).
func (f *FlowControl) Delivered(stop bool) (pause, resume bool) {
	before := f.StopCount
	if stop {
		f.StopCount++
		f.Recv++
	} else if f.StopCount > 0 {
		f.StopCount--
	}
	return before <= 0 && f.StopCount > 0, before > 0 && f.StopCount <= 0
}

// FCParams are one node's flow-control settings: gcs.fc_limit, gcs.fc_factor and
// gcs.fc_single_primary (alias gcs.fc_master_slave). The limits they give depend on the
// group size, which changes with every view, so the settings are kept and the limits are
// derived from them per view; the bound calculation (harness/law) derives them the same way,
// from this one method, so the two cannot disagree.
type FCParams struct {
	Limit         int64
	Factor        float64
	SinglePrimary bool
}

// Limits is the flow-control interval [lower, upper] in a group of members nodes: a
// receive queue above upper sends STOP, one back at lower sends CONT.
func (p FCParams) Limits(members int) (lower, upper int64) {
	upper, lower = Limits(p.Limit, p.Factor, members, p.SinglePrimary)
	return lower, upper
}
