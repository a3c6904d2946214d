package results

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
)

// ReportFile is the name of a run's HTML report inside its run directory.
const ReportFile = "index.html"

//go:embed report.html.tmpl
var reportTemplate string

// WriteRendered writes everything drawn from a run into dir: the plots (PNG and SVG) and
// index.html, the self-contained report, and returns the files written. A plot failure
// still writes the report (without that plot) and is returned, so a rendering bug costs a
// picture, never the report.
func WriteRendered(dir string, run *Run) ([]string, error) {
	files, perr := WritePlots(dir, run)
	page, err := WriteHTML(dir, run, files)
	if err != nil {
		return files, err
	}
	return append(files, page), perr
}

// htmlTable is a table as the report prints it.
type htmlTable struct {
	Caption string
	Head    []string
	Right   []bool
	Rows    [][]string
	Note    string
}

func toHTMLTable(caption string, t *fitTable, wide bool) *htmlTable {
	if t == nil {
		return nil
	}
	ht := &htmlTable{Caption: caption}
	var keep []int
	for i, c := range t.cols {
		if !wide && c.prio == 0 {
			continue
		}
		keep = append(keep, i)
		h := c.head
		if wide && c.wide != "" {
			h = c.wide
		}
		ht.Head = append(ht.Head, h)
		ht.Right = append(ht.Right, c.right)
	}
	for _, r := range t.rows {
		var row []string
		for _, i := range keep {
			row = append(row, r[i])
		}
		ht.Rows = append(ht.Rows, row)
	}
	return ht
}

type htmlImage struct {
	Title   string
	DataURI template.URL
	SVG     string // relative link to the vector file
}

type htmlPoint struct {
	Name    string
	Faults  []string
	Notes   []string
	Image   *htmlImage
	Summary string
}

type htmlVerdict struct {
	Scope, Checker, Outcome, Detail string
	Evidence                        []string
}

type htmlNetwork struct {
	Name   string
	Detail string
	Matrix *htmlTable
}

// htmlWarning is one warning line of the report.
type htmlWarning struct {
	Text string
	Sub  bool
}

type htmlPage struct {
	Title, Scenario, Description, Explain, Common, StartedAt string
	Seed                                                     int64
	Points                                                   int
	Main, MainWide, Workload, ByType, Summary                *htmlTable
	Hidden                                                   string
	Unconverged, FailedChecks, Notes                         []string
	// Warnings are the run's warnings as the terminal printed them (Run.Warnings); a line
	// under a heading (the terminal's "- ") is Sub.
	Warnings  []htmlWarning
	BoundNote string
	Bounds    *htmlTable
	Networks  []htmlNetwork
	Reference string
	Charts    []htmlImage
	Overview  *htmlImage
	Series    []htmlPoint
	// FaultsFirst puts the time series before the comparison charts: in a run with
	// faults the hole a fault leaves over time is the result, and a reader should see it
	// without scrolling past every chart.
	FaultsFirst    bool
	Verdicts       []htmlVerdict
	VerdictsFailed int
	Environment    *htmlTable
	Files          []string
}

