package galera

import (
	"context"
	"fmt"
	"time"

	"github.com/replbench/replbench/galera/replicator"
	"github.com/replbench/replbench/protocols/monitor"
)

// This file is a node restarted after a stop, a kill or a crash (protocols.Config.Rejoin):
// its machine starts alone and non-primary at the seqno its storage recovered
// (replicator.NewRestarted), its monitors at that seqno, and Start returns once it has
// merged, received IST or SST and is SYNCED again.

// rejoinFrom replaces a new provider's bootstrap state with a restarted node's.
func (p *Provider) rejoinFrom(seqno int64) {
	p.m = replicator.NewRestarted(p.st.ReplicatorConfig(p.self, p.n), seqno)
	p.applyMon = monitor.New(seqno)
	p.commitMon = monitor.New(seqno)
	p.snapshot()
}

// awaitSynced waits until the restarted node serves (wsrep_ready) or ctx ends.
func (p *Provider) awaitSynced(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !p.ready.Load() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("galera %s: restarted at seqno %d, not SYNCED before the deadline: %w", p.cfg.Node, p.cfg.Position, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}
