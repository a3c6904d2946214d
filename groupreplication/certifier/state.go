package certifier

import (
	"encoding/binary"
	"errors"
	"github.com/replbench/replbench/internal/codec"
	"maps"
	"slices"
)

// ErrCorruptState is returned by RestoreState for bytes AppendState did not produce.
var ErrCorruptState = errors.New("certifier: corrupt state (the donor and joiner must run the same model version)")

// AppendState appends the whole certification state to b: certification_info, the GTID
// generator with its blocks and free intervals, the parallel-applier counters, the
// garbage-collection round and the counters. It is what travels with a clone (the donor's
// certification info rides with the view-change marker in the server): a member restored
// from it certifies the next message exactly as the donor does. The encoding is
// deterministic (keys sorted) so two equal states give equal bytes.
func (c *Certifier) AppendState(b []byte) []byte {
	b = binary.AppendUvarint(b, stateVersion)
	b = appendBool(b, c.detection)
	for _, v := range []int64{c.seqno, c.lastCommGlobal, c.stable, c.checked, c.conflicts, c.lastConflictFree, c.gcRuns} {
		b = binary.AppendVarint(b, v)
	}
	keys := slices.Sorted(maps.Keys(c.info))
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = binary.AppendUvarint(b, k)
		b = binary.AppendVarint(b, c.info[k].seqno)
	}
	members := slices.Sorted(maps.Keys(c.executed))
	b = binary.AppendUvarint(b, uint64(len(members)))
	for _, m := range members {
		b = binary.AppendVarint(b, int64(m))
		b = binary.AppendVarint(b, c.executed[m])
	}
	b = appendIntervals(b, c.stableGNOs.iv)
	b = binary.AppendUvarint(b, uint64(len(c.pending)))
	for _, a := range c.pending {
		b = binary.AppendVarint(b, a.seqno)
		b = binary.AppendVarint(b, a.gno)
	}
	g := c.gen
	b = binary.AppendVarint(b, g.blockSize)
	b = binary.AppendVarint(b, g.counter)
	b = appendIntervals(b, g.used.iv)
	b = appendIntervals(b, g.free)
	origins := slices.Sorted(maps.Keys(g.blocks))
	b = binary.AppendUvarint(b, uint64(len(origins)))
	for _, o := range origins {
		b = binary.AppendVarint(b, int64(o))
		b = binary.AppendVarint(b, g.blocks[o].next)
		b = binary.AppendVarint(b, g.blocks[o].end)
	}
	return b
}

const stateVersion = 1

// RestoreState rebuilds a certifier from AppendState's bytes.
func RestoreState(b []byte) (*Certifier, error) {
	r := &reader{codec.NewReader(b, ErrCorruptState)}
	if r.uvarint() != stateVersion {
		return nil, ErrCorruptState
	}
	c := New(1, r.bool())
	for _, p := range []*int64{&c.seqno, &c.lastCommGlobal, &c.stable, &c.checked, &c.conflicts, &c.lastConflictFree, &c.gcRuns} {
		*p = r.varint()
	}
	n := r.count(2)
	for range n {
		k := r.uvarint()
		c.info[k] = entry{seqno: r.varint()}
	}
	n = r.count(2)
	for range n {
		m := int(r.varint())
		c.executed[m] = r.varint()
	}
	c.stableGNOs.iv = r.intervals()
	n = r.count(2)
	c.pending = make([]assigned, 0, n)
	for range n {
		s := r.varint()
		c.pending = append(c.pending, assigned{seqno: s, gno: r.varint()})
	}
	g := c.gen
	g.blockSize = max(r.varint(), 1)
	g.counter = r.varint()
	g.used.iv = r.intervals()
	g.free = r.intervals()
	n = r.count(3)
	for range n {
		o := int(r.varint())
		next := r.varint()
		g.blocks[o] = &block{next: next, end: r.varint()}
	}
	if r.Len() != 0 {
		r.Fail("%d trailing bytes", r.Len())
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendIntervals(b []byte, iv []interval) []byte {
	b = binary.AppendUvarint(b, uint64(len(iv)))
	for _, r := range iv {
		b = binary.AppendVarint(b, r.lo)
		b = binary.AppendVarint(b, r.hi)
	}
	return b
}

// reader decodes AppendState's bytes over the project's one binary reader (internal/codec):
// its error is sticky, so RestoreState reads straight through and checks once at the end.
type reader struct{ codec.Reader }

func (r *reader) uvarint() uint64 { return r.Uvarint() }

func (r *reader) varint() int64 { return r.Varint() }

func (r *reader) bool() bool { return r.Bool() }

// count reads a length whose items take at least minBytes each, rejecting lengths the
// remaining bytes cannot hold (so garbage never makes a huge allocation).
func (r *reader) count(minBytes int) int { return r.Count(r.Len() / minBytes) }

func (r *reader) intervals() []interval {
	n := r.count(2)
	out := make([]interval, 0, n)
	for range n {
		lo := r.varint()
		out = append(out, interval{lo, r.varint()})
	}
	return out
}
