package groupreplication

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/replbench/replbench/internal/codec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/replbench/replbench/groupreplication/agreement"
	"github.com/replbench/replbench/groupreplication/group"
	"github.com/replbench/replbench/internal/driver"
)

// Distributed recovery by clone.
//
// The agreed log keeps group_replication_message_cache_size bytes of messages (the XCom
// cache). A member cut off for less than that many bytes of traffic gets what it missed
// from the log and never notices. One that was gone longer is sent raft's snapshot instead
// of entries (the cache no longer has what it needs): as in the server, it leaves the group
// (ERROR) and its auto-rejoin (or a manual START GROUP_REPLICATION) runs distributed
// recovery by clone, since no donor's binary log reaches back far enough either. The
// joiner asks a donor (the raft leader first, then the other members) for its state at a
// point of the agreed order at or after the snapshot: the whole database
// (Applier.Snapshot, which the joiner loads with Applier.Restore), the certification info,
// the view and the primary, and which messages were delivered. It then resumes its held
// pipeline with the entries after that point, which raft has been sending since the
// snapshot, asks to rejoin through the log, applies its backlog and goes ONLINE.
//
// The donor takes the state between two messages of its pipeline, once everything it
// certified has committed, so the database and the certifier describe the same point; its
// pipeline (and so its commits) waits meanwhile, for as long as writing the snapshot takes.
// The server's clone is a physical copy taken while the donor keeps working; the model's
// blocking copy is cheaper to get exactly right and costs the donor a pause proportional
// to the data size. With consistency AFTER the donor may not reach that point (its
// transactions wait for the joiner's prepare); it then refuses after cloneTimeout and the
// joiner tries the next donor.

// cloneTimeout bounds each wait of a clone: the donor's wait for its own commits, and the
// joiner's wait for the donor's answer.
const cloneTimeout = 60 * time.Second

// cloneChunk is the size of one clone data frame: well below NATS's max_payload. A
// variable so that tests can make a small state travel in many chunks.
var cloneChunk = 1 << 20

// cloneState is a member's clone bookkeeping, as donor and as joiner.
type cloneState struct {
	mu      sync.Mutex
	reqs    []cloneRequest // as donor: requests waiting for the pipeline to reach them
	waiting atomic.Int32   // len(reqs), read by the pipeline without the lock
	in      *cloneIncoming // as joiner: the answer being received
	nextID  uint64

	received, donated atomic.Int64
	last              string // under mu: the last clone, for status
}

type cloneRequest struct {
	from string
	id   uint64
	need uint64 // the joiner's snapshot index: the state must be at or after it
}

type cloneIncoming struct {
	id, donor string
	reqID     uint64
	buf       []byte
	next      uint64 // next chunk expected
	done      chan struct{}
}

// logLost runs on the raft loop when raft installed a snapshot at index at instead of
// sending entries: the entries this member was missing are gone from every cache. It
// drops what was queued before the snapshot (the clone replaces it) and the machine leaves
// the group, in one critical section so that a clone in progress sees the snapshot and
// the trimmed queue together.
//
// A member whose state is already at or after the snapshot (a clone installed it, taken
// from a donor whose log had been compacted to there: a restarted member may clone from
// its own log's compaction point before the leader's snapshot arrives) has lost nothing:
// the entries after the snapshot continue its state, and the pipeline skips those its
// state already covers.
func (p *Provider) logLost(at uint64) {
	p.step(func(m *group.Machine) group.Effects {
		var eff group.Effects
		if at > p.pipeIndex.Load() {
			eff = m.LogLost(at)
		}
		p.pipeMu.Lock()
		p.pipeQ = keepAfter(p.pipeQ, at)
		p.pipeTxns.Store(countTxns(p.pipeQ))
		p.pipeMu.Unlock()
		return eff
	})
}

func keepAfter(q []agreement.Entry, index uint64) []agreement.Entry {
	out := q[:0]
	for _, e := range q {
		if e.Index > index {
			out = append(out, e)
		}
	}
	return out
}

func countTxns(q []agreement.Entry) int64 {
	var n int64
	for _, e := range q {
		if group.IsTxn(e.Data) {
			n++
		}
	}
	return n
}

// errCorruptClone is what a donor's answer that does not decode gives the joiner.
var errCorruptClone = errors.New("clone: corrupt answer")

// cloneRequested is the bus handler for a clone request: the pipeline serves it between
// two messages.
func (p *Provider) cloneRequested(from string, b []byte) {
	r := codec.NewReader(b, group.ErrCorruptMessage)
	id, need := r.Uvarint(), r.Uvarint()
	if r.Failed() || r.Len() != 0 {
		p.corruptFrames.Add(1)
		return
	}
	p.clone.mu.Lock()
	p.clone.reqs = append(p.clone.reqs, cloneRequest{from: from, id: id, need: need})
	p.clone.waiting.Store(int32(len(p.clone.reqs)))
	p.clone.mu.Unlock()
	driver.Signal(p.pipeWake)
}

