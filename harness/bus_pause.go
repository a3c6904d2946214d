package harness

import (
	"context"
	"encoding/json"
	"time"
)

// This file is pause and resume of a node process: the in-process pause (clusterTarget in
// nodefaults.go) carried over the bus, with the same semantics. A pause is modelled at the
// node's edges: every node's emulator holds the messages between the paused node and
// every other member (a clog both ways, released in order on resume, as a resumed process
// reads its socket backlog), and the paused node's gate blocks its clients — run's
// clients in the node process and, with serve --nodes-external, every statement on its
// MySQL endpoint (the connections stay open and nothing answers, as with a SIGSTOPped
// mysqld; one difference: a new connection still gets its handshake, and then its first
// statement waits, where a stopped mysqld would not greet it at all). The provider's goroutines and timers keep running inside, so a protocol that
// acts on a timer alone sees time pass during the pause; whatever it sends is held. A heal
// does not end a pause; only resume does. The alternative, SIGSTOP of the process by its
// supervisor, would freeze its NATS connection too, and the NATS server's write deadline
// would drop the connection of a long pause: the node would come back with a lost bus,
// which no real paused mysqld has.

// gateRequest pauses (Pause) or resumes a node's gate.
type gateRequest struct {
	Pause bool `json:"pause"`
}

// handlePause answers the gate request; ok is false for any other request.
func (pt *nodePoint) handlePause(op string, body json.RawMessage) (reply any, ok bool, err error) {
	if op != "gate" {
		return nil, false, nil
	}
	var rq gateRequest
	if err := json.Unmarshal(body, &rq); err != nil {
		return nil, true, err
	}
	if rq.Pause {
		pt.gate.pause()
	} else {
		pt.gate.resume()
	}
	return nil, true, nil
}

// clogNode clogs (or unclogs) every link between node and the other members on every
// node's emulator.
func (t *remoteTarget) clogNode(node string, on bool) { clogNodeLinks(t, t.members, node, on) }

// clogNodeLinks clogs (or unclogs) both ways every link between node and the other
// members on t: a pause's edges, in one process (clusterTarget) and over node processes.
func clogNodeLinks(t faultTarget, members []string, node string, on bool) {
	for _, m := range members {
		if m == node {
			continue
		}
		if on {
			t.Clog(node, m)
			t.Clog(m, node)
		} else {
			t.Unclog(node, m)
			t.Unclog(m, node)
		}
	}
}

// gate sends the paused node its gate request.
func (t *remoteTarget) gate(node string, pause bool) {
	if err := t.x.co.Call(context.Background(), node, "gate", gateRequest{Pause: pause}, nil, 10*time.Second); err != nil {
		t.mu.Lock()
		t.errs = append(t.errs, err.Error())
		t.mu.Unlock()
	}
}

// Pause implements nodeFaulter. A node whose process is down has nothing to freeze: the
// pause is recorded as ignored.
func (t *remoteTarget) Pause(node string) {
	for _, n := range t.targets(node) {
		if t.isDown(n) {
			t.event("pause %s ignored: %s's process is down, there is no process to freeze", n, n)
			continue
		}
		t.mu.Lock()
		if t.paused == nil {
			t.paused = map[string]bool{}
		}
		already := t.paused[n]
		t.paused[n] = true
		t.mu.Unlock()
		if already {
			continue
		}
		t.clogNode(n, true)
		t.gate(n, true)
	}
}

// Resume implements nodeFaulter.
func (t *remoteTarget) Resume(node string) {
	for _, n := range t.targets(node) {
		t.mu.Lock()
		was := t.paused[n]
		delete(t.paused, n)
		t.mu.Unlock()
		if !was {
			continue
		}
		t.clogNode(n, false)
		if !t.isDown(n) {
			t.gate(n, false)
		}
	}
}

// Paused implements nodeFaulter.
func (t *remoteTarget) Paused() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, m := range t.members {
		if t.paused[m] {
			out = append(out, m)
		}
	}
	return out
}

// Heal implements faultTarget: every cut and clog ends on every emulator, but a paused
// node's links are clogged again at once, so a heal in the middle of a pause does not
// wake the node (as clusterTarget.Heal).
func (t *remoteTarget) Heal() {
	t.send(faultRequest{Op: "heal"})
	for _, n := range t.Paused() {
		t.clogNode(n, true)
	}
}

// unpauseDown forgets the pause of a node whose process went down: its new process starts
// unpaused, and the other nodes' links to it are released (a restart replays only the
// cuts that are in force).
func (t *remoteTarget) unpauseDown(node string) {
	t.mu.Lock()
	was := t.paused[node]
	delete(t.paused, node)
	t.mu.Unlock()
	if was {
		t.clogNode(node, false)
		t.event("%s's pause ended with its process", node)
	}
}
