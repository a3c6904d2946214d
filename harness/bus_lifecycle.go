package harness

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/replbench/replbench/harness/nodes"
	"github.com/replbench/replbench/protocols"
)

// This file is the node lifecycle faults on node processes: kill, stop and restart of a
// node that runs under `replbench node --supervise`. The supervisor does to the process
// what the in-process faults (nodefaults_restart.go) do to a node's parts: kill sends it
// SIGKILL (its memory is gone, what it wrote to its files stays with the operating
// system), stop sends SIGTERM (it leaves its group and closes its engine), restart starts
// a new process, which reopens the data directory (Pebble's WAL replay is the recovery)
// and rejoins through the protocol's own restart path (protocols.Config.Rejoin and
// Position, as in one process) before its clients run the rest of the phase.
//
// crash is refused: on a real filesystem a process kill keeps every written byte, and a
// power loss (which loses what was not fsynced) needs the storage on Pebble's
// crash-testing filesystem, which lives in the node's memory and so dies with the process.

// extPhase is a measured phase over node processes, some of which may be killed and
// restarted while it runs: one call per node process, a killed one's figures taken from
// its last statistics report (statsReport), a restarted one given the rest of the phase.
type extPhase struct {
	x     *ExternalNodes
	ps    *PointSpec
	id    string
	rq    phaseRequest
	start time.Time
	tmo   time.Duration

	mu     sync.Mutex
	cond   *sync.Cond
	active int // calls running, and restarts that may start one
	over   bool
	calls  map[string]*extCall
	ends   []incarnation
}

type extCall struct {
	pid    int
	offset time.Duration
	cancel context.CancelFunc
	killed bool
	at     time.Duration // when it was killed, since the phase began
}

// incarnation is what one node process did in the phase.
type incarnation struct {
	node     string
	pid      int
	offset   time.Duration // when its clients started, since the phase began
	reply    phaseReply    // a call that finished
	err      error
	killed   bool
	at       time.Duration // killed at
	report   statsReport   // a killed call's last report
	reported bool
}

// newExtPhase prepares a phase; id names it in the nodes' statistics reports ("" for the
// warm-up, which streams none).
func newExtPhase(x *ExternalNodes, ps *PointSpec, rq phaseRequest, timeout time.Duration, id string) *extPhase {
	ep := &extPhase{x: x, ps: ps, id: id, rq: rq, tmo: timeout, calls: map[string]*extCall{}}
	ep.rq.Phase = ep.id
	ep.cond = sync.NewCond(&ep.mu)
	return ep
}

// begin starts the phase on every member.
func (ep *extPhase) begin(members []string) {
	ep.start = time.Now()
	ep.mu.Lock()
	defer ep.mu.Unlock()
	for _, n := range members {
		r, _ := ep.x.co.Registered(n)
		ep.launch(n, r.PID, ep.rq, 0)
	}
}

// launch calls the phase on node's process pid; mu is held.
func (ep *extPhase) launch(node string, pid int, rq phaseRequest, offset time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &extCall{pid: pid, offset: offset, cancel: cancel}
	ep.calls[node] = c
	ep.active++
	go func() {
		var reply phaseReply
		err := ep.x.co.Call(ctx, node, "phase", rq, &reply, ep.tmo)
		cancel()
		ep.mu.Lock()
		defer ep.mu.Unlock()
		inc := incarnation{node: node, pid: pid, offset: offset, reply: reply, err: err}
		if c.killed {
			inc.err, inc.killed, inc.at = nil, true, c.at
			inc.report, inc.reported = ep.x.board.last(ep.id, node, pid)
		}
		ep.ends = append(ep.ends, inc)
		if ep.calls[node] == c {
			delete(ep.calls, node)
		}
		ep.active--
		ep.cond.Broadcast()
	}()
}

// killed ends node's running call: its process is gone.
func (ep *extPhase) killed(node string) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if c := ep.calls[node]; c != nil && !c.killed {
		c.killed, c.at = true, time.Since(ep.start)
		c.cancel()
	}
}

// hold keeps the phase open for a restart that may give a node the rest of it; false
// once the phase is over.
func (ep *extPhase) hold() bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.over {
		return false
	}
	ep.active++
	return true
}

func (ep *extPhase) release() {
	ep.mu.Lock()
	ep.active--
	ep.cond.Broadcast()
	ep.mu.Unlock()
}

