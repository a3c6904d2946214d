package gcs

import "slices"

// NodeState is a member's state as the GCS group sees it (gcs_node_state in gcs.hpp).
// Every member keeps the same table, because every change to it is an action delivered in
// total order: the state exchange after a view, a state-transfer request, JOIN and SYNC.
type NodeState uint8

// Node states, in the order of gcs_node_state.
const (
	NodeNonPrim NodeState = iota // in a non-primary component (wsrep OPEN)
	NodePrim                     // primary, but its history is behind: needs a state transfer
	NodeJoiner                   // receiving a state transfer
	NodeDonor                    // sending one (Donor/Desynced)
	NodeJoined                   // transfer done, catching up
	NodeSynced                   // serving
)

// Comment is wsrep_local_state_comment for a node in this state.
func (s NodeState) Comment() string {
	switch s {
	case NodePrim:
		return "Joining: preparing for State Transfer"
	case NodeJoiner:
		return "Joining: receiving State Transfer"
	case NodeDonor:
		return "Donor/Desynced"
	case NodeJoined:
		return "Joined"
	case NodeSynced:
		return "Synced"
	}
	return "Initialized"
}

// Number is wsrep_local_state: 1 joining, 2 donor, 3 joined, 4 synced, 0 otherwise.
func (s NodeState) Number() int {
	switch s {
	case NodePrim, NodeJoiner:
		return 1
	case NodeDonor:
		return 2
	case NodeJoined:
		return 3
	case NodeSynced:
		return 4
	}
	return 0
}

// StateMsg is one member's contribution to the state exchange that follows a view
// (GCS_MSG_STATE_MSG): the highest seqno it holds in full, its state and pc.weight.
type StateMsg struct {
	Seqno  int64
	State  NodeState
	Weight int
}

// Group is the GCS layer's view of the members: the state exchange after each view, the
// donor choice for a state-transfer request and the JOINER -> JOINED -> SYNCED moves. It
// is a pure state machine; the provider feeds it what EVS delivers, in order.
type Group struct {
	Self    int
	View    View
	States  []NodeState // per configured member; only view members are meaningful
	Seqnos  []int64     // per member: the seqno it reported in the exchange
	Weights []int       // per member: pc.weight from the exchange
	// Seqno is the group's position when the exchange completed: the highest any member
	// holds. Members below it need a state transfer.
	Seqno     int64
	exchanged []bool
	done      bool
}

// NewGroup returns the group of n members, all SYNCED in one primary view at seqno 0 (the
// bootstrap every test and run starts from).
func NewGroup(self, n int, v View) *Group {
	g := &Group{Self: self, View: v, States: make([]NodeState, n), Seqnos: make([]int64, n),
		Weights: make([]int, n), exchanged: make([]bool, n), done: true}
	for i := range g.States {
		g.States[i] = NodeSynced
		g.Weights[i] = 1
	}
	return g
}

// Install starts a new view. In a primary view a state exchange follows (Exchanging until
// every member's StateMsg is delivered); in a non-primary one every member is NON_PRIM.
func (g *Group) Install(v View) {
	g.View = v
	clear(g.exchanged)
	g.done = !v.Primary
	if !v.Primary {
		for i := range g.States {
			g.States[i] = NodeNonPrim
		}
	}
}

// Exchanging reports whether a primary view's state exchange is still running.
func (g *Group) Exchanging() bool { return !g.done }

// Own is this member's state.
func (g *Group) Own() NodeState { return g.States[g.Self] }

// StateDelivered records member from's StateMsg and reports whether the exchange just
// completed. Then the representative history is the highest seqno: members that hold it
// and were serving (or were in a component that saw nothing new) are SYNCED, the others
// PRIMARY, which means they must ask for a state transfer.
func (g *Group) StateDelivered(from int, m StateMsg) bool {
	if from < 0 || from >= len(g.States) || !slices.Contains(g.View.Members, from) {
		return false
	}
	g.Weights[from] = m.Weight
	if g.done {
		return false // the bootstrap announcement: weights only
	}
	g.exchanged[from] = true
	g.Seqnos[from] = m.Seqno
	g.States[from] = m.State
	for _, mem := range g.View.Members {
		if !g.exchanged[mem] {
			return false
		}
	}
	g.done = true
	// The representative history is the highest seqno among the members that come from a
	// primary component (gcs_state_quorum takes the representative from the previous
	// primary component only), or among all when none does (every member restarted, or
	// all come from non-primary components). A member whose history is ahead of it (a
	// cluster bootstrapped from a node that was behind) must be overwritten by SST.
	// A member that reports PRIMARY asks for a transfer whatever its seqno (a restarted
	// member without a certification index to rebuild from its own gcache) when some
	// member comes from a primary component and can donate; when none does (every member
	// restarted) the representative's history is the group's, index or not.
	g.Seqno = 0
	fromPrim := false
	for _, mem := range g.View.Members {
		fromPrim = fromPrim || g.States[mem] >= NodeDonor
	}
	for _, mem := range g.View.Members {
		if !fromPrim || g.States[mem] >= NodeDonor {
			g.Seqno = max(g.Seqno, g.Seqnos[mem])
		}
	}
	for _, mem := range g.View.Members {
		if g.Seqnos[mem] != g.Seqno || fromPrim && g.States[mem] == NodePrim {
			g.States[mem] = NodePrim
		} else {
			g.States[mem] = NodeSynced
		}
	}
	return true
}

// RequestDelivered handles a state-transfer request from a member (GCS_ACT_STATE_REQ):
// every member picks the same donor, the lowest-index SYNCED member, and marks it DONOR
// and the requester JOINER. It returns the donor, or -1 when nobody can donate (the
// requester stays PRIMARY and must ask again).
func (g *Group) RequestDelivered(from int) int {
	if !g.done || g.States[from] != NodePrim {
		return -1
	}
	for _, mem := range g.View.Members {
		if mem != from && g.States[mem] == NodeSynced {
			g.States[mem] = NodeDonor
			g.States[from] = NodeJoiner
			return mem
		}
	}
	return -1
}

// JoinDelivered handles GCS_MSG_JOIN: a joiner or donor that finished the transfer is
// JOINED. A failed transfer (ok false) sends the joiner back to PRIMARY.
func (g *Group) JoinDelivered(from int, ok bool) {
	switch g.States[from] {
	case NodeJoiner:
		if ok {
			g.States[from] = NodeJoined
		} else {
			g.States[from] = NodePrim
		}
	case NodeDonor:
		g.States[from] = NodeJoined
	}
}

// SyncDelivered handles SYNC: a JOINED member that caught up is SYNCED.
func (g *Group) SyncDelivered(from int) {
	if g.States[from] == NodeJoined {
		g.States[from] = NodeSynced
	}
}
