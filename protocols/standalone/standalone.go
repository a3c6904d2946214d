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
	"github.com/replbench/replbench/protocols/servicetime"
)

func init() {
	protocols.Register(protocols.Protocol{
		Name:     "standalone",
		Summary:  "one node, no replication: the floor",
		Notes:    "Commits locally with no network cost. Runs with --nodes 1 only. kill, crash and stop restart it from what its engine recovered (innodb_flush_log_at_trx_commit decides what a crash keeps).",
		MinNodes: 1,
		MaxNodes: 1,
		New:      New,
		// A restarted server is its recovered engine and nothing else: there is no group
		// to rejoin, so the provider only resumes its positions there (New).
		Rejoins: true,
		// The floor stands for one real server: with its cost profile a plain run charges
		// what MariaDB itself spends (statements, engine commit, redo flush), the same
		// measurement the replicated flavours' profiles start from; --cost-profile none
		// gives the pure engine-and-harness floor.
		Flavors: []protocols.Flavor{{Name: "mariadb-10.11",
			Summary: "one MariaDB 10.11 server: statement, commit and redo-flush costs from the measured mariadb-10.11 profile",
			Profile: "mariadb-10.11"}},
	})
}

// Provider is the standalone provider.
type Provider struct {
	uuid      string
	cost      *servicetime.Node // nil: the pure floor (--cost-profile none)
	committed atomic.Int64
	seq       atomic.Int64
}

// New creates a standalone provider.
func New(cfg protocols.Config) (protocols.Provider, error) {
	if len(cfg.Members) != 1 {
		return nil, fmt.Errorf("standalone runs exactly one node, got %d (use --nodes 1)", len(cfg.Members))
	}
	p := &Provider{uuid: protocols.NameUUID("standalone/" + cfg.Node), cost: cfg.Cost}
	if cfg.Rejoin {
		// After a kill, crash or stop: InnoDB's crash recovery is the engine's (what it
		// synced survives, as innodb_flush_log_at_trx_commit says); the server goes on
		// numbering from the last transaction it recovered.
		p.seq.Store(cfg.Position)
		p.committed.Store(cfg.Position)
	}
	return p, nil
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
	// The server's own commit work: the engine commit on the CPU, then the redo log as
	// innodb_flush_log_at_trx_commit says (a group-committed fsync at 1). Without a cost
	// profile both are free.
	_ = c.p.cost.EngineCommit(ctx)
	_ = c.p.cost.CommitRedo(ctx)
	c.p.committed.Add(1)
	return nil
}
