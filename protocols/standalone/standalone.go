// Package standalone is the floor every replication protocol is measured against: one node,
// no replication. Replicate decides at once and the engine commits immediately, so what a
// run measures is the storage engine and the harness alone; anything a replicated protocol
// costs on top of this is the protocol's.
package standalone

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/replbench/replbench/protocols"
)

func init() {
	protocols.Register(protocols.Protocol{
		Name:     "standalone",
		Summary:  "one node, no replication: the floor",
		Notes:    "Commits locally with no network cost. Runs with --nodes 1 only.",
		MinNodes: 1,
		MaxNodes: 1,
		New:      New,
	})
}

// Provider is the standalone provider.
type Provider struct {
	uuid      string
	committed atomic.Int64
	seq       atomic.Int64
}

// New creates a standalone provider.
func New(cfg protocols.Config) (protocols.Provider, error) {
	if len(cfg.Members) != 1 {
		return nil, fmt.Errorf("standalone runs exactly one node, got %d (use --nodes 1)", len(cfg.Members))
	}
	return &Provider{uuid: protocols.NameUUID("standalone/" + cfg.Node)}, nil
}

// Start implements protocols.Provider.
func (p *Provider) Start(ctx context.Context) error { return nil }

// Close implements protocols.Provider.
func (p *Provider) Close() error { return nil }

// BeforeRead implements protocols.Gate.
func (p *Provider) BeforeRead(ctx context.Context) error { return nil }

// BeforeWrite implements protocols.Gate.
func (p *Provider) BeforeWrite(ctx context.Context) error { return nil }

// SyncWait implements protocols.Provider: a single node is always in sync with itself.
func (p *Provider) SyncWait(ctx context.Context) error { return nil }

// LastCommitted implements protocols.Provider.
func (p *Provider) LastCommitted() int64 { return p.committed.Load() }

// Replicate implements protocols.Replicator: the transaction is decided at once.
func (p *Provider) Replicate(ctx context.Context, ws *protocols.WriteSet) (protocols.Commit, error) {
	s := p.seq.Add(1)
	ws.Snapshot = s - 1
	ws.Seqno = s
	ws.DependsSeqno = s - 1
	return &commit{p: p, seqno: s}, nil
}

// Status implements protocols.Provider.
func (p *Provider) Status() []protocols.StatusVar {
	return []protocols.StatusVar{{Name: "last_committed", Value: strconv.FormatInt(p.committed.Load(), 10)}}
}

type commit struct {
	p     *Provider
	seqno int64
}

func (c *commit) GTID() protocols.GTID { return protocols.GTID{UUID: c.p.uuid, Seqno: c.seqno} }
func (c *commit) Seqno() int64         { return c.seqno }

// Apply commits at once. Positions are counted as they commit; with concurrent clients
// they may commit out of seqno order, which a single node never has to reconcile.
func (c *commit) Apply(ctx context.Context, engineCommit func() error) error {
	if err := engineCommit(); err != nil {
		return err
	}
	c.p.committed.Add(1)
	return nil
}
