package keydist

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

const draws = 200_000

func sample(t *testing.T, kind Kind, a, b int64) []int64 {
	t.Helper()
	d := MustNew(Defaults(kind))
	rng := rand.New(rand.NewPCG(1, 2))
	counts := make([]int64, b-a+1)
	for i := 0; i < draws; i++ {
		v := d.Int(rng, a, b)
		if v < a || v > b {
			t.Fatalf("%s: draw %d outside [%d, %d]", kind, v, a, b)
		}
		counts[v-a]++
	}
	return counts
}

// share of draws that the busiest fraction f of rows receives.
func topShare(counts []int64, f float64) float64 {
	c := append([]int64(nil), counts...)
	sort.Slice(c, func(i, j int) bool { return c[i] > c[j] })
	n := int(math.Ceil(f * float64(len(c))))
	var s int64
	for _, x := range c[:n] {
		s += x
	}
	return float64(s) / draws
}

func TestUniformIsFlat(t *testing.T) {
	const rows = 100
	counts := sample(t, Uniform, 1, rows)
	// Pearson chi-square with 99 degrees of freedom: the 99.9% quantile is about 148.
	exp := float64(draws) / rows
	chi := 0.0
	for _, c := range counts {
		chi += (float64(c) - exp) * (float64(c) - exp) / exp
	}
	if chi > 148 {
		t.Fatalf("uniform: chi-square %.1f over 99 d.o.f. exceeds the 99.9%% bound 148", chi)
	}
}

// sysbench 1.0: --rand-spec-res=75 percent of draws fall in --rand-spec-pct=1 percent of the
// range, centred; the other 25% are a 12-iteration bell over the whole range, of which a
// few percent also land in the window.
func TestSpecialSends75PercentTo1PercentOfRows(t *testing.T) {
	const rows = 10000
	d := MustNew(Defaults(Special))
	lo, hi := d.SpecialWindow(1, rows)
	if w := hi - lo + 1; w < rows/100 || w > rows/100+2 {
		t.Fatalf("special window [%d, %d] is %d rows, want about 1%% of %d", lo, hi, w, rows)
	}
	if mid := (lo + hi) / 2; mid < rows/2-5 || mid > rows/2+5 {
		t.Fatalf("special window centred at %d, want the middle of the range", mid)
	}
	counts := sample(t, Special, 1, rows)
	var in int64
	for v := lo; v <= hi; v++ {
		in += counts[v-1]
	}
	share := float64(in) / draws
	// 0.75 from the window branch plus 0.25 * P(bell lands in the 1% window) ~ 0.25*0.048.
	if share < 0.755 || share > 0.775 {
		t.Fatalf("special: %.4f of draws in the 1%% window, want 0.762 +- 0.01", share)
	}
	if s := topShare(counts, 0.01); s < 0.75 {
		t.Fatalf("special: busiest 1%% of rows got %.4f of draws, want >= 0.75", s)
	}
}

func TestParetoSends80PercentTo20PercentOfRows(t *testing.T) {
	const rows = 1000
	counts := sample(t, Pareto, 1, rows)
	var low int64
	for _, c := range counts[:rows/5] {
		low += c
	}
	// h = 0.2: P(u^p < 0.2) = 0.2^(1/p) = 0.8 exactly.
	if share := float64(low) / draws; math.Abs(share-0.8) > 0.005 {
		t.Fatalf("pareto: first 20%% of rows got %.4f of draws, want 0.800 +- 0.005", share)
	}
}

func TestZipfianFollowsPowerLaw(t *testing.T) {
	const rows = 1000
	counts := sample(t, Zipfian, 1, rows)
	norm := 0.0
	for k := 1; k <= rows; k++ {
		norm += math.Pow(float64(k), -0.8)
	}
	for k := 1; k <= 5; k++ {
		want := math.Pow(float64(k), -0.8) / norm
		got := float64(counts[k-1]) / draws
		sd := math.Sqrt(want * (1 - want) / draws)
		if math.Abs(got-want) > 5*sd {
			t.Errorf("zipfian: rank %d has p=%.5f, want %.5f +- %.5f (5 sd)", k, got, want, 5*sd)
		}
	}
	// Monotone on average: the first decile is busier than the last.
	var first, last int64
	for i := 0; i < rows/10; i++ {
		first += counts[i]
		last += counts[rows-1-i]
	}
	if first <= 3*last {
		t.Fatalf("zipfian: first decile %d draws vs last %d, want a heavy head", first, last)
	}
}

func TestGaussianCentresOnTheMiddle(t *testing.T) {
	const rows = 1000
	counts := sample(t, Gaussian, 1, rows)
	mean, sq := 0.0, 0.0
	for i, c := range counts {
		v := float64(i + 1)
		mean += v * float64(c)
		sq += v * v * float64(c)
	}
	mean /= draws
	sd := math.Sqrt(sq/draws - mean*mean)
	// Average of 12 uniforms over [1, 1001): mean 501, sd = 1000/sqrt(144) = 83.3.
	if math.Abs(mean-501) > 2 || math.Abs(sd-83.3) > 2 {
		t.Fatalf("gaussian: mean %.1f sd %.1f, want 501 and 83.3", mean, sd)
	}
}

func TestDrawsAreDeterministicPerSeed(t *testing.T) {
	for _, k := range Kinds {
		d := MustNew(Defaults(Kind(k)))
		r1, r2 := rand.New(rand.NewPCG(7, 7)), rand.New(rand.NewPCG(7, 7))
		for i := 0; i < 1000; i++ {
			if a, b := d.Int(r1, 1, 5000), d.Int(r2, 1, 5000); a != b {
				t.Fatalf("%s: draw %d differs between equal seeds: %d vs %d", k, i, a, b)
			}
		}
	}
}

func TestNewRejectsBadParameters(t *testing.T) {
	for _, c := range []Config{
		{Kind: "normal"},
		{Kind: Special, SpecPct: 101},
		{Kind: Special, SpecRes: 100},
		{Kind: Pareto, ParetoH: 1.5},
		{Kind: Zipfian, ZipfExp: -1},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted an invalid configuration", c)
		}
	}
}

func TestDegenerateRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, k := range Kinds {
		if v := MustNew(Defaults(Kind(k))).Int(rng, 5, 5); v != 5 {
			t.Fatalf("%s: Int(5,5) = %d", k, v)
		}
	}
}

func BenchmarkDraw(b *testing.B) {
	for _, k := range Kinds {
		b.Run(k, func(b *testing.B) {
			d := MustNew(Defaults(Kind(k)))
			rng := rand.New(rand.NewPCG(1, 2))
			for b.Loop() {
				d.Int(rng, 1, 10000)
			}
		})
	}
}
