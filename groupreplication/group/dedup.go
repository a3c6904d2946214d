package group

// accept decides, identically on every member, whether a transaction or sync message is
// processed: its origin must be in the view as the incarnation that sent it (an expelled
// member's late messages, and what a restarted member's previous incarnation had in
// flight, are dropped), and it must not repeat one already delivered (a proposal is sent
// again when the raft leader changes, or when it stays undelivered, since it may have been
// lost). Proposal ids of a new incarnation start above the old one's (the driver's rule),
// so one dedup record per member serves all its lives.
func (m *Machine) accept(msg *Message) bool {
	if !m.fromView(msg) {
		return false
	}
	d := &m.delivered[msg.Origin]
	if d.ids == nil {
		d.ids = map[int64]struct{}{}
	}
	if _, dup := d.ids[msg.ID]; dup || msg.ID <= d.max-dedupWindow {
		return false
	}
	d.ids[msg.ID] = struct{}{}
	d.max = max(d.max, msg.ID)
	if len(d.ids) > 2*dedupWindow {
		for id := range d.ids {
			if id <= d.max-dedupWindow {
				delete(d.ids, id)
			}
		}
	}
	return true
}

// dedupWindow is how far behind the newest id of its origin a proposal may be delivered
// and still count: ids are taken before the proposal is queued, so concurrent clients'
// messages arrive slightly out of id order, and a re-sent proposal arrives soon after a
// leader change or not at all.
const dedupWindow = 1 << 14

// deliveredIDs is what one origin's transaction and sync messages have delivered. It
// evolves identically on every member, so every member drops the same duplicates.
type deliveredIDs struct {
	max int64
	ids map[int64]struct{}
}
