package semisync

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/replbench/replbench/internal/driver"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/monitor"
	"github.com/replbench/replbench/protocols/transport"
)

// Provider is one node of a source/replica topology: the source (Members[0]) or a
// replica. It is the driver of the Source or Replica state machine: it steps the machine
// under one mutex (from the bus handler, the client's calls and its clock loop), sends the
// machine's messages on the bus in order, acts on the sessions it releases, and runs the
// replica's parallel applier. Goroutines, timers, locks and the bus are here and in the other
// driver_*.go files, nowhere in the machines (machines_test.go checks it).
type Provider struct {
	cfg      protocols.Config
	saved    int64       // binlog positions stored in the engine (driver_restart.go)
	blog     *binlogFile // the source's binlog file (driver_binlogfile.go); nil without a crash-testing filesystem
	semi     bool
	isSource bool
	source   string
	uuid     string
	ep       transport.Endpoint
	applier  protocols.Applier
	workers  int
	preserve bool // replica_preserve_commit_order
	hb       time.Duration
	pipe     Pipeline

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// order is the source's commit order (engine commits in binlog order) or the
	// replica's apply order (workers wait for dependencies and commit in order).
	order *monitor.Monitor

	mu       sync.Mutex
	src      *Source
	rep      *Replica
	sessions map[uint64]*waitSlot
	nextID   uint64
	closed   bool
	armed    time.Time
	kick     chan struct{}
	ready    chan struct{}
	isReady  bool
	lagTS    []posTS // replica: commit timestamps of relay entries not yet applied
	sqlErr   string
	started  bool

	aq   *driver.Queue[RelayEntry] // the relay log, receiver to coordinator
	work chan RelayEntry           // coordinator to workers

	// A replica's messages that wait for their relay write and ack CPU (driver_cost.go).
	outq       *driver.Queue[delayedBatch]
	outPending int
}

type posTS struct {
	pos int64
	ts  int64
}

// waitSlot is the driver's side of a source session: channels the state machine's
// events close.
type waitSlot struct {
	written chan struct{}
	goCh    chan struct{}
	done    chan struct{}
	pos     int64
	acked   bool
}

// New creates the provider for one node from its resolved Settings (cfg.Settings, as
// ParseSettings or ParseAsyncSettings built them): semi-sync or async as they say.
func New(cfg protocols.Config) (protocols.Provider, error) {
	st, ok := cfg.Settings.(*Settings)
	if !ok {
		return nil, fmt.Errorf("node %s: semisync needs its own resolved settings (protocols.Config.Settings from semisync.ParseSettings), got %T", cfg.Node, cfg.Settings)
	}
	if len(cfg.Members) < 2 {
		return nil, fmt.Errorf("source/replica replication needs a source and at least one replica, got %d node(s) (use --nodes 2 or more, or --protocol standalone)", len(cfg.Members))
	}
	if cfg.Index() < 0 {
		return nil, fmt.Errorf("node %q is not among the members %v", cfg.Node, cfg.Members)
	}
	if cfg.Endpoint == nil || cfg.Applier == nil {
		return nil, fmt.Errorf("node %s: the provider needs an endpoint and an applier", cfg.Node)
	}
	var blog *binlogFile
	var fileEvs []fileEvent
	hadFile := false
	if cfg.Node == sourceOf(cfg) {
		var err error
		if blog, fileEvs, hadFile, err = openBinlog(cfg.Applier, st.SyncPeriod, osWriteback{Origin: time.Now(), Expire: st.DirtyExpire, Every: st.DirtyWriteback}); err != nil {
			return nil, fmt.Errorf("node %s: the binlog file: %w", cfg.Node, err)
		}
		if cfg.Rejoin {
			cfg.Position = recoverSource(cfg, fileEvs, hadFile) // driver_restart.go: XA crash recovery
		}
	} else {
		dropBinlog(cfg.Applier) // a replica's binlog is what its engine keeps
	}
	p := &Provider{
		cfg:      cfg,
		semi:     st.SemiSync,
		source:   sourceOf(cfg),
		isSource: cfg.Node == sourceOf(cfg),
		uuid:     protocols.NameUUID("source/" + cfg.Members[0]),
		ep:       cfg.Endpoint,
		applier:  cfg.Applier,
		workers:  st.Workers,
		preserve: st.PreserveOrder,
		hb:       st.Heartbeat,
		pipe:     st.Pipeline,
		order:    monitor.New(cfg.Position),
		sessions: make(map[uint64]*waitSlot),
		kick:     make(chan struct{}, 1),
		ready:    make(chan struct{}),
		aq:       driver.NewQueue[RelayEntry](),
		outq:     driver.NewQueue[delayedBatch](),
		work:     make(chan RelayEntry),
	}
	if bs, ok := cfg.Applier.(binlogStore); ok {
		bs.KeepBinlog() // driver_restart.go
	}
	if p.isSource {
		p.src = newSourceFor(cfg, st, fileEvs, hadFile)
		p.saved = p.src.syncedPos
		// The engine commits in binlog order from the binlog's end, which is past the
		// engine's position when the binlog kept transactions the engine lost.
		p.order = monitor.New(p.src.commitPos)
		p.blog = blog
		if err := p.rewriteBinlog(); err != nil {
			blog.close()
			return nil, fmt.Errorf("node %s: the binlog file: %w", cfg.Node, err)
		}
	} else {
		p.rep = NewReplica(p.source, cfg.Position, st.ConnectRetry, p.hb)
	}
	return p, nil
}

