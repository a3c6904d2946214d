package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/replbench/replbench/harness/history"
	"github.com/replbench/replbench/harness/nodes"
	"github.com/replbench/replbench/internal/precise"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/servicetime"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/storage/sqlexec"
	"github.com/replbench/replbench/workloads"
)

// NodeOptions configure one node process (replbench node): which node it is, which run it
// belongs to, the external NATS it meets the coordinator and the other nodes on, and where
// it keeps its database.
type NodeOptions struct {
	Name  string    // n1..nN
	RunID string    // the coordinator's --run-id
	Bus   BusConfig // URL and credentials of the external NATS cluster
	// DataDir keeps the node's database on disk under DataDir/<name>; "" keeps it in
	// memory.
	DataDir string
	// Wait bounds how long the node waits for a coordinator to accept its registration.
	Wait time.Duration
	// Idle ends the node when the coordinator has sent nothing for this long and nothing
	// it asked is still running (a coordinator that died without ending the run); 0 means
	// DefaultNodeIdle.
	Idle time.Duration
	// Log hears one line per thing the node does (registered, point set up, closed).
	Log io.Writer
	// Supervisor is the PID of the supervisor that runs this process as its child
	// (replbench node --supervise, EnvSupervisor), 0 for none. A supervised node keeps
	// its data directory when it is stopped by a signal, for its restart to reopen, and
	// the coordinator may kill, stop and restart it.
	Supervisor int
	// ServeSQL opens a MySQL endpoint over this node's SQL layer when a coordinator
	// serves the cluster (replbench serve --nodes-external); nil refuses that request.
	ServeSQL SQLServer
}

// EnvSupervisor is the environment variable through which a supervisor tells its child
// node process the supervisor's PID.
const EnvSupervisor = "REPLBENCH_NODE_SUPERVISOR"

// ErrNoCoordinator is returned by ServeNode when no coordinator of the run answered in
// time; ErrNotMember when the coordinator refused the node's name.
var (
	ErrNoCoordinator = nodes.ErrNoCoordinator
	ErrNotMember     = nodes.ErrRefused
)

// DefaultNodeIdle is how long a node waits for its coordinator's next request before it
// concludes the coordinator is gone: far longer than the pauses between a run's requests
// (which follow one another at once, apart from the registration wait), so that a node
// outlives no coordinator by more than this.
const DefaultNodeIdle = 10 * time.Minute

// ServeNode runs one node of a coordinated run in this process until the coordinator says
// the run is over or ctx ends: it registers, then sets up, starts, drives and closes one
// point after another as the coordinator asks (nodeHost). Its clients run here, beside its
// engine, as the in-process run's clients do, so a commit costs what the model says and
// no bus round trip per statement more; the coordinator collects their statistics.
func ServeNode(ctx context.Context, o NodeOptions) error {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Idle <= 0 {
		o.Idle = DefaultNodeIdle
	}
	if !validNode(o.Name, 1<<20) {
		return fmt.Errorf("invalid node name %q (accepted: n1, n2, ...)", o.Name)
	}
	if err := nodes.CheckRunID(o.RunID); err != nil {
		return err
	}
	if o.Bus.URL == "" {
		return errors.New("a node needs --nats-url: the external NATS the coordinator and the other nodes use")
	}
	nc, err := transport.ConnectNATS(transport.NATSOptions{URL: o.Bus.URL, Auth: o.Bus.Auth}, "replbench node "+o.Name)
	if err != nil {
		return err
	}
	defer nc.Close()
	h := &nodeHost{opt: o, nc: nc, exit: make(chan struct{})}
	h.touch(0)
	// A supervised node stopped by a signal keeps its data for the restart; otherwise
	// every point's database is scratch.
	defer func() { h.closePoint(o.Supervisor != 0 && ctx.Err() != nil) }()
	sub, err := nodes.Serve(nc, o.RunID, o.Name, h.handle)
	if err != nil {
		return fmt.Errorf("serve the control subject: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	members, err := nodes.Register(ctx, nc, o.RunID, nodes.Registration{Name: o.Name, Supervisor: o.Supervisor}, o.Wait)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Log, "replbench node %s: registered with the coordinator of run %s (members %s)\n", o.Name, o.RunID, strings.Join(members, ","))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-h.exit:
			fmt.Fprintf(o.Log, "replbench node %s: the coordinator ended the run\n", o.Name)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if idle := h.idleFor(); idle > o.Idle {
				return fmt.Errorf("no request from the coordinator of run %s for %s: it is gone, so this node ends", o.RunID, idle.Round(time.Second))
			}
		}
	}
}

