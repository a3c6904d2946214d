package workloads

import (
	"math/rand/v2"
)

// NewRand returns the generator for one purpose of a seeded run. Streams are split by
// purpose (loading table 3, client 7, ...) rather than drawn from one shared generator, so
// that the data loaded and the transactions run do not depend on how goroutines interleave.
func NewRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream))
}

// Template fills a pattern the way sysbench's rand.string does: '#' becomes a random digit,
// '@' a random lower-case letter, anything else stays.
func Template(rng *rand.Rand, pattern string) string {
	b := []byte(pattern)
	for i, c := range b {
		switch c {
		case '#':
			b[i] = byte('0' + rng.IntN(10))
		case '@':
			b[i] = byte('a' + rng.IntN(26))
		}
	}
	return string(b)
}

// IntRange draws uniformly from [a, b].
func IntRange(rng *rand.Rand, a, b int64) int64 {
	if b <= a {
		return a
	}
	return a + rng.Int64N(b-a+1)
}
