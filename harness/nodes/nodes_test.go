package nodes

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
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
