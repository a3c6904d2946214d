// Package cli is replbench's command line: the `run`, `serve`, `scenarios`, `workloads`, `params`,
// `law` and `report` subcommands. It parses and validates everything before anything is
// created, so bad input costs one line on stderr and exit code 2, never a half-written
// result that a script could mistake for a measurement.
//
// The flags are a contract that scripts rely on (issue 2 point 7); the harness does the
// work and the results package does the rendering.
package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/replbench/replbench/harness"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/results"
	"github.com/replbench/replbench/workloads"
)

// Exit codes.
const (
	ExitOK          = 0
	ExitFailure     = 1   // the run failed (a cluster did not start, a file could not be written)
	ExitUsage       = 2   // bad input: nothing was run or written
	ExitInterrupted = 130 // Ctrl-C: what was measured is written
)

const usage = `replbench: a benchmark and testbed for synchronous database replication

usage:
  replbench run [SCENARIO|FILE.yaml] [flags]   run a scenario, or an ad-hoc experiment from flags
  replbench serve [flags]                      serve an emulated cluster to real MySQL clients until Ctrl-C
  replbench compare [SCENARIO] --target FILE [flags]   run every point on the model and on real servers, side by side
  replbench scenarios [NAME]                   list the built-in scenarios, or explain one without running it
  replbench workloads                          list the workloads with their options
  replbench params PROTOCOL                    list a protocol's parameters and defaults
  replbench law [flags]                        print Callaghan's-law bounds without running
  replbench report DIR                         re-render tables and plots of a finished run
  replbench netdelay run|check|routes ...      delay proxy between network namespaces (real servers)
  replbench node --name NODE --nats-url URL --run-id ID   one node of a run coordinated by 'run --nodes-external'
  replbench version                            print the version

'replbench run' with no experiment flags runs a short comparison of every registered
protocol. 'replbench run -h' lists the flags.`

// Main runs the command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return ExitUsage
	}
	switch args[0] {
	case "run":
		return runMain(args[1:], stdout, stderr)
	case "serve":
		return serveMain(args[1:], stdout, stderr)
	case "compare":
		return compareMain(args[1:], stdout, stderr)
	case "scenarios":
		return scenariosMain(args[1:], stdout, stderr)
	case "workloads":
		return workloadsMain(args[1:], stdout, stderr)
	case "params":
		return paramsMain(args[1:], stdout, stderr)
	case "law":
		return lawMain(args[1:], stdout, stderr)
	case "report":
		return results.ReportMain(args[1:], stdout, stderr)
	case "netdelay":
		return netdelayMain(args[1:], stdout, stderr)
	case "node":
		return nodeMain(args[1:], stdout, stderr)
	case "calibrate":
		return calibrateMain(args[1:], stdout, stderr)
	case "version", "--version", "-version", "-v":
		v, c := harness.Version()
		fmt.Fprintln(stdout, strings.TrimSpace("replbench "+v+" "+c))
		return ExitOK
	case "help", "-h", "--help", "-help":
		fmt.Fprintln(stdout, usage)
		return ExitOK
	}
	fmt.Fprintf(stderr, "replbench: unknown command %q (accepted: run, serve, scenarios, workloads, params, law, report, netdelay, calibrate, version)\n", args[0])
	return ExitUsage
}

func scenariosMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 1 {
		fmt.Fprintf(stderr, "replbench scenarios: takes at most one scenario name, got %q (accepted: %s)\n", strings.Join(args, " "), strings.Join(harness.BuiltinNames(), ", "))
		return ExitUsage
	}
	if len(args) == 1 {
		return scenarioExplain(args[0], stdout, stderr)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, name := range harness.BuiltinNames() {
		s, err := harness.Builtin(name)
		desc := ""
		if err != nil {
			desc = "(broken: " + err.Error() + ")"
		} else {
			desc = firstSentence(s.Description)
		}
		fmt.Fprintf(tw, "%s\t%s\n", name, desc)
	}
	tw.Flush()
	return ExitOK
}

func workloadsMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "replbench workloads: takes no arguments, got %q\n", strings.Join(args, " "))
		return ExitUsage
	}
	for _, name := range workloads.Names() {
		d, _ := workloads.Lookup(name)
		fmt.Fprintf(stdout, "%s\t%s\n", d.Name, d.Summary)
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, o := range d.Options {
			def := o.Default
			if len(o.Choices) > 0 {
				def += " (" + strings.Join(o.Choices, "|") + ")"
			}
			fmt.Fprintf(tw, "  --%s\t%s\t%s\n", o.Name, def, o.Help)
		}
		tw.Flush()
	}
	return ExitOK
}

func paramsMain(args []string, stdout, stderr io.Writer) int {
	// --flavor F (or --flavor=F) shows the parameters as that server has them.
	flavor := ""
	for i := 0; i < len(args); i++ {
		if v, ok := strings.CutPrefix(args[i], "--flavor="); ok {
			flavor, args = v, append(args[:i:i], args[i+1:]...)
			break
		}
		if args[i] == "--flavor" && i+1 < len(args) {
			flavor, args = args[i+1], append(args[:i:i], args[i+2:]...)
			break
		}
	}
	if len(args) != 1 {
		fmt.Fprintf(stderr, "replbench params: want one protocol (accepted: %s)\n", strings.Join(protocols.Names(), ", "))
		return ExitUsage
	}
	p, err := protocols.Lookup(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "replbench params: %v\n", err)
		return ExitUsage
	}
	shown := p.Params
	if flavor != "" {
		f, err := p.Flavor(flavor)
		if err != nil {
			fmt.Fprintf(stderr, "replbench params: %v\n", err)
			return ExitUsage
		}
		shown = p.ParamsFor(f)
	}
	fmt.Fprintf(stdout, "%s: %s\n", p.Name, p.Summary)
	if len(p.Aliases) > 0 {
		fmt.Fprintf(stdout, "aliases: %s\n", strings.Join(p.Aliases, ", "))
	}
	fmt.Fprintf(stdout, "nodes: %s\n\n", harness.NodeRange(p))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARAMETER\tDEFAULT\tACCEPTED\tMEANING")
	write := func(ps []protocols.Param) {
		for _, d := range ps {
			accepted := d.Range()
			if len(d.Choices) > 0 {
				accepted = strings.Join(d.Choices, "|")
			}
			help := d.Help
			if len(d.Aliases) > 0 {
				help += " (also: " + strings.Join(d.Aliases, ", ") + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.Name, d.Default, accepted, help)
		}
	}
	write(shown)
	fmt.Fprintln(tw, "\t\t\t")
	fmt.Fprintln(tw, "engine:\t\t\t")
	write(harness.EngineParams)
	tw.Flush()
	fmt.Fprintln(stdout, "\nSet with --param NAME=VALUE (every node) or --param NODE:NAME=VALUE (one node).")
	if p.Notes != "" {
		fmt.Fprintf(stdout, "\nNotes: %s\n", p.Notes)
	}
	return ExitOK
}

func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

// scenarioExplain prints what a built-in scenario asks and explains, and what running it
// would cost, without running anything (`replbench scenarios NAME`).
func scenarioExplain(name string, stdout, stderr io.Writer) int {
	s, err := harness.Builtin(name)
	if err != nil {
		fmt.Fprintf(stderr, "replbench scenarios: %v\n", oneLine(err.Error()))
		return ExitUsage
	}
	fmt.Fprintf(stdout, "%s\n\n", s.Name)
	if d := strings.TrimSpace(s.Description); d != "" {
		fmt.Fprintf(stdout, "%s\n\n", results.Wrap(oneLine(d), results.DefaultWidth, 0))
	}
	if e := strings.TrimSpace(s.Explain); e != "" {
		fmt.Fprintf(stdout, "What to look for:\n%s\n\n", results.Wrap(oneLine(e), results.DefaultWidth, 0))
	}
	if points, err := harness.Expand(s); err == nil {
		fmt.Fprintf(stdout, "%d points, about %s to run: replbench run %s\n", len(points), harness.Estimate(points).Round(time.Second), s.Name)
	}
	return ExitOK
}
