package semisync

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/monitor"
	"github.com/replbench/replbench/protocols/transport"
)

// Parameter names. The rpl_semi_sync_master_* names are the pre-8.0.26 ones the documents
// use; 8.0.26+ spells them rpl_semi_sync_source_* with the same meaning and defaults.
const (
	ParamTimeout     = "rpl_semi_sync_master_timeout"
	ParamWaitPoint   = "rpl_semi_sync_master_wait_point"
	ParamWaitCount   = "rpl_semi_sync_master_wait_for_slave_count"
	ParamWaitNoSlave = "rpl_semi_sync_master_wait_no_slave"
	ParamWorkers     = "replica_parallel_workers"
	ParamHistory     = "binlog_transaction_dependency_history_size"
	ParamSerialized  = "semisync.serialized"
	ParamSyncDelay   = "binlog_group_commit_sync_delay"
	ParamNoDelayCnt  = "binlog_group_commit_sync_no_delay_count"
	ParamPreserve    = "replica_preserve_commit_order"
	ParamHeartbeat   = "semisync.heartbeat_period"
)

var commonParams = []protocols.Param{
	{Name: ParamSyncDelay, Default: "0", Min: new(0.0), Max: new(1000000.0), Help: "microseconds the binlog sync stage waits before syncing, so that more transactions join the group: one ack wait (semi-sync) then covers more commits, at the price of that much more latency per commit, since events reach the replicas only once synced (sync_binlog=1). Ignored with semisync.serialized."},
	{Name: ParamNoDelayCnt, Default: "0", Min: new(0.0), Max: new(100000.0), Help: "end the sync-stage wait early once this many transactions are queued (0: always wait the full binlog_group_commit_sync_delay)."},
	{Name: ParamPreserve, Aliases: []string{"slave_preserve_commit_order"}, Default: "ON", Help: "replicas commit in binlog order (MySQL 8.0.27+ default); OFF lets a worker commit as soon as its write-set is applied, so a replica may briefly show a later transaction without an earlier independent one."},
	{Name: ParamWorkers, Aliases: []string{"slave_parallel_workers"}, Default: "4", Min: new(0.0), Max: new(1024.0), Help: "applier workers on each replica (MySQL 8.0.27+ default 4); 0 applies in the coordinator, one transaction at a time. Workers apply transactions in parallel after their write-set dependency and commit in binlog order (replica_preserve_commit_order=ON)."},
	{Name: ParamHistory, Default: "25000", Min: new(1.0), Max: new(1000000.0), Help: "rows the source remembers to compute write-set dependencies (binlog_transaction_dependency_tracking=WRITESET); when full it is cleared and parallelism on the replicas drops for a moment."},
	{Name: ParamHeartbeat, Default: "100ms", Min: new(0.001), Help: "model knob: how long a dump stream may stay silent before the source sends a heartbeat, and how long a replica waits before re-requesting an unanswered dump. A replica that learns from a gap or a heartbeat that it lost events re-requests from its relay-log position. MySQL's SOURCE_HEARTBEAT_PERIOD defaults to 30 s and a real partition is noticed by replica_net_timeout (60 s); the model is quicker so that runs converge promptly after a fault."},
}

