// Package nodes is the control plane between a coordinator (replbench run --nodes-external)
// and the node processes of a run (replbench node): registration, and request/reply calls by
// name, as JSON over NATS request/reply on subjects under replbench.ctl.<run id>.
//
// The control plane shares the NATS cluster with the nodes' replication traffic but not its
// subjects (those are prefix.<to>.<from> under a per-point prefix the coordinator hands out),
// and it is never delayed by the emulator: the emulator shapes what the protocols send to
// each other, while a configuration, a fault or a request for checksums is the harness
// talking to its own parts. JSON costs more than a binary codec, but every call here is off
// the measured path (once per point, per fault, or per poll of the convergence wait), and
// it keeps the messages readable with `nats sub 'replbench.ctl.>'`.
//
// A node knows only its name and the run id; everything else (protocol, settings, network,
// cost profile, seed) comes from the coordinator, so a run is configured in one place.
package nodes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Subject returns the control subject of a run: the registration subject with node "",
// else the subject a node serves its requests on.
func Subject(run, node string) string {
	if node == "" {
		return "replbench.ctl." + run + ".register"
	}
	return "replbench.ctl." + run + ".node." + node
}

// SupervisorSubject is the subject the supervisor of node (replbench node --supervise)
// serves: kill, stop and restart of the node process it runs.
func SupervisorSubject(run, node string) string {
	return "replbench.ctl." + run + ".sup." + node
}

// StatsSubject is the subject node publishes its clients' running statistics on while a
// phase runs (about every 250 ms), so that a node process killed in the middle of a phase
// leaves behind what it had reported.
func StatsSubject(run, node string) string {
	return "replbench.ctl." + run + ".stats." + node
}

// CheckRunID refuses a run id that cannot be one token of a NATS subject.
func CheckRunID(id string) error {
	if id == "" || strings.ContainsAny(id, ".*> \t\r\n") {
		return fmt.Errorf("invalid run id %q (accepted: letters, digits, '-' and '_', the same on the coordinator and every node)", id)
	}
	return nil
}

// Registration is what a node says about itself when it registers.
type Registration struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	Host string `json:"host"`
	// Supervisor is the PID of the supervisor (replbench node --supervise) that runs this
	// node process as its child and kills, stops and restarts it on the coordinator's
	// node faults; 0 for a node without one, which refuses those faults.
	Supervisor int `json:"supervisor,omitempty"`
}

