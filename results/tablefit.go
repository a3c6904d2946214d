package results

import (
	"sort"
	"strings"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
)

// DefaultWidth is the terminal width tables and text are fitted to unless TableOptions.Wide
// asks for every column: 120 columns, what a default terminal split in two still shows.
const DefaultWidth = 120

// fitCol is one column of a fitted table. Columns with the lowest prio are hidden first
// when the table is wider than the limit; prio 0 is shown only in the wide form, and
// prioKeep is never hidden (the settings that tell rows apart).
type fitCol struct {
	head  string // narrow header
	wide  string // wide header; "" means head
	prio  int
	right bool
}

const prioKeep = 1000

// fitTable is a table whose columns are dropped, least important first, until it fits.
type fitTable struct {
	cols []fitCol
	rows [][]string
}

func (t *fitTable) add(c fitCol) int {
	if c.prio == prioKeep && c.wide == "" {
		c.wide = c.head
		c.head = splitHeader(c.head)
	}
	t.cols = append(t.cols, c)
	return len(t.cols) - 1
}

// render draws the table with every column (wide) or with as many as fit in width
// columns, and returns the headers it hid to fit (not the wide-only ones, which are
// always hidden in the narrow form). A narrow header may break over two lines ("p99\nms")
// to keep a column as narrow as its numbers.
func (t *fitTable) render(wide bool, width int) (string, []string) {
	show := make([]bool, len(t.cols))
	for i, c := range t.cols {
		show[i] = wide || c.prio > 0
	}
	out := t.draw(show, wide)
	if wide {
		return out, nil
	}
	order := make([]int, 0, len(t.cols))
	for i, c := range t.cols {
		if c.prio > 0 && c.prio < prioKeep {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return t.cols[order[a]].prio < t.cols[order[b]].prio })
	var hidden []string
	for _, i := range order {
		if maxLineWidth(out) <= width {
			break
		}
		show[i] = false
		hidden = append(hidden, strings.ReplaceAll(t.cols[i].head, "\n", " "))
		out = t.draw(show, wide)
	}
	return out, hidden
}

func (t *fitTable) draw(show []bool, wide bool) string {
	tw := newTable()
	var hdr table.Row
	var cfg []table.ColumnConfig
	n := 0
	for i, c := range t.cols {
		if !show[i] {
			continue
		}
		n++
		h := c.head
		if wide && c.wide != "" {
			h = c.wide
		}
		hdr = append(hdr, h)
		if c.right {
			cfg = append(cfg, table.ColumnConfig{Number: n, Align: text.AlignRight, AlignHeader: text.AlignRight})
		}
	}
	tw.AppendHeader(hdr)
	for _, r := range t.rows {
		var row table.Row
		for i := range t.cols {
			if show[i] {
				row = append(row, r[i])
			}
		}
		tw.AppendRow(row)
	}
	tw.SetColumnConfigs(cfg)
	return tw.Render()
}

func maxLineWidth(s string) int {
	m := 0
	for _, l := range strings.Split(s, "\n") {
		if w := text.RuneWidthWithoutEscSequences(l); w > m {
			m = w
		}
	}
	return m
}

// wrap breaks s into lines of at most width columns at spaces, indenting the lines after
// the first by indent spaces; a word longer than a line stays whole.
func wrap(s string, width, indent int) string {
	words := strings.Fields(s)
	if len(words) == 0 {
		return ""
	}
	var b strings.Builder
	col := 0
	pad := strings.Repeat(" ", indent)
	for i, w := range words {
		wl := text.RuneWidthWithoutEscSequences(w)
		switch {
		case i == 0:
		case col+1+wl > width:
			b.WriteString("\n" + pad)
			col = indent
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += wl
	}
	return b.String()
}

// splitHeader breaks a long setting name over two header lines at the separator ('.', '_',
// ':', '-') that balances them best, so that a column is as narrow as its values
// ("semisync.\nserialized"); short names and names without a separator stay whole.
func splitHeader(h string) string {
	const most = 12
	if len(h) <= most || strings.Contains(h, "\n") {
		return h
	}
	best, bestLen := -1, len(h)
	for i := 1; i < len(h)-1; i++ {
		if strings.ContainsRune("._:-", rune(h[i])) {
			if m := max(i+1, len(h)-i-1); m < bestLen {
				best, bestLen = i, m
			}
		}
	}
	if best < 0 {
		return h
	}
	return h[:best+1] + "\n" + h[best+1:]
}

// Wrap breaks s into lines of at most width columns, indenting every line after the first by
// indent spaces: the wrapping of the notes under the tables, for commands that print text
// beside them.
func Wrap(s string, width, indent int) string { return wrap(s, width, indent) }
