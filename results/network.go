package results

import (
	"fmt"
	"strconv"
	"strings"
)

// NetworkLabel is the short name of a point's network in tables and plot legends. The
// harness records the network's label as its preset ("lan", "3az", "lan+n3=50ms": the
// preset plus the overrides a scenario or flag gave), which is what a reader chose and
// recognises; the delay matrix behind it is NetworkDetail's, printed once per run, never
// in a legend. A file without a label is named by its non-zero egress and link delays.
func NetworkLabel(n Network) string {
	if n.Preset != "" {
		return n.Preset
	}
	var parts []string
	for _, k := range sortedNodeNames(n.Egress) {
		if v := n.Egress[k]; v != 0 {
			parts = append(parts, k+"+"+fmtDelay(v))
		}
	}
	for _, k := range sortedKeys(n.Links) {
		if v := n.Links[k]; v != 0 {
			parts = append(parts, k+"="+fmtDelay(v))
		}
	}
	if n.Jitter != "" {
		parts = append(parts, "jitter "+n.Jitter)
	}
	if n.Loss != 0 {
		parts = append(parts, fmt.Sprintf("loss %g%%", n.Loss*100))
	}
	if len(parts) == 0 {
		return "-"
	}
	if len(parts) > 3 {
		return "custom (" + strconv.Itoa(len(parts)) + " delays)"
	}
	return strings.Join(parts, " ")
}

func nonZero(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// networkLines says, once per network that is more than its name, what delays it has: the
// per-node egress and the one-way link delays (both directions folded when equal), jitter
// and loss. Tables and legends use the network's short name; this is where its matrix is.
func networkLines(pts []Point) []string {
	details := map[string][]string{} // name -> distinct details, in order
	var names []string
	nodes := map[string]int{}
	for _, p := range pts {
		name := NetworkLabel(p.Network)
		d := NetworkDetail(p.Network)
		if _, ok := details[name]; !ok {
			names = append(names, name)
		}
		if !contains(details[name], d) {
			details[name] = append(details[name], d)
			nodes[name+"\x00"+d] = p.Nodes
		}
	}
	var out []string
	for _, name := range names {
		for _, d := range details[name] {
			if d == "" {
				continue
			}
			label := name
			if len(details[name]) > 1 {
				label += fmt.Sprintf(" (%d nodes)", nodes[name+"\x00"+d])
			}
			out = append(out, "network "+label+": "+d)
		}
	}
	return out
}

// NetworkDetail describes a network's delays in one line: "egress n1 50ms; links n1-n2
// 0.5ms, n1-n3 0.7ms, n2>n3 1ms, n3>n2 2ms; jitter ...; loss 1%". Empty for a network
// without delays (the LAN preset's defaults are delays too, and are listed).
func NetworkDetail(n Network) string {
	var parts []string
	if eg := nonZero(n.Egress); len(eg) > 0 {
		var e []string
		for _, k := range sortedNodeNames(eg) {
			e = append(e, k+" "+fmtDelay(eg[k]))
		}
		parts = append(parts, "egress "+strings.Join(e, ", "))
	}
	if links := nonZero(n.Links); len(links) > 0 {
		var l []string
		done := map[string]bool{}
		for _, k := range sortedKeys(links) {
			if done[k] {
				continue
			}
			from, to, directed := strings.Cut(k, ">")
			if !directed {
				l = append(l, k+" "+fmtDelay(links[k]))
				continue
			}
			rev := to + ">" + from
			if v, ok := links[rev]; ok && v == links[k] {
				done[rev] = true
				l = append(l, from+"-"+to+" "+fmtDelay(v))
				continue
			}
			l = append(l, k+" "+fmtDelay(links[k]))
		}
		parts = append(parts, "one-way links "+strings.Join(l, ", "))
	}
	if n.Jitter != "" && n.Jitter != "none" {
		parts = append(parts, "jitter "+n.Jitter)
	}
	if n.Loss != 0 {
		parts = append(parts, fmt.Sprintf("loss %g%%", n.Loss*100))
	}
	return strings.Join(parts, "; ")
}

// sortedNodeNames orders n1, n2, ..., n10 by number.
func sortedNodeNames[V any](m map[string]V) []string {
	ks := sortedKeys(m)
	num := func(s string) int {
		v, err := strconv.Atoi(strings.TrimPrefix(s, "n"))
		if err != nil {
			return 1 << 30
		}
		return v
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && num(ks[j]) < num(ks[j-1]); j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}
