package results

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// ResultsFile is the name of a run's JSON file inside its run directory.
const ResultsFile = "results.json"

// ReportMain is `replbench report DIR|FILE`: it re-renders the tables, the published-vs-
// measured table and the plots of a finished run from its results.json alone, without
// running anything, so a run on a remote machine can be reported on a laptop and a change to
// the rendering can be applied to old runs. Bad input (no argument, a missing or foreign
// file, an unknown flag) prints one line to stderr and returns 2; a failure to write plots
// returns 1.
func ReportMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	status := fs.Bool("status", false, "also print every node's protocol status variables")
	noPlots := fs.Bool("no-plots", false, "do not (re)write the plots")
	plotDir := fs.String("plots", "", "directory for the plots (default: the run directory)")
	derivations := fs.Bool("derivations", true, "print how each model bound was derived")
	wide := fs.Bool("wide", false, "print every column, however wide the tables get")
	usage := "usage: replbench report [--status] [--wide] [--no-plots] [--plots DIR] RUN_DIR|results.json"
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprintln(stdout, usage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "replbench report: %v (%s)\n", firstLine(err.Error()), usage)
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "replbench report: want one run directory or results file, got %d arguments (%s)\n", fs.NArg(), usage)
		return 2
	}
	path := fs.Arg(0)
	st, err := os.Stat(path)
	if err != nil {
		fmt.Fprintf(stderr, "replbench report: %s does not exist: give a run directory (runs/<timestamp>-<scenario>) or its %s\n", path, ResultsFile)
		return 2
	}
	dir := filepath.Dir(path)
	if st.IsDir() {
		dir = path
		path = filepath.Join(path, ResultsFile)
	}
	run, err := ReadJSON(path)
	if err != nil {
		fmt.Fprintf(stderr, "replbench report: %s\n", firstLine(err.Error()))
		return 2
	}
	fillFromScenarioFile(run, filepath.Join(dir, ScenarioFile))
	for i := range run.Points { // files from before the reference was filled in still compare
		if run.Points[i].Reference == nil {
			run.Points[i].Reference = ReferenceFor(run.Scenario, &run.Points[i])
		}
	}
	head := "run " + path
	if run.Scenario != "" {
		head += ", scenario " + run.Scenario
	}
	if run.StartedAt != "" {
		head += ", started " + run.StartedAt
	}
	fmt.Fprintln(stdout, wrap(fmt.Sprintf("%s, seed %d", head, run.Seed), DefaultWidth, 4))
	if e := run.Environment; e != nil {
		fmt.Fprintln(stdout, wrap(fmt.Sprintf("environment: replbench %s, %s, %s/%s, %d CPUs, bus %s", strings.TrimSpace(e.Version+" "+e.Commit), e.GoVersion, e.OS, e.Arch, e.CPUs, e.Bus), DefaultWidth, 4))
	}
	PrintRun(stdout, run, TableOptions{ShowStatus: *status, ShowBound: *derivations, Wide: *wide, Warnings: run.Warnings})
	if *noPlots {
		return 0
	}
	if *plotDir != "" {
		dir = *plotDir
	}
	files, err := WriteRendered(dir, run)
	for _, f := range files {
		fmt.Fprintf(stdout, "wrote %s\n", f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "replbench report: %s\n", firstLine(err.Error()))
		return 1
	}
	return 0
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// PrintEvents writes, one line per point, what the main table has no column for: the fault
// timeline as applied (so a hole in a point's throughput has its cause beside it) and the
// autocommit statements the server re-ran (wsrep_retry_autocommit), which the client never
// saw fail and which therefore are not in the abort columns. Points with neither print
// nothing.
func PrintEvents(w io.Writer, run *Run) {
	vary := varyingDims(run.Points)
	for i := range run.Points {
		p := &run.Points[i]
		label := pointName(p, vary)
		if len(p.Faults) > 0 {
			fmt.Fprintln(w, wrap(fmt.Sprintf("faults (%s): %s", label, strings.Join(p.Faults, "; ")), DefaultWidth, 4))
		}
		if p.AutocommitRetries > 0 {
			fmt.Fprintln(w, wrap(fmt.Sprintf("autocommit retries (%s): %d re-run by the server after a certification failure, not seen by the client", label, p.AutocommitRetries), DefaultWidth, 4))
		}
	}
}

// ScenarioFile is the name of the scenario as run, in the run directory.
const ScenarioFile = "scenario.yaml"

// fillFromScenarioFile takes the description and explanation of a run written before the
// results carried them from the scenario.yaml beside it, so that `replbench report` of an
// old run still says what the run asks. A missing or unreadable file changes nothing.
func fillFromScenarioFile(run *Run, path string) {
	if run.Description != "" && run.Explain != "" {
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var sc struct {
		Description string `yaml:"description"`
		Explain     string `yaml:"explain"`
	}
	if yaml.Unmarshal(b, &sc) != nil {
		return
	}
	if run.Description == "" {
		run.Description = strings.TrimSpace(sc.Description)
	}
	if run.Explain == "" {
		run.Explain = strings.TrimSpace(sc.Explain)
	}
}
