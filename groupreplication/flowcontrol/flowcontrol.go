// Package flowcontrol is Group Replication's flow control: a quota loop, not back-pressure.
//
// Every period (group_replication_flow_control_period, 1 s) each member broadcasts its
// pipeline stats through the group: certifier and applier queue sizes and cumulative counts
// of certified, applied and local transactions. Each member counts, per period, how many
// received messages show a queue over its threshold (25000 by default). When any does, the
// member caps its own writers for the next period at the pace the slowest lagging member
// managed in the last one, less hold_percent, split between the members that write; when
// none does, the cap grows by release_percent per period until it is lifted. A writer over
// its quota waits for the next period, so throttled commits stall for up to a second and
// the whole group runs at the pace of its slowest member. Laggards never ask anyone to
// pause; every member decides for itself from the same stats (pipeline_stats.cc).
//
// Controller is a state machine with explicit inputs (Receive for a delivered stats
// message, Step for the period tick, Admit before each local send); the caller owns the
// clock and the waiting.
package flowcontrol

// Mode is group_replication_flow_control_mode.
type Mode string

// Modes.
const (
	Quota    Mode = "QUOTA"
	Disabled Mode = "DISABLED"
)

// Config holds the group_replication_flow_control_* settings.
type Config struct {
	Mode               Mode
	CertifierThreshold int64 // ..._certifier_threshold, default 25000
	ApplierThreshold   int64 // ..._applier_threshold, default 25000
	HoldPercent        int64 // ..._hold_percent, default 10
	ReleasePercent     int64 // ..._release_percent, default 50
	MemberQuotaPercent int64 // ..._member_quota_percent, default 0 (split evenly)
	MinQuota           int64 // ..._min_quota, default 0
	MinRecoveryQuota   int64 // ..._min_recovery_quota, default 0
	MaxQuota           int64 // ..._max_quota, default 0 (none)
	PurgeAfterSteps    int   // members not heard from in this many steps are forgotten (10)
}

// DefaultConfig is MySQL's defaults.
func DefaultConfig() Config {
	return Config{Mode: Quota, CertifierThreshold: 25000, ApplierThreshold: 25000,
		HoldPercent: 10, ReleasePercent: 50, PurgeAfterSteps: 10}
}

// Stats is one member's Pipeline_stats_member_message.
type Stats struct {
	CertQueue  int64 // delivered, not yet certified
	ApplyQueue int64 // certified remote transactions not yet applied
	Certified  int64 // cumulative transactions certified
	Applied    int64 // cumulative remote transactions applied
	Local      int64 // cumulative local transactions proposed
	Recovering bool
}

type member struct {
	last        Stats
	dCert, dApp int64 // deltas over the last period
	dLocal      int64
	seen        bool // has a previous message, so deltas are meaningful
	stamp       int  // step number of the last message
}

// Controller is one member's flow-control state.
type Controller struct {
	cfg     Config
	members map[string]*member
	holds   int
	quota   int64 // 0: unthrottled
	used    int64
	steps   int
}

// New returns a controller with no quota.
func New(cfg Config) *Controller {
	if cfg.PurgeAfterSteps == 0 {
		cfg.PurgeAfterSteps = 10
	}
	return &Controller{cfg: cfg, members: map[string]*member{}}
}

// Receive takes a stats message from a member (this one included), in delivery order.
func (c *Controller) Receive(from string, s Stats) {
	m := c.members[from]
	if m == nil {
		m = &member{}
		c.members[from] = m
	}
	if m.seen {
		m.dCert = max(s.Certified-m.last.Certified, 0)
		m.dApp = max(s.Applied-m.last.Applied, 0)
		m.dLocal = max(s.Local-m.last.Local, 0)
	}
	m.last, m.seen, m.stamp = s, true, c.steps
	if c.cfg.Lagging(s.CertQueue, s.ApplyQueue) {
		c.holds++
	}
}

// Step is the period tick. It sets the quota for the next period and returns it (0 means
// unthrottled). Every step releases the writers that were waiting for it.
func (c *Controller) Step() int64 {
	c.steps++
	for name, m := range c.members {
		if c.steps-m.stamp > c.cfg.PurgeAfterSteps {
			delete(c.members, name)
		}
	}
	periods := make([]Period, 0, len(c.members))
	for _, m := range c.members {
		periods = append(periods, Period{CertQueue: m.last.CertQueue, ApplyQueue: m.last.ApplyQueue,
			Certified: m.dCert, Applied: m.dApp, Local: m.dLocal, Recovering: m.last.Recovering})
	}
	c.quota = c.cfg.NextQuota(c.quota, c.used, c.holds > 0, periods)
	c.holds, c.used = 0, 0
	return c.quota
}