// Start implements protocols.Provider. The source returns once every replica has opened
// its dump stream; a replica once it has heard from the source.
func (p *Provider) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return fmt.Errorf("node %s: Start called twice", p.cfg.Node)
	}
	p.started = true
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.ep.SetHandler(p.handle)
	if p.rep != nil {
		p.rep.Start(time.Now())
		p.flushLocked()
		if p.cfg.Cost != nil {
			p.wg.Add(1)
			go p.sender() // driver_cost.go
		}
		p.wg.Add(1)
		go p.coordinator()
		for i := 0; i < p.workers; i++ {
			p.wg.Add(1)
			go p.worker()
		}
	}
	p.wg.Add(1)
	go p.loop()
	p.mu.Unlock()
	if p.isSource && p.cfg.Rejoin {
		return nil // a restarted source serves at once; replicas reconnect when they can
	}
	select {
	case <-p.ready:
		return nil
	case <-ctx.Done():
		if p.isSource {
			st := p.sourceStatus()
			return fmt.Errorf("source %s: only %d of %d replicas connected before the start deadline: check partitions and the replicas' logs: %w", p.cfg.Node, st.Clients, len(p.cfg.Members)-1, ctx.Err())
		}
		return fmt.Errorf("replica %s: no answer from source %s before the start deadline: check partitions: %w", p.cfg.Node, p.source, ctx.Err())
	}
}

// Close implements protocols.Provider: it closes the dump stream, releases every waiting
// session with an error, and stops the ticker, the applier coordinator and its workers.
func (p *Provider) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	if p.rep != nil {
		q := p.rep.Quit()
		_ = p.ep.Send(q.To, q.Payload)
	}
	started := p.started
	p.mu.Unlock()
	if started {
		p.cancel()
	}
	p.aq.Close()
	p.outq.Close()
	p.wg.Wait()
	p.mu.Lock()
	p.blog.close()
	p.mu.Unlock()
	return nil
}

