package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/replbench/replbench/internal/precise"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/servicetime"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// startTimeout bounds how long the providers may take to form a group before the point is
// given up: a protocol that cannot start in this time on an emulated network is broken, not
// slow.
const startTimeout = 60 * time.Second

// cluster is one point's running system: an engine and a provider per node, over one
// emulated network.
type cluster struct {
	members   []string
	engines   []*storage.Engine
	providers []protocols.Provider
	emu       *transport.Emulator
	workload  workloads.Workload

	costs     []*servicetime.Node // each node's service-time model (servicetime.go); nil: none
	costTimer *precise.Timer      // the waits of costs in real time; closed by close

	gateMu sync.Mutex           // guards gates
	gates  map[string]*nodeGate // each node's door for its clients (nodefaults.go)

	opts    []storage.Options                                             // each node's engine options, for a restart
	spawn   func(i int, cfg protocols.Config) (protocols.Provider, error) // attach node i and create its provider
	proto   string
	eps     []transport.Endpoint // each node's endpoint now (a kill closes it)
	source  string               // the source after a promotion ("" : Members[0])
	acked   *ackLog              // acknowledged writes of a workload without a history (acklog.go)
	retired []*storage.Engine    // engines of nodes that went down, released at close
	faults  *clusterTarget       // the point's node-fault target, for the end-of-run checks (nodefaults.go)
	checked *checkedNodes        // the nodes as the end-of-run checks read them (verdicts.go)
}

// clusterConfig is what bring-up needs beyond the point itself.
type clusterConfig struct {
	dataDir string // "" keeps every node in memory
	bus     BusConfig
	seed    int64
	// loadProgress, if set, hears how far the workload's load has got (rows done, total).
	loadProgress func(done, total int64)
	// virtual is set under testing/synctest: service-time waits use Go's timers.
	virtual bool
}

// startCluster brings up the cluster of a point: the engines, the schema on every node, the
// workload loaded on n1 and copied to the others by snapshot (as a real cluster is
// provisioned), the bus and the emulator, one provider per node, and Start on all of them
// in parallel (a group only forms when its members start together). On error everything
// already started is closed and its data directories removed, so a point that cannot start
// costs one error, never a panic or a leaked goroutine.
func startCluster(ctx context.Context, ps *PointSpec, cc clusterConfig, progress func(string)) (*cluster, error) {
	proto, err := protocols.Lookup(ps.Protocol)
	if err != nil {
		return nil, err
	}
	def, err := workloads.Lookup(ps.Workload.Name)
	if err != nil {
		return nil, err
	}
	// The cluster is built in a local variable and handed out only on success: every
	// early return below closes what was started so far (close copes with a partial
	// cluster), and the caller never sees a half-built one.
	c := &cluster{members: ps.Members()}
	started := false
	defer func() {
		if !started {
			_ = c.close()
			_ = c.removeDataDirs(cc.dataDir)
		}
	}()
	if len(ps.Cluster) != ps.Nodes {
		return nil, fmt.Errorf("point %d is not resolved (%d of %d nodes): build it with Expand or ResolvePoint", ps.Index, len(ps.Cluster), ps.Nodes)
	}
	for _, n := range ps.Cluster {
		opts := n.Engine
		if cc.dataDir != "" {
			opts.Dir = filepath.Join(cc.dataDir, n.Name)
		}
		e, err := storage.Open(opts)
		if err != nil {
			return nil, fmt.Errorf("open the engine of %s: %w", n.Name, err)
		}
		c.engines = append(c.engines, e)
		c.opts = append(c.opts, opts)
	}

	env := workloads.Env{Nodes: ps.Nodes, Writers: ps.Writers, Threads: ps.Threads, Seed: cc.seed}
	if c.workload, err = def.New(cloneMap(ps.Workload.Options), env); err != nil {
		return nil, fmt.Errorf("workload %s: %w", def.Name, err)
	}
	for _, e := range c.engines {
		for _, t := range c.workload.Tables() {
			if err := e.CreateTable(t); err != nil {
				return nil, fmt.Errorf("create table %s on %s: %w", t.Name, e.Node(), err)
			}
		}
	}
	progress("loading " + def.Name)
	if err := c.workload.Load(ctx, workloads.OnEngine(c.engines[0]), cc.loadProgress); err != nil {
		return nil, fmt.Errorf("load workload %s on n1: %w", def.Name, err)
	}
	if len(c.engines) > 1 {
		var snap bytes.Buffer
		if err := c.engines[0].Snapshot(&snap); err != nil {
			return nil, fmt.Errorf("snapshot n1 to provision the other nodes: %w", err)
		}
		for _, e := range c.engines[1:] {
			if err := e.Restore(bytes.NewReader(snap.Bytes())); err != nil {
				return nil, fmt.Errorf("restore the snapshot of n1 on %s: %w", e.Node(), err)
			}
		}
	}

	for _, e := range c.engines {
		if err := e.Checkpoint(); err != nil { // provisioned data is on disk before any fault
			return nil, fmt.Errorf("checkpoint %s after provisioning: %w", e.Node(), err)
		}
	}

	bus, err := cc.bus.open()
	if err != nil {
		return nil, err
	}
	c.emu = transport.NewEmulator(bus, ps.Net, transport.EmulatorOptions{Seed: cc.seed})
	var waiter precise.Waiter = precise.Virtual{}
	if needsCosts(ps) && !cc.virtual {
		c.costTimer = precise.NewTimer()
		waiter = c.costTimer
	}
	if c.costs, err = costNodes(ps, waiter); err != nil {
		return nil, err
	}
	c.proto = proto.Name
	// spawn is bring-up's and a restart's one way to give node i a provider: attach it to
	// the bus and create the provider over its current engine (nodefaults_restart.go sets
	// cfg.Rejoin and cfg.Position).
	c.spawn = func(i int, cfg protocols.Config) (protocols.Provider, error) {
		node := c.members[i]
		ep, err := c.emu.Attach(node)
		if err != nil {
			return nil, fmt.Errorf("attach %s to the bus: %w", node, err)
		}
		if c.eps == nil {
			c.eps = make([]transport.Endpoint, len(c.members))
		}
		c.eps[i] = ep
		cfg.Node, cfg.Members, cfg.Endpoint, cfg.Applier = node, c.members, ep, c.engines[i]
		cfg.Settings, cfg.Seed = ps.Cluster[i].Settings, cc.seed+int64(i)
		cfg.Cost = c.costs[i]
		p, err := proto.New(cfg)
		if err != nil {
			_ = ep.Close()
			return nil, fmt.Errorf("start %s on %s: %w", proto.Name, node, err)
		}
		c.engines[i].SetReplicator(p)
		return p, nil
	}
	for i := range c.members {
		p, err := c.spawn(i, protocols.Config{})
		if err != nil {
			return nil, err
		}
		c.providers = append(c.providers, p)
	}

	progress("starting " + proto.Name)
	sctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	errs := make([]error, len(c.providers))
	var wg sync.WaitGroup
	for i, p := range c.providers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.Start(sctx)
		}()
	}
	wg.Wait()
	for i, e := range errs {
		if e != nil {
			if sctx.Err() != nil && ctx.Err() == nil {
				return nil, fmt.Errorf("%s on %s did not start within %s: %w", proto.Name, c.members[i], startTimeout, e)
			}
			return nil, fmt.Errorf("%s on %s: start: %w", proto.Name, c.members[i], e)
		}
	}
	started = true
	return c, nil
}

