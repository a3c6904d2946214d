package results

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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
	usage := "usage: replbench report [--status] [--no-plots] [--plots DIR] RUN_DIR|results.json"
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
	for i := range run.Points { // files from before the reference was filled in still compare
		if run.Points[i].Reference == nil {
			run.Points[i].Reference = ReferenceFor(run.Scenario, &run.Points[i])
		}
	}
	fmt.Fprintf(stdout, "run %s", path)
	if run.Scenario != "" {
		fmt.Fprintf(stdout, ", scenario %s", run.Scenario)
	}
	if run.StartedAt != "" {
		fmt.Fprintf(stdout, ", started %s", run.StartedAt)
	}
	fmt.Fprintf(stdout, ", seed %d\n", run.Seed)
	if e := run.Environment; e != nil {
		fmt.Fprintf(stdout, "environment: replbench %s %s, %s, %s/%s, %d CPUs, bus %s\n", e.Version, e.Commit, e.GoVersion, e.OS, e.Arch, e.CPUs, e.Bus)
	}
	PrintTable(stdout, run, TableOptions{ShowStatus: *status, ShowBound: *derivations})
	PrintEvents(stdout, run)
	hasRef := false
	for i := range run.Points {
		hasRef = hasRef || run.Points[i].Reference != nil
	}
	if hasRef {
		fmt.Fprintln(stdout)
		PrintReference(stdout, run)
	}
	if *noPlots {
		return 0
	}
	if *plotDir != "" {
		dir = *plotDir
	}
	files, err := WritePlots(dir, run)
	if err != nil {
		fmt.Fprintf(stderr, "replbench report: %s\n", firstLine(err.Error()))
		return 1
	}
	for _, f := range files {
		fmt.Fprintf(stdout, "plot: %s\n", f)
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
// saw fail and which therefore are not in the abort columns. `replbench report` prints it
// under the tables; points with neither print nothing.
func PrintEvents(w io.Writer, run *Run) {
	for _, p := range run.Points {
		label := fmt.Sprintf("%s, %s, %d threads", p.Protocol, NetworkLabel(p.Network), p.Threads)
		if len(p.Faults) > 0 {
			fmt.Fprintf(w, "faults (%s): %s\n", label, strings.Join(p.Faults, "; "))
		}
		if p.AutocommitRetries > 0 {
			fmt.Fprintf(w, "autocommit retries (%s): %d re-run by the server after a certification failure, not seen by the client\n", label, p.AutocommitRetries)
		}
	}
}
