package transport

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Link names one direction of a node-to-node path. Delays are directional because real
// paths are (asymmetric routing, or netem on one side only).
type Link struct {
	From, To string
}

// Network describes the emulated network: what the emulator applies to each message and
// what the harness's Callaghan-bound calculator reads to know the minimum cost of a round
// trip. It is a value type: copy it with Clone before changing a shared one, because the
// maps are shared by plain assignment.
//
// The one-way delay of a message from a to b is Base + Egress[a] + Links[{a,b}], plus a
// non-negative Jitter sample. Egress models `tc qdisc add dev eth0 root netem delay X` on
// a's interface (every message leaving a is delayed; messages into a are not), Links model
// distances between data centres. Jitter only ever adds delay, so OneWay is a lower bound
// that bound calculations may rely on.
type Network struct {
	// Name is the preset name, or a free label for results ("custom" when empty).
	Name string
	// Base is the one-way delay of every link (LAN propagation plus stack).
	Base time.Duration
	// Egress is the extra delay of every message leaving a node.
	Egress map[string]time.Duration
	// Links is the extra one-way delay per directed link.
	Links map[Link]time.Duration
	// Jitter is added to each message's delay, sampled per link from a seeded source.
	Jitter Jitter
	// Loss is the probability in [0,1] that a message is dropped. Unlike TCP, which would
	// retransmit, a lost message is gone: use it to test protocols' timeouts and resends.
	Loss float64
}

// OneWay is the configured one-way delay from one node to another, without jitter: the
// least time any message takes on that link.
func (n Network) OneWay(from, to string) time.Duration {
	return n.Base + n.Egress[from] + n.Links[Link{from, to}]
}

// RTT is the least round-trip time between a and b: OneWay there plus OneWay back.
func (n Network) RTT(a, b string) time.Duration {
	return n.OneWay(a, b) + n.OneWay(b, a)
}

// Clone returns a deep copy, safe to modify without affecting n.
func (n Network) Clone() Network {
	c := n
	c.Egress = maps.Clone(n.Egress)
	c.Links = maps.Clone(n.Links)
	return c
}

// SetEgress sets the egress delay of node (0 removes it).
func (n *Network) SetEgress(node string, d time.Duration) {
	if n.Egress == nil {
		n.Egress = make(map[string]time.Duration)
	}
	if d == 0 {
		delete(n.Egress, node)
		return
	}
	n.Egress[node] = d
}

// SetLink sets the extra one-way delay of the directed link from → to (0 removes it).
func (n *Network) SetLink(from, to string, d time.Duration) {
	if n.Links == nil {
		n.Links = make(map[Link]time.Duration)
	}
	if d == 0 {
		delete(n.Links, Link{from, to})
		return
	}
	n.Links[Link{from, to}] = d
}

// SetLinkBoth sets the same extra one-way delay in both directions between a and b, so
// the round trip grows by 2d.
func (n *Network) SetLinkBoth(a, b string, d time.Duration) {
	n.SetLink(a, b, d)
	n.SetLink(b, a, d)
}

// LinkSpecs lists the link delays in the form ParseLink reads, sorted: a pair with the
// same delay both ways is one undirected entry (Directed false, From < To), anything
// else one directed entry per direction. Results and CLI echoes use it.
func (n Network) LinkSpecs() []LinkDelay {
	var out []LinkDelay
	for l, d := range n.Links {
		back, ok := n.Links[Link{l.To, l.From}]
		switch {
		case ok && back == d && l.From < l.To:
			out = append(out, LinkDelay{From: l.From, To: l.To, Delay: d})
		case ok && back == d:
		default:
			out = append(out, LinkDelay{From: l.From, To: l.To, Delay: d, Directed: true})
		}
	}
	slices.SortFunc(out, func(a, b LinkDelay) int {
		return strings.Compare(a.From+"\x00"+a.To, b.From+"\x00"+b.To)
	})
	return out
}

// String renders the link delay in the form ParseLink reads.
func (l LinkDelay) String() string {
	sep := "-"
	if l.Directed {
		sep = ">"
	}
	return l.From + sep + l.To + "=" + l.Delay.String()
}

