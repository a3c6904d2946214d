package replicator

import (
	"encoding/binary"

	"github.com/replbench/replbench/galera/cert"
	"github.com/replbench/replbench/galera/gcs"
	"github.com/replbench/replbench/protocols"
)

// NewRestarted returns the member of a node restarted after a stop, a kill or a crash,
// whose storage recovered position seqno (wsrep-recover: the seqno the surviving rows
// carry), with the write-sets its galera.cache file still held (gcache.recover=yes; nil:
// none). It starts alone and non-primary; when it merges with the group, the state
// exchange finds it behind and it asks for IST (a donor's gcache still holds seqno+1 on)
// or SST, as a restarted Galera node does, and it can itself donate IST from what it
// recovered (RecoverCache decides what of the file is usable). Positions it had certified
// but not committed before it went down are simply not in its history any more.
//
// rs says what else the node found: the primary component gvwstate.dat restores (nil:
// none), its grastate.dat's safe_to_bootstrap, and whether it starts as a new cluster
// (bootstrap.go).
func NewRestarted(cfg Config, seqno int64, recovered []Cached, rs RestartState) *Machine {
	m := New(cfg)
	last := gcs.PrimView{}
	if rs.LastPrim != nil {
		last = *rs.LastPrim
	}
	m.evs.Restarted(last)
	m.recovery = rs
	v := m.evs.CurrentView()
	m.group = gcs.NewGroup(m.self, m.n, v)
	m.group.Install(v)
	m.g, m.have, m.committed = seqno, seqno, seqno
	m.cert = cert.New(cfg.Cert, seqno)
	m.conf = -1
	m.restarted = true
	kept := RecoverCache(recovered, seqno, cfg.GCacheSize)
	for _, c := range kept {
		m.gcache = append(m.gcache, cached{g: c.Seqno, action: c.Action, passed: c.Passed})
		m.gcacheBytes += int64(len(c.Action))
	}
	m.preloadRecovered(kept)
	if rs.Bootstrap {
		m.bootstrap(Bootstrapped{Node: m.self, Seqno: seqno, Reason: "pc.bootstrap (--wsrep-new-cluster) on this node"})
	}
	return m
}

// preloadRecovered rebuilds the certification index from the write-sets the node's own
// galera.cache kept (a gapless run ending at its recovered seqno, with the verdicts the
// group gave them), as the IST preload does from a donor's: a node whose recovered seqno is
// the group's needs no transfer at all, and with an index starting empty at that seqno it
// would fail, alone, every live write-set whose last_seen reaches below it. With nothing
// kept the index starts at the recovered seqno, and an IST's preload rebuilds it.
func (m *Machine) preloadRecovered(kept []Cached) {
	if len(kept) == 0 {
		m.needIndex = true // an IST must bring the preload (membership.go)
		return
	}
	c := cert.New(m.cfg.Cert, kept[0].Seqno-1)
	for _, k := range kept {
		ws, err := decodeAction(k.Action)
		if err != nil {
			m.needIndex = true // the index stays empty at the recovered seqno
			return
		}
		ws.Seqno = k.Seqno
		c.Preload(ws, k.Passed)
	}
	m.cert = c
}

// RecoverCache picks, from the write-sets a galera.cache file held after a restart (in
// any order, possibly with duplicates: the ring wraps), what the node can serve IST from:
// the gapless run of seqnos that ends exactly at the node's recovered position seqno,
// newest first up to gcacheSize bytes. The trade-offs, each the conservative one:
//   - Write-sets above the recovered position were ordered but never committed here
//     (a kill between the cache write and the commit, or a crash that kept the cache's
//     page but lost the redo): they are not in this node's history, and the group hands
//     them to whoever needs them, so they are dropped, not replayed.
//   - A cache whose newest write-set is below the position (its unsynced tail lost in a
//     crash while the redo was fsynced) would leave a hole between the cache and the
//     state: it serves nothing, and a joiner behind this node gets SST, as real Galera
//     resets a gcache that does not continue the recovered state.
//   - Only the run continuous with the position counts: a donor's IST must hold every
//     seqno from the joiner's next one to the donor's position.
func RecoverCache(entries []Cached, seqno, gcacheSize int64) []Cached {
	if gcacheSize <= 0 || seqno <= 0 {
		return nil
	}
	by := make(map[int64]Cached, len(entries))
	for _, c := range entries {
		if c.Seqno >= 1 && c.Seqno <= seqno && len(c.Action) > 0 {
			by[c.Seqno] = c
		}
	}
	var bytes int64
	lo := seqno + 1
	for {
		c, ok := by[lo-1]
		if !ok || bytes+int64(len(c.Action)) > gcacheSize {
			break
		}
		bytes += int64(len(c.Action))
		lo--
	}
	out := make([]Cached, 0, seqno+1-lo)
	for g := lo; g <= seqno; g++ {
		out = append(out, by[g])
	}
	return out
}

// replayRestartIST is the IST of a restarted member: its certification index starts empty
// at the recovered seqno, so certifying the transferred write-sets again would fail every
// one whose last_seen reaches below it (the first write-sets after a kill always do). It
// applies them with the verdicts the group gave them, as an SST's preload does, and
// records them in the index for the live write-sets that follow. It reports false when
// the list does not continue this member's history (the caller asks again).
//
// The list can start below the member's position (the donor's certification index preload,
// donate): those write-sets only rebuild the index, from the first of them on, so that a
// live write-set whose last_seen reaches below the recovered seqno is certified here as on
// the members that kept their index (Galera 4's IST preload, handle_ist_trx_preload).
//
// The rebuilt index also takes the donor's initial position (initial): the donor purges
// its index up to the group's commit cut, which can pass the last_seen of a write-set still
// on its way (its sender counts only delivered ones in its safe-to-discard), and it
// certifies such a write-set against what it kept; the joiner, whose index starts at the
// preload, must do the same rather than fail it as "below its initial position", or it alone
// would lack the row. Real Galera starts the joiner's index at the preload's first seqno;
// this is where the model departs from it to keep every member's verdicts identical.
func (m *Machine) replayRestartIST(list []cached, initial int64) bool {
	defer func() { m.cert.SetInitial(initial) }() // m.cert is replaced below
	m.restarted, m.needIndex = false, false
	for _, c := range list {
		if c.g <= m.have {
			ws, err := decodeAction(c.action)
			if err != nil {
				return false
			}
			if m.cert.Position() != c.g-1 {
				m.cert = cert.New(m.cfg.Cert, c.g-1) // the preload starts the index here
			}
			ws.Seqno = c.g
			m.cert.Preload(ws, c.passed)
			continue
		}
		if c.g != m.have+1 {
			continue
		}
		_, n := binary.Uvarint(c.action[1:])
		body := c.action[1+n:]
		ws, _, err := protocols.DecodeWriteSet(body)
		if err != nil {
			return false
		}
		ws.Seqno = c.g
		if m.cert.Position() != c.g-1 {
			m.cert = cert.New(m.cfg.Cert, c.g-1)
		}
		m.cert.Preload(ws, c.passed)
		m.cacheAdd(c.g, c.action, c.passed)
		m.have = c.g
		m.stats.received++
		m.stats.receivedBytes += int64(len(body))
		if !c.passed {
			m.cancel(c.g)
			continue
		}
		ws.DependsSeqno = c.g - 1 // applied one after the other: the verdicts carry no dependencies
		// Through the receive queue like any remote write-set, so that the appliers'
		// Dequeued finds it counted (wsrep_local_recv_queue went negative without it).
		m.enqueue(Apply{WS: ws, Bytes: len(body)})
	}
	return true
}