// touch records a request's start (+1) or end (-1), for the idle bound.
func (h *nodeHost) touch(delta int) {
	h.mu.Lock()
	h.inflight += delta
	h.last = time.Now()
	h.mu.Unlock()
}

// idleFor is how long the node has had nothing to do: 0 while a request runs.
func (h *nodeHost) idleFor() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.inflight > 0 {
		return 0
	}
	return time.Since(h.last)
}

// nodeHost is the node process's state: the point it runs now, if any. Requests come
// concurrently (nodes.Serve); mu guards the fields, never a long operation.
type nodeHost struct {
	opt  NodeOptions
	nc   *nats.Conn
	exit chan struct{}
	once sync.Once

	mu       sync.Mutex
	pt       *nodePoint
	inflight int       // requests running
	last     time.Time // when the last request started or ended
}

// nodePoint is one point's share of the cluster on this node: its engine, its provider,
// its part of the emulator (the holds of the links that leave it) and its clients.
type nodePoint struct {
	ps   *PointSpec
	idx  int
	name string
	seed int64 // the scenario's seed

	engine    *storage.Engine
	workload  workloads.Workload
	emu       *transport.Emulator
	prov      protocols.Provider
	costTimer *precise.Timer
	cost      *servicetime.Node
	probe     *transport.Emulator // a second bus on the same network, for the round trips
	probeEp   transport.Endpoint
	pongs     chan pong
	gate      *nodeGate
	clients   []*client
	begun     atomic.Int64                   // transactions the clients began (countBegins), for the in-flight count
	acked     *ackLog                        // the clients' acknowledged writes (nil for a workload with a history)
	acks      *ackJournal                    // acked's records, for the coordinator (bus_acks.go)
	origin    time.Time                      // when the workload (and its history recorder) was created
	hist      []history.Op                   // the history as the coordinator pages through it (bus_history.go)
	cancel    context.CancelFunc             // the running phase's, nil between phases
	closeSQL  func() error                   // closes this node's MySQL endpoint (replbench serve --nodes-external), nil if none
	sql       atomic.Pointer[sqlexec.Server] // that endpoint's SQL layer, which applies the schema changes the coordinator carries (bus_ddl.go)
	dir       string
}

type pong struct {
	from string
	seq  uint64
}

// setupRequest configures a point: the scenario as the coordinator runs it (flags
// applied), which of its points, and the bus prefix the point's nodes share.
type setupRequest struct {
	Scenario []byte `json:"scenario"`
	Index    int    `json:"index"`
	Prefix   string `json:"prefix"`
	// Rejoin sets up a restarted node process: it reopens the database its killed or
	// stopped predecessor left in the data directory (Pebble's WAL replay is the
	// recovery) instead of loading the workload, and its provider rejoins the running
	// group from the position the recovered rows carry (protocols.Config.Rejoin), the
	// restart path of each protocol that the in-process node faults use too.
	Rejoin bool `json:"rejoin,omitempty"`
	// Serve sets up a point that clients drive through MySQL endpoints (replbench serve
	// --nodes-external): its scenario has no run length, so it is expanded as a model.
	Serve bool `json:"serve,omitempty"`
}

