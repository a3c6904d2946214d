package elle

import "slices"

// The consistency models the checker can rule out, and what each forbids. The hierarchy and
// the anomalies each model proscribes follow Adya's thesis (PL-1 .. PL-3, PL-2+, PL-2.99,
// PL-SI, PL-SS), Cerone and Gotsman for snapshot isolation forbidding every cycle whose rw
// edges are never adjacent (G-nonadjacent), and Elle's paper for the session (process) and
// strong (realtime) variants. Only models whose anomalies this checker detects are listed:
// claiming "consistent with causal" would need anomalies it does not search for.

// stronger maps each model to the models it directly implies (a history satisfying the key
// satisfies each value).
var stronger = map[string][]string{
	"strict-serializable":               {"serializable", "strong-snapshot-isolation", "strong-session-serializable"},
	"strong-session-serializable":       {"serializable", "strong-session-snapshot-isolation"},
	"strong-snapshot-isolation":         {"strong-session-snapshot-isolation"},
	"strong-session-snapshot-isolation": {"snapshot-isolation"},
	"serializable":                      {"repeatable-read", "snapshot-isolation"},
	"snapshot-isolation":                {"consistent-view"},
	"repeatable-read":                   {"cursor-stability"},
	"consistent-view":                   {"cursor-stability"},
	"cursor-stability":                  {"read-committed"},
	"read-committed":                    {"read-uncommitted"},
	"read-uncommitted":                  nil,
}

// forbids lists the anomalies each model proscribes beyond those of the models it implies.
var forbids = map[string][]string{
	"read-uncommitted":                  {"G0", "duplicate-elements", "cyclic-versions"},
	"read-committed":                    {"G1a", "G1b", "G1c"},
	"cursor-stability":                  {"lost-update"},
	"consistent-view":                   {"G-single"},
	"repeatable-read":                   {"G2-item"},
	"snapshot-isolation":                {"internal", "G-nonadjacent"},
	"serializable":                      {"internal", "G2-item"},
	"strong-session-snapshot-isolation": {"G1c-process", "G-nonadjacent-process"},
	"strong-session-serializable":       {"G1c-process", "G2-item-process"},
	"strong-snapshot-isolation":         {"G1c-realtime", "G-nonadjacent-realtime"},
	"strict-serializable":               {"G1c-realtime", "G2-item-realtime"},
}

// implies maps an anomaly to anomalies its presence implies (Elle's implication graph, for
// the classes detected here). A G0 cycle is also a G1c cycle; a G-single cycle is a
// G-nonadjacent one and, its rw edges being on items, a G2-item one; a process violation is a
// realtime one, since a process runs one operation at a time; a stale read is a two-edge
// G-single-realtime cycle; an incompatible order or a garbage read means someone read a
// version no committed transaction produced (G1a).
var implies = map[string][]string{
	"G0":                     {"G1c", "G0-process"},
	"G0-process":             {"G1c-process", "G0-realtime"},
	"G0-realtime":            {"G1c-realtime"},
	"G1c":                    {"G1c-process"},
	"G1c-process":            {"G1c-realtime"},
	"G-single":               {"G-nonadjacent", "G-single-process"},
	"G-single-process":       {"G-nonadjacent-process", "G-single-realtime"},
	"G-single-realtime":      {"G-nonadjacent-realtime"},
	"G-nonadjacent":          {"G2-item", "G-nonadjacent-process"},
	"G-nonadjacent-process":  {"G2-item-process", "G-nonadjacent-realtime"},
	"G-nonadjacent-realtime": {"G2-item-realtime"},
	"G2-item":                {"G2-item-process"},
	"G2-item-process":        {"G2-item-realtime"},
	"lost-update":            {"G2-item"},
	"stale-read":             {"G-single-realtime"},
	"incompatible-order":     {"G1a"},
	"garbage-read":           {"G1a"},
}

// closure returns xs and everything reachable from them through next.
func closure(xs []string, next map[string][]string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(x string) {
		if seen[x] {
			return
		}
		seen[x] = true
		for _, y := range next[x] {
			walk(y)
		}
	}
	for _, x := range xs {
		walk(x)
	}
	return seen
}

// boundary returns, for the anomaly classes found, the strongest models still possible, the
// weakest models ruled out, and the stronger ones also ruled out.
func boundary(found []string) (consistent, not, alsoNot []string) {
	present := closure(found, implies)
	impossible := map[string]bool{}
	for m, as := range forbids {
		for _, a := range as {
			if present[a] {
				impossible[m] = true
			}
		}
	}
	// A model stronger than an impossible one is impossible too.
	weaker := map[string][]string{}
	for m, ws := range stronger {
		for _, w := range ws {
			weaker[w] = append(weaker[w], m)
		}
	}
	var seeds []string
	for m := range impossible {
		seeds = append(seeds, m)
	}
	for m := range closure(seeds, weaker) {
		impossible[m] = true
	}
	for m := range stronger {
		below := closure(stronger[m], stronger) // models strictly weaker than m
		if impossible[m] {
			// m is among the weakest ruled out if nothing it implies is ruled out.
			weakest := true
			for w := range below {
				if impossible[w] {
					weakest = false
				}
			}
			if weakest {
				not = append(not, m)
			} else {
				alsoNot = append(alsoNot, m)
			}
			continue
		}
		// m is among the strongest possible if every model directly above it is ruled out.
		strongest := true
		for _, s := range weaker[m] {
			if !impossible[s] {
				strongest = false
			}
		}
		if strongest {
			consistent = append(consistent, m)
		}
	}
	slices.Sort(consistent)
	slices.Sort(not)
	slices.Sort(alsoNot)
	return consistent, not, alsoNot
}
