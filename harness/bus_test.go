package harness

import (
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// --nats-url: a run over an external NATS server (here one started by the test on a random
// localhost port) works like the embedded one and records the URL as its bus.
func TestRunExternalNATS(t *testing.T) {
	srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats server did not start")
	}
	s := &Scenario{Name: "e2e", Protocol: "semisync", Workload: WorkloadSpec{Name: "insert"}, Threads: IntList{2}, Queries: 60, Seed: 1}
	bus := BusConfig{Kind: "nats", URL: srv.ClientURL()}
	out, jsonPath := runSmall(t, s, bus)
	checkRun(t, out, jsonPath, 1)
	if out.Run.Environment.Bus != srv.ClientURL() {
		t.Fatalf("bus recorded as %q", out.Run.Environment.Bus)
	}
}

func TestBusConfigValidate(t *testing.T) {
	for _, b := range []BusConfig{{Kind: "nats"}, {Kind: "memory"}, {Kind: "nats", URL: "nats://x:4222"}} {
		if err := b.Validate(); err != nil {
			t.Errorf("%+v: %v", b, err)
		}
	}
	for _, b := range []BusConfig{{Kind: "pigeon"}, {Kind: "memory", URL: "nats://x:4222"}} {
		if err := b.Validate(); err == nil {
			t.Errorf("%+v accepted", b)
		}
	}
}