// handle is the bus handler: decode, step the state machine, send its output. It never
// blocks beyond the provider mutex.
func (p *Provider) handle(from string, payload []byte) {
	m, err := decodeMessage(payload)
	if err != nil {
		return // garbage from the network: a real server would drop the connection
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	now := time.Now()
	if p.src != nil {
		p.src.Step(now, from, m)
	} else {
		p.rep.Step(now, from, m)
	}
	p.flushLocked()
}

// flushLocked sends the state machine's messages in order and releases sessions.
func (p *Provider) flushLocked() {
	if p.src != nil {
		msgs, evs := p.src.Ready()
		p.persistBinlogLocked() // driver_restart.go: synced before the events leave
		for _, e := range msgs {
			_ = p.ep.Send(e.To, e.Payload)
		}
		for _, ev := range evs {
			s := p.sessions[ev.Session]
			if s == nil {
				continue
			}
			switch ev.Kind {
			case EvWritten:
				s.pos = ev.Pos
				close(s.written)
			case EvGo:
				close(s.goCh)
			case EvDone:
				s.acked = ev.Acked
				close(s.done)
				delete(p.sessions, ev.Session)
			}
		}
		if d, ok := p.src.NextDeadline(); ok && (p.armed.IsZero() || d.Before(p.armed)) {
			p.armed = d
			driver.Signal(p.kick)
		}
		if !p.isReady && p.src.Connected() == len(p.cfg.Members)-1 {
			p.isReady = true
			close(p.ready)
		}
		return
	}
	msgs, relay := p.rep.Ready()
	p.sendReplica(msgs, len(relay)) // driver_cost.go: after the relay write and ack CPU
	if len(relay) > 0 {
		for _, e := range relay {
			p.lagTS = append(p.lagTS, posTS{e.WS.Seqno, e.TS})
		}
		if len(p.lagTS) > 4096 {
			p.trimLagLocked()
		}
		for _, e := range relay {
			p.aq.Push(e)
		}
	}
	if !p.isReady && (p.rep.Heard() || p.rep.Stopped() != "") {
		// A refused dump stops the I/O thread, not the server: the node serves reads.
		p.isReady = true
		close(p.ready)
	}
}

// loop runs the clock around the state machine: a ticker for heartbeats and dump
// retries, and a timer armed at the earliest ack-wait deadline.
func (p *Provider) loop() {
	defer p.wg.Done()
	ticker := time.NewTicker(p.hb)
	defer ticker.Stop()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		tick := false
		select {
		case <-p.ctx.Done():
			return
		case <-ticker.C:
			tick = true
		case <-timer.C:
			tick = true
		case <-p.kick:
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		now := time.Now()
		if tick {
			if p.src != nil {
				p.src.Tick(now)
				p.blog.writeback(now) // driver_binlogfile.go: the OS's flusher
			} else {
				p.rep.Tick(now)
			}
			p.flushLocked()
		}
		if p.src != nil {
			if d, ok := p.src.NextDeadline(); ok {
				p.armed = d
				timer.Reset(d.Sub(now))
			} else {
				p.armed = time.Time{}
				timer.Stop()
			}
		}
		p.mu.Unlock()
	}
}

// BeforeRead implements protocols.Gate: every node serves reads (replicas may be stale).
func (p *Provider) BeforeRead(ctx context.Context) error { return nil }

// BeforeWrite implements protocols.Gate: replicas run with super_read_only.
func (p *Provider) BeforeWrite(ctx context.Context) error {
	if !p.isSource {
		return protocols.ErrReadOnly()
	}
	return nil
}

// Replicate implements protocols.Replicator: the transaction is written to the binlog
// (in serialised mode after waiting for the binlog lock) and its event leaves for the
// replicas. The returned Commit runs the engine commit where the wait point says.
func (p *Provider) Replicate(ctx context.Context, ws *protocols.WriteSet) (protocols.Commit, error) {
	if !p.isSource {
		return nil, protocols.ErrReadOnly()
	}
	s := &waitSlot{written: make(chan struct{}), goCh: make(chan struct{}), done: make(chan struct{})}
	p.mu.Lock()
	if p.closed || !p.started {
		p.mu.Unlock()
		return nil, protocols.ErrNotReady()
	}
	p.mu.Unlock()
	p.chargePrepare(ctx) // driver_cost.go: the engine's prepare, before the binlog
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, protocols.ErrNotReady()
	}
	p.nextID++
	id := p.nextID
	p.sessions[id] = s
	ws.Snapshot = p.order.LastLeft()
	p.src.Submit(time.Now(), id, ws)
	p.flushLocked()
	p.mu.Unlock()
	select {
	case <-s.written:
	case <-ctx.Done():
		p.mu.Lock()
		if p.src.Cancel(id) {
			delete(p.sessions, id)
			p.mu.Unlock()
			return nil, driver.CtxErr(ctx)
		}
		p.mu.Unlock()
		<-s.written // written meanwhile (the same flush closed it): it must commit
	case <-p.ctx.Done():
		return nil, protocols.ErrNotReady()
	}
	return &commit{p: p, id: id, s: s}, nil
}