func init() {
	protocols.Register(protocols.Protocol{
		Name:    "semisync",
		Aliases: []string{"semi-sync", "semisynchronous"},
		Summary: "MySQL semi-sync: source n1 waits for wait_for_slave_count relay-log acks per binlog group; 10 s timeout falls back to async",
		Notes: "n1 is the source and the only writer; replicas refuse writes with 1290. " +
			"The binlog is in memory and there is no fsync: a binlog group's cost is the ack round trip (plus the engine commit), not disk. " +
			"Group commit forms a group from every transaction flushed while the previous group held the commit-stage lock; binlog_group_commit_sync_delay holds the sync stage (events leave the source once synced, as with sync_binlog=1). " +
			"semisync.serialized=true holds the binlog lock from the write through the ack (5.5/5.6 behaviour as the documents describe it), so the source commits at most once per round trip. " +
			"Under AFTER_SYNC yes_tx/no_tx count ack waits, i.e. binlog groups, as commitTrx does; under AFTER_COMMIT they count transactions. " +
			"A dump stream is never broken by a partition (TCP would retransmit); events lost by the emulator are re-requested by the replica from its relay-log position, and a heartbeat sent while a session waits asks a caught-up replica to ack again, so a lost ack costs about semisync.heartbeat_period rather than the timeout. " +
			"The whole binlog stays in memory for the run (no purge). " +
			"A session whose context ends while it waits for an ack (a killed query) stops waiting: its transaction is in the binlog, so it still commits in the engine, in binlog order, and the client gets 1317; under AFTER_SYNC any member's kill ends its group's wait (MySQL: the group leader's), and the wait counts as no_tx.",
		Params: append([]protocols.Param{
			{Name: ParamTimeout, Aliases: []string{"rpl_semi_sync_source_timeout"}, Default: "10000", Min: new(0.0), Max: new(float64(math.MaxUint32)), Help: "milliseconds a commit waits for acks before the source silently switches to async; it switches back when an ack reaches the newest written position."},
			{Name: ParamWaitPoint, Aliases: []string{"rpl_semi_sync_source_wait_point"}, Default: "AFTER_SYNC", Choices: []string{"AFTER_SYNC", "AFTER_COMMIT"}, Help: "AFTER_SYNC waits before the engine commit, once per binlog group, holding the commit-stage lock (nothing unacknowledged is visible); AFTER_COMMIT commits first and each session then waits for its own ack."},
			{Name: ParamWaitCount, Aliases: []string{"rpl_semi_sync_source_wait_for_replica_count"}, Default: "1", Min: new(1.0), Max: new(65535.0), Help: "replica acks a commit needs: 1 means the fastest replica's round trip decides, N the N-th fastest's."},
			{Name: ParamWaitNoSlave, Aliases: []string{"rpl_semi_sync_source_wait_no_replica"}, Default: "ON", Help: "ON: with fewer connected replicas than wait_for_slave_count, commits still wait for the timeout; OFF: the source switches to async as soon as a replica disconnects below the count."},
			{Name: ParamSerialized, Default: "false", Help: "model switch: true makes every commit wait alone, holding the binlog lock from the binlog write through the ack (MySQL 5.5/5.6 as the documents describe it); false is 5.7+ group commit, where one ack wait covers a whole binlog group."},
		}, commonParams...),
		MinNodes: 2,
		New:      func(cfg protocols.Config) (protocols.Provider, error) { return New(cfg, true) },
	})
	protocols.Register(protocols.Protocol{
		Name:    "async",
		Aliases: []string{"asynchronous"},
		Summary: "MySQL asynchronous replication: source n1 ships binlog events, replicas apply them, commit never waits",
		Notes: "The same source and replicas as semisync without the ack wait. n1 is the only writer; replicas refuse writes with 1290. " +
			"The binlog is in memory and there is no fsync. Events lost by the emulator are re-requested by the replica from its relay-log position.",
		Params:   append([]protocols.Param(nil), commonParams...),
		MinNodes: 2,
		New:      func(cfg protocols.Config) (protocols.Provider, error) { return New(cfg, false) },
	})
}