// setupReply is what a node says once its point is set up: the checksums of its loaded
// tables (every node loads the workload itself; the coordinator compares them).
type setupReply struct {
	Checksums map[string]uint64 `json:"checksums"`
}

// phaseRequest is a phase of clients (the warm-up or the measured phase).
type phaseRequest struct {
	Queries  int64         `json:"queries"`
	Duration time.Duration `json:"duration"`
	Rate     float64       `json:"rate"`
	Retries  int           `json:"retries"`
	Backoff  time.Duration `json:"backoff"`
	Refused  time.Duration `json:"refused"`
	Stall    time.Duration `json:"stall"`
	// Warmup resets the clients' statistics and the emulator's after the phase.
	Warmup bool `json:"warmup"`
	// NodeQueries, for a restarted node process, is the rest of its clients' share of
	// Queries, split evenly over them; 0 gives every client its share of Queries by its
	// id over all of the point's threads, as in one process.
	NodeQueries int64 `json:"node_queries,omitempty"`
	// Phase names a measured phase: the node streams its statistics under it
	// (statsReport). "" for the warm-up, whose figures are thrown away.
	Phase string `json:"phase,omitempty"`
}

// phaseReply is a phase as this node's clients measured it.
type phaseReply struct {
	Elapsed   time.Duration  `json:"elapsed"`
	Stalled   bool           `json:"stalled"`
	Stuck     map[string]int `json:"stuck,omitempty"`
	Abandoned int            `json:"abandoned"`
	Clients   int            `json:"clients"`
	Stats     *wireStats     `json:"stats"`
}

// statusReply is a node's status after a point: its provider's variables and its
// engine's counters under the names runPoint records, its emulator's figures, and the
// process's memory.
type statusReply struct {
	Vars  map[string]string `json:"vars"`
	Emu   transport.Stats   `json:"emu"`
	Bus   []string          `json:"bus_events,omitempty"`
	Lost  string            `json:"bus_lost,omitempty"`
	RSSKB int64             `json:"rss_kb"`
	HWMKB int64             `json:"hwm_kb"`
}

// faultRequest is one network operation on the node's emulator.
type faultRequest struct {
	Op      string       `json:"op"` // partition, oneway, clog, unclog, heal, network
	Groups  [][]string   `json:"groups,omitempty"`
	From    string       `json:"from,omitempty"`
	To      string       `json:"to,omitempty"`
	Network *wireNetwork `json:"network,omitempty"`
}

func (h *nodeHost) point() (*nodePoint, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pt == nil {
		return nil, errors.New("no point is set up on this node")
	}
	return h.pt, nil
}