type commit struct {
	p  *Provider
	id uint64
	s  *waitSlot
}

func (c *commit) GTID() protocols.GTID { return protocols.GTID{UUID: c.p.uuid, Seqno: c.s.pos} }
func (c *commit) Seqno() int64         { return c.s.pos }

// Apply implements protocols.Commit: wait for the commit stage (and, under AFTER_SYNC,
// the group's ack), run the engine commit in binlog order, then (AFTER_COMMIT) wait for
// this transaction's own ack.
//
// If ctx ends during a wait, the session is killed (Source.Interrupt): it stops waiting
// for the ack, but the transaction is in the binlog, so the engine commit still runs, in
// binlog order, before Apply returns 1317; the client cannot tell that it committed, as
// with a killed COMMIT in MySQL. Only the wait for an earlier group's ack can still hold
// it, until that group's ack, timeout or own kill.
func (c *commit) Apply(ctx context.Context, engineCommit func() error) error {
	p := c.p
	killed := false
	if err := c.wait(ctx, c.s.goCh, &killed); err != nil {
		return err
	}
	if err := p.order.Enter(p.ctx, c.s.pos); err != nil {
		return protocols.ErrNotReady()
	}
	err := engineCommit()
	// The engine commit's CPU, in binlog order (MySQL's commit-stage leader commits the
	// members one after the other; MariaDB's commit_ordered runs under LOCK_commit_ordered).
	// No redo flush: with the binlog on, the prepare's is what recovery needs.
	_ = p.cfg.Cost.EngineCommit(p.ctx)
	p.order.Leave(c.s.pos)
	p.mu.Lock()
	if !p.closed {
		p.src.Committed(time.Now(), c.id)
		p.flushLocked()
	}
	p.mu.Unlock()
	if werr := c.wait(ctx, c.s.done, &killed); werr != nil && err == nil {
		err = werr
	}
	if err == nil && killed && !c.s.acked {
		err = protocols.ErrInterrupted()
	}
	return err
}

// wait blocks until ch is closed. If ctx ends first, it kills the session once (sets
// *killed) and keeps waiting, for what is left is local: the engine commits of earlier
// positions, or an earlier group's wait. Only Close ends it with an error.
func (c *commit) wait(ctx context.Context, ch <-chan struct{}, killed *bool) error {
	p := c.p
	select {
	case <-ch:
		return nil
	default:
	}
	done := ctx.Done()
	if *killed {
		done = nil
	}
	for {
		select {
		case <-ch:
			return nil
		case <-done:
			done = nil
			*killed = true
			p.mu.Lock()
			if !p.closed {
				p.src.Interrupt(time.Now(), c.id)
				p.flushLocked()
			}
			p.mu.Unlock()
		case <-p.ctx.Done():
			return protocols.ErrNotReady()
		}
	}
}

// SyncWait implements protocols.Provider: on a replica, wait until everything the
// replica knows the source has written is applied (WAIT_FOR_EXECUTED_GTID_SET with the
// retrieved set); the source is always in sync with itself.
func (p *Provider) SyncWait(ctx context.Context) error {
	if p.isSource {
		return nil
	}
	p.mu.Lock()
	target := p.rep.SourcePos()
	p.mu.Unlock()
	return p.order.WaitFor(ctx, target)
}

// LastCommitted implements protocols.Provider: the binlog position up to which every
// transaction is committed in the engine (source) or applied (replica).
func (p *Provider) LastCommitted() int64 { return p.order.LastLeft() }
