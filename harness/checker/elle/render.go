package elle

import (
	"fmt"
	"html"
	"math"
	"strings"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/harness/history"
)

// relStyle is how each relation is drawn: data dependencies solid, session and real-time
// order dashed, anti-dependencies red so the edges that make a cycle non-serializable stand
// out.
var relStyle = map[string]struct{ color, dash string }{
	"ww":       {"#1f77b4", ""},
	"wr":       {"#2ca02c", ""},
	"rw":       {"#d62728", ""},
	"process":  {"#7f7f7f", "5,3"},
	"realtime": {"#9467bd", "5,3"},
}

// drawCycle draws a witness cycle as a small SVG: the transactions on a circle, each edge a
// labelled arrow bulging outward, and one line per transaction underneath. Written by hand
// rather than with a plotting library: a dozen shapes, no axes.
func drawCycle(class string, steps []checker.Step, label map[int]string, h []history.Op) []byte {
	n := len(steps)
	const nodeR = 24.0
	R := 70.0
	if n > 3 {
		R = 40 + 20*float64(n)
	}
	var lines []string
	maxLen := 0
	for _, st := range steps {
		l := label[st.From] + " = " + h[st.From].String()
		if len(l) > 100 {
			l = l[:97] + "..."
		}
		lines = append(lines, l)
		maxLen = max(maxLen, len(l))
	}
	w := math.Max(2*(R+70), float64(maxLen)*6.2+24)
	cx, cy := w/2, R+60
	hgt := cy + R + 50 + 15*float64(n)
	pos := make([][2]float64, n)
	for i := range n {
		a := -math.Pi/2 + 2*math.Pi*float64(i)/float64(n)
		pos[i] = [2]float64{cx + R*math.Cos(a), cy + R*math.Sin(a)}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif">`+"\n", w, hgt, w, hgt)
	b.WriteString("<defs>")
	for _, rel := range []string{"ww", "wr", "rw", "process", "realtime"} {
		fmt.Fprintf(&b, `<marker id="a-%s" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="%s"/></marker>`, rel, relStyle[rel].color)
	}
	b.WriteString("</defs>\n")
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%.0f" y="22" text-anchor="middle" font-size="15" font-weight="bold">%s</text>`+"\n", cx, html.EscapeString(class))
	for i, st := range steps {
		p0, p2 := pos[i], pos[(i+1)%n]
		mx, my := (p0[0]+p2[0])/2, (p0[1]+p2[1])/2
		// Bulge away from the centre; with two nodes the chord passes through it, so bulge to
		// the right of the direction of travel, which puts the two edges on opposite sides.
		dx, dy := mx-cx, my-cy
		if math.Hypot(dx, dy) < 1 {
			dx, dy = p2[1]-p0[1], -(p2[0] - p0[0])
		}
		d := math.Hypot(dx, dy)
		bulge := 28.0
		if n == 2 {
			bulge = 45
		}
		c := [2]float64{mx + dx/d*bulge, my + dy/d*bulge}
		s := toward(p0, c, nodeR)
		e := toward(p2, c, nodeR+2)
		style := relStyle[st.Rel]
		dash := ""
		if style.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, style.dash)
		}
		fmt.Fprintf(&b, `<path d="M%.1f,%.1f Q%.1f,%.1f %.1f,%.1f" fill="none" stroke="%s" stroke-width="2"%s marker-end="url(#a-%s)"/>`+"\n",
			s[0], s[1], c[0], c[1], e[0], e[1], style.color, dash, st.Rel)
		// The label sits just outside the curve's midpoint, anchored on the side away from it.
		ux, uy := dx/d, dy/d
		lx, ly := 0.25*p0[0]+0.5*c[0]+0.25*p2[0]+ux*10, 0.25*p0[1]+0.5*c[1]+0.25*p2[1]+uy*10
		anchor := "middle"
		switch {
		case ux > 0.3:
			anchor = "start"
		case ux < -0.3:
			anchor = "end"
		}
		text := st.Rel
		if st.Key != "" {
			text += "[" + st.Key + "]"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="%s" dominant-baseline="middle" font-size="12" fill="%s">%s</text>`+"\n",
			lx, ly, anchor, style.color, html.EscapeString(text))
	}
	for i, st := range steps {
		p := pos[i]
		o := &h[st.From]
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="%.0f" fill="#f4f4f4" stroke="#333"/>`, p[0], p[1], nodeR)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="13" font-weight="bold">%s</text>`, p[0], p[1]-1, label[st.From])
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="9">op %d %s</text>`+"\n", p[0], p[1]+11, o.Index, html.EscapeString(o.Node))
	}
	for i, l := range lines {
		fmt.Fprintf(&b, `<text x="12" y="%.0f" font-size="10" font-family="monospace">%s</text>`+"\n", cy+R+50+15*float64(i), html.EscapeString(l))
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// toward moves from p a distance r toward q.
func toward(p, q [2]float64, r float64) [2]float64 {
	dx, dy := q[0]-p[0], q[1]-p[1]
	d := math.Hypot(dx, dy)
	if d == 0 {
		return p
	}
	return [2]float64{p[0] + dx/d*r, p[1] + dy/d*r}
}
