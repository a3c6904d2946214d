package galera

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/replbench/replbench/galera/replicator"
	"github.com/replbench/replbench/protocols/monitor"
)

// This file is a node restarted after a stop, a kill or a crash (protocols.Config.Rejoin):
// its machine starts alone and non-primary at the seqno its storage recovered
// (replicator.NewRestarted), its monitors at that seqno, and Start returns once it has
// merged, received IST or SST and is SYNCED again.

// openGCache opens the node's galera.cache on its engine's filesystem (gcache.go). A
// restarted node first recovers what the file held (gcache.recover=yes) and starts its
// machine from it and from the recovered position; the file is then written afresh with
// what was kept, so that it holds one history. A node whose engine has no filesystem, or
// gcache.size=0, keeps its gcache in memory only.
func (p *Provider) openGCache() error {
	fsr, ok := p.applier.(fileSystemer)
	if ok {
		p.stateFS, p.stateDir = fsr.FileSystem()
		if p.cfg.Rejoin {
			g, found, err := readGrastate(p.stateFS, p.stateDir)
			switch {
			case err != nil:
				return fmt.Errorf("galera %s: %w", p.cfg.Node, err)
			case found:
				p.recoveredState = g.String()
				p.safe = g.SafeToBootstrap
			default:
				p.recoveredState = "no " + grastateFile
			}
			if err := p.readSavedView(); err != nil {
				return err
			}
		}
	}
	if p.cfg.Rejoin && p.st.Bootstrap && !p.safe {
		return fmt.Errorf("galera %s: it may not be safe to bootstrap the cluster from this node: it was not the last one to leave the cluster and may not contain all the updates (%s: safe_to_bootstrap: 0). To force the bootstrap from this node, set safe_to_bootstrap: 1 in its %s, and do so only on the node with the highest recovered seqno (wsrep-recover); or set pc.recovery=true and restart every node, or drop pc.bootstrap and let restart=all bootstrap from the most advanced node", p.cfg.Node, grastateFile, grastateFile)
	}
	if !ok || p.st.GCacheSize <= 0 {
		if p.cfg.Rejoin {
			p.rejoinFrom(p.cfg.Position, nil)
		}
		return nil
	}
	fs, dir := fsr.FileSystem()
	var kept []replicator.Cached
	if p.cfg.Rejoin {
		found, err := readRingCache(fs, dir)
		if err != nil {
			return fmt.Errorf("galera %s: %w", p.cfg.Node, err)
		}
		kept = replicator.RecoverCache(found, p.cfg.Position, p.st.GCacheSize)
		p.rejoinFrom(p.cfg.Position, kept)
		p.recoveredCache = fmt.Sprintf("gcache recovered: %d write-sets of %d in %s", len(kept), len(found), gcacheFile)
		if len(kept) > 0 {
			p.recoveredCache += fmt.Sprintf(", seqnos %d..%d", kept[0].Seqno, kept[len(kept)-1].Seqno)
		}
	}
	r, err := openRingCache(fs, dir, p.st.GCacheSize)
	if err != nil {
		return fmt.Errorf("galera %s: %w", p.cfg.Node, err)
	}
	for _, c := range kept {
		r.add(c)
	}
	p.gcache = r
	return nil
}

// readSavedView reads gvwstate.dat with pc.recovery=true: the primary component the node
// restores (gvwstate.go). With pc.recovery=false the file is not read.
func (p *Provider) readSavedView() error {
	if !p.st.PCRecovery {
		p.recoveredView = "pc.recovery=false: " + gvwstateFile + " not read"
		return nil
	}
	weight := func(i int) int {
		if i == p.self {
			return p.st.Weight
		}
		return 1
	}
	v, found, err := readGvwstate(p.stateFS, p.stateDir, p.cfg.Members, weight)
	switch {
	case err != nil:
		return fmt.Errorf("galera %s: %w (remove the file to start without it)", p.cfg.Node, err)
	case found:
		p.savedView = &v
		names := make([]string, len(v.Members))
		for k, m := range v.Members {
			names[k] = p.cfg.Members[m]
		}
		p.recoveredView = fmt.Sprintf("%s: primary view {%s}, conf %d, restored (pc.recovery)", gvwstateFile, strings.Join(names, ","), v.ConfID)
	default:
		p.recoveredView = "no " + gvwstateFile + ": no primary component to restore (the node left cleanly, or never was primary)"
	}
	return nil
}

// rejoinFrom replaces a new provider's bootstrap state with a restarted node's.
func (p *Provider) rejoinFrom(seqno int64, recovered []replicator.Cached) {
	rs := replicator.RestartState{LastPrim: p.savedView, SafeToBootstrap: p.safe, Bootstrap: p.st.Bootstrap}
	p.m = replicator.NewRestarted(p.st.ReplicatorConfig(p.self, p.n), seqno, recovered, rs)
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

// saveState writes grastate.dat (grastate.go) with seqno and the current safe_to_bootstrap.
// A write error is not fatal to the node, as in Galera, which logs it.
func (p *Provider) saveState(seqno int64) {
	if p.stateFS == nil {
		return
	}
	_ = writeGrastate(p.stateFS, p.stateDir, grastate{UUID: p.uuid, Seqno: seqno, SafeToBootstrap: p.safe})
}
