package replicator

import (
	"github.com/replbench/replbench/galera/cert"
	"github.com/replbench/replbench/galera/gcs"
)

// This file is state transfer: the donor's choice between IST (from its bounded gcache)
// and SST (a storage snapshot) for a joiner whose history is behind, and the joiner's side,
// which replays the transferred write-sets, then the live ones it queued meanwhile.

// cacheAdd keeps an ordered write-set in gcache with its verdict (a failed one is kept
// marked skip, as Galera marks its buffer), dropping the oldest beyond gcache.size (the ring
// buffer overwriting released buffers).
func (m *Machine) cacheAdd(g int64, action []byte, passed bool) {
	if m.cfg.GCacheSize <= 0 {
		return
	}
	m.emit(Cached{Seqno: g, Action: action, Passed: passed})
	m.gcache = append(m.gcache, cached{g: g, action: action, passed: passed})
	m.gcacheBytes += int64(len(action))
	drop := 0
	for m.gcacheBytes > m.cfg.GCacheSize && drop < len(m.gcache) {
		m.gcacheBytes -= int64(len(m.gcache[drop].action))
		m.gcache[drop] = cached{}
		drop++
	}
	if drop > 0 {
		m.gcache = m.gcache[drop:]
	}
}

// cachedDownto is wsrep_local_cached_downto: the lowest seqno gcache holds (0: none).
func (m *Machine) cachedDownto() int64 {
	if len(m.gcache) == 0 {
		return 0
	}
	return m.gcache[0].g
}

// ISTPossible is the donor-side test of gcs_group_find_donor: the joiner's next seqno must
// still be cached, and not inside the safety gap at the old end of the cache (an eighth of
// a percent of the cached range, at most 2^20 positions), unless nothing is missing.
// istSeqno is the last position the joiner holds, lowestCached the donor's
// wsrep_local_cached_downto (0: empty) and confSeqno the group's position.
func ISTPossible(istSeqno, lowestCached, confSeqno int64) bool {
	if lowestCached == 0 {
		return istSeqno >= confSeqno // nothing cached: only a joiner with nothing missing
	}
	if istSeqno+1 < lowestCached {
		return false
	}
	gap := min((confSeqno-lowestCached)>>7, 1<<20)
	return istSeqno >= lowestCached+gap || istSeqno >= confSeqno
}

// donate serves joiner's state-transfer request at the current position: IST from gcache
// if it reaches back far enough, otherwise SST followed by the cached write-sets so that the
// joiner can rebuild its certification index. An IST starts at the lowest position of the
// donor's certification index when that is below the joiner's next seqno
// (min(cc_lowest_trx_seqno, last_applied+1) in Galera 4's IST sender): the write-sets up to
// the joiner's position are its index preload, not applied again, so that a restarted
// joiner, whose index would otherwise start empty at its recovered seqno, certifies a live
// write-set whose last_seen reaches below that seqno as the donor does instead of failing
// it ("last_seen below initial position") while every other member commits it. A gcache
// that no longer holds the preload's first seqno cannot serve the IST ("Cert index preload
// first seqno ... not found from gcache"): SST. The donor's own part is done once the data
// left: it announces JOIN at once.
func (m *Machine) donate(joiner int) {
	at := m.g
	from := m.group.Seqnos[joiner]
	first := min(m.cert.LowestTrx(), from+1)
	kind := IST
	if !ISTPossible(from, m.cachedDownto(), at) || m.cachedDownto() > first && first <= at || from > at {
		kind = SST // (from > at: the joiner's history ran past the group's, exchangeDone)
	}
	var list []cached
	for _, c := range m.gcache {
		if c.g <= at && (kind == SST || c.g >= first) {
			list = append(list, c)
		}
	}
	m.emit(Donate{To: joiner, Kind: kind, From: from, At: at, Message: encodeTransfer(kind, at, m.cert.Initial(), list)})
	m.evs.Propose([]byte{actJoin, 1})
}

// Restore asks the driver to replace the storage engine's contents with an SST snapshot at
// position At, then to reset its monitors to At, and to report with Restored before it hands
// the machine any other input.
type Restore struct {
	At       int64
	Snapshot []byte
}

func (Restore) effect() {}

// sstPending is an SST received, waiting for the driver's Restored.
type sstPending struct {
	from    int
	at      int64
	initial int64 // the donor's certification initial position (replayRestartIST)
	list    []cached
}

// early is a state transfer that arrived before this member delivered its own request.
type early struct {
	from    int
	payload []byte
}

// Transfer hands the machine a state-transfer message from member from (IsTransfer). The
// joiner replays an IST at once; an SST comes back as a Restore effect. The donor sends as
// soon as it has delivered the request, which can be before the joiner has delivered it (and
// so become JOINER) itself: a transfer that arrives while this member waits for its own
// request is kept until then, as a joiner listens before it asks. Any other member ignores
// it.
func (m *Machine) Transfer(from int, payload []byte) {
	switch {
	case m.group.Own() == gcs.NodeJoiner:
		m.receive(from, payload)
	case m.group.Own() == gcs.NodePrim && m.requested:
		m.early = &early{from: from, payload: payload}
	}
}

