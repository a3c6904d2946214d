package membership

import (
	"encoding/binary"
	"errors"
)

// State is a member's state in the group view, as replication_group_members shows it.
type State uint8

// The states a view holds. UNREACHABLE is not among them: it is one member's local
// suspicion, overlaid on the view when displayed (Detector.Report.Unreachable). ERROR and
// OFFLINE are states of a member outside the view.
const (
	Absent     State = iota // not in the group (expelled, or left)
	Recovering              // joined, catching up (distributed recovery)
	Online                  // serving
)

func (s State) String() string {
	switch s {
	case Recovering:
		return "RECOVERING"
	case Online:
		return "ONLINE"
	}
	return "OFFLINE"
}

// DefaultWeight is group_replication_member_weight's default.
const DefaultWeight = 50

// View is the group membership every member derives from the agreed log: the same
// changes in the same order give the same view everywhere. Not safe for concurrent use.
//
// A member is in the view as one incarnation: a restarted server is a new XCom node (a
// new incarnation in its node address), so the view records, by member index, which
// incarnation it holds. The old incarnation stays until it is expelled, a join of another
// incarnation of the same member is refused meanwhile ("There is already a member with
// server_uuid ..."), and a message counts only when it comes from the incarnation the view
// holds.
type View struct {
	states  []State
	weights []int
	incs    []int64 // the incarnation each member is in the view as (0: its first life)
	uuids   []string
	changes int64
}

// NewView returns the view of a freshly bootstrapped group: every member ONLINE with the
// default weight. uuids are the members' server_uuid values, by member index.
func NewView(uuids []string) *View {
	v := &View{states: make([]State, len(uuids)), weights: make([]int, len(uuids)), incs: make([]int64, len(uuids)), uuids: append([]string(nil), uuids...)}
	for i := range v.states {
		v.states[i], v.weights[i] = Online, DefaultWeight
	}
	return v
}

// State returns member m's state.
func (v *View) State(m int) State { return v.states[m] }

// In reports whether m is in the view (ONLINE or RECOVERING), as any incarnation.
func (v *View) In(m int) bool { return m >= 0 && m < len(v.states) && v.states[m] != Absent }

// Incarnation returns the incarnation member m is (or was last) in the view as.
func (v *View) Incarnation(m int) int64 { return v.incs[m] }

// Holds reports whether m is in the view as incarnation inc: only such a member's
// messages count.
func (v *View) Holds(m int, inc int64) bool { return v.In(m) && v.incs[m] == inc }

// Members returns, by member index, which members are in the view.
func (v *View) Members() []bool {
	out := make([]bool, len(v.states))
	for i, s := range v.states {
		out[i] = s != Absent
	}
	return out
}

// Size is the number of members in the view: the majority counts against it.
func (v *View) Size() int {
	n := 0
	for _, s := range v.states {
		if s != Absent {
			n++
		}
	}
	return n
}

// OnlineCount is the number of ONLINE members.
func (v *View) OnlineCount() int {
	n := 0
	for _, s := range v.states {
		if s == Online {
			n++
		}
	}
	return n
}

// Changes counts the view changes so far (the view id's counter).
func (v *View) Changes() int64 { return v.changes }

// Expel removes incarnation inc of m from the view. It returns false (and changes
// nothing) if the view does not hold m as inc: an expulsion decided for an old incarnation
// never removes the new one that replaced it.
func (v *View) Expel(m int, inc int64) bool {
	if !v.Holds(m, inc) {
		return false
	}
	v.states[m] = Absent
	v.changes++
	return true
}

// Join adds incarnation inc of m to the view as RECOVERING. It returns false if m is
// already in it, as that incarnation (a repeated join) or as another one (the join is
// refused until the other is expelled: Holds tells the two apart).
func (v *View) Join(m int, inc int64) bool {
	if m < 0 || m >= len(v.states) || v.In(m) {
		return false
	}
	v.states[m], v.incs[m] = Recovering, inc
	v.changes++
	return true
}

// SetOnline marks incarnation inc of a RECOVERING member ONLINE: it has applied what it
// missed.
func (v *View) SetOnline(m int, inc int64) bool {
	if m < 0 || m >= len(v.states) || v.states[m] != Recovering || v.incs[m] != inc {
		return false
	}
	v.states[m] = Online
	return true
}

// SetWeight records member m's group_replication_member_weight (clamped to 0-100).
func (v *View) SetWeight(m, w int) {
	if m >= 0 && m < len(v.weights) {
		v.weights[m] = min(max(w, 0), 100)
	}
}

// Weight returns member m's weight.
func (v *View) Weight(m int) int { return v.weights[m] }

// Elect returns the primary the view elects, or -1 if no member is ONLINE: the highest
// member_weight, ties broken by the lowest server_uuid. Every member's version is the
// same here, so the server's first rule (lowest version first) never decides; replication
// lag is not considered, as in the server's default election.
func (v *View) Elect() int {
	best := -1
	for i, s := range v.states {
		if s != Online {
			continue
		}
		if best < 0 || v.weights[i] > v.weights[best] ||
			(v.weights[i] == v.weights[best] && v.uuids[i] < v.uuids[best]) {
			best = i
		}
	}
	return best
}

// Copy returns an independent copy of the view (a clone decodes the donor's view into a
// copy, so a corrupt one leaves the joiner's view untouched).
func (v *View) Copy() *View {
	return &View{states: append([]State(nil), v.states...), weights: append([]int(nil), v.weights...),
		incs: append([]int64(nil), v.incs...), uuids: append([]string(nil), v.uuids...), changes: v.changes}
}

// AppendState appends the view's states, weights, incarnations and change counter to b.
func (v *View) AppendState(b []byte) []byte {
	b = append(b, byte(len(v.states)))
	for i, s := range v.states {
		b = append(b, byte(s), byte(v.weights[i]))
	}
	for _, inc := range v.incs {
		b = binary.AppendVarint(b, inc)
	}
	return binary.AppendVarint(b, v.changes)
}

// RestoreState replaces the view's states, weights and change counter with those
// AppendState wrote, and returns the bytes after them. The member list (uuids) is this
// member's own: donor and joiner must belong to the same group.
func (v *View) RestoreState(b []byte) ([]byte, error) {
	if len(b) < 1 || int(b[0]) != len(v.states) || len(b) < 1+2*len(v.states) {
		return nil, errors.New("membership: view state of another group size")
	}
	n := len(v.states)
	states, weights := make([]State, n), make([]int, n)
	for i := range n {
		s, w := State(b[1+2*i]), int(b[2+2*i])
		if s > Online || w > 100 {
			return nil, errors.New("membership: corrupt view state")
		}
		states[i], weights[i] = s, w
	}
	b = b[1+2*n:]
	incs := make([]int64, n)
	for i := range incs {
		inc, k := binary.Varint(b)
		if k <= 0 {
			return nil, errors.New("membership: corrupt view state")
		}
		incs[i], b = inc, b[k:]
	}
	ch, k := binary.Varint(b)
	if k <= 0 {
		return nil, errors.New("membership: corrupt view state")
	}
	v.states, v.weights, v.incs, v.changes = states, weights, incs, ch
	return b[k:], nil
}
