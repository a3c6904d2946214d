package harness

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/results"
)

// checkNetwork builds a network spec for a cluster of n nodes and returns it with its label
// filled in, and the built network. path is the field path of the spec, for error messages.
func (s *Scenario) checkNetwork(nw NetworkSpec, path string, n int) (NetworkSpec, transport.Network, error) {
	if nw.Name == "" {
		nw.Name = nw.label()
	}
	net, err := nw.Build(memberNames(n))
	if err != nil {
		return nw, net, fmt.Errorf("%s: %v", s.where(path), err)
	}
	return nw, net, nil
}

// label names a network for tables: the preset, plus any overrides ("lan+n3=50ms").
func (nw NetworkSpec) label() string {
	preset := nw.Preset
	if preset == "" {
		preset = "lan"
	}
	var parts []string
	for _, k := range sortedKeys(nw.Egress) {
		parts = append(parts, fmt.Sprintf("%s=%s", k, time.Duration(nw.Egress[k])))
	}
	for _, k := range sortedKeys(nw.Links) {
		parts = append(parts, fmt.Sprintf("%s=%s", k, time.Duration(nw.Links[k])))
	}
	if nw.Jitter != "" && nw.Jitter != "none" {
		parts = append(parts, "jitter="+nw.Jitter)
	}
	if nw.Loss > 0 {
		parts = append(parts, fmt.Sprintf("loss=%g", nw.Loss))
	}
	if len(parts) == 0 {
		return preset
	}
	return preset + "+" + strings.Join(parts, ",")
}

// Build turns the spec into the emulator's network for the given members: the preset, then
// per-node egress delays replacing the preset's, then link delays, jitter and loss. Every
// node name is checked against members.
func (nw NetworkSpec) Build(members []string) (transport.Network, error) {
	preset := nw.Preset
	if preset == "" {
		preset = "lan"
	}
	net, err := transport.Preset(preset, members)
	if err != nil {
		return net, err
	}
	net = net.Clone()
	for _, node := range sortedKeys(nw.Egress) {
		if err := transport.CheckNode(node, members); err != nil {
			return net, fmt.Errorf("egress: %v", err)
		}
		net.SetEgress(node, time.Duration(nw.Egress[node]))
	}
	for _, k := range sortedKeys(nw.Links) {
		l, err := transport.ParseLink(k + "=" + time.Duration(nw.Links[k]).String())
		if err != nil {
			return net, err
		}
		for _, node := range []string{l.From, l.To} {
			if err := transport.CheckNode(node, members); err != nil {
				return net, fmt.Errorf("link %s: %v", k, err)
			}
		}
		l.Apply(&net)
	}
	if net.Jitter, err = transport.ParseJitter(nw.Jitter); err != nil {
		return net, err
	}
	if nw.Loss < 0 || nw.Loss >= 1 {
		return net, fmt.Errorf("loss %g out of range (accepted: a probability in [0,1))", nw.Loss)
	}
	net.Loss = nw.Loss
	if nw.Name != "" {
		net.Name = nw.Name
	}
	return net, net.Validate(members)
}

// resultNetwork describes the emulated network in the result: the label, the effective
// egress and link delays (preset included), jitter and loss.
func resultNetwork(label string, net transport.Network) results.Network {
	out := results.Network{Preset: label, Loss: net.Loss}
	if len(net.Egress) > 0 {
		out.Egress = map[string]float64{}
		for k, v := range net.Egress {
			out.Egress[k] = ms(v)
		}
	}
	if len(net.Links) > 0 {
		out.Links = map[string]float64{}
		for l, v := range net.Links {
			out.Links[l.From+">"+l.To] = ms(v)
		}
	}
	if !net.Jitter.IsZero() {
		out.Jitter = net.Jitter.String()
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cloneNetworkSpec deep-copies a spec so flag overrides never alias a scenario's maps.
func cloneNetworkSpec(nw NetworkSpec) NetworkSpec {
	nw.Egress = maps.Clone(nw.Egress)
	nw.Links = maps.Clone(nw.Links)
	return nw
}

// Late delivery beyond both of these is worth a warning under the table: 1% of the smallest
// one-way delay the emulator was asked for, and an absolute floor below which lateness is
// scheduler noise that no LAN measurement can avoid. Below them the error is already in the
// result (network.delay_error_ms) and changes no conclusion.
const (
	delayWarnFraction = 0.01
	delayWarnFloorMs  = 0.2
)

// smallestOneWay is the smallest non-zero one-way delay between two members of net, or 0
// when every link is instant.
func smallestOneWay(net transport.Network, members []string) time.Duration {
	var least time.Duration
	for _, a := range members {
		for _, b := range members {
			if a == b {
				continue
			}
			if d := net.OneWay(a, b); d > 0 && (least == 0 || d < least) {
				least = d
			}
		}
	}
	return least
}

// delayWarning returns one line when the emulator delivered the point's messages late by
// more than delayWarnFraction of the smallest configured one-way delay and more than
// delayWarnFloorMs at p99 (it is never early), or "" when it kept time. A late emulator
// makes every round trip longer than the network asked for, so throughput reads low and
// latency high by about that much: the reader needs to know before comparing the figure
// with a bound or a published number.
func delayWarning(p *results.Point, least time.Duration) string {
	de := p.Network.DelayError
	if de == nil || least <= 0 {
		return ""
	}
	leastMs := ms(least)
	if de.P99 <= delayWarnFloorMs || de.P99 <= delayWarnFraction*leastMs {
		return ""
	}
	// Lateness is counted only over the messages the network delivered, from the moment
	// each was deliverable: a message a partition dropped is not in it, and one held by a
	// clogged link is due when the link is released (transport.Emulator.handoff).
	return fmt.Sprintf("%s: p99 lateness %.3f ms, %sx the smallest one-way delay (%.3f ms), %d messages",
		resultLabel(p), de.P99, timesText(de.P99/leastMs), leastMs, de.N)
}

// lateWarnings puts the points' delayWarning lines under one heading that says once what
// the figure counts, so that a run where every point was late reads as one warning with a
// line per point rather than the same sentence repeated; none for none.
func lateWarnings(lines []string) []string {
	if len(lines) == 0 {
		return nil
	}
	out := []string{"warning: messages reached their receivers later than the emulated network asked (p99 of arrival minus due time over the messages delivered, due from when each was deliverable: partition drops and clog holds excluded; a receiver slow to read its queue, as after a heal, counts too); these results carry that imprecision:"}
	for _, l := range lines {
		out = append(out, "- "+l)
	}
	return out
}

// timesText prints a ratio with two significant figures below 10 and whole above.
func timesText(r float64) string {
	if r >= 10 {
		return fmt.Sprintf("%.0f", r)
	}
	return strconv.FormatFloat(r, 'g', 2, 64)
}