// requestDelivered runs when this member's own state-transfer request is delivered and a
// donor was chosen: a transfer from that donor that arrived early is replayed now.
func (m *Machine) requestDelivered(donor int) {
	m.requested = false
	if e := m.early; e != nil {
		m.early = nil
		if e.from == donor {
			m.receive(e.from, e.payload)
		}
	}
}

func (m *Machine) receive(from int, payload []byte) {
	kind, at, initial, list, snap, err := decodeTransfer(payload)
	if err != nil {
		m.stats.applyErrors++
		m.evs.Propose([]byte{actJoin, 0})
		return
	}
	if kind == SST {
		m.restoring = &sstPending{from: from, at: at, initial: initial, list: list}
		m.emit(Restore{At: at, Snapshot: snap})
		return
	}
	r := Received{From: from, Kind: IST, At: at}
	before := m.have
	if m.restarted {
		m.replayRestartIST(list, initial) // restart.go
	}
	for _, c := range list {
		if c.g == m.have+1 {
			m.ordered(c.g, c.action, 0, nil)
		}
	}
	if m.have > before {
		r.First, r.Last = before+1, m.have
	}
	if m.have < at {
		m.evs.Propose([]byte{actJoin, 0}) // the donor's cache had a hole: ask again
		return
	}
	m.stats.ist++
	m.transferred(r)
}

// Restored completes an SST (a Restore effect): ok reports whether the storage
// engine took the snapshot (and the monitors were reset to its position). The certification
// index is rebuilt from the donor's cached write-sets (the preload) with the verdicts the
// group gave them, not by certifying them again: the joiner's index does not reach back
// far enough to test them; without them it starts empty at the snapshot's position.
func (m *Machine) Restored(ok bool) {
	r := m.restoring
	m.restoring = nil
	if r == nil {
		return
	}
	if !ok {
		m.stats.applyErrors++
		m.evs.Propose([]byte{actJoin, 0})
		return
	}
	m.committed = r.at
	start := r.at
	if len(r.list) > 0 {
		start = r.list[0].g - 1
	}
	m.cert = cert.New(m.cfg.Cert, start)
	for _, c := range r.list {
		ws, err := decodeAction(c.action)
		if err != nil || c.g != m.cert.Position()+1 {
			m.cert = cert.New(m.cfg.Cert, r.at)
			break
		}
		ws.Seqno = c.g
		m.cert.Preload(ws, c.passed)
	}
	if m.cert.Position() != r.at {
		m.cert = cert.New(m.cfg.Cert, r.at)
	} else {
		m.cert.SetInitial(r.initial) // the preloaded index certifies as the donor's does
	}
	m.gcache, m.gcacheBytes = nil, 0
	m.restarted, m.needIndex = false, false // the snapshot and its preload replace what a restart recovered
	m.emit(CacheReset{At: r.at})
	m.have = r.at
	m.stats.sst++
	m.transferred(Received{From: r.from, Kind: SST, At: r.at})
}

// transferred finishes a state transfer on the joiner. The live write-sets queued since
// the primary view (joinQueue, numbered from the group's position) overlap the transfer up
// to its position: those the transfer held are skipped, the rest are certified and applied
// in order, as Galera's joiner drains its receive queue after IST. Then every seqno up to
// the last one the order reached here must be in the history: the transfer and the queue
// must join up with neither gap nor a queued write-set out of sequence. If they do, the
// member announces JOIN (then SYNC); if not, it does not go on to JOINED with a hole in its
// history, which would leave its apply monitor waiting for ever or, worse, serve clients
// from a history that lacks a committed write-set: it announces a failed JOIN and asks for
// another transfer (gcs demotes a member with a gap in its history to PRIMARY).
func (m *Machine) transferred(r Received) {
	for _, c := range m.joinQueue {
		if r.QueuedFirst == 0 {
			r.QueuedFirst = c.g
		}
		r.QueuedLast = c.g
		switch {
		case c.g <= m.have:
			r.Skipped++
		case c.g == m.have+1:
			m.ordered(c.g, c.action, 0, nil)
			r.Applied++
		}
	}
	m.joinQueue = nil
	if m.have != m.g {
		// Still waiting: awaiting stays set, so what is delivered until the next
		// transfer is queued for it.
		r.Gap, r.Have, r.Want = true, m.have, m.g
		m.stats.gaps++
		m.emit(r)
		m.evs.Propose([]byte{actJoin, 0})
		return
	}
	// The queue is drained and the history reaches the order's position: what is
	// delivered from now on, while the JOIN is on its way (the member is still JOINER),
	// is certified and applied at once, against the index the transfer rebuilt.
	m.awaiting = false
	m.emit(r)
	m.evs.Propose([]byte{actJoin, 1})
}