// WriteHTML writes dir/index.html: a self-contained page (images inline as data URIs, the
// style inline, one inline script that only checks the page itself, no network) with the
// scenario and its question, what to look for, the tables, the charts, the bounds with their
// derivations, the networks' delay matrices, the published figures beside the measured and
// model ones, each point's time series, the checkers' verdicts and the environment. files
// are the plots already written into dir (WritePlots); any PNG among them is embedded.
func WriteHTML(dir string, run *Run, files []string) (string, error) {
	if run == nil {
		return "", fmt.Errorf("results: WriteHTML needs a run, got nil")
	}
	pg, err := buildPage(dir, run, files)
	if err != nil {
		return "", err
	}
	tmpl, err := template.New("report").Parse(reportTemplate)
	if err != nil {
		return "", fmt.Errorf("results: report template: %w", err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, pg); err != nil {
		return "", fmt.Errorf("results: rendering the report: %w", err)
	}
	path := filepath.Join(dir, ReportFile)
	return path, WriteFileAtomic(path, b.Bytes())
}

func buildPage(dir string, run *Run, files []string) (*htmlPage, error) {
	pts := run.Points
	pg := &htmlPage{Scenario: run.Scenario, Description: run.Description, Explain: run.Explain,
		StartedAt: run.StartedAt, Seed: run.Seed, Points: len(pts)}
	pg.Title = "replbench run"
	if run.Scenario != "" {
		pg.Title += ": " + run.Scenario
	}
	for _, w := range run.Warnings {
		t, sub := strings.CutPrefix(w, "- ")
		pg.Warnings = append(pg.Warnings, htmlWarning{Text: t, Sub: sub})
	}
	if len(pts) > 0 {
		pg.Common = describeConstant(pts)
		groups := groupPoints(pts)
		vary := varyingDims(pts)
		pg.Main = toHTMLTable("", mainTable(groups, vary, false), false)
		pg.MainWide = toHTMLTable("", mainTable(groups, vary, true), true)
		for i := range pts {
			p := &pts[i]
			if !p.Converged {
				pg.Unconverged = append(pg.Unconverged, fmt.Sprintf("point %d (%s): %s", i+1, pointName(p, vary), orDefault(p.ConvergenceDetail, "no detail recorded")))
			}
			for _, n := range p.Notes {
				pg.Notes = append(pg.Notes, pointName(p, vary)+": "+n)
			}
		}
		wt, failed := workloadTable(pts)
		pg.Workload = toHTMLTable("Workload metrics and checks", wt, true)
		pg.FailedChecks = failed
		pg.ByType = toHTMLTable("Latency by transaction type", byTypeTable(pts), true)
		pg.Summary = toHTMLTable("Summary, sysbench style", summaryTable(pts, true), true)
		pg.Bounds, pg.BoundNote = boundsTable(pts, vary)
		pg.Networks = networkSections(pts)
		hasRef := false
		for i := range pts {
			hasRef = hasRef || pts[i].Reference != nil || ReferenceFor(run.Scenario, &pts[i]) != nil
		}
		if hasRef {
			var b bytes.Buffer
			PrintReference(&b, run)
			pg.Reference = b.String()
		}
		pg.Verdicts, pg.VerdictsFailed = verdictRows(run, vary)
		seriesIdx := map[string]int{}
		for i := range pts {
			seriesIdx[SeriesFigureName(i)] = i
		}
		images := map[string]*htmlImage{}
		var order []string
		for _, f := range files {
			if !strings.HasSuffix(f, ".png") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("results: embedding %s in the report: %w", f, err)
			}
			base := strings.TrimSuffix(filepath.Base(f), ".png")
			images[base] = &htmlImage{Title: base, SVG: base + ".svg",
				DataURI: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))}
			order = append(order, base)
		}
		for _, base := range order {
			img := images[base]
			switch {
			case base == PlotTimeSeries:
				pg.Overview = img
			case strings.HasPrefix(base, PlotTimeSeries+"-"):
			default:
				pg.Charts = append(pg.Charts, *img)
			}
		}
		for i := range pts {
			p := &pts[i]
			hp := htmlPoint{Name: fmt.Sprintf("point %d: %s", i+1, pointName(p, vary)), Faults: p.Faults, Image: images[SeriesFigureName(i)]}
			switch {
			case p.Series == nil:
				hp.Summary = "no time series recorded (a file from before they were kept)"
			case len(p.Series.Samples) < minSeriesSamples:
				hp.Summary = fmt.Sprintf("%d sample(s) of %gs: too short to chart; the values are in %s", len(p.Series.Samples), p.Series.IntervalS, SeriesFile)
			case hp.Image == nil:
				hp.Summary = fmt.Sprintf("%d samples, not drawn (only %d figures per run); the values are in %s", len(p.Series.Samples), maxSeriesFigures, SeriesFile)
			default:
				hp.Summary = fmt.Sprintf("%d samples of %gs", len(p.Series.Samples), p.Series.IntervalS)
			}
			pg.Series = append(pg.Series, hp)
			if len(p.Faults) > 0 && hp.Image != nil {
				pg.FaultsFirst = true
			}
		}
	}
	pg.Environment = environmentTable(run)
	for _, name := range []string{ResultsFile, "results.csv", SeriesFile, ScenarioFile, "environment.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			pg.Files = append(pg.Files, name)
		}
	}
	return pg, nil
}