// Period is one member's last flow-control period as the quota rule reads it: the queue
// sizes of its last stats message, and what it certified, applied and proposed locally
// since the message before.
type Period struct {
	CertQueue, ApplyQueue int64
	Certified, Applied    int64
	Local                 int64
	Recovering            bool
}

// Lagging reports whether a stats message with these queue sizes counts as a hold: in
// QUOTA mode, a queue past its threshold.
func (c Config) Lagging(certQueue, applyQueue int64) bool {
	return c.Mode == Quota && (certQueue > c.CertifierThreshold || applyQueue > c.ApplierThreshold)
}

// NextQuota is the quota rule of one period (Flow_control_module::flow_control_step):
// quota and used are this period's quota (0: none) and the local transactions admitted
// under it; lagging is whether any stats message received in the period was Lagging;
// members are the periods of the members heard from. While some member lags, the next
// quota is the slowest lagger's pace (the least certified or applied over the period among
// the members past that threshold, or the least non-zero pace of anyone if lower), at least
// the minimum quota (min_quota, or min_recovery_quota when only recovering members lag, or
// 5% of the lower threshold), less hold_percent, at most max_quota, split between the
// members that wrote (or member_quota_percent of it each), less what this member overused;
// never below 1. With no lagger a quota grows by release_percent per period (at most
// max_quota) and, without a release, is lifted. This is the one statement of the rule: the
// controller applies it every period and the bounds (harness/law) evaluate it for a
// steady state.
func (c Config) NextQuota(quota, used int64, lagging bool, members []Period) int64 {
	if c.Mode != Quota {
		return 0
	}
	q := quota
	var extra int64
	if q > 0 && used > q {
		extra = used - q
	}
	switch {
	case lagging:
		thrC, thrA := c.CertifierThreshold, c.ApplierThreshold
		var minCert, minAppl, safe int64
		writers := int64(0)
		laggerNotRecovering := false
		for _, m := range members {
			if m.CertQueue > thrC && m.Certified > 0 && (minCert == 0 || m.Certified < minCert) {
				minCert = m.Certified
			}
			if m.ApplyQueue > thrA && m.Applied > 0 && (minAppl == 0 || m.Applied < minAppl) {
				minAppl = m.Applied
			}
			if (m.CertQueue > thrC || m.ApplyQueue > thrA) && !m.Recovering {
				laggerNotRecovering = true
			}
			for _, d := range []int64{m.Certified, m.Applied} {
				if d > 0 && (safe == 0 || d < safe) {
					safe = d
				}
			}
			if m.Local > 0 {
				writers++
			}
		}
		writers = max(writers, 1)
		capv := minAppl
		if minCert > 0 && (minAppl == 0 || minCert < minAppl) {
			capv = minCert
		}
		lim := min(thrC, thrA) / 20
		if !laggerNotRecovering && c.MinRecoveryQuota > 0 {
			lim = c.MinRecoveryQuota
		}
		if c.MinQuota > 0 {
			lim = c.MinQuota
		}
		base := capv
		if safe > 0 && (base == 0 || safe < base) {
			base = safe
		}
		q = max(base, lim) * (100 - c.HoldPercent) / 100
		if c.MaxQuota > 0 {
			q = min(q, c.MaxQuota)
		}
		if writers > 1 {
			if c.MemberQuotaPercent == 0 {
				q /= writers
			} else {
				q = q * c.MemberQuotaPercent / 100
			}
		}
		return max(q-extra, 1)
	case q > 0 && c.ReleasePercent > 0:
		q = max(q*(100+c.ReleasePercent)/100, q+1)
		if c.MaxQuota > 0 && q > c.MaxQuota {
			q = c.MaxQuota
		}
		return q
	}
	return 0
}

// Admit counts one local transaction about to be sent and reports whether it may go now.
// A false answer means the writer waits for the next Step (at most one period) and then
// goes regardless, as do_wait's timed wait does.
func (c *Controller) Admit() bool {
	c.used++
	return c.quota == 0 || c.used <= c.quota
}

// Quota returns the current quota (0: unthrottled).
func (c *Controller) Quota() int64 { return c.quota }

// Members returns how many members' stats the controller holds.
func (c *Controller) Members() int { return len(c.members) }