// Provider is one node of a source/replica topology: the source (Members[0]) or a
// replica. It drives the Source or Replica state machine under one mutex, sends its
// output on the bus in order, and runs the replica's parallel applier.
type Provider struct {
	cfg      protocols.Config
	semi     bool
	isSource bool
	source   string
	uuid     string
	ep       transport.Endpoint
	applier  protocols.Applier
	workers  int
	preserve bool // replica_preserve_commit_order
	hb       time.Duration

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

	aq   applyQueue
	work chan RelayEntry // coordinator to workers
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

// New creates the provider for one node; semi selects semi-sync (true) or async.
func New(cfg protocols.Config, semi bool) (protocols.Provider, error) {
	if len(cfg.Members) < 2 {
		return nil, fmt.Errorf("source/replica replication needs a source and at least one replica, got %d node(s) (use --nodes 2 or more, or --protocol standalone)", len(cfg.Members))
	}
	if cfg.Index() < 0 {
		return nil, fmt.Errorf("node %q is not among the members %v", cfg.Node, cfg.Members)
	}
	if cfg.Endpoint == nil || cfg.Applier == nil {
		return nil, fmt.Errorf("node %s: the provider needs an endpoint and an applier", cfg.Node)
	}
	p := &Provider{
		cfg:      cfg,
		semi:     semi,
		source:   cfg.Members[0],
		isSource: cfg.Node == cfg.Members[0],
		uuid:     protocols.NameUUID("source/" + cfg.Members[0]),
		ep:       cfg.Endpoint,
		applier:  cfg.Applier,
		workers:  int(getInt(cfg.Params, ParamWorkers, 4)),
		preserve: getBool(cfg.Params, ParamPreserve, true),
		hb:       getDuration(cfg.Params, ParamHeartbeat, 100*time.Millisecond),
		order:    monitor.New(0),
		sessions: make(map[uint64]*waitSlot),
		kick:     make(chan struct{}, 1),
		ready:    make(chan struct{}),
		work:     make(chan RelayEntry),
	}
	if p.hb <= 0 {
		p.hb = 100 * time.Millisecond
	}
	if p.workers < 0 {
		p.workers = 0
	}
	if p.isSource {
		sc := SourceConfig{
			Replicas:         cfg.Members[1:],
			SemiSync:         semi,
			HeartbeatPeriod:  p.hb,
			HistorySize:      int(getInt(cfg.Params, ParamHistory, 25000)),
			SyncDelay:        time.Duration(getInt(cfg.Params, ParamSyncDelay, 0)) * time.Microsecond,
			SyncNoDelayCount: int(getInt(cfg.Params, ParamNoDelayCnt, 0)),
		}
		if sc.SyncDelay < 0 || sc.SyncDelay > time.Second {
			return nil, fmt.Errorf("%s must be between 0 and 1000000 microseconds, got %d", ParamSyncDelay, sc.SyncDelay/time.Microsecond)
		}
		if semi {
			sc.Timeout = time.Duration(getInt(cfg.Params, ParamTimeout, 10000)) * time.Millisecond
			sc.WaitCount = int(getInt(cfg.Params, ParamWaitCount, 1))
			sc.WaitNoSlave = getBool(cfg.Params, ParamWaitNoSlave, true)
			sc.Serialized = getBool(cfg.Params, ParamSerialized, false)
			if strings.EqualFold(cfg.Params.String(ParamWaitPoint), "AFTER_COMMIT") {
				sc.WaitPoint = AfterCommit
			}
			if sc.WaitCount < 1 {
				return nil, fmt.Errorf("%s must be at least 1, got %d", ParamWaitCount, sc.WaitCount)
			}
		}
		p.src = NewSource(sc)
	} else {
		p.rep = NewReplica(p.source, 0, p.hb)
	}
	p.aq.cond.L = &p.aq.mu
	return p, nil
}

func getInt(ps protocols.Params, name string, def int64) int64 {
	if _, ok := ps[name]; !ok {
		return def
	}
	return ps.Int(name)
}

func getBool(ps protocols.Params, name string, def bool) bool {
	if _, ok := ps[name]; !ok {
		return def
	}
	return ps.Bool(name)
}

func getDuration(ps protocols.Params, name string, def time.Duration) time.Duration {
	if _, ok := ps[name]; !ok {
		return def
	}
	return ps.Duration(name)
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
	p.aq.close()
	p.wg.Wait()
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
			select {
			case p.kick <- struct{}{}:
			default:
			}
		}
		if !p.isReady && len(p.src.dumps) == len(p.cfg.Members)-1 {
			p.isReady = true
			close(p.ready)
		}
		return
	}
	msgs, relay := p.rep.Ready()
	for _, e := range msgs {
		_ = p.ep.Send(e.To, e.Payload)
	}
	if len(relay) > 0 {
		for _, e := range relay {
			p.lagTS = append(p.lagTS, posTS{e.WS.Seqno, e.TS})
		}
		if len(p.lagTS) > 4096 {
			p.trimLagLocked()
		}
		p.aq.push(relay)
	}
	if !p.isReady && p.rep.heard {
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
			return nil, ctxError(ctx)
		}
		p.mu.Unlock()
		<-s.written // written meanwhile (the same flush closed it): it must commit
	case <-p.ctx.Done():
		return nil, protocols.ErrNotReady()
	}
	return &commit{p: p, id: id, s: s}, nil
}