// resume gives a restarted node process the rest of the phase: the rest of a timed
// phase's duration, or the rest of its clients' share of the transactions (their share
// less what its earlier processes finished or left in doubt). The caller holds the phase.
func (ep *extPhase) resume(node string, pid int) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	rq := ep.rq
	now := time.Since(ep.start)
	if rq.Queries == 0 {
		rq.Duration -= now
		if rq.Duration <= 0 {
			return
		}
	} else {
		var mine int64
		for i := 0; i < ep.ps.Threads; i++ {
			if ep.ps.Writers[i%len(ep.ps.Writers)] == node {
				mine += share(rq.Queries, i, ep.ps.Threads)
			}
		}
		for _, inc := range ep.ends {
			if inc.node == node {
				mine -= inc.finished()
			}
		}
		if mine <= 0 {
			return
		}
		rq.Queries, rq.NodeQueries = 0, mine
	}
	ep.launch(node, pid, rq, now)
}

// finished is how many transactions the incarnation finished, or left in doubt.
func (inc *incarnation) finished() int64 {
	w := inc.reply.Stats
	if inc.killed {
		if !inc.reported {
			return 0
		}
		w = inc.report.Stats
		return w.Committed + w.Failed + inc.report.InFlight
	}
	if w == nil {
		return 0
	}
	return w.Committed + w.Failed
}