// handle answers one request of the coordinator.
func (h *nodeHost) handle(op string, body json.RawMessage) (any, error) {
	h.touch(1)
	defer h.touch(-1)
	switch op {
	case "setup":
		var rq setupRequest
		if err := json.Unmarshal(body, &rq); err != nil {
			return nil, err
		}
		return h.setup(rq)
	case "close":
		h.closePoint(false)
		return nil, nil
	case "exit":
		h.closePoint(false)
		h.once.Do(func() { close(h.exit) })
		return nil, nil
	}
	pt, err := h.point()
	if err != nil {
		return nil, err
	}
	switch op {
	case "start":
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		if err := pt.prov.Start(ctx); err != nil {
			return nil, fmt.Errorf("%s on %s: start: %w", pt.ps.Protocol, pt.name, err)
		}
		return nil, nil
	case "probe":
		var rounds int
		if err := json.Unmarshal(body, &rounds); err != nil {
			return nil, err
		}
		return pt.measureRTT(rounds)
	case "phase":
		var rq phaseRequest
		if err := json.Unmarshal(body, &rq); err != nil {
			return nil, err
		}
		return h.phase(pt, rq), nil
	case "cancel":
		h.mu.Lock()
		if pt.cancel != nil {
			pt.cancel()
		}
		h.mu.Unlock()
		return nil, nil
	case "position":
		return pt.prov.LastCommitted(), nil
	case "checksums":
		return pt.engine.Checksums()
	case "status":
		return pt.status(), nil
	case "history":
		var from int
		if err := json.Unmarshal(body, &from); err != nil {
			return nil, err
		}
		return pt.historyPage(from)
	case "state":
		var rq stateRequest
		if err := json.Unmarshal(body, &rq); err != nil {
			return nil, err
		}
		return pt.state(rq.Keys)
	case "acks":
		var rq acksPage
		if err := json.Unmarshal(body, &rq); err != nil {
			return nil, err
		}
		if pt.acks == nil {
			return nil, fmt.Errorf("workload %s records a history, not an acknowledged-write log", pt.workload.Name())
		}
		recs, next, err := pt.acks.page(rq.From, ackPage)
		return acksReply{Records: recs, Next: next}, err
	case "images":
		var rq imagesRequest
		if err := json.Unmarshal(body, &rq); err != nil {
			return nil, err
		}
		return pt.images(rq)
	case "serve":
		var rq serveRequest
		if err := json.Unmarshal(body, &rq); err != nil {
			return nil, err
		}
		info, err := pt.serve(h.opt.ServeSQL, rq, &busSchema{nc: h.nc, run: h.opt.RunID, nodes: pt.ps.Nodes})
		if err == nil {
			fmt.Fprintf(h.opt.Log, "replbench node %s: serving MySQL on %s (user %s)\n", h.opt.Name, info.Addr, rq.User)
		}
		return info, err
	case "ddl":
		return pt.applyDDL(body)
	case "fault":
		var rq faultRequest
		if err := json.Unmarshal(body, &rq); err != nil {
			return nil, err
		}
		return nil, pt.fault(rq)
	}
	if reply, ok, err := pt.handleExtra(op, body); ok {
		return reply, err
	}
	return nil, fmt.Errorf("unknown request %q", op)
}

// setup brings up this node's share of a point, as startCluster does for every node in
// one process, up to the provider's creation: the engine and its tables, the workload
// loaded here (the loaders are seeded, so every node holds the same rows; the
// coordinator compares the checksums instead of shipping a snapshot through NATS, whose
// messages are capped at 1 MiB by default), the bus under the point's prefix, this node's
// emulator (the holds of its outgoing links, sender-side and FIFO, so the machines need
// no common clock), its cost model and its provider. Start is a request of its own, sent
// to every node at once.
func (h *nodeHost) setup(rq setupRequest) (any, error) {
	h.closePoint(rq.Rejoin)
	s, err := ParseScenario("coordinator", rq.Scenario)
	if err != nil {
		return nil, fmt.Errorf("the coordinator's scenario: %w", err)
	}
	expand := Expand
	if rq.Serve {
		expand = ExpandModel
	}
	points, err := expand(s)
	if err != nil {
		return nil, fmt.Errorf("the coordinator's scenario: %w", err)
	}
	var ps *PointSpec
	for i := range points {
		if points[i].Index == rq.Index {
			ps = &points[i]
		}
	}
	if ps == nil {
		return nil, fmt.Errorf("the coordinator's scenario has no point %d", rq.Index)
	}
	idx := slices.Index(ps.Members(), h.opt.Name)
	if idx < 0 {
		return nil, fmt.Errorf("%s is not a member of point %d (%d nodes)", h.opt.Name, rq.Index+1, ps.Nodes)
	}
	pt := &nodePoint{ps: ps, idx: idx, name: h.opt.Name, gate: newNodeGate(), pongs: make(chan pong, 64)}
	ok := false
	defer func() {
		if !ok {
			if rq.Rejoin { // what the failed rejoin did not recover is still there
				pt.dir = ""
			}
			pt.close()
		}
	}()
	if err := pt.bringUp(s.Seed, rq.Prefix, h.opt, rq.Rejoin); err != nil {
		return nil, err
	}
	var sums map[string]uint64
	if !rq.Rejoin { // a rejoining node's data is whatever it recovered
		if sums, err = pt.engine.Checksums(); err != nil {
			return nil, err
		}
	}
	ok = true
	h.mu.Lock()
	h.pt = pt
	h.mu.Unlock()
	how := "set up"
	if rq.Rejoin {
		how = fmt.Sprintf("reopened from %s at position %d to rejoin", pt.dir, pt.engine.Position())
	}
	fmt.Fprintf(h.opt.Log, "replbench node %s: point %d %s (%s, %d nodes, %s, %d threads)\n", h.opt.Name, ps.Index+1, how, ps.Protocol, ps.Nodes, ps.Network.Name, ps.Threads)
	return setupReply{Checksums: sums}, nil
}

