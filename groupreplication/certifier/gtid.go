package certifier

import "math"

// maxGNO is GNO_END, the largest GNO MySQL assigns.
const maxGNO = math.MaxInt64 - 1

// block is the GNO range one member reserved, and the next GNO to try inside it.
type block struct {
	next, end int64
}

// gtidGenerator hands out GNOs in certification order, the same way on every member.
//
// Each origin member reserves a block of group_replication_gtid_assignment_block_size GNOs
// from the first free interval and numbers its transactions from it, so two members that
// write at once never contend for one counter; the price is a gtid_executed with holes
// ("uuid:1-5:1000001-1000003"). Every blockSize+1 assignments all blocks are given back and
// the free intervals recomputed, which fills those holes. A block size of 1, or an
// assignment with no origin member (a view change), takes the first free GNO group-wide.
type gtidGenerator struct {
	blockSize int64
	used      Intervals  // group_gtid_executed: every GNO assigned so far
	free      []interval // free intervals not yet reserved by a block
	blocks    map[int]*block
	counter   int64
}

func newGTIDGenerator(blockSize int64) *gtidGenerator {
	if blockSize < 1 {
		blockSize = 1
	}
	return &gtidGenerator{
		blockSize: blockSize,
		free:      []interval{{1, maxGNO}},
		blocks:    map[int]*block{},
	}
}

// next assigns the next GNO for a transaction from origin (a member index; -1 for none).
func (g *gtidGenerator) next(origin int) int64 {
	g.counter++
	if g.blockSize > 1 && g.counter%(g.blockSize+1) == 0 {
		g.recollect()
	}
	var gno int64
	if g.blockSize == 1 || origin < 0 {
		gno = g.firstFree()
	} else {
		b := g.blocks[origin]
		for b != nil && b.next <= b.end && g.used.Contains(b.next) {
			b.next++
		}
		if b == nil || b.next > b.end {
			b = g.reserve()
			g.blocks[origin] = b
		}
		gno = b.next
		b.next++
	}
	g.used.Add(gno)
	return gno
}

// firstFree is the lowest GNO not yet assigned.
func (g *gtidGenerator) firstFree() int64 {
	if len(g.used.iv) == 0 || g.used.iv[0].lo > 1 {
		return 1
	}
	return g.used.iv[0].hi + 1
}

// reserve takes a block from the first free interval, shrinking the free list. A free
// interval shorter than the block size yields a shorter block.
func (g *gtidGenerator) reserve() *block {
	for len(g.free) > 0 {
		f := &g.free[0]
		lo := f.lo
		for lo <= f.hi && g.used.Contains(lo) {
			lo++
		}
		if lo > f.hi {
			g.free = g.free[1:]
			continue
		}
		hi := f.hi
		if hi-lo+1 > g.blockSize {
			hi = lo + g.blockSize - 1
		}
		if hi == f.hi {
			g.free = g.free[1:]
		} else {
			f.lo = hi + 1
		}
		return &block{next: lo, end: hi}
	}
	// Every GNO is reserved by some block: give the blocks back and start over.
	g.recollect()
	return g.reserve()
}

// recollect releases every member's block and recomputes the free intervals from what has
// actually been assigned.
func (g *gtidGenerator) recollect() {
	clear(g.blocks)
	g.free = g.used.complement()
}
