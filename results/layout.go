package results

import (
	"strconv"
	"strings"
)

// layout is how a run's settings map onto a chart. Every setting that varies is on the x
// axis, or names a series (a colour), or names a facet (a panel): nothing that differs is
// ever averaged. Repeats of one configuration are the only points that share a mark, as
// their mean with the min-max range as an error bar.
type layout struct {
	x      *dimension  // numeric x axis; nil: the categories below
	cat    *dimension  // categorical x axis when x is nil
	series *dimension  // colours; nil: one series
	facets []dimension // panels, one per combination
}

// chooseLayout picks the layout of a run's points. The x axis is the thread count when it
// varies (the documents' charts), else the number of writers (certification conflicts grow
// with it), else the node count, else the run's protocols (or whatever varies) as
// categories. The protocol is the series whenever it varies and is not the x axis, so that
// protocols are compared in one frame; the other settings become panels, the network first
// preferred as a panel since it sets each panel's scale.
func chooseLayout(pts []Point) layout {
	vary := varyingDims(pts)
	// A setting that follows from the protocol (standalone runs on one node, the others on
	// three) splits nothing the protocol does not already split: it is no axis of its own.
	if p := findDim(vary, "protocol"); p != nil {
		var keep []dimension
		for _, d := range vary {
			if d.key == "protocol" || !determinedBy(pts, d, *p) {
				keep = append(keep, d)
			}
		}
		vary = keep
	}
	var l layout
	take := func(key string) *dimension {
		for i := range vary {
			if vary[i].key == key {
				d := vary[i]
				vary = append(vary[:i], vary[i+1:]...)
				return &d
			}
		}
		return nil
	}
	if l.x = take("threads"); l.x == nil {
		if d := findDim(vary, "writers"); d != nil && numericWithin(pts, *d, vary) {
			l.x = take("writers")
		} else if d := findDim(vary, "nodes"); d != nil && numericWithin(pts, *d, vary) {
			l.x = take("nodes")
		}
	}
	if l.x == nil {
		if l.cat = take("protocol"); l.cat == nil && len(vary) > 0 {
			// The setting with the most values reads best along the axis.
			best := 0
			for i := range vary {
				if distinct(pts, vary[i]) > distinct(pts, vary[best]) {
					best = i
				}
			}
			d := vary[best]
			vary = append(vary[:best], vary[best+1:]...)
			l.cat = &d
		}
		l.facets = vary
		return l
	}
	if l.series = take("protocol"); l.series == nil && len(vary) > 0 {
		for _, k := range []string{"writers", "workload", "nodes", "length"} {
			if l.series = take(k); l.series != nil {
				break
			}
		}
		if l.series == nil {
			for i := range vary {
				if strings.HasPrefix(vary[i].key, "param:") {
					l.series = take(vary[i].key)
					break
				}
			}
		}
		if l.series == nil {
			d := vary[0]
			vary = vary[1:]
			l.series = &d
		}
	}
	l.facets = vary
	return l
}

// determinedBy reports whether every value of on comes with one value of d.
func determinedBy(pts []Point, d, on dimension) bool {
	seen := map[string]string{}
	for i := range pts {
		k, v := on.value(&pts[i]), d.value(&pts[i])
		if w, ok := seen[k]; ok && w != v {
			return false
		}
		seen[k] = v
	}
	return true
}

func findDim(ds []dimension, key string) *dimension {
	for i := range ds {
		if ds[i].key == key {
			return &ds[i]
		}
	}
	return nil
}

// numericWithin reports whether d's number tells apart every two points that differ in d
// and agree on the others: writers "n1,n2" and "n2,n3" are both 2 and cannot share an axis.
func numericWithin(pts []Point, d dimension, others []dimension) bool {
	seen := map[string]string{}
	for i := range pts {
		p := &pts[i]
		var key strings.Builder
		for _, o := range others {
			if o.key != d.key {
				key.WriteString(o.value(p) + "\x00")
			}
		}
		n, ok := d.num(p)
		if !ok {
			return false
		}
		k := key.String() + strconv.FormatFloat(n, 'g', -1, 64)
		if v, dup := seen[k]; dup && v != d.value(p) {
			return false
		}
		seen[k] = d.value(p)
	}
	return true
}

// facetKey and facetTitle name the panel a point belongs to.
func facetKey(l layout, p *Point) string {
	var parts []string
	for _, d := range l.facets {
		parts = append(parts, d.value(p))
	}
	return strings.Join(parts, "\x00")
}

func facetTitle(l layout, p *Point) string {
	var parts []string
	for _, d := range l.facets {
		parts = append(parts, dimPhrase(d, p))
	}
	return strings.Join(parts, ", ")
}

// dimPhrase is a dimension's value as a reader says it: "writers all", "16 threads",
// "serialized=true", "3az".
func dimPhrase(d dimension, p *Point) string {
	v := d.label(p)
	switch {
	case d.key == "writers":
		return "writers " + v
	case d.key == "threads":
		return countPhrase(v, "thread")
	case d.key == "nodes":
		return nodesPhrase(v)
	case strings.HasPrefix(d.key, "param:"):
		return d.title + "=" + v
	}
	return v
}