func (pt *nodePoint) bringUp(seed int64, prefix string, o NodeOptions, rejoin bool) error {
	ps, i := pt.ps, pt.idx
	pt.seed = seed
	proto, err := protocols.Lookup(ps.Protocol)
	if err != nil {
		return err
	}
	def, err := workloads.Lookup(ps.Workload.Name)
	if err != nil {
		return err
	}
	opts := ps.Cluster[i].Engine
	if o.DataDir != "" {
		pt.dir = filepath.Join(o.DataDir, pt.name)
		opts.Dir = pt.dir
	}
	if rejoin && pt.dir == "" {
		return fmt.Errorf("%s cannot rejoin: it keeps no data directory (run it under replbench node --supervise)", pt.name)
	}
	if !rejoin && pt.dir != "" {
		_ = os.RemoveAll(pt.dir) // this node's own directory: what an earlier point left
	}
	if pt.engine, err = storage.Open(opts); err != nil {
		return fmt.Errorf("open the engine of %s: %w", pt.name, err)
	}
	env := workloads.Env{Nodes: ps.Nodes, Writers: ps.Writers, Threads: ps.Threads, Seed: seed, Shard: pt.idx, Shards: ps.Nodes}
	pt.origin = time.Now() // a history recorder counts from the workload's creation
	if pt.workload, err = def.New(cloneMap(ps.Workload.Options), env); err != nil {
		return fmt.Errorf("workload %s: %w", def.Name, err)
	}
	if _, ok := pt.workload.(workloads.Historian); !ok { // a history is its own record
		journal := ""
		if pt.dir != "" {
			journal = pt.dir + ".acks.jsonl"
		}
		if pt.acks, err = openAckJournal(journal, rejoin); err != nil {
			return fmt.Errorf("the acknowledged-write log of %s: %w", pt.name, err)
		}
		pt.acked = newAckLog(pt.workload.Tables())
		pt.acked.journal = pt.acks.add
	}
	if !rejoin {
		for _, t := range pt.workload.Tables() {
			if err := pt.engine.CreateTable(t); err != nil {
				return fmt.Errorf("create table %s on %s: %w", t.Name, pt.name, err)
			}
		}
		if err := pt.workload.Load(context.Background(), workloads.OnEngine(pt.engine), nil); err != nil {
			return fmt.Errorf("load workload %s on %s: %w", def.Name, pt.name, err)
		}
		if err := pt.engine.Checkpoint(); err != nil {
			return fmt.Errorf("checkpoint %s after loading: %w", pt.name, err)
		}
	}
	bus, err := transport.NewNATSBus(transport.NATSOptions{URL: o.Bus.URL, Auth: o.Bus.Auth, Prefix: prefix})
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", transport.RedactURL(o.Bus.URL), err)
	}
	pt.emu = transport.NewEmulator(bus, ps.Net, transport.EmulatorOptions{Seed: seed})
	var waiter precise.Waiter = precise.Virtual{}
	if needsCosts(ps) {
		pt.costTimer = precise.NewTimer()
		waiter = pt.costTimer
	}
	costs, err := costNodes(ps, waiter)
	if err != nil {
		return err
	}
	pt.cost = costs[i]
	ep, err := pt.emu.Attach(pt.name)
	if err != nil {
		return fmt.Errorf("attach %s to the bus: %w", pt.name, err)
	}
	cfg := protocols.Config{Node: pt.name, Members: ps.Members(), Endpoint: ep, Applier: pt.engine,
		Settings: ps.Cluster[i].Settings, Seed: seed + int64(i), Cost: pt.cost}
	if rejoin {
		cfg.Rejoin, cfg.Position = true, pt.engine.Position()
	}
	if pt.prov, err = proto.New(cfg); err != nil {
		_ = ep.Close()
		return fmt.Errorf("start %s on %s: %w", proto.Name, pt.name, err)
	}
	pt.engine.SetReplicator(pt.prov)
	// The probe bus is attached after the provider's: NATS propagates a subscription's
	// interest along a route in order, so once the probes get through, so do the
	// provider's first messages.
	pbus, err := transport.NewNATSBus(transport.NATSOptions{URL: o.Bus.URL, Auth: o.Bus.Auth, Prefix: prefix + ".probe"})
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", transport.RedactURL(o.Bus.URL), err)
	}
	pt.probe = transport.NewEmulator(pbus, ps.Net, transport.EmulatorOptions{Seed: seed + 7919})
	if pt.probeEp, err = pt.probe.Attach(pt.name); err != nil {
		return err
	}
	pep := pt.probeEp
	pt.probeEp.SetHandler(func(from string, b []byte) {
		if len(b) < 9 {
			return
		}
		seq, _ := strconv.ParseUint(string(b[1:]), 10, 64)
		switch b[0] {
		case 'p':
			b[0] = 'q'
			_ = pep.Send(from, b)
		case 'q':
			select {
			case pt.pongs <- pong{from: from, seq: seq}:
			default:
			}
		}
	})
	return nil
}