// Validate checks that every node the network names is a member and that no delay or
// probability is out of range. Its errors name the offending value and what is accepted.
func (n Network) Validate(members []string) error {
	if n.Base < 0 {
		return fmt.Errorf("negative base delay %v: delays must be >= 0", n.Base)
	}
	for _, node := range slices.Sorted(maps.Keys(n.Egress)) {
		if err := CheckNode(node, members); err != nil {
			return fmt.Errorf("egress: %w", err)
		}
		if d := n.Egress[node]; d < 0 {
			return fmt.Errorf("egress %s: negative delay %v: delays must be >= 0", node, d)
		}
	}
	for l, d := range n.Links {
		for _, node := range []string{l.From, l.To} {
			if err := CheckNode(node, members); err != nil {
				return fmt.Errorf("link %s-%s: %w", l.From, l.To, err)
			}
		}
		if d < 0 {
			return fmt.Errorf("link %s-%s: negative delay %v: delays must be >= 0", l.From, l.To, d)
		}
	}
	if err := n.Jitter.Validate(); err != nil {
		return err
	}
	if n.Loss < 0 || n.Loss > 1 || math.IsNaN(n.Loss) {
		return fmt.Errorf("loss %v out of range: give a probability in [0,1] or a percentage such as 1%%", n.Loss)
	}
	return nil
}

// CheckNode returns an error naming node and the accepted names if node is not a member.
func CheckNode(node string, members []string) error {
	if slices.Contains(members, node) {
		return nil
	}
	return fmt.Errorf("unknown node %s (accepted: %s)", node, strings.Join(members, ", "))
}

// Distribution names how jitter is drawn.
type Distribution string

// The jitter distributions, as netem names them.
const (
	// Constant adds exactly Amount to every message.
	Constant Distribution = "constant"
	// Uniform adds a delay drawn uniformly from [0, Amount].
	Uniform Distribution = "uniform"
	// Normal adds a delay drawn from a normal distribution with mean Amount and standard
	// deviation Spread, clamped at 0 (a message is never faster than OneWay).
	Normal Distribution = "normal"
	// Pareto adds a heavy-tailed delay with mean Amount and standard deviation Spread:
	// most messages get a little less than the mean, a few get many times more, which is
	// what queueing in a congested router looks like.
	Pareto Distribution = "pareto"
)

// Jitter is the random part of a message's delay. The zero value adds nothing.
type Jitter struct {
	Dist   Distribution
	Amount time.Duration
	Spread time.Duration
}

// IsZero reports whether the jitter adds nothing.
func (j Jitter) IsZero() bool { return j.Amount == 0 && j.Spread == 0 }

// String renders j in the form ParseJitter accepts.
func (j Jitter) String() string {
	switch {
	case j.IsZero():
		return "none"
	case j.Dist == Normal || j.Dist == Pareto:
		return fmt.Sprintf("%s:%v,%v", j.Dist, j.Amount, j.Spread)
	default:
		return fmt.Sprintf("%s:%v", j.Dist, j.Amount)
	}
}

// Validate checks the distribution name and that amounts are not negative.
func (j Jitter) Validate() error {
	if j.IsZero() {
		return nil
	}
	switch j.Dist {
	case Constant, Uniform, Normal, Pareto:
	default:
		return fmt.Errorf("unknown jitter distribution %q (accepted: %s)", j.Dist, jitterForms)
	}
	if j.Amount < 0 || j.Spread < 0 {
		return fmt.Errorf("jitter %s: negative duration: durations must be >= 0", j)
	}
	if j.Dist == Pareto && j.Spread > 0 && j.Amount == 0 {
		return fmt.Errorf("jitter %s: pareto needs a mean > 0", j)
	}
	return nil
}

// Sample draws one jitter value from r. It never returns a negative duration.
func (j Jitter) Sample(r *rand.Rand) time.Duration {
	if j.IsZero() {
		return 0
	}
	var v float64
	a, s := float64(j.Amount), float64(j.Spread)
	switch j.Dist {
	case Constant:
		return j.Amount
	case Uniform:
		v = r.Float64() * a
	case Normal:
		v = a + s*r.NormFloat64()
	case Pareto:
		if s == 0 {
			return j.Amount
		}
		// Pareto with shape k and scale m has mean k·m/(k-1) and variance
		// m²·k/((k-1)²(k-2)); solving for the given mean and deviation:
		// k(k-2) = mean²/sd², so k = 1+sqrt(1+mean²/sd²) (always > 2) and m = mean(k-1)/k.
		k := 1 + math.Sqrt(1+(a*a)/(s*s))
		m := a * (k - 1) / k
		v = m / math.Pow(1-r.Float64(), 1/k)
	}
	if v <= 0 || math.IsNaN(v) {
		return 0
	}
	if v > float64(time.Hour) {
		v = float64(time.Hour)
	}
	return time.Duration(v)
}

const jitterForms = "none, constant:5ms, uniform:5ms, normal:10ms,2ms (mean,stddev), pareto:10ms,5ms (mean,stddev)"