// serveClones runs on the pipeline between messages: it answers the requests this
// member's position has reached, and refuses them if it is not ONLINE. pipeRun held.
func (p *Provider) serveClones() {
	if p.clone.waiting.Load() == 0 {
		return
	}
	p.clone.mu.Lock()
	reqs := p.clone.reqs
	p.clone.reqs = nil
	p.clone.mu.Unlock()
	at := p.pipeIndex.Load()
	var later []cloneRequest
	for _, r := range reqs {
		p.mu.Lock()
		online := p.m.CanDonate()
		p.mu.Unlock()
		switch {
		case !online:
			p.sendClone(r, refusal(p.cfg.Node+" is not ONLINE"))
		case at < r.need:
			later = append(later, r) // the donor's pipeline has not got there yet
		default:
			p.donate(r, at)
		}
	}
	p.clone.mu.Lock()
	p.clone.reqs = append(later, p.clone.reqs...)
	p.clone.waiting.Store(int32(len(p.clone.reqs)))
	p.clone.mu.Unlock()
}

func refusal(why string) []byte { return append([]byte{0}, why...) }

// donate answers r with this member's state after raft index at: it waits until every
// transaction certified so far has committed here, so the database holds exactly the
// positions the certifier has decided, then writes both.
func (p *Provider) donate(r cloneRequest, at uint64) {
	p.mu.Lock()
	seq := p.m.Certified()
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(p.ctx, cloneTimeout)
	err := p.commitMon.WaitFor(ctx, seq)
	cancel()
	if err != nil {
		p.sendClone(r, refusal(fmt.Sprintf("%s could not commit its backlog up to position %d within %v", p.cfg.Node, seq, cloneTimeout)))
		return
	}
	var buf bytes.Buffer
	hdr := []byte{1}
	hdr = binary.AppendUvarint(hdr, at)
	hdr = binary.AppendVarint(hdr, seq)
	p.mu.Lock()
	state := p.m.AppendState(nil)
	p.mu.Unlock()
	hdr = binary.AppendUvarint(hdr, uint64(len(state)))
	buf.Write(hdr)
	buf.Write(state)
	if err := p.cfg.Applier.Snapshot(&buf); err != nil {
		p.sendClone(r, refusal(fmt.Sprintf("%s could not snapshot its database: %v", p.cfg.Node, err)))
		return
	}
	p.sendClone(r, buf.Bytes())
	p.clone.donated.Add(1)
	p.clone.mu.Lock()
	p.clone.last = fmt.Sprintf("donated to %s: %d bytes at position %d", r.from, buf.Len(), seq)
	p.clone.mu.Unlock()
}

// sendClone sends an answer in chunks: request id, chunk number, chunk count, bytes.
// The bus keeps a link's messages in order, so the joiner appends them as they come.
func (p *Provider) sendClone(r cloneRequest, blob []byte) {
	total := max((len(blob)+cloneChunk-1)/cloneChunk, 1)
	for i := range total {
		part := blob[min(i*cloneChunk, len(blob)):min((i+1)*cloneChunk, len(blob))]
		f := frameHeader(frameCloneData, p.incarnation)
		f = binary.AppendUvarint(f, r.id)
		f = binary.AppendUvarint(f, uint64(i))
		f = binary.AppendUvarint(f, uint64(total))
		f = append(f, part...)
		if err := p.cfg.Endpoint.Send(r.from, f); err != nil {
			return // the joiner times out and asks another donor
		}
	}
}

// cloneReceived is the bus handler for clone data.
func (p *Provider) cloneReceived(from string, b []byte) {
	r := codec.NewReader(b, group.ErrCorruptMessage)
	id, chunk, total := r.Uvarint(), r.Uvarint(), r.Uvarint()
	b = r.Rest()
	if r.Failed() {
		p.corruptFrames.Add(1)
		return
	}
	p.clone.mu.Lock()
	defer p.clone.mu.Unlock()
	in := p.clone.in
	if in == nil || in.reqID != id || in.donor != from || chunk != in.next {
		return // an answer nobody waits for any more
	}
	in.buf = append(in.buf, b...)
	in.next++
	if in.next == total {
		close(in.done)
		p.clone.in = nil
	}
}