// measureRTT sends rounds pings to every other member through the probe bus, whose
// emulator has the point's network, one at a time, and returns the median round trip of
// each link in milliseconds ("n1>n2"): the configured delays plus whatever NATS, the
// machines and their scheduling add. A ping that gets no answer in 5 s (an interest not
// yet propagated through the NATS cluster) is sent again, up to a minute per link.
func (pt *nodePoint) measureRTT(rounds int) (map[string]float64, error) {
	out := map[string]float64{}
	var seq uint64 = 1e8 // nine digits: every probe has the same length
	for _, m := range pt.ps.Members() {
		if m == pt.name {
			continue
		}
		var rtts []time.Duration
		deadline := time.Now().Add(time.Minute)
		for len(rtts) < rounds {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("no answer from %s to a round-trip probe within a minute: the NATS cluster does not carry this node's messages to it", m)
			}
			seq++
			start := time.Now()
			if err := pt.probeEp.Send(m, []byte("p"+strconv.FormatUint(seq, 10))); err != nil {
				return nil, err
			}
			timeout := time.After(5 * time.Second)
		wait:
			for {
				select {
				case p := <-pt.pongs:
					if p.from == m && p.seq == seq {
						rtts = append(rtts, time.Since(start))
						break wait
					}
				case <-timeout:
					break wait
				}
			}
		}
		slices.Sort(rtts)
		out[pt.name+">"+m] = ms(rtts[len(rtts)/2])
	}
	return out, nil
}

