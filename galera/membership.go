package galera

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/replbench/replbench/galera/cert"
	"github.com/replbench/replbench/galera/gcs"
	"github.com/replbench/replbench/protocols"
)

// This file is the provider's side of membership: what a node does when EVS installs a
// view (quorum decided, old view's messages delivered or dropped), the state exchange and
// the node states of package gcs's Group, and state transfer: IST from a donor's bounded
// gcache, or SST (storage Snapshot/Restore) when the joiner's gap is older than the cache.
// Everything here runs on the driver loop.

// installView handles a view EVS installed, after the old view's transitional deliveries.
func (p *Provider) installView(v gcs.View) {
	p.group.Install(v)
	// Flow control restarts in the new configuration: STOPs of departed members must not
	// pause anyone, and the limits scale with the new size.
	p.fcMu.Lock()
	p.fc.StopCount, p.fc.StopSent = 0, 0
	if p.pauseCh != nil {
		close(p.pauseCh)
		p.pauseCh = nil
		p.pausedNs += time.Since(p.pausedAt)
	}
	p.fc.Lower, p.fc.Upper = gcs.FCParams{Limit: p.fcLimit, Factor: p.fcFactor, SinglePrimary: p.fcSingle}.Limits(len(v.Members))
	p.fcMu.Unlock()

	var mine [][]byte
	for _, a := range v.Undelivered {
		if len(a) > 0 && a[0] == actWriteSet {
			mine = append(mine, a)
		}
	}
	if !v.Primary {
		// A non-primary component orders nothing: local transactions in flight fail (1047)
		// and the node keeps trying to merge.
		p.conf.Store(-1)
		p.holding = false
		p.held = nil
		p.failWaitersNotReady()
		p.refreshReady()
		return
	}
	p.conf.Store(v.ConfID)
	if p.autoIncControl {
		if k := indexOf(v.Members, p.self); k >= 0 {
			p.applier.SetAutoIncrement(len(v.Members), k+1)
		}
	}
	// Primary: own write-sets the old view did not deliver are sent again after the state
	// exchange, ahead of anything newer.
	p.holding = true
	p.held = append(mine, p.held...)
	p.evs.Propose(p.stateAction())
	p.refreshReady()
}

func indexOf(xs []int, x int) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

// stateAction is this node's state-exchange message.
func (p *Provider) stateAction() []byte {
	b := []byte{actState}
	b = binary.AppendVarint(b, p.have)
	b = append(b, byte(p.group.Own()))
	return binary.AppendUvarint(b, uint64(max(p.weight, 0)))
}

// deliverGroupAction handles the state exchange, state-transfer requests, JOIN and SYNC,
// delivered in total order so that every member's Group agrees.
func (p *Provider) deliverGroupAction(d gcs.Delivery) {
	if d.Source < 0 || d.Source >= p.n {
		return
	}
	switch d.Action[0] {
	case actState:
		seq, n := binary.Varint(d.Action[1:])
		if n <= 0 || len(d.Action) < 2+n {
			return
		}
		st := gcs.NodeState(d.Action[1+n])
		w, m := binary.Uvarint(d.Action[2+n:])
		if m <= 0 {
			return
		}
		p.evs.SetWeight(d.Source, int(w))
		if !p.group.StateDelivered(d.Source, gcs.StateMsg{Seqno: seq, State: st, Weight: int(w)}) {
			return
		}
		p.exchangeDone()
	case actStateReq:
		donor := p.group.RequestDelivered(d.Source)
		if donor < 0 && d.Source == p.self {
			p.reqRetry = ticks(p.stRetry, p.tick)
		}
		if donor == p.self {
			p.donate(d.Source)
		}
	case actJoin:
		p.group.JoinDelivered(d.Source, len(d.Action) > 1 && d.Action[1] == 1)
		if d.Source == p.self && p.group.Own() == gcs.NodeJoined {
			p.evs.Propose([]byte{actSync})
		}
		if d.Source == p.self && p.group.Own() == gcs.NodePrim {
			p.reqRetry = ticks(p.stRetry, p.tick)
		}
	case actSync:
		p.group.SyncDelivered(d.Source)
	}
	p.refreshReady()
}