// boundsTable is one row per distinct bound: the configuration, floor, max tps, what
// limits, and the derivation.
func boundsTable(pts []Point, vary []dimension) (*htmlTable, string) {
	t := &htmlTable{Head: []string{"points", "floor ms", "max tps", "limit", "derivation"}, Right: []bool{false, true, true, false, false}}
	seen := map[string]int{}
	for i := range pts {
		p := &pts[i]
		if p.Bound == nil {
			continue
		}
		b := p.Bound
		k := fmt.Sprintf("%g|%g|%s|%s", b.CommitFloorMs, b.MaxTPS, b.Limit, b.Derivation)
		if j, ok := seen[k]; ok {
			t.Rows[j][0] += "; " + pointName(p, vary)
			continue
		}
		seen[k] = len(t.Rows)
		t.Rows = append(t.Rows, []string{pointName(p, vary), fmtMs(b.CommitFloorMs), fmtTPS(b.MaxTPS), b.Limit, b.Derivation})
	}
	if len(t.Rows) == 0 {
		return nil, ""
	}
	return t, "Callaghan's-law bounds computed from the emulated network and the protocol: a model, not a measurement. " +
		"Efficiency = measured tps / model max tps; the commit floor is the lowest latency the network allows."
}

// networkSections is, per distinct network, its delay line and a one-way matrix of the
// link delays (rows send, columns receive), with the egress delays as the last column.
func networkSections(pts []Point) []htmlNetwork {
	var out []htmlNetwork
	seen := map[string]bool{}
	for _, p := range pts {
		name := NetworkLabel(p.Network)
		if seen[name] {
			continue
		}
		seen[name] = true
		n := htmlNetwork{Name: name, Detail: NetworkDetail(p.Network)}
		nodes := map[string]bool{}
		for k := range p.Network.Egress {
			nodes[k] = true
		}
		directed := map[string]float64{}
		for k, v := range p.Network.Links {
			a, b, ok := strings.Cut(k, ">")
			if !ok {
				a, b, ok = strings.Cut(k, "-")
				if ok {
					directed[b+">"+a] = v
				}
			}
			if ok {
				nodes[a], nodes[b] = true, true
				directed[a+">"+b] = v
			}
		}
		if len(nodes) > 1 && len(directed) > 0 {
			names := sortedNodeNames(nodes)
			m := &htmlTable{Head: append(append([]string{"from \\ to"}, names...), "egress"), Right: []bool{false}}
			for range names {
				m.Right = append(m.Right, true)
			}
			m.Right = append(m.Right, true)
			for _, a := range names {
				row := []string{a}
				for _, b := range names {
					switch v, ok := directed[a+">"+b]; {
					case a == b:
						row = append(row, "")
					case ok:
						row = append(row, fmtDelay(v))
					default:
						row = append(row, "0")
					}
				}
				row = append(row, fmtDelay(p.Network.Egress[a]))
				m.Rows = append(m.Rows, row)
			}
			m.Note = "one-way link delay in ms from the row's node to the column's; each node's egress delay adds to every message it sends"
			n.Matrix = m
		}
		if n.Detail != "" || n.Matrix != nil {
			out = append(out, n)
		}
	}
	return out
}

func verdictRows(run *Run, vary []dimension) ([]htmlVerdict, int) {
	var out []htmlVerdict
	failed := 0
	add := func(scope string, v Verdict) {
		if v.Outcome == VerdictFail {
			failed++
		}
		out = append(out, htmlVerdict{Scope: scope, Checker: v.Checker, Outcome: orDefault(v.Outcome, VerdictUnknown), Detail: v.Detail, Evidence: v.Evidence})
	}
	for _, v := range run.Verdicts {
		add("run", v)
	}
	for i := range run.Points {
		for _, v := range run.Points[i].Verdicts {
			add(fmt.Sprintf("point %d: %s", i+1, pointName(&run.Points[i], vary)), v)
		}
	}
	return out, failed
}

func environmentTable(run *Run) *htmlTable {
	t := &htmlTable{Head: []string{"", ""}}
	add := func(k, v string) {
		if v != "" {
			t.Rows = append(t.Rows, []string{k, v})
		}
	}
	add("started", run.StartedAt)
	add("seed", fmt.Sprint(run.Seed))
	add("schema", orDefault(run.Schema, Schema))
	if e := run.Environment; e != nil {
		add("replbench", strings.TrimSpace(e.Version+" "+e.Commit))
		add("Go", e.GoVersion)
		add("platform", fmt.Sprintf("%s/%s, %d CPUs", e.OS, e.Arch, e.CPUs))
		add("bus", e.Bus)
	}
	return t
}
