package replicator

import (
	"encoding/binary"

	"github.com/replbench/replbench/galera/cert"
	"github.com/replbench/replbench/galera/gcs"
	"github.com/replbench/replbench/protocols"
)

// NewRestarted returns the member of a node restarted after a stop, a kill or a crash,
// whose storage recovered position seqno (wsrep-recover: the seqno the surviving rows
// carry). It starts alone and non-primary with an empty gcache; when it merges with the
// group, the state exchange finds it behind and it asks for IST (a donor's gcache still
// holds seqno+1 on) or SST, as a restarted Galera node does. Positions it had certified
// but not committed before it went down are simply not in its history any more.
func NewRestarted(cfg Config, seqno int64) *Machine {
	m := New(cfg)
	m.evs.Restarted()
	v := m.evs.CurrentView()
	m.group = gcs.NewGroup(m.self, m.n, v)
	m.group.Install(v)
	m.g, m.have, m.committed = seqno, seqno, seqno
	m.cert = cert.New(cfg.Cert, seqno)
	m.conf = -1
	m.restarted = true
	return m
}

// replayRestartIST is the IST of a restarted member: its certification index starts empty
// at the recovered seqno, so certifying the transferred write-sets again would fail every
// one whose last_seen reaches below it (the first write-sets after a kill always do). It
// applies them with the verdicts the group gave them, as an SST's preload does, and
// records them in the index for the live write-sets that follow. It reports false when
// the list does not continue this member's history (the caller asks again).
func (m *Machine) replayRestartIST(list []cached) bool {
	m.restarted = false
	for _, c := range list {
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