// ctxError is what a client whose ctx ended before its transaction was written sees: the
// cause storage gave, or 1317.
func ctxError(ctx context.Context) error {
	var pe *protocols.Error
	if errors.As(context.Cause(ctx), &pe) {
		return pe
	}
	return protocols.ErrInterrupted()
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
	target := p.rep.sourcePos
	p.mu.Unlock()
	return p.order.WaitFor(ctx, target)
}

// LastCommitted implements protocols.Provider: the binlog position up to which every
// transaction is committed in the engine (source) or applied (replica).
func (p *Provider) LastCommitted() int64 { return p.order.LastLeft() }

// sourceStatus returns the source state machine's counters.
func (p *Provider) sourceStatus() SourceStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.src.Status()
}

// Status implements protocols.Provider: the Rpl_semi_sync_master_* variables on the
// source (semisync), binlog counters, and on replicas SHOW REPLICA STATUS's lag.
func (p *Provider) Status() []protocols.StatusVar {
	var out []protocols.StatusVar
	add := func(n string, v any) { out = append(out, protocols.StatusVar{Name: n, Value: fmt.Sprint(v)}) }
	if p.isSource {
		st := p.sourceStatus()
		if p.semi {
			add("Rpl_semi_sync_master_status", onOff(st.On))
			add("Rpl_semi_sync_master_clients", st.Clients)
			add("Rpl_semi_sync_master_yes_tx", st.YesTx)
			add("Rpl_semi_sync_master_no_tx", st.NoTx)
			add("Rpl_semi_sync_master_no_times", st.NoTimes)
			add("Rpl_semi_sync_master_timefunc_failures", 0)
			add("Rpl_semi_sync_master_tx_wait_time", st.TxWaitTime)
			add("Rpl_semi_sync_master_tx_waits", st.TxWaits)
			avg := int64(0)
			if st.TxWaits > 0 {
				avg = st.TxWaitTime / st.TxWaits
			}
			add("Rpl_semi_sync_master_tx_avg_wait_time", avg)
			add("Rpl_semi_sync_master_net_avg_wait_time", 0)
			add("Rpl_semi_sync_master_wait_sessions", st.WaitSessions)
			add("Rpl_semi_sync_master_wait_pos_backtraverse", st.Backtraverse)
		}
		add("Binlog_commits", st.CommitPos)
		add("Binlog_group_commits", st.Groups)
		for _, r := range p.cfg.Members[1:] {
			if p.semi {
				add("Replica_"+r+"_acked_position", st.ReplicaAcked[r])
			}
		}
		return out
	}
	p.mu.Lock()
	rs := p.rep.Status()
	applied := p.order.LastLeft()
	p.trimLagLocked()
	lag := int64(0)
	if len(p.lagTS) > 0 {
		lag = int64(time.Since(time.Unix(0, p.lagTS[0].ts)) / time.Second)
		if lag < 0 {
			lag = 0
		}
	}
	sqlErr := p.sqlErr
	p.mu.Unlock()
	io := "Yes"
	if !rs.Connected {
		io = "Connecting"
	}
	add("Replica_IO_Running", io)
	add("Seconds_Behind_Source", lag)
	add("Replica_transactions_behind", max(rs.SourcePos, rs.RelayPos)-applied)
	add("Retrieved_position", rs.RelayPos)
	add("Executed_position", applied)
	add("Replica_dump_requests", rs.Requests)
	add("Relay_log_gaps", rs.Gaps)
	add("Last_SQL_Error", sqlErr)
	return out
}

