package cli

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/replbench/replbench/harness"
	"github.com/replbench/replbench/results"
)

// uxFlags are `run`'s flags that shape what is measured per point and how the result is
// shown, in the habits of sysbench and go-tpc: --repeats, --percentile, --output, --wide,
// --yes and --sync.
type uxFlags struct {
	repeats     int
	percentiles []float64
	output      string
	wide, yes   bool
	sync        time.Duration
}

// outputs are the accepted values of --output.
var outputs = []string{"table", "plain", "json"}

func (u *uxFlags) define(fs *flag.FlagSet) {
	u.output = "table"
	defineAll(fs, []flagDef{
		{"repeats", fmt.Sprintf("run every point N times (1 to %d); the tables show mean ± sd and min-max per cell", harness.MaxRepeats), func(v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 || n > harness.MaxRepeats {
				return fmt.Errorf("invalid repeat count %s (accepted: 1 to %d)", v, harness.MaxRepeats)
			}
			u.repeats = n
			return nil
		}},
		{"percentile", "latency percentile(s) to report, comma-separated (e.g. 95 or 90,99.9): columns in the table and the interval lines", func(v string) error {
			u.percentiles = nil
			for _, f := range strings.Split(v, ",") {
				q, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
				if err != nil || q <= 0 || q > 100 {
					return fmt.Errorf("invalid percentile %q (accepted: numbers above 0 and at most 100, comma-separated, e.g. 95,99.9)", strings.TrimSpace(f))
				}
				u.percentiles = append(u.percentiles, q)
			}
			return nil
		}},
		{"output", "what goes to standard output at the end: table (default), plain (the tables without lines) or json (results.json)", func(v string) error {
			v = strings.TrimSpace(v)
			for _, o := range outputs {
				if v == o {
					u.output = v
					return nil
				}
			}
			return fmt.Errorf("unknown output %q (accepted: %s)", v, strings.Join(outputs, ", "))
		}},
		{"sync", "local durable-commit cost the model adds to every floor, e.g. 100us for an fsync (as 'replbench law --sync')", func(v string) error {
			d, err := harness.ParseDuration(v)
			if err != nil {
				return err
			}
			if d > harness.MaxDelay {
				return fmt.Errorf("sync cost %s is above the limit (accepted: 0 to %s)", d, harness.MaxDelay)
			}
			u.sync = d
			return nil
		}},
	})
	fs.BoolVar(&u.wide, "wide", false, "print every column, however wide the tables get (default: fit 120 columns)")
	fs.BoolVar(&u.yes, "yes", false, fmt.Sprintf("run a large sweep (more than %d points or an estimated %s) without asking", harness.ConfirmPoints, harness.ConfirmTime))
}

// confirm refuses a run larger than harness.ConfirmPoints points or harness.ConfirmTime
// (estimated) unless --yes was given, saying how many points and how long.
func (u *uxFlags) confirm(points []harness.PointSpec) error {
	est := harness.Estimate(points)
	if u.yes || (len(points) <= harness.ConfirmPoints && est <= harness.ConfirmTime) {
		return nil
	}
	return fmt.Errorf("this run has %d point(s) and would take about %s (limits without --yes: %d points, %s); pass --yes to run it, or narrow the sweep", len(points), est.Round(time.Second), harness.ConfirmPoints, harness.ConfirmTime)
}

// printer is how the finished run reaches standard output (--output, --wide).
func (u *uxFlags) printer() func(io.Writer, *results.Run, results.TableOptions) {
	return func(w io.Writer, run *results.Run, o results.TableOptions) {
		o.Wide = u.wide
		switch u.output {
		case "json":
			_ = results.WriteJSONTo(w, run)
		case "plain":
			pw, flush := results.PlainWriter(w)
			results.PrintRun(pw, run, o)
			_ = flush()
		default:
			results.PrintRun(w, run, o)
		}
	}
}

// jsonToStdout is the printer of a run given --json -: standard output carries the results
// file and nothing else, so `replbench run --json - | jq` reads one JSON document, and the
// tables a person reads go to tables (standard error) instead.
func jsonToStdout(print func(io.Writer, *results.Run, results.TableOptions), tables io.Writer) func(io.Writer, *results.Run, results.TableOptions) {
	return func(w io.Writer, run *results.Run, o results.TableOptions) {
		print(tables, run, o)
		if err := results.WriteJSONTo(w, run); err != nil {
			fmt.Fprintf(tables, "replbench: writing the results to standard output: %v\n", err)
		}
	}
}