// ParseJitter parses a jitter specification: "none", "constant:D", "uniform:D",
// "normal:MEAN,STDDEV" or "pareto:MEAN,STDDEV".
func ParseJitter(s string) (Jitter, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" || s == "0" {
		return Jitter{}, nil
	}
	name, arg, ok := strings.Cut(s, ":")
	if !ok {
		return Jitter{}, fmt.Errorf("jitter %q: missing ':' (accepted: %s)", s, jitterForms)
	}
	j := Jitter{Dist: Distribution(strings.ToLower(strings.TrimSpace(name)))}
	parts := strings.Split(arg, ",")
	switch j.Dist {
	case Constant, Uniform:
		if len(parts) != 1 {
			return Jitter{}, fmt.Errorf("jitter %q: %s takes one duration (accepted: %s)", s, j.Dist, jitterForms)
		}
	case Normal, Pareto:
		if len(parts) != 2 {
			return Jitter{}, fmt.Errorf("jitter %q: %s takes a mean and a standard deviation (accepted: %s)", s, j.Dist, jitterForms)
		}
	default:
		return Jitter{}, fmt.Errorf("jitter %q: unknown distribution %q (accepted: %s)", s, name, jitterForms)
	}
	var err error
	if j.Amount, err = parseDelay(parts[0]); err != nil {
		return Jitter{}, fmt.Errorf("jitter %q: %w", s, err)
	}
	if len(parts) == 2 {
		if j.Spread, err = parseDelay(parts[1]); err != nil {
			return Jitter{}, fmt.Errorf("jitter %q: %w", s, err)
		}
	}
	if err := j.Validate(); err != nil {
		return Jitter{}, err
	}
	return j, nil
}

func parseDelay(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: write a number with a unit, such as 50ms, 250us or 1.5s", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %s: delays must be >= 0", s)
	}
	return d, nil
}

// ParseEgress parses "NODE=DELAY" (for example "n2=50ms"): the egress delay of one node.
// Check the node with CheckNode or Network.Validate.
func ParseEgress(s string) (node string, d time.Duration, err error) {
	node, ds, ok := strings.Cut(s, "=")
	node = strings.TrimSpace(node)
	if !ok || node == "" {
		return "", 0, fmt.Errorf("egress %q: expected NODE=DELAY, such as n2=50ms", s)
	}
	if d, err = parseDelay(ds); err != nil {
		return "", 0, fmt.Errorf("egress %q: %w", s, err)
	}
	return node, d, nil
}

// LinkDelay is a parsed link delay: the extra one-way delay from From to To, and from To
// to From too unless Directed.
type LinkDelay struct {
	From, To string
	Delay    time.Duration
	Directed bool
}

// Apply sets the delay on n.
func (l LinkDelay) Apply(n *Network) {
	n.SetLink(l.From, l.To, l.Delay)
	if !l.Directed {
		n.SetLink(l.To, l.From, l.Delay)
	}
}

const linkForms = "A-B=DELAY (both directions, such as n1-n2=20ms) or A>B=DELAY (one direction)"

// ParseLink parses "A-B=DELAY" (the one-way delay each way between A and B, so their RTT
// grows by twice DELAY) or "A>B=DELAY" (only from A to B).
func ParseLink(s string) (LinkDelay, error) {
	pair, ds, ok := strings.Cut(s, "=")
	if !ok {
		return LinkDelay{}, fmt.Errorf("link %q: missing '=' (accepted: %s)", s, linkForms)
	}
	var l LinkDelay
	if a, b, ok := strings.Cut(pair, ">"); ok {
		l.From, l.To, l.Directed = a, b, true
	} else if a, b, ok := strings.Cut(pair, "-"); ok {
		l.From, l.To = a, b
	} else {
		return LinkDelay{}, fmt.Errorf("link %q: expected two nodes joined by '-' or '>' (accepted: %s)", s, linkForms)
	}
	l.From, l.To = strings.TrimSpace(l.From), strings.TrimSpace(l.To)
	if l.From == "" || l.To == "" || strings.ContainsAny(l.To, "->") {
		return LinkDelay{}, fmt.Errorf("link %q: expected exactly two node names (accepted: %s)", s, linkForms)
	}
	if l.From == l.To {
		return LinkDelay{}, fmt.Errorf("link %q: a link joins two different nodes", s)
	}
	var err error
	if l.Delay, err = parseDelay(ds); err != nil {
		return LinkDelay{}, fmt.Errorf("link %q: %w", s, err)
	}
	return l, nil
}

