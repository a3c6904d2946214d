package nodes

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

func natsConn(t *testing.T) *nats.Conn {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats not ready")
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// A member registers and is called by name; a name outside the run is refused with a
// reply naming the members; a node that never comes is named when the wait ends.
func TestRegisterCallRefuseWait(t *testing.T) {
	nc := natsConn(t)
	co, err := NewCoordinator(nc, "r1", []string{"n1", "n2"})
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	sub, err := Serve(nc, "r1", "n1", func(op string, body json.RawMessage) (any, error) {
		if op == "fail" {
			return nil, errors.New("it failed")
		}
		var v int
		_ = json.Unmarshal(body, &v)
		return v * 2, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	members, err := Register(context.Background(), nc, "r1", Registration{Name: "n1"}, 5*time.Second)
	if err != nil || strings.Join(members, ",") != "n1,n2" {
		t.Fatalf("register n1: %v %v", members, err)
	}
	var got int
	if err := co.Call(context.Background(), "n1", "double", 21, &got, 5*time.Second); err != nil || got != 42 {
		t.Fatalf("call: %d %v", got, err)
	}
	if err := co.Call(context.Background(), "n1", "fail", nil, nil, 5*time.Second); err == nil || !strings.Contains(err.Error(), "fail on n1: it failed") {
		t.Fatalf("failing call: %v", err)
	}
	_, err = Register(context.Background(), nc, "r1", Registration{Name: "n7"}, 5*time.Second)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "n7 is not a node of run r1 (accepted: n1, n2)") {
		t.Fatalf("register n7: %v", err)
	}
	err = co.Wait(context.Background(), []string{"n1", "n2"}, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "nodes n2 of run r1") || strings.Contains(err.Error(), "n1,") {
		t.Fatalf("wait for n2: %v", err)
	}
	if err := co.Wait(context.Background(), []string{"n1"}, time.Second); err != nil {
		t.Fatal(err)
	}
}

// A node whose run id nobody coordinates gives up after its wait, saying so.
func TestRegisterNoCoordinator(t *testing.T) {
	nc := natsConn(t)
	_, err := Register(context.Background(), nc, "nobody", Registration{Name: "n1"}, 600*time.Millisecond)
	if !errors.Is(err, ErrNoCoordinator) || !strings.Contains(err.Error(), "run nobody") {
		t.Fatalf("got %v", err)
	}
	if err := CheckRunID("a.b"); err == nil {
		t.Fatal("a run id with a dot accepted")
	}
}

// The supervisor kills its child with SIGKILL, refuses a second kill and a restart while
// the child runs, starts a new child on restart, stops one with SIGTERM, and ends with
// the child's own exit status when the child ends without being asked.
func TestSupervisorKillRestartStop(t *testing.T) {
	nc := natsConn(t)
	co, err := NewCoordinator(nc, "r1", []string{"n1"})
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	var spawned []*exec.Cmd
	var mu sync.Mutex
	exitNow := make(chan struct{})
	sup := &Supervisor{NC: nc, RunID: "r1", Node: "n1", Spawn: func() *exec.Cmd {
		mu.Lock()
		defer mu.Unlock()
		script := "trap 'exit 0' TERM; while :; do sleep 0.05; done"
		if len(spawned) == 2 { // the third child ends by itself
			script = "sleep 0.3; exit 3"
			<-exitNow
		}
		c := exec.Command("sh", "-c", script)
		spawned = append(spawned, c)
		return c
	}}
	done := make(chan error, 1)
	go func() { done <- sup.Run(context.Background()) }()
	call := func(op string) (ChildPID, error) {
		var out ChildPID
		var err error
		for i := 0; i < 40; i++ { // the supervisor subscribes after its first child starts
			err = co.CallSupervisor(context.Background(), "n1", op, nil, &out, 10*time.Second)
			if err == nil || !strings.Contains(err.Error(), "no responders") {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		return out, err
	}
	if _, err := call("restart"); err == nil || !strings.Contains(err.Error(), "is running") {
		t.Fatalf("restart of a running child: %v, want refused", err)
	}
	k, err := call("kill")
	if err != nil || k.PID != spawned[0].Process.Pid {
		t.Fatalf("kill: %+v %v", k, err)
	}
	if st := spawned[0].ProcessState; st == nil || st.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the first child did not die of SIGKILL: %v", st)
	}
	if _, err := call("kill"); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("kill of a dead child: %v, want refused", err)
	}
	r, err := call("restart")
	if err != nil || r.PID == k.PID || r.PID == 0 {
		t.Fatalf("restart: %+v %v", r, err)
	}
	time.Sleep(300 * time.Millisecond) // let the shell set its trap
	s, err := call("stop")
	if err != nil || s.PID != r.PID {
		t.Fatalf("stop: %+v %v", s, err)
	}
	if st := spawned[1].ProcessState; st == nil || st.ExitCode() != 0 {
		t.Fatalf("the stopped child did not exit cleanly on SIGTERM: %v", st)
	}
	close(exitNow)
	if _, err := call("restart"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Fatalf("supervisor ended with %v, want the child's exit status 3", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the supervisor did not end with its child")
	}
}
