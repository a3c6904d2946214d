// Package keydist draws row numbers the way sysbench's --rand-type does: uniform, special,
// gaussian, zipfian and pareto, with sysbench's own formulas and parameters.
//
// The distribution decides how often two transactions touch the same row, so it sets the
// conflict and abort rates of every multi-writer protocol more than any other knob. Results
// quoted as "sysbench-like" must say which one ran: sysbench 1.0 defaulted to special (75%
// of draws land in 1% of the range, in the middle of it), later sysbench to uniform.
// Reproducing the formulas exactly, quirks included, is what makes a number comparable.
package keydist

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Kind names a distribution as --rand-type spells it.
type Kind string

// The distributions.
const (
	Uniform  Kind = "uniform"
	Special  Kind = "special"
	Gaussian Kind = "gaussian"
	Zipfian  Kind = "zipfian"
	Pareto   Kind = "pareto"
)

// Kinds lists the accepted --rand-type values.
var Kinds = []string{string(Uniform), string(Special), string(Gaussian), string(Zipfian), string(Pareto)}

// Config holds sysbench's distribution parameters. The zero value of a field means its
// sysbench default (see Defaults).
type Config struct {
	Kind     Kind
	SpecIter int     // --rand-spec-iter: uniforms averaged for the gaussian part (12)
	SpecPct  int     // --rand-spec-pct: width of the special window, percent of the range (1)
	SpecRes  int     // --rand-spec-res: percent of draws that land in the window (75)
	ZipfExp  float64 // --rand-zipfian-exp: theta (0.8)
	ParetoH  float64 // --rand-pareto-h: shape h (0.2); h of the range gets 1-h of the draws
}

// Defaults returns sysbench's defaults for kind.
func Defaults(kind Kind) Config {
	return Config{Kind: kind, SpecIter: 12, SpecPct: 1, SpecRes: 75, ZipfExp: 0.8, ParetoH: 0.2}
}

// Dist is a configured distribution. It holds no random state: every draw takes the
// caller's generator, so each client keeps its own reproducible stream.
type Dist struct {
	cfg Config
	// special
	iterMult, pctMult, pct2Mult, resMult float64
	// pareto
	paretoPower float64
	// zipfian
	zipfS, zipfHX1 float64
}

// New validates cfg and precomputes the distribution's constants.
func New(cfg Config) (*Dist, error) {
	def := Defaults(cfg.Kind)
	if cfg.SpecIter == 0 {
		cfg.SpecIter = def.SpecIter
	}
	if cfg.SpecPct == 0 {
		cfg.SpecPct = def.SpecPct
	}
	if cfg.SpecRes == 0 {
		cfg.SpecRes = def.SpecRes
	}
	if cfg.ZipfExp == 0 {
		cfg.ZipfExp = def.ZipfExp
	}
	if cfg.ParetoH == 0 {
		cfg.ParetoH = def.ParetoH
	}
	switch cfg.Kind {
	case Uniform, Special, Gaussian, Zipfian, Pareto:
	default:
		return nil, fmt.Errorf("rand-type: invalid value %q (accepted: %s)", cfg.Kind, strings.Join(Kinds, ", "))
	}
	switch {
	case cfg.SpecIter < 1:
		return nil, fmt.Errorf("rand-spec-iter: %d is not positive (accepted: an integer >= 1)", cfg.SpecIter)
	case cfg.SpecPct < 1 || cfg.SpecPct > 100:
		return nil, fmt.Errorf("rand-spec-pct: %d out of range (accepted: 1 to 100)", cfg.SpecPct)
	case cfg.SpecRes < 0 || cfg.SpecRes > 99:
		return nil, fmt.Errorf("rand-spec-res: %d out of range (accepted: 0 to 99)", cfg.SpecRes)
	case cfg.ZipfExp < 0:
		return nil, fmt.Errorf("rand-zipfian-exp: %g is negative (accepted: a number >= 0)", cfg.ZipfExp)
	case cfg.ParetoH <= 0 || cfg.ParetoH >= 1:
		return nil, fmt.Errorf("rand-pareto-h: %g out of range (accepted: strictly between 0 and 1)", cfg.ParetoH)
	}
	d := &Dist{cfg: cfg}
	d.iterMult = 1 / float64(cfg.SpecIter)
	d.pctMult = float64(cfg.SpecPct) / 100
	d.pct2Mult = float64(cfg.SpecPct) / 200
	d.resMult = 100 / (100 - float64(cfg.SpecRes))
	d.paretoPower = math.Log(cfg.ParetoH) / math.Log(1-cfg.ParetoH)
	e := cfg.ZipfExp
	d.zipfS = 2 - hIntegralInverse(hIntegral(2.5, e)-h(2, e), e)
	d.zipfHX1 = hIntegral(1.5, e) - 1
	return d, nil
}