func onOff(b bool) string {
	if b {
		return "ON"
	}
	return "OFF"
}

func (p *Provider) trimLagLocked() {
	applied := p.order.LastLeft()
	i := 0
	for i < len(p.lagTS) && p.lagTS[i].pos <= applied {
		i++
	}
	p.lagTS = append(p.lagTS[:0], p.lagTS[i:]...)
}

// applyQueue is the relay log as the applier coordinator reads it: unbounded, so the
// receiver never blocks on a slow applier (the relay log is on disk in MySQL).
type applyQueue struct {
	mu     sync.Mutex
	cond   sync.Cond
	q      []RelayEntry
	closed bool
}

func (a *applyQueue) push(es []RelayEntry) {
	a.mu.Lock()
	a.q = append(a.q, es...)
	a.cond.Signal()
	a.mu.Unlock()
}

func (a *applyQueue) pop() (RelayEntry, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for len(a.q) == 0 && !a.closed {
		a.cond.Wait()
	}
	if a.closed {
		return RelayEntry{}, false
	}
	e := a.q[0]
	a.q[0] = RelayEntry{}
	a.q = a.q[1:]
	return e, true
}

func (a *applyQueue) close() {
	a.mu.Lock()
	a.closed = true
	a.cond.Broadcast()
	a.mu.Unlock()
}

// coordinator is the replica's SQL coordinator: it reads the relay log in order, waits
// until an entry's dependency is committed, and hands it to a free worker (or applies it
// itself when replica_parallel_workers=0).
func (p *Provider) coordinator() {
	defer p.wg.Done()
	for {
		e, ok := p.aq.pop()
		if !ok {
			return
		}
		if err := p.order.WaitFor(p.ctx, e.WS.DependsSeqno); err != nil {
			return
		}
		if p.workers == 0 {
			if !p.applyOne(e) {
				return
			}
			continue
		}
		select {
		case p.work <- e:
		case <-p.ctx.Done():
			return
		}
	}
}

func (p *Provider) worker() {
	defer p.wg.Done()
	ch := p.work
	for {
		select {
		case e := <-ch:
			if !p.applyOne(e) {
				return
			}
		case <-p.ctx.Done():
			return
		}
	}
}

// applyOne applies one write-set: take its row locks, commit (in binlog order with
// replica_preserve_commit_order). An error
// stops the applier, as an SQL-thread error stops replication; Last_SQL_Error shows it.
func (p *Provider) applyOne(e RelayEntry) bool {
	seq := e.WS.Seqno
	a, err := p.applier.PrepareApply(p.ctx, e.WS)
	if err != nil {
		p.failApply(seq, err)
		return false
	}
	if p.preserve {
		if err := p.order.Enter(p.ctx, seq); err != nil {
			a.Abort()
			return false
		}
	}
	if err := a.Commit(); err != nil {
		p.failApply(seq, err)
		return false
	}
	p.order.Leave(seq)
	return true
}

func (p *Provider) failApply(seq int64, err error) {
	if p.ctx.Err() != nil {
		return
	}
	p.mu.Lock()
	if p.sqlErr == "" {
		p.sqlErr = fmt.Sprintf("applying binlog position %d: %v (replication stopped; the replica must be rebuilt)", seq, err)
	}
	p.mu.Unlock()
}
