package groupreplication

import (
	"context"
	"time"

	"github.com/replbench/replbench/groupreplication/group"
	"github.com/replbench/replbench/groupreplication/membership"
	"github.com/replbench/replbench/internal/driver"
	"github.com/replbench/replbench/protocols"
)

// rejoiner is group_replication_autorejoin_tries: each time the member lands in ERROR it
// tries to rejoin, the first time at once and then every gr_model_autorejoin_interval;
// when the tries are used up, the exit action holds (the machine decides both).
func (p *Provider) rejoiner() {
	defer p.wg.Done()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.rejoinWake:
		}
		for {
			var attempt, first bool
			p.step(func(m *group.Machine) (eff group.Effects) {
				attempt, first, eff = m.NextRejoin()
				return eff
			})
			if !attempt {
				break
			}
			if !first {
				select {
				case <-time.After(p.set.AutorejoinInterval):
				case <-p.ctx.Done():
					return
				}
			}
			p.attemptRejoin(p.ctx, p.set.AutorejoinInterval)
		}
	}
}

// Rejoin is a manual START GROUP_REPLICATION on a member in ERROR (for instance with
// group_replication_autorejoin_tries=0): it runs one rejoin attempt and returns once the
// member is ONLINE, or an error saying why not.
func (p *Provider) Rejoin(ctx context.Context) error {
	p.mu.Lock()
	st := p.m.State()
	p.mu.Unlock()
	if st != group.Error {
		return &protocols.Error{Code: 3093, SQLState: "HY000", Msg: "START GROUP_REPLICATION: member is " + string(st) + ", not ERROR; nothing to rejoin", Cause: protocols.CauseOther}
	}
	if p.attemptRejoin(ctx, p.set.AutorejoinInterval) {
		return nil
	}
	return group.ErrNotOnline(group.Error)
}

// attemptRejoin is one rejoin: if this member can reach a majority, it becomes
// RECOVERING, asks to join through the log, and resumes its held pipeline, which applies
// everything the group ordered since it stopped (incremental recovery: the agreed log
// plays the donor's binary log) up to its own join, then goes ONLINE. If the log no longer
// holds where it stopped, it first clones a donor's state (clone.go). It reports whether
// the member came ONLINE within limit.
func (p *Provider) attemptRejoin(ctx context.Context, limit time.Duration) bool {
	// Reach the group first: the attempt gives up if no majority answers within the
	// detector's window.
	connect := time.After(membership.DefaultSuspectAfter)
	for {
		p.mu.Lock()
		lost, st, ch := p.m.MajorityLost(), p.m.State(), p.changed
		p.mu.Unlock()
		if !lost || st != group.Error {
			break
		}
		select {
		case <-ch:
		case <-connect:
			return false
		case <-ctx.Done():
			return false
		}
	}
	var ok, clone bool
	p.step(func(m *group.Machine) (eff group.Effects) {
		ok, clone, eff = m.BeginRejoin()
		return eff
	})
	if !ok {
		return false
	}
	if clone {
		// The log no longer reaches back to where this member stopped: clone first
		// (clone.go), then catch up from the log like any rejoin.
		if err := p.cloneFromGroup(ctx); err != nil {
			p.step(func(m *group.Machine) group.Effects {
				return m.RejoinFailed("distributed recovery by clone failed: " + err.Error())
			})
			return false
		}
		p.mu.Lock()
		resumed := p.m.CloneInstalled()
		p.mu.Unlock()
		if !resumed {
			return false
		}
	}
	p.step((*group.Machine).Join)
	driver.Signal(p.pipeWake)
	deadline := time.After(limit)
	for {
		p.mu.Lock()
		st, ch := p.m.State(), p.changed
		p.mu.Unlock()
		switch st {
		case group.Online:
			return true
		case group.Error:
			return false
		}
		select {
		case <-ch:
		case <-deadline:
			p.step(func(m *group.Machine) group.Effects {
				return m.RejoinFailed("distributed recovery did not finish in time")
			})
			return false
		case <-ctx.Done():
			return false
		}
	}
}