// wait blocks until every call has ended and no restart may start another, and returns
// the phase as runPhase would, the clients' statistics (one per node process that ran
// clients) and the notes on killed processes.
func (ep *extPhase) wait() (phaseResult, []*client, []string, error) {
	ep.mu.Lock()
	for ep.active > 0 {
		ep.cond.Wait()
	}
	ep.over = true
	ends := ep.ends
	ep.mu.Unlock()
	// A killed process's last report may arrive after its call was cancelled: read it
	// now, so the point counts what the series counts.
	for i := range ends {
		if ends[i].killed {
			ends[i].report, ends[i].reported = ep.x.board.last(ep.id, ends[i].node, ends[i].pid)
		}
	}
	ep.x.board.forget(ep.id)
	var r phaseResult
	var clients []*client
	var notes []string
	var errs []string
	for _, inc := range ends {
		if inc.err != nil {
			errs = append(errs, inc.err.Error())
			continue
		}
		if inc.killed {
			st := newClientStats()
			if inc.reported && inc.report.Clients == 0 {
				notes = append(notes, fmt.Sprintf("%s's process (pid %d) went down at %.3fs; it ran no clients", inc.node, inc.pid, inc.at.Seconds()))
				continue
			}
			if inc.reported {
				var err error
				if st, err = inc.report.Stats.decode(); err != nil {
					return r, nil, nil, fmt.Errorf("statistics of %s: %w", inc.node, err)
				}
				// What was in flight when the process died: the clients never learnt the
				// outcome, as a client of a killed mysqld sees CR_SERVER_LOST (2013).
				st.aborts[protocols.CauseNotReady] += inc.report.InFlight
				st.failed += inc.report.InFlight
				r.elapsed = max(r.elapsed, inc.offset+inc.report.Elapsed)
				notes = append(notes, fmt.Sprintf("%s's process (pid %d) went down at %.3fs: its clients' last report (at %.3fs) counts %d commits; %d transactions in flight then count as not_ready aborts (outcome unknown to the client), and what its clients did in the %d ms after that report is not counted",
					inc.node, inc.pid, inc.at.Seconds(), (inc.offset+inc.report.Elapsed).Seconds(), inc.report.Stats.Committed, inc.report.InFlight, (inc.at-inc.offset-inc.report.Elapsed).Milliseconds()))
			} else {
				notes = append(notes, fmt.Sprintf("%s's process (pid %d) went down at %.3fs before its first statistics report: nothing its clients did is counted", inc.node, inc.pid, inc.at.Seconds()))
			}
			clients = append(clients, &client{node: inc.node, stats: st})
			continue
		}
		rp := inc.reply
		r.elapsed = max(r.elapsed, inc.offset+rp.Elapsed)
		if rp.Stalled {
			r.stalled = true
			if r.stuck == nil {
				r.stuck = map[string]int{}
			}
			for n, k := range rp.Stuck {
				r.stuck[n] += k
			}
		}
		r.abandoned += rp.Abandoned
		st, err := rp.Stats.decode()
		if err != nil {
			return r, nil, nil, fmt.Errorf("statistics of %s: %w", inc.node, err)
		}
		if rp.Clients > 0 {
			clients = append(clients, &client{node: inc.node, stats: st})
		}
	}
	if len(errs) > 0 {
		return r, nil, nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return r, clients, notes, nil
}

// remoteLife is the restart state of the node processes of a point.
type remoteLife struct {
	mu         sync.Mutex
	down       map[string]string // node -> how it went down (kill, stop)
	restarting map[string]bool
	wg         sync.WaitGroup // restarts in flight
	events     []lifeEvent
	setup      setupRequest   // the point's, for a rejoin
	phase      *extPhase      // the measured phase while it runs
	cuts       []faultRequest // network operations in force since the last heal
	// serve and eps are, for a served point (serve --nodes-external, bus_served.go),
	// each node's endpoint request (at the address it bound) and its endpoint as last
	// opened; nil for a point of run.
	serve map[string]serveRequest
	eps   map[string]NodeEndpoint
	// wentDown are the nodes whose process was killed or stopped in the point, in order,
	// each once (their in-memory workload counters are gone: bus_checks.go).
	wentDown []string
}

// supervisorWait bounds a supervisor's kill or stop: its stop waits a minute for the
// node to close before it kills it.
const supervisorWait = 70 * time.Second

func (t *remoteTarget) targets(node string) []string {
	if node == AllNodes {
		return append([]string(nil), t.members...)
	}
	return []string{node}
}

func (t *remoteTarget) isDown(node string) bool {
	t.life.mu.Lock()
	defer t.life.mu.Unlock()
	return t.life.down[node] != ""
}

func (t *remoteTarget) event(format string, a ...any) {
	t.life.mu.Lock()
	t.life.events = append(t.life.events, lifeEvent{time.Now(), fmt.Sprintf(format, a...)})
	t.life.mu.Unlock()
}

// Lifecycle implements nodeLifecycle: kill, stop and restart through each node's
// supervisor (crash and promote are refused before the run, CheckExternal; pause and
// resume are nodeFaulter's, bus_pause.go).
func (t *remoteTarget) Lifecycle(f FaultEvent) {
	switch f.Kind {
	case FaultKill, FaultStop:
		var wg sync.WaitGroup
		for _, n := range t.targets(f.Node) {
			wg.Add(1)
			go func() { defer wg.Done(); t.down(n, string(f.Kind)) }()
		}
		wg.Wait()
	case FaultRestart:
		for _, n := range t.targets(f.Node) {
			t.restart(n)
		}
	default:
		t.event("%s refused: not supported with --nodes-external", f.Event())
	}
}

func (t *remoteTarget) down(node, how string) {
	if t.isDown(node) {
		return
	}
	var out nodes.ChildPID
	if err := t.x.co.CallSupervisor(context.Background(), node, how, nil, &out, supervisorWait); err != nil {
		t.event("%s %s failed: %v", how, node, err)
		return
	}
	t.life.mu.Lock()
	if t.life.down == nil {
		t.life.down = map[string]string{}
	}
	t.life.down[node] = how
	if !slices.Contains(t.life.wentDown, node) {
		t.life.wentDown = append(t.life.wentDown, node)
	}
	ph := t.life.phase
	t.life.mu.Unlock()
	t.unpauseDown(node)
	if ph != nil {
		ph.killed(node)
	}
}

// restart starts a new process of node through its supervisor, in the background, and,
// while the measured phase runs, gives it the rest of the phase once it serves.
func (t *remoteTarget) restart(node string) {
	lc := &t.life
	lc.mu.Lock()
	if lc.down[node] == "" || lc.restarting[node] {
		lc.mu.Unlock()
		return
	}
	if lc.restarting == nil {
		lc.restarting = map[string]bool{}
	}
	lc.restarting[node] = true
	how := lc.down[node]
	ph := lc.phase
	held := ph != nil && ph.hold()
	lc.wg.Add(1)
	lc.mu.Unlock()
	go func() {
		defer lc.wg.Done()
		if held {
			defer ph.release()
		}
		pid, err := t.rejoin(node)
		lc.mu.Lock()
		lc.restarting[node] = false
		if err != nil {
			lc.events = append(lc.events, lifeEvent{time.Now(), fmt.Sprintf("restart %s failed: %v", node, err)})
		} else {
			delete(lc.down, node)
			lc.events = append(lc.events, lifeEvent{time.Now(), fmt.Sprintf("%s serving again after %s (new process pid %d)", node, how, pid)})
		}
		lc.mu.Unlock()
		if err == nil && held {
			ph.resume(node, pid)
		}
	}()
}

// rejoin is the restart itself: a new process, its registration, its point set up from
// the data directory with Rejoin, the network in force now on its new emulator, its
// provider's Start (the protocol's rejoin) and, on a served point, its MySQL endpoint.
func (t *remoteTarget) rejoin(node string) (int, error) {
	ctx := context.Background()
	old, _ := t.x.co.Registered(node)
	if err := t.x.co.CallSupervisor(ctx, node, "restart", nil, nil, 30*time.Second); err != nil {
		return 0, err
	}
	reg, err := t.x.co.WaitAgain(ctx, node, old.PID, DefaultNodesWait)
	if err != nil {
		return 0, err
	}
	t.life.mu.Lock()
	rq := t.life.setup
	cuts := append([]faultRequest{{Op: "network", Network: toWireNetwork(t.Network())}}, t.life.cuts...)
	t.life.mu.Unlock()
	rq.Rejoin = true
	if err := t.x.co.Call(ctx, node, "setup", rq, nil, 10*time.Minute); err != nil {
		return reg.PID, err
	}
	for _, c := range cuts {
		if err := t.x.co.Call(ctx, node, "fault", c, nil, 10*time.Second); err != nil {
			return reg.PID, err
		}
	}
	if err := t.x.co.Call(ctx, node, "start", nil, nil, rejoinTimeout+10*time.Second); err != nil {
		return reg.PID, err
	}
	return reg.PID, t.reserve(ctx, node)
}

// wentDown is the nodes whose process was killed or stopped in the point.
func (t *remoteTarget) wentDown() []string {
	t.life.mu.Lock()
	defer t.life.mu.Unlock()
	return slices.Clone(t.life.wentDown)
}

// Down implements nodeLifecycle.
func (t *remoteTarget) Down() []string {
	t.life.mu.Lock()
	defer t.life.mu.Unlock()
	var out []string
	for _, m := range t.members {
		if t.life.down[m] != "" {
			out = append(out, m)
		}
	}
	return out
}

// RestartAll implements nodeLifecycle.
func (t *remoteTarget) RestartAll(timeout time.Duration) []string {
	var out []string
	for _, n := range t.Down() {
		t.restart(n)
		out = append(out, n)
	}
	done := make(chan struct{})
	go func() { t.life.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
	}
	return out
}

// Events implements nodeLifecycle.
func (t *remoteTarget) Events() []lifeEvent {
	t.life.mu.Lock()
	defer t.life.mu.Unlock()
	out := t.life.events
	t.life.events = nil
	return out
}

// up is the members whose process runs now, the ones a network operation reaches.
func (t *remoteTarget) up() []string {
	t.life.mu.Lock()
	defer t.life.mu.Unlock()
	var out []string
	for _, m := range t.members {
		if t.life.down[m] == "" {
			out = append(out, m)
		}
	}
	return out
}

// lifecycleFaults are the node faults a supervised node process carries out.
var lifecycleFaults = []FaultKind{FaultKill, FaultStop, FaultRestart}

// CheckSupervised refuses, before the run, a kill, stop or restart of a node process that
// runs without a supervisor (replbench node --supervise): nothing could start it again.
func (x *ExternalNodes) CheckSupervised(points []PointSpec, seed int64) error {
	for _, ps := range points {
		for _, f := range expandNemesis(ps.Faults, ps.Members(), ps.Duration, ps.Protocol, seed) {
			if !slices.Contains(lifecycleFaults, f.Kind) {
				continue
			}
			names := []string{f.Node}
			if f.Node == AllNodes {
				names = ps.Members()
			}
			for _, n := range names {
				if r, _ := x.co.Registered(n); r.Supervisor == 0 {
					return fmt.Errorf("fault %s needs %s (pid %s on %s) to run under a supervisor: start it with `replbench node --supervise --name %s ...` (accepted without one: the network faults partition, oneway, clog, unclog, heal, delay, link, loss)", f.Event(), n, strconv.Itoa(r.PID), r.Host, n)
				}
			}
		}
	}
	return nil
}