// phase runs this node's clients (client i of the point is on writer i mod writers, as in
// cluster.clients, with the same seeds) through one phase.
func (h *nodeHost) phase(pt *nodePoint, rq phaseRequest) phaseReply {
	if pt.clients == nil {
		pt.clients = pt.makeClients(pt.ps, seedOfPoint(pt))
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.mu.Lock()
	pt.cancel = cancel
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		pt.cancel = nil
		h.mu.Unlock()
		cancel()
	}()
	l := load{queries: rq.Queries, duration: rq.Duration, rate: rq.Rate, retries: rq.Retries, backoff: rq.Backoff, refused: rq.Refused, stall: rq.Stall}
	if rq.Queries > 0 || rq.NodeQueries > 0 {
		l.quotas = make([]int64, len(pt.clients))
		for i, c := range pt.clients {
			if rq.NodeQueries > 0 {
				l.quotas[i] = share(rq.NodeQueries, i, len(pt.clients))
			} else {
				l.quotas[i] = share(rq.Queries, c.id, pt.ps.Threads)
			}
		}
		l.queries = max(rq.Queries, rq.NodeQueries)
	}
	stats := make([]*clientStats, len(pt.clients))
	for i, c := range pt.clients {
		stats[i] = c.stats
	}
	begun0 := pt.begun.Load()
	var r phaseResult
	stop := h.streamStats(pt, rq.Phase, stats, begun0)
	if len(pt.clients) > 0 {
		r = runPhase(ctx, pt.clients, l)
	} else if rq.Queries == 0 && rq.NodeQueries == 0 {
		// No clients here: report the provider's figures for the phase's length anyway.
		select {
		case <-time.After(rq.Duration):
		case <-ctx.Done():
		}
	}
	stop()
	out := phaseReply{Elapsed: r.elapsed, Stalled: r.stalled, Stuck: r.stuck, Abandoned: r.abandoned, Clients: len(pt.clients), Stats: encodeStats(stats)}
	if rq.Warmup {
		for _, c := range pt.clients {
			c.stats = newClientStats()
		}
		pt.emu.ResetStats()
	}
	return out
}

// seedOfPoint is the clients' seed of a point, as runPoint derives it.
func seedOfPoint(pt *nodePoint) int64 { return pt.seed + int64(pt.ps.Index)*1_000_003 }

// makeClients creates the point's clients that run on this node: thread i of the point
// belongs to writer i mod len(writers), and gets the same random stream as in one process.
func (pt *nodePoint) makeClients(ps *PointSpec, seed int64) []*client {
	out := []*client{}
	for i := 0; i < ps.Threads; i++ {
		if ps.Writers[i%len(ps.Writers)] != pt.name {
			continue
		}
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(i)+1))
		q := &queryCounts{}
		var db workloads.DB = withCosts(gatedDB{e: pt.engine, g: pt.gate}, pt.cost)
		if pt.acked != nil {
			db = pt.acked.wrap(db)
		}
		db = countQueries(countBegins{db, &pt.begun}, q)
		c := &client{id: i, node: pt.name, db: db, queries: q, wl: pt.workload.NewClient(i, rng), stats: newClientStats()}
		if r, ok := pt.prov.(protocols.AutocommitRetrier); ok {
			c.serverRetries = r.RetryAutocommit()
		}
		out = append(out, c)
	}
	return out
}

func (pt *nodePoint) status() statusReply {
	m := map[string]string{}
	for _, v := range pt.prov.Status() {
		m[v.Name] = v.Value
	}
	st := pt.engine.Stats()
	m["replbench_engine_commits"] = fmt.Sprint(st.Commits)
	m["replbench_engine_rollbacks"] = fmt.Sprint(st.Rollbacks)
	m["replbench_engine_applied"] = fmt.Sprint(st.Applied)
	m["Innodb_row_lock_waits"] = fmt.Sprint(st.LockWaits)
	m["Innodb_deadlocks"] = fmt.Sprint(st.Deadlocks)
	out := statusReply{Vars: m, Emu: pt.emu.Stats()}
	events, lost := busLost(pt.emu)
	out.Bus = events
	if lost != nil {
		out.Lost = lost.Error()
	}
	out.RSSKB, out.HWMKB = processMemory()
	return out
}

