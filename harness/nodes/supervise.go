package nodes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// Supervisor runs one node process as its child (replbench node --supervise re-executes
// itself without --supervise) and carries out the coordinator's node faults on it, on
// SupervisorSubject: "kill" sends the child SIGKILL (the process dies between two
// instructions; what it had written to its files is kept by the operating system, what it
// held in memory is gone), "stop" sends SIGTERM (the node leaves its group, flushes and
// closes its engine, keeps its data directory) and waits for it to exit, and "restart"
// starts a new child, which reopens the node's data directory and registers again, so the
// coordinator can hand it its point with Rejoin set.
//
// The supervisor is a separate process, not a goroutine of the node, because the fault it
// exists for is the node's process dying: a kill inside one process cannot take the
// clients' memory, the Go runtime's buffers and the open files with it the way SIGKILL
// does. It holds no state of the node's: the child's data directory is all that survives.
type Supervisor struct {
	NC    *nats.Conn
	RunID string
	Node  string
	// Spawn returns the command of a new child, not started; its output goes wherever
	// the command says.
	Spawn func() *exec.Cmd
	// Idle ends the supervisor when no child has run for this long (a coordinator that
	// killed the node and never restarted it); 0 means never.
	Idle time.Duration
	// StopWait bounds a stop: a child that has not exited this long after SIGTERM is
	// killed. 0 means a minute.
	StopWait time.Duration
	Log      io.Writer

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	asked   bool          // cmd's end was asked for (kill, stop)
	downAt  time.Time     // when the last child ended
	unasked chan error    // a child's end nobody asked for: the supervisor's end
}

// ChildPID is what kill, stop and restart answer: the child's process id (the one that
// ended, or the new one).
type ChildPID struct {
	PID int `json:"pid"`
}

// Run starts the first child and serves the coordinator until a child ends by itself
// (the coordinator ended the run: Run returns nil for exit status 0, else the child's
// error), ctx ends (the child is stopped first), or the supervisor has had no child for
// Idle.
func (s *Supervisor) Run(ctx context.Context) error {
	if s.Log == nil {
		s.Log = io.Discard
	}
	if s.StopWait <= 0 {
		s.StopWait = time.Minute
	}
	s.unasked = make(chan error, 1)
	if _, err := s.start(); err != nil {
		return err
	}
	sub, err := serve(s.NC, SupervisorSubject(s.RunID, s.Node), s.handle)
	if err != nil {
		s.end(syscall.SIGKILL, 0)
		return fmt.Errorf("serve the supervisor subject: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-s.unasked:
			return err
		case <-ctx.Done():
			s.end(syscall.SIGTERM, s.StopWait)
			return ctx.Err()
		case <-tick.C:
			s.mu.Lock()
			idle := s.cmd == nil && s.Idle > 0 && time.Since(s.downAt) > s.Idle
			s.mu.Unlock()
			if idle {
				return fmt.Errorf("no node process for %s and no restart asked: the coordinator is gone, so the supervisor of %s ends", s.Idle, s.Node)
			}
		}
	}
}

func (s *Supervisor) handle(op string, _ json.RawMessage) (any, error) {
	switch op {
	case "kill":
		pid, err := s.end(syscall.SIGKILL, 0)
		return ChildPID{pid}, err
	case "stop":
		pid, err := s.end(syscall.SIGTERM, s.StopWait)
		return ChildPID{pid}, err
	case "restart":
		pid, err := s.start()
		return ChildPID{pid}, err
	}
	return nil, fmt.Errorf("unknown supervisor request %q (accepted: kill, stop, restart)", op)
}

// start starts a new child; it refuses while one runs.
func (s *Supervisor) start() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return 0, fmt.Errorf("%s is running (pid %d): kill or stop it before a restart", s.Node, s.cmd.Process.Pid)
	}
	cmd := s.Spawn()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start the process of %s: %w", s.Node, err)
	}
	exited := make(chan struct{})
	s.cmd, s.exited, s.asked = cmd, exited, false
	fmt.Fprintf(s.Log, "replbench node %s: supervisor started pid %d\n", s.Node, cmd.Process.Pid)
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		asked := s.asked
		s.cmd, s.downAt = nil, time.Now()
		s.mu.Unlock()
		close(exited)
		if !asked {
			select {
			case s.unasked <- err:
			default:
			}
		}
	}()
	return cmd.Process.Pid, nil
}

// end sends the child sig and waits for it to exit, up to wait (0: for ever) before it
// sends SIGKILL; it returns the child's pid.
func (s *Supervisor) end(sig syscall.Signal, wait time.Duration) (int, error) {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	if cmd == nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("%s is not running: restart it first", s.Node)
	}
	s.asked = true
	s.mu.Unlock()
	pid := cmd.Process.Pid
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return pid, fmt.Errorf("signal %s (pid %d): %w", s.Node, pid, err)
	}
	var timeout <-chan time.Time
	if wait > 0 {
		timeout = time.After(wait)
	}
	select {
	case <-exited:
	case <-timeout:
		_ = cmd.Process.Kill()
		<-exited
		fmt.Fprintf(s.Log, "replbench node %s: pid %d did not stop within %s and was killed\n", s.Node, pid, wait)
	}
	fmt.Fprintf(s.Log, "replbench node %s: supervisor ended pid %d (%s)\n", s.Node, pid, sig)
	return pid, nil
}
