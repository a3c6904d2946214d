package certifier

import (
	"sort"
	"strconv"
	"strings"
)

// interval is a closed range of GNOs [lo, hi].
type interval struct{ lo, hi int64 }

// Intervals is a set of GNOs kept as sorted, disjoint, non-adjacent closed ranges: the shape
// of the number part of a MySQL GTID set ("1-5:1000001-1000003"). Group Replication's GNOs
// come in blocks per member, so a set over millions of GNOs stays a handful of ranges.
type Intervals struct {
	iv []interval
}

// Contains reports whether gno is in the set.
func (s *Intervals) Contains(gno int64) bool {
	i := sort.Search(len(s.iv), func(i int) bool { return s.iv[i].hi >= gno })
	return i < len(s.iv) && s.iv[i].lo <= gno
}

// Add inserts gno, merging with neighbouring ranges.
func (s *Intervals) Add(gno int64) {
	s.AddRange(gno, gno)
}

// AddRange inserts [lo, hi].
func (s *Intervals) AddRange(lo, hi int64) {
	if lo > hi {
		return
	}
	// first range that ends at or after lo-1 (touching counts as overlapping)
	i := sort.Search(len(s.iv), func(i int) bool { return s.iv[i].hi >= lo-1 })
	j := i
	for j < len(s.iv) && s.iv[j].lo <= hi+1 {
		lo = min(lo, s.iv[j].lo)
		hi = max(hi, s.iv[j].hi)
		j++
	}
	if i == j {
		s.iv = append(s.iv, interval{})
		copy(s.iv[i+1:], s.iv[i:])
		s.iv[i] = interval{lo, hi}
		return
	}
	s.iv[i] = interval{lo, hi}
	s.iv = append(s.iv[:i+1], s.iv[j:]...)
}

// Len is the number of ranges.
func (s *Intervals) Len() int { return len(s.iv) }

// Count is the number of GNOs in the set.
func (s *Intervals) Count() int64 {
	var n int64
	for _, r := range s.iv {
		n += r.hi - r.lo + 1
	}
	return n
}

// complement returns the free ranges in [1, maxGNO] not covered by s.
func (s *Intervals) complement() []interval {
	var out []interval
	next := int64(1)
	for _, r := range s.iv {
		if r.lo > next {
			out = append(out, interval{next, r.lo - 1})
		}
		next = r.hi + 1
	}
	if next <= maxGNO {
		out = append(out, interval{next, maxGNO})
	}
	return out
}

// String prints the ranges the way MySQL prints the GNO part of a GTID set: "1-5:9".
func (s *Intervals) String() string {
	var b strings.Builder
	for i, r := range s.iv {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strconv.FormatInt(r.lo, 10))
		if r.hi != r.lo {
			b.WriteByte('-')
			b.WriteString(strconv.FormatInt(r.hi, 10))
		}
	}
	return b.String()
}