// cloneFromGroup is the joiner's side: with the pipeline stopped, it lets what this member
// had already certified finish, then asks donors in turn for their state and installs the
// first one that arrives. It repeats if raft sent a newer snapshot in the meantime.
func (p *Provider) cloneFromGroup(ctx context.Context) error {
	select {
	case p.pipeRun <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.pipeRun }()
	// Nothing is certified while paused; let the applier finish what was, so nothing old
	// is written over the restored database.
	p.mu.Lock()
	seq := p.m.Certified()
	p.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, cloneTimeout)
	defer cancel()
	if err := p.commitMon.WaitFor(wctx, seq); err != nil {
		return fmt.Errorf("clone: this member's applier did not finish its queue: %w", err)
	}
	for p.applyQueued.Load() > 0 {
		select {
		case <-wctx.Done():
			return fmt.Errorf("clone: this member's applier did not finish its queue: %w", wctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	var last error
	for range 3 {
		p.mu.Lock()
		_, need := p.m.LostLog()
		p.mu.Unlock()
		installed := false
		for _, donor := range p.donors() {
			blob, err := p.requestClone(ctx, donor, need)
			if err == nil {
				err = p.installClone(donor, blob, need)
			}
			if err == nil {
				installed = true
				break
			}
			last = err
			if ctx.Err() != nil {
				return err
			}
		}
		if !installed {
			return last
		}
		p.mu.Lock()
		_, lostAt := p.m.LostLog()
		behind := lostAt > p.pipeIndex.Load()
		if !behind {
			p.m.LogRecovered()
		}
		p.mu.Unlock()
		if !behind {
			return nil
		}
		last = errors.New("clone: the group's cache moved past the cloned state while it was installed")
	}
	return last
}

// donors returns the members to ask, the raft leader first (it holds the newest log).
func (p *Provider) donors() []string {
	p.mu.Lock()
	lead := p.m.Lead()
	p.mu.Unlock()
	var out []string
	if lead >= 0 && lead != p.self {
		out = append(out, p.cfg.Members[lead])
	}
	for i, m := range p.cfg.Members {
		if i != p.self && i != lead {
			out = append(out, m)
		}
	}
	return out
}

// requestClone asks donor for its state at or after raft index need and waits for it.
func (p *Provider) requestClone(ctx context.Context, donor string, need uint64) ([]byte, error) {
	p.clone.mu.Lock()
	p.clone.nextID++
	in := &cloneIncoming{donor: donor, reqID: p.clone.nextID, done: make(chan struct{})}
	p.clone.in = in
	p.clone.mu.Unlock()
	defer func() {
		p.clone.mu.Lock()
		if p.clone.in == in {
			p.clone.in = nil
		}
		p.clone.mu.Unlock()
	}()
	req := frameHeader(frameCloneRequest, p.incarnation)
	req = binary.AppendUvarint(req, in.reqID)
	req = binary.AppendUvarint(req, need)
	if err := p.cfg.Endpoint.Send(donor, req); err != nil {
		return nil, fmt.Errorf("clone: cannot reach donor %s: %w", donor, err)
	}
	select {
	case <-in.done:
	case <-time.After(cloneTimeout):
		return nil, fmt.Errorf("clone: donor %s did not answer within %v", donor, cloneTimeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if len(in.buf) == 0 || in.buf[0] != 1 {
		why := "empty answer"
		if len(in.buf) > 1 {
			why = string(in.buf[1:])
		}
		return nil, fmt.Errorf("clone: donor %s refused: %s", donor, why)
	}
	return in.buf[1:], nil
}

// installClone loads a donor's answer: the database, then the group state, then drops the
// queued entries the state already covers.
func (p *Provider) installClone(donor string, b []byte, need uint64) error {
	r := codec.NewReader(b, errCorruptClone)
	at, seq := r.Uvarint(), r.Varint()
	state := r.Bytes(r.Len())
	db := r.Rest()
	if err := r.Err(); err != nil {
		return err
	}
	if at < need {
		return fmt.Errorf("clone: donor %s sent its state at %d, before the snapshot at %d", donor, at, need)
	}
	// Check the state before touching the database.
	p.mu.Lock()
	cloned, err := p.m.DecodeState(state)
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("clone: state from %s: %w", donor, err)
	}
	if err := p.cfg.Applier.Restore(bytes.NewReader(db)); err != nil {
		return fmt.Errorf("clone: restoring the database from %s: %w", donor, err)
	}
	p.step(func(m *group.Machine) group.Effects { return m.Install(cloned) })
	p.commitMon.Reset(seq)
	p.pipeMu.Lock()
	p.pipeQ = keepAfter(p.pipeQ, at)
	p.pipeTxns.Store(countTxns(p.pipeQ))
	p.pipeIndex.Store(at)
	p.pipeMu.Unlock()
	p.clone.received.Add(1)
	p.clone.mu.Lock()
	p.clone.last = fmt.Sprintf("from %s: %d bytes at position %d", donor, len(b), seq)
	p.clone.mu.Unlock()
	return nil
}