// exchangeDone runs when every member's state is known: a node with the group's history
// resumes (held write-sets go out); one behind asks for a state transfer.
func (p *Provider) exchangeDone() {
	p.holding = false
	if p.g < p.group.Seqno {
		p.g = p.group.Seqno // a joiner numbers live write-sets from the group's position
	}
	if p.group.Own() == gcs.NodeSynced {
		for _, a := range p.held {
			p.evs.Propose(a)
		}
		p.held = nil
		return
	}
	p.held = nil
	p.failWaitersNotReady()
	if p.group.Own() == gcs.NodePrim {
		p.evs.Propose([]byte{actStateReq})
	}
}

// membershipTick repeats a refused state-transfer request.
func (p *Provider) membershipTick() {
	if p.reqRetry > 0 {
		p.reqRetry--
		if p.reqRetry == 0 && p.group.Own() == gcs.NodePrim && !p.group.Exchanging() {
			p.evs.Propose([]byte{actStateReq})
		}
	}
}

// canReplicate: a new local write-set may be ordered only by a serving member of a
// primary component.
func (p *Provider) canReplicate() bool {
	st := p.group.Own()
	return !p.closed.Load() && p.group.View.Primary && (st == gcs.NodeSynced || st == gcs.NodeDonor)
}

func (p *Provider) refreshReady() {
	p.ready.Store(p.started.Load() && p.canReplicate())
}

// failWaitersNotReady fails every local write-set still waiting for its order: the client
// gets 1047, as a node that dropped out of the primary component answers. It also lifts
// every fence of detached write-sets (fencedOut): the node serves nothing more until a
// state transfer has brought it whatever the primary component committed, those
// write-sets included.
func (p *Provider) failWaitersNotReady() {
	p.fence = nil
	for id, w := range p.waiters {
		w.done <- verdict{seqno: vNotReady}
		delete(p.waiters, id)
		p.sendQueue--
	}
	p.sendQueue = max(p.sendQueue, 0)
}

// cacheAdd keeps an ordered write-set in gcache, dropping the oldest beyond gcache.size
// (the ring buffer overwriting released buffers).
func (p *Provider) cacheAdd(g int64, action []byte) {
	if p.gcacheSize <= 0 {
		return
	}
	p.gcache = append(p.gcache, cached{g: g, action: action})
	p.gcacheBytes += int64(len(action))
	drop := 0
	for p.gcacheBytes > p.gcacheSize && drop < len(p.gcache) {
		p.gcacheBytes -= int64(len(p.gcache[drop].action))
		p.gcache[drop] = cached{}
		drop++
	}
	if drop > 0 {
		p.gcache = p.gcache[drop:]
	}
}

// cachedDownto is wsrep_local_cached_downto: the lowest seqno gcache holds (0: none).
func (p *Provider) cachedDownto() int64 {
	if len(p.gcache) == 0 {
		return 0
	}
	return p.gcache[0].g
}