// MustNew is New for configurations known to be valid (tests, fixed defaults).
func MustNew(cfg Config) *Dist {
	d, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return d
}

// Config returns the effective configuration.
func (d *Dist) Config() Config { return d.cfg }

// Int draws an integer in [a, b].
func (d *Dist) Int(rng *rand.Rand, a, b int64) int64 {
	if b <= a {
		return a
	}
	var v int64
	switch d.cfg.Kind {
	case Uniform:
		v = UniformInt(rng, a, b)
	case Gaussian:
		v = d.gaussian(rng, a, b)
	case Special:
		v = d.special(rng, a, b)
	case Pareto:
		v = a + int64(float64(b-a+1)*math.Pow(rng.Float64(), d.paretoPower))
	case Zipfian:
		v = a + d.zipf(rng, b-a+1) - 1
	}
	// Floating-point rounding may touch b+1 in the formulas above; keep the contract.
	return min(max(v, a), b)
}

// UniformInt draws uniformly in [a, b] the way sysbench does (a + floor(u*(b-a+1))).
func UniformInt(rng *rand.Rand, a, b int64) int64 {
	if b <= a {
		return a
	}
	return a + int64(rng.Float64()*float64(b-a+1))
}

func (d *Dist) gaussian(rng *rand.Rand, a, b int64) int64 {
	t := float64(b - a + 1)
	sum := 0.0
	for i := 0; i < d.cfg.SpecIter; i++ {
		sum += rng.Float64() * t
	}
	return a + int64(sum*d.iterMult)
}

// special is sysbench 1.0's default. One uniform u picks the branch: with probability
// (100-res)% the draw is an average of SpecIter uniforms over the whole range (a bell
// around the middle); otherwise it falls uniformly into a window SpecPct% wide centred in
// the range. Like sysbench, the window position reuses u, so with the defaults only the
// upper three quarters of the window are ever hit; the hot set is that part of 1% of rows.
func (d *Dist) special(rng *rand.Rand, a, b int64) int64 {
	t := float64(b - a)
	u := rng.Float64()
	if u*t*d.resMult < t {
		sum := 0.0
		for i := 0; i < d.cfg.SpecIter; i++ {
			sum += rng.Float64()
		}
		return a + int64(sum*t*d.iterMult)
	}
	w := t * d.pctMult
	r := u*(w+1) + t/2 - t*d.pct2Mult
	return a + int64(r)
}

// SpecialWindow returns the rows [lo, hi] of the special window of the range [a, b], the
// rows that receive SpecRes percent of the draws.
func (d *Dist) SpecialWindow(a, b int64) (lo, hi int64) {
	t := float64(b - a)
	off := t/2 - t*d.pct2Mult
	return a + int64(off), a + int64(off+t*d.pctMult)
}

// zipf draws from [1, n] by rejection-inversion (Hörmann and Derflinger, 1996), the method
// sysbench takes from Apache Commons RNG; it needs no table of size n.
func (d *Dist) zipf(rng *rand.Rand, n int64) int64 {
	e := d.cfg.ZipfExp
	hN := hIntegral(float64(n)+0.5, e)
	for {
		u := hN + rng.Float64()*(d.zipfHX1-hN)
		x := hIntegralInverse(u, e)
		k := int64(x + 0.5)
		if k < 1 {
			k = 1
		} else if k > n {
			k = n
		}
		if float64(k)-x <= d.zipfS || u >= hIntegral(float64(k)+0.5, e)-h(float64(k), e) {
			return k
		}
	}
}

// hIntegral is H(x) = (x^(1-e) - 1) / (1-e), or log x when e = 1; its derivative is h.
func hIntegral(x, e float64) float64 {
	lx := math.Log(x)
	return expm1OverX((1-e)*lx) * lx
}

// h is the unnormalised Zipf mass x^-e.
func h(x, e float64) float64 { return math.Exp(-e * math.Log(x)) }

func hIntegralInverse(x, e float64) float64 {
	t := x * (1 - e)
	if t < -1 {
		t = -1 // numerical noise only
	}
	return math.Exp(log1pOverX(t) * x)
}

func log1pOverX(x float64) float64 {
	if math.Abs(x) > 1e-8 {
		return math.Log1p(x) / x
	}
	return 1 - x*(0.5-x*(1.0/3-0.25*x))
}

func expm1OverX(x float64) float64 {
	if math.Abs(x) > 1e-8 {
		return math.Expm1(x) / x
	}
	return 1 + x*0.5*(1+x/3*(1+0.25*x))
}