// registerReply is the coordinator's answer to a registration: the run's members, or why
// the node is refused.
type registerReply struct {
	Members []string `json:"members,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// request and reply are one call.
type request struct {
	Op   string          `json:"op"`
	Body json.RawMessage `json:"body,omitempty"`
}

type reply struct {
	Body  json.RawMessage `json:"body,omitempty"`
	Error string          `json:"error,omitempty"`
}

// ErrNoCoordinator is returned by Register when nobody answered within the wait.
var ErrNoCoordinator = errors.New("no coordinator answered")

// ErrRefused is wrapped by Register when the coordinator refused the node (a name that is
// not a member of the run).
var ErrRefused = errors.New("refused by the coordinator")

// Coordinator is the coordinator's side: it accepts registrations of the run's members
// and calls them by name.
type Coordinator struct {
	nc      *nats.Conn
	run     string
	members []string
	sub     *nats.Subscription

	mu   sync.Mutex
	regs map[string]Registration
	seen chan struct{} // closed and replaced on every registration
}

// NewCoordinator starts accepting registrations on nc for run. members are the names the
// run uses; any other name is refused with a reply naming the members.
func NewCoordinator(nc *nats.Conn, run string, members []string) (*Coordinator, error) {
	if err := CheckRunID(run); err != nil {
		return nil, err
	}
	c := &Coordinator{nc: nc, run: run, members: slices.Clone(members), regs: map[string]Registration{}, seen: make(chan struct{})}
	sub, err := nc.Subscribe(Subject(run, ""), c.register)
	if err != nil {
		return nil, fmt.Errorf("subscribe to registrations: %w", err)
	}
	if err := nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("subscribe to registrations: %w", err)
	}
	c.sub = sub
	return c, nil
}

func (c *Coordinator) register(m *nats.Msg) {
	var r Registration
	var out registerReply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		out.Error = fmt.Sprintf("unreadable registration: %v", err)
	} else if !slices.Contains(c.members, r.Name) {
		out.Error = fmt.Sprintf("%s is not a node of run %s (accepted: %s)", r.Name, c.run, strings.Join(c.members, ", "))
	} else {
		out.Members = c.members
		c.mu.Lock()
		c.regs[r.Name] = r
		close(c.seen)
		c.seen = make(chan struct{})
		c.mu.Unlock()
	}
	b, _ := json.Marshal(out)
	_ = m.Respond(b)
}

// Registered returns the registration of node, if it has registered. A restarted node
// process registers again: this is then its newest registration.
func (c *Coordinator) Registered(node string) (Registration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.regs[node]
	return r, ok
}

// Wait blocks until every one of names has registered, ctx ends, or timeout passes; the
// error then names the nodes that never came.
func (c *Coordinator) Wait(ctx context.Context, names []string, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		var missing []string
		for _, n := range names {
			if _, ok := c.regs[n]; !ok {
				missing = append(missing, n)
			}
		}
		seen := c.seen
		c.mu.Unlock()
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-seen:
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("waited %s for nodes %s of run %s: they never registered (start `replbench node --name NODE --nats-url URL --run-id %s` for each)", timeout, strings.Join(missing, ", "), c.run, c.run)
		}
	}
}

// WaitAgain blocks until node registers from a process other than pid (a restarted node
// process registers anew), ctx ends, or timeout passes, and returns the new registration.
func (c *Coordinator) WaitAgain(ctx context.Context, node string, pid int, timeout time.Duration) (Registration, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		r, ok := c.regs[node]
		seen := c.seen
		c.mu.Unlock()
		if ok && r.PID != pid {
			return r, nil
		}
		select {
		case <-seen:
		case <-ctx.Done():
			return Registration{}, ctx.Err()
		case <-deadline.C:
			return Registration{}, fmt.Errorf("the restarted process of %s did not register within %s", node, timeout)
		}
	}
}

// Call sends op with in (JSON) to node and decodes its answer into out (nil: ignored),
// waiting at most timeout. An error the node returned comes back as an error naming the
// node.
func (c *Coordinator) Call(ctx context.Context, node, op string, in, out any, timeout time.Duration) error {
	return c.call(ctx, Subject(c.run, node), node, op, in, out, timeout)
}

// CallSupervisor is Call on node's supervisor (SupervisorSubject).
func (c *Coordinator) CallSupervisor(ctx context.Context, node, op string, in, out any, timeout time.Duration) error {
	return c.call(ctx, SupervisorSubject(c.run, node), "the supervisor of "+node, op, in, out, timeout)
}

func (c *Coordinator) call(ctx context.Context, subject, node, op string, in, out any, timeout time.Duration) error {
	return Request(ctx, c.nc, subject, node, op, in, out, timeout)
}

// Request is one call of op with in on subject from any process of the run (a node asking
// its coordinator, as a schema change does), answered by a ServeSubject (or Serve)
// handler; who names the answering side in errors. It is what Coordinator.Call sends.
func Request(ctx context.Context, nc *nats.Conn, subject, who, op string, in, out any, timeout time.Duration) error {
	node := who
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, node, err)
	}
	b, _ := json.Marshal(request{Op: op, Body: body})
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := nc.RequestWithContext(cctx, subject, b)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Errorf("%s on %s: no answer within %s", op, node, timeout)
		}
		return fmt.Errorf("%s on %s: %w", op, node, err)
	}
	var r reply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return fmt.Errorf("%s on %s: unreadable answer: %w", op, node, err)
	}
	if r.Error != "" {
		return fmt.Errorf("%s on %s: %s", op, node, r.Error)
	}
	if out != nil && len(r.Body) > 0 {
		if err := json.Unmarshal(r.Body, out); err != nil {
			return fmt.Errorf("%s on %s: unreadable answer: %w", op, node, err)
		}
	}
	return nil
}

// CallAll calls op on every node at once (a group forms only when its members start
// together) with in(i) and out(i) for node i, and returns every error joined.
func (c *Coordinator) CallAll(ctx context.Context, names []string, op string, in func(i int) any, out func(i int) any, timeout time.Duration) error {
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var o any
			if out != nil {
				o = out(i)
			}
			var a any
			if in != nil {
				a = in(i)
			}
			errs[i] = c.Call(ctx, n, op, a, o, timeout)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Close stops accepting registrations.
func (c *Coordinator) Close() {
	if c.sub != nil {
		_ = c.sub.Unsubscribe()
	}
}

// Register announces a node to the coordinator of run, trying again every quarter second
// (the coordinator may start after its nodes) until one answers or wait passes. It returns
// the run's members.
func Register(ctx context.Context, nc *nats.Conn, run string, reg Registration, wait time.Duration) ([]string, error) {
	if err := CheckRunID(run); err != nil {
		return nil, err
	}
	if reg.PID == 0 {
		reg.PID = os.Getpid()
	}
	if reg.Host == "" {
		reg.Host, _ = os.Hostname()
	}
	b, _ := json.Marshal(reg)
	deadline := time.Now().Add(wait)
	for {
		rctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		m, err := nc.RequestWithContext(rctx, Subject(run, ""), b)
		cancel()
		if err == nil {
			var r registerReply
			if err := json.Unmarshal(m.Data, &r); err != nil {
				return nil, fmt.Errorf("unreadable answer to the registration: %w", err)
			}
			if r.Error != "" {
				return nil, fmt.Errorf("%w: %s", ErrRefused, r.Error)
			}
			return r.Members, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w for run %s within %s (start `replbench run ... --nodes-external --run-id %s` with the same --nats-url)", ErrNoCoordinator, run, wait, run)
		}
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, nats.ErrTimeout) {
			time.Sleep(250 * time.Millisecond)
		}
	}
}

// Handler answers one request of op; body is its JSON argument. What it returns is sent
// back as JSON.
type Handler func(op string, body json.RawMessage) (any, error)

// Serve answers the coordinator's requests for node on nc until the subscription is
// closed. Each request runs on its own goroutine, so that a long one (a measured phase)
// does not hold up the short ones the coordinator sends meanwhile (a network fault, a
// poll).
func Serve(nc *nats.Conn, run, node string, h Handler) (*nats.Subscription, error) {
	return serve(nc, Subject(run, node), h)
}

// DDLSubject is the subject the coordinator of a serve --nodes-external answers schema
// changes on: a node process's endpoint sends each DDL there, and the coordinator carries
// it to every node in order (harness/bus_ddl.go).
func DDLSubject(run string) string { return "replbench.ctl." + run + ".ddl" }

// ServeSubject is Serve on any subject of the run's control plane (the coordinator's
// DDLSubject), with the same envelope and one goroutine per request.
func ServeSubject(nc *nats.Conn, subject string, h Handler) (*nats.Subscription, error) {
	return serve(nc, subject, h)
}

func serve(nc *nats.Conn, subject string, h Handler) (*nats.Subscription, error) {
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		go func() {
			var rq request
			var out reply
			if err := json.Unmarshal(m.Data, &rq); err != nil {
				out.Error = fmt.Sprintf("unreadable request: %v", err)
			} else if v, err := h(rq.Op, rq.Body); err != nil {
				out.Error = err.Error()
			} else if v != nil {
				if out.Body, err = json.Marshal(v); err != nil {
					out.Error = fmt.Sprintf("encode the answer to %s: %v", rq.Op, err)
					out.Body = nil
				}
			}
			b, _ := json.Marshal(out)
			_ = m.Respond(b)
		}()
	})
	if err != nil {
		return nil, err
	}
	if err := nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, err
	}
	return sub, nil
}