// istPossible is the donor-side test of gcs_group_find_donor: the joiner's next seqno must
// still be cached, and not inside the safety gap at the old end of the cache.
func istPossible(istSeqno, lowestCached, confSeqno int64) bool {
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
// if it reaches back far enough, otherwise SST (a snapshot of the storage engine taken
// once every write-set up to the request has committed here; the donor's ordering stops
// meanwhile, as a blocking SST does) followed by the cached write-sets so that the joiner
// can rebuild its certification index.
func (p *Provider) donate(joiner int) {
	at := p.g
	from := p.group.Seqnos[joiner]
	kind := xferIST
	if !istPossible(from, p.cachedDownto(), at) {
		kind = xferSST
	}
	b := []byte{msgTransfer, kind}
	b = binary.AppendVarint(b, at)
	var list []cached
	for _, c := range p.gcache {
		if c.g <= at && (kind == xferSST || c.g > from) {
			list = append(list, c)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(list)))
	for _, c := range list {
		b = binary.AppendVarint(b, c.g)
		b = binary.AppendUvarint(b, uint64(len(c.action)))
		b = append(b, c.action...)
	}
	ok := true
	if kind == xferSST {
		var snap bytes.Buffer
		if err := p.applyMon.WaitFor(p.ctx, at); err != nil {
			ok = false
		} else if err := p.applier.Snapshot(&snap); err != nil {
			ok = false
		}
		b = binary.AppendUvarint(b, uint64(snap.Len()))
		b = append(b, snap.Bytes()...)
	}
	if ok {
		_ = p.ep.Send(p.cfg.Members[joiner], b)
		p.lastXfer = fmt.Sprintf("%s to %s: seqnos %d..%d", map[byte]string{xferIST: "IST", xferSST: "SST"}[kind], p.cfg.Members[joiner], from+1, at)
	}
	// The donor's own part is done once the data left: JOINED, then SYNCED.
	p.evs.Propose([]byte{actJoin, 1})
}

var errTransfer = errors.New("galera: malformed state transfer")

// receiveTransfer applies an IST or SST on the joiner, then the live write-sets it queued
// meanwhile, and announces JOIN (then SYNC).
func (p *Provider) receiveTransfer(from int, b []byte) {
	if p.group.Own() != gcs.NodeJoiner {
		return
	}
	kind, at, list, snap, err := decodeTransfer(b)
	if err != nil {
		p.applyErrors.Add(1)
		p.evs.Propose([]byte{actJoin, 0})
		return
	}
	switch kind {
	case xferIST:
		for _, c := range list {
			if c.g == p.have+1 {
				p.ordered(c.g, c.action, nil)
			}
		}
		if p.have < at {
			p.evs.Propose([]byte{actJoin, 0}) // the donor's cache had a hole: ask again
			return
		}
		p.ist++
	case xferSST:
		if err := p.applier.Restore(bytes.NewReader(snap)); err != nil {
			p.applyErrors.Add(1)
			p.evs.Propose([]byte{actJoin, 0})
			return
		}
		p.applyMon.Reset(at)
		p.commitMon.Reset(at)
		// Rebuild the certification index from the donor's cached write-sets (the
		// preload); without them it starts empty at the snapshot's position.
		start := at
		if len(list) > 0 {
			start = list[0].g - 1
		}
		p.cert = cert.New(p.certCfg, start)
		for _, c := range list {
			ws, err := decodeAction(c.action)
			if err != nil || c.g != p.cert.Position()+1 {
				p.cert = cert.New(p.certCfg, at)
				break
			}
			ws.Seqno = c.g
			p.cert.Certify(ws, false)
		}
		if p.cert.Position() != at {
			p.cert = cert.New(p.certCfg, at)
		}
		p.gcache, p.gcacheBytes = nil, 0
		p.have = at
		p.sst++
	}
	p.lastXfer = fmt.Sprintf("%s from %s: up to seqno %d", map[byte]string{xferIST: "IST", xferSST: "SST"}[kind], p.cfg.Members[from], at)
	// Live write-sets ordered after the request: those the transfer did not cover.
	for _, c := range p.joinQueue {
		if c.g == p.have+1 {
			p.ordered(c.g, c.action, nil)
		}
	}
	p.joinQueue = nil
	p.evs.Propose([]byte{actJoin, 1})
}

func decodeAction(action []byte) (*protocols.WriteSet, error) {
	_, n := binary.Uvarint(action[1:])
	if n <= 0 {
		return nil, errTransfer
	}
	ws, _, err := protocols.DecodeWriteSet(action[1+n:])
	return ws, err
}

func decodeTransfer(b []byte) (kind byte, at int64, list []cached, snap []byte, err error) {
	if len(b) < 2 {
		return 0, 0, nil, nil, errTransfer
	}
	kind, b = b[1], b[2:]
	at, n := binary.Varint(b)
	if n <= 0 {
		return 0, 0, nil, nil, errTransfer
	}
	b = b[n:]
	k, n := binary.Uvarint(b)
	if n <= 0 || k > uint64(len(b)) {
		return 0, 0, nil, nil, errTransfer
	}
	b = b[n:]
	for range k {
		g, n := binary.Varint(b)
		if n <= 0 {
			return 0, 0, nil, nil, errTransfer
		}
		b = b[n:]
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) || l == 0 {
			return 0, 0, nil, nil, errTransfer
		}
		list = append(list, cached{g: g, action: b[n : n+int(l)]})
		b = b[n+int(l):]
	}
	if kind == xferSST {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return 0, 0, nil, nil, errTransfer
		}
		snap = b[n : n+int(l)]
	} else if kind != xferIST {
		return 0, 0, nil, nil, errTransfer
	}
	return kind, at, list, snap, nil
}
