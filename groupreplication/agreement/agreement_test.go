package agreement

import (
	"fmt"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// net is a lossless, instantaneous network of Nodes driven step by step, with an optional
// cut-off member whose messages are dropped both ways.
type net struct {
	nodes     map[uint64]*Node
	queue     []raftpb.Message
	isolated  uint64
	delivered map[uint64][]string
}

func newNet(t *testing.T, n int, keep uint64) *net {
	var peers []uint64
	for i := 1; i <= n; i++ {
		peers = append(peers, uint64(i))
	}
	w := &net{nodes: map[uint64]*Node{}, delivered: map[uint64][]string{}}
	for _, id := range peers {
		cfg := DefaultConfig(id, peers)
		cfg.ElectionTick = 10
		cfg.KeepEntries = keep
		nd, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		w.nodes[id] = nd
	}
	return w
}

// stabilize runs Ready everywhere and delivers messages until the network is quiet.
func (w *net) stabilize() {
	for {
		busy := false
		for id := uint64(1); id <= uint64(len(w.nodes)); id++ {
			out, ok := w.nodes[id].Ready()
			if !ok {
				continue
			}
			busy = true
			w.queue = append(w.queue, out.Messages...)
			for _, d := range out.Committed {
				w.delivered[id] = append(w.delivered[id], string(d))
			}
		}
		q := w.queue
		w.queue = nil
		for _, m := range q {
			busy = true
			if m.From == w.isolated || m.To == w.isolated {
				continue
			}
			_ = w.nodes[m.To].Step(m)
		}
		if !busy {
			return
		}
	}
}

func (w *net) tick(n int) {
	for range n {
		for _, nd := range w.nodes {
			nd.Tick()
		}
		w.stabilize()
	}
}

// "campaign on n1 at start": with the configuration in the initial snapshot, a campaign
// right after start wins, with no configuration entries to commit first.
func TestCampaignAtStart(t *testing.T) {
	w := newNet(t, 3, 0)
	if err := w.nodes[1].Campaign(); err != nil {
		t.Fatal(err)
	}
	w.stabilize()
	for id, nd := range w.nodes {
		if nd.Lead() != 1 {
			t.Fatalf("member %d sees leader %d, want 1", id, nd.Lead())
		}
	}
	if !w.nodes[1].IsLeader() {
		t.Fatal("n1 must lead")
	}
}

// Every member delivers the same messages in the same order, proposals from followers
// included (raft forwards them to the leader: the extra hop XCom does not have).
func TestSameOrderEverywhere(t *testing.T) {
	w := newNet(t, 3, 0)
	_ = w.nodes[1].Campaign()
	w.stabilize()
	for i := range 30 {
		from := uint64(1 + i%3)
		if err := w.nodes[from].Propose([]byte(fmt.Sprintf("m%d@%d", i, from))); err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 {
			w.stabilize()
		}
	}
	w.stabilize()
	ref := w.delivered[1]
	if len(ref) != 30 {
		t.Fatalf("leader delivered %d of 30", len(ref))
	}
	for id := uint64(2); id <= 3; id++ {
		if fmt.Sprint(w.delivered[id]) != fmt.Sprint(ref) {
			t.Fatalf("member %d order differs:\n%v\n%v", id, w.delivered[id], ref)
		}
	}
}

// A majority commits without the minority: with n3 cut off, n1 and n2 keep delivering.
func TestMajorityWithoutMinority(t *testing.T) {
	w := newNet(t, 3, 0)
	_ = w.nodes[1].Campaign()
	w.stabilize()
	w.isolated = 3
	_ = w.nodes[1].Propose([]byte("x"))
	w.stabilize()
	if len(w.delivered[1]) != 1 || len(w.delivered[2]) != 1 || len(w.delivered[3]) != 0 {
		t.Fatalf("delivered %d/%d/%d, want 1/1/0", len(w.delivered[1]), len(w.delivered[2]), len(w.delivered[3]))
	}
}

// CheckQuorum: a leader that cannot hear from a majority steps down after an election
// timeout, and PreVote keeps the isolated member from disrupting the rest when it returns.
func TestCheckQuorumAndPreVote(t *testing.T) {
	w := newNet(t, 3, 0)
	_ = w.nodes[1].Campaign()
	w.stabilize()
	w.isolated = 1
	w.tick(40)
	if w.nodes[1].IsLeader() {
		t.Fatal("isolated leader must step down (CheckQuorum)")
	}
	newLead := w.nodes[2].Lead()
	if newLead != 2 && newLead != 3 {
		t.Fatalf("the majority side must elect a leader, got %d", newLead)
	}
	term := w.nodes[newLead].rn.Status().Term
	w.isolated = 0
	w.tick(5)
	if w.nodes[newLead].Lead() != newLead || w.nodes[newLead].rn.Status().Term != term {
		t.Fatal("the returning member disrupted the leader (PreVote must prevent that)")
	}
}

// The log is compacted as it grows: memory holds at most about 2*KeepEntries entries.
func TestCompaction(t *testing.T) {
	w := newNet(t, 3, 50)
	_ = w.nodes[1].Campaign()
	w.stabilize()
	for i := range 1000 {
		_ = w.nodes[1].Propose([]byte{byte(i)})
		w.stabilize()
	}
	for id, nd := range w.nodes {
		if nd.LogLen() > 2*50+2 {
			t.Fatalf("member %d holds %d entries, want <= %d", id, nd.LogLen(), 2*50+2)
		}
		if nd.Compactions() == 0 {
			t.Fatalf("member %d never compacted", id)
		}
		if len(w.delivered[id]) != 1000 {
			t.Fatalf("member %d delivered %d", id, len(w.delivered[id]))
		}
	}
}