// processMemory reads this process's resident set and its peak (VmRSS, VmHWM) in KiB;
// zeros where /proc is not there.
func processMemory() (rss, hwm int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm
}

// fault applies one network operation to this node's emulator. Each node holds only the
// links that leave it, so the coordinator sends every operation to every node: a
// partition is then cut on both sides of it.
func (pt *nodePoint) fault(rq faultRequest) error {
	switch rq.Op {
	case "partition":
		pt.emu.Partition(rq.Groups...)
	case "oneway":
		pt.emu.PartitionOneWay(rq.From, rq.To)
	case "clog":
		pt.emu.Clog(rq.From, rq.To)
	case "unclog":
		pt.emu.Unclog(rq.From, rq.To)
	case "heal":
		pt.emu.Heal()
	case "network":
		if rq.Network == nil {
			return errors.New("network fault without a network")
		}
		pt.emu.SetNetwork(rq.Network.network())
	default:
		return fmt.Errorf("unknown network operation %q", rq.Op)
	}
	return nil
}

// closePoint closes the point set up here, if any; keep leaves its data directory for a
// restart to reopen (a supervised node stopped by a signal).
func (h *nodeHost) closePoint(keep bool) {
	h.mu.Lock()
	pt := h.pt
	h.pt = nil
	h.mu.Unlock()
	if pt != nil {
		if keep {
			pt.dir = ""
		}
		pt.close()
	}
}

// close stops the provider, the emulators (which close their buses) and the engine, and
// removes the point's data directory: each point starts from a freshly loaded database.
func (pt *nodePoint) close() {
	if pt.cancel != nil {
		pt.cancel()
	}
	if pt.closeSQL != nil {
		_ = pt.closeSQL()
	}
	if pt.prov != nil {
		_ = pt.prov.Close()
	}
	if pt.costTimer != nil {
		pt.costTimer.Close()
	}
	if pt.probe != nil {
		_ = pt.probe.Close()
	}
	if pt.emu != nil {
		_ = pt.emu.Close()
	}
	if pt.engine != nil {
		_ = pt.engine.Close()
	}
	pt.acks.close(pt.dir != "")
	if pt.dir != "" {
		_ = os.RemoveAll(pt.dir)
	}
}

// wireNetwork is a transport.Network in a form JSON can carry (a map keyed by a struct is
// not).
type wireNetwork struct {
	Name   string                   `json:"name"`
	Base   time.Duration            `json:"base"`
	Egress map[string]time.Duration `json:"egress,omitempty"`
	Links  []wireLink               `json:"links,omitempty"`
	Jitter transport.Jitter         `json:"jitter"`
	Loss   float64                  `json:"loss"`
}

type wireLink struct {
	From  string        `json:"from"`
	To    string        `json:"to"`
	Delay time.Duration `json:"delay"`
}

func toWireNetwork(n transport.Network) *wireNetwork {
	w := &wireNetwork{Name: n.Name, Base: n.Base, Egress: n.Egress, Jitter: n.Jitter, Loss: n.Loss}
	for l, d := range n.Links {
		w.Links = append(w.Links, wireLink{l.From, l.To, d})
	}
	sort.Slice(w.Links, func(i, j int) bool {
		return w.Links[i].From+">"+w.Links[i].To < w.Links[j].From+">"+w.Links[j].To
	})
	return w
}

func (w *wireNetwork) network() transport.Network {
	n := transport.Network{Name: w.Name, Base: w.Base, Egress: w.Egress, Jitter: w.Jitter, Loss: w.Loss}
	if len(w.Links) > 0 {
		n.Links = map[transport.Link]time.Duration{}
		for _, l := range w.Links {
			n.Links[transport.Link{From: l.From, To: l.To}] = l.Delay
		}
	}
	return n
}

// ValidNodeName reports whether name is a node name (n1, n2, ...), as --name takes it.
func ValidNodeName(name string) bool { return validNode(name, 1<<20) }