// clients creates the point's client threads, spread round-robin over the writer nodes,
// each with its own random stream derived from the seed.
func (c *cluster) clients(ps *PointSpec, seed int64) []*client {
	out := make([]*client, ps.Threads)
	for i := range out {
		node := ps.Writers[i%len(ps.Writers)]
		idx := 0
		for j, m := range c.members {
			if m == node {
				idx = j
			}
		}
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(i)+1))
		q := &queryCounts{}
		out[i] = &client{id: i, node: node, db: countQueries(c.logAcked(c.clientDB(node, idx)), q), queries: q, wl: c.workload.NewClient(i, rng), stats: newClientStats()}
		if r, ok := c.providers[idx].(protocols.AutocommitRetrier); ok {
			out[i].serverRetries = r.RetryAutocommit()
		}
	}
	return out
}

// dbs is every node's engine as the workload sees it.
func (c *cluster) dbs() []workloads.DB {
	out := make([]workloads.DB, len(c.engines))
	for i, e := range c.engines {
		out[i] = workloads.OnEngine(e)
	}
	return out
}

// close stops the providers, the emulator (which closes the bus) and the engines, in that
// order, and leaves no goroutine of theirs behind.
func (c *cluster) close() error {
	var errs []error
	for i, p := range c.providers {
		if err := p.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", c.members[i], err))
		}
	}
	if c.costTimer != nil {
		c.costTimer.Close()
	}
	if c.emu != nil {
		if err := c.emu.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the bus: %w", err))
		}
	}
	for _, e := range c.engines {
		if err := e.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	c.gateMu.Lock()
	for _, e := range c.retired {
		_ = e.Release()
	}
	c.gateMu.Unlock()
	return errors.Join(errs...)
}

// CheckDataDir refuses a --data-dir that already holds node directories (n1, n2, ...): the
// harness creates a fresh database per node and point there and removes it after the point,
// so it must never adopt, or delete, directories it did not create.
func CheckDataDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil // does not exist yet: created on first use
	}
	for _, e := range ents {
		if validNode(e.Name(), 1<<20) {
			return fmt.Errorf("%s already holds %s from an earlier run (accepted: an empty or new directory)", dir, filepath.Join(dir, e.Name()))
		}
	}
	return nil
}

// removeDataDirs deletes the node directories this point created under dataDir.
func (c *cluster) removeDataDirs(dataDir string) error {
	if dataDir == "" {
		return nil
	}
	var errs []error
	for _, m := range c.members {
		errs = append(errs, os.RemoveAll(filepath.Join(dataDir, m)))
	}
	return errors.Join(errs...)
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