// ParseLoss parses a loss probability: "0.01" or "1%".
func ParseLoss(s string) (float64, error) {
	s = strings.TrimSpace(s)
	pct := strings.HasSuffix(s, "%")
	var v float64
	if _, err := fmt.Sscanf(strings.TrimSuffix(s, "%"), "%g", &v); err != nil {
		return 0, fmt.Errorf("loss %q: expected a probability such as 0.01 or a percentage such as 1%%", s)
	}
	if pct {
		v /= 100
	}
	if v < 0 || v > 1 || math.IsNaN(v) {
		return 0, fmt.Errorf("loss %q out of range: give a probability in [0,1] or a percentage in [0%%,100%%]", s)
	}
	return v, nil
}

// LANOneWay is the one-way delay of the lan preset: half the 0.05 ms RTT the source
// documents measured between containers on one host.
const LANOneWay = 25 * time.Microsecond

type preset struct {
	name, desc string
	build      func(nodes []string) Network
}

// Data-centre matrices: one-way delays in ms between DCs (symmetric). The figures are
// rounded, typical public-cloud inter-region latencies, not measurements of this project.
var (
	threeDC = [3][3]time.Duration{
		{0, 35 * time.Millisecond, 38 * time.Millisecond},
		{35 * time.Millisecond, 0, 62 * time.Millisecond},
		{38 * time.Millisecond, 62 * time.Millisecond, 0},
	}
	threeAZ = [3][3]time.Duration{
		{0, 500 * time.Microsecond, 700 * time.Microsecond},
		{500 * time.Microsecond, 0, 600 * time.Microsecond},
		{700 * time.Microsecond, 600 * time.Microsecond, 0},
	}
)

func dcMatrix(name string, m [3][3]time.Duration, dcs int) func([]string) Network {
	return func(nodes []string) Network {
		nw := Network{Name: name, Base: LANOneWay}
		for i, a := range nodes {
			for j, b := range nodes {
				if i != j {
					nw.SetLink(a, b, m[i%dcs][j%dcs])
				}
			}
		}
		return nw
	}
}

func egressOnFirst(name string, d time.Duration) func([]string) Network {
	return func(nodes []string) Network {
		nw := Network{Name: name, Base: LANOneWay}
		if len(nodes) > 0 {
			nw.SetEgress(nodes[0], d)
		}
		return nw
	}
}

var presets = []preset{
	{"lan", "one LAN: 0.05 ms RTT between every pair (base one-way 25us), as containers on one host",
		func([]string) Network { return Network{Name: "lan", Base: LANOneWay} }},
	{"wan-50", "lan plus netem delay 50ms on the first node's interface (n1, the default writer): every message it sends takes 50 ms longer",
		egressOnFirst("wan-50", 50*time.Millisecond)},
	{"wan-100", "lan plus netem delay 100ms on the first node's interface (n1, the default writer)",
		egressOnFirst("wan-100", 100*time.Millisecond)},
	{"3az", "three availability zones of one cloud region, nodes round-robin over them: 0.5-0.7 ms one-way between zones (1-1.4 ms RTT), LAN inside a zone",
		dcMatrix("3az", threeAZ, 3)},
	{"2dc", "primary and disaster-recovery data centres 40 ms apart one way (80 ms RTT), nodes round-robin (n1, n3 in DC1; n2 in DC2), LAN inside a DC",
		dcMatrix("2dc", [3][3]time.Duration{{0, 40 * time.Millisecond}, {40 * time.Millisecond, 0}}, 2)},
	{"3dc", "three regions, nodes round-robin: US-East, US-West and Europe with typical cloud one-way delays of 35 ms (east-west), 38 ms (east-EU), 62 ms (west-EU), LAN inside a region",
		dcMatrix("3dc", threeDC, 3)},
}

// PresetNames lists the preset names in a stable order.
func PresetNames() []string {
	names := make([]string, len(presets))
	for i, p := range presets {
		names[i] = p.name
	}
	return names
}

// PresetDescription is the one-line description of a preset, for listings.
func PresetDescription(name string) string {
	for _, p := range presets {
		if p.name == name {
			return p.desc
		}
	}
	return ""
}

// Preset builds the named network for the given members (in order: the first is the
// default writer that the wan presets slow down; data-centre presets place members
// round-robin). An unknown name is an error listing the accepted ones.
func Preset(name string, nodes []string) (Network, error) {
	for _, p := range presets {
		if p.name == name {
			return p.build(nodes), nil
		}
	}
	return Network{}, fmt.Errorf("unknown network preset %q (accepted: %s)", name, strings.Join(PresetNames(), ", "))
}
