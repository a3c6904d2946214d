package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/replbench/replbench/protocols/servicetime"
	"github.com/replbench/replbench/results"
)

const calibrateUsage = `usage: replbench calibrate --from PROBES [--server standalone|galera] [--name NAME] [--cores N] [--out FILE]

Derives a service-time cost profile (YAML, protocols/servicetime) from single-node
measurements of a real server on one host with no added delay: the probe lines harness/target
prints (go test -run TestProbe -v ./harness/target), under '== standalone flush=1',
'== standalone flush=2' and, for --server galera, '== galera flush=2' headers (the raw output
in docs/measurements/calibration-mariadb-10.11.md is such a file). A profile is never derived
from a multi-node or delayed run: those are what it must predict.`

// calibrateMain is `replbench calibrate`.
func calibrateMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("calibrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	from := fs.String("from", "", "file of harness/target probe output (required)")
	server := fs.String("server", "standalone", "what the profile models: standalone, or galera (needs the one-member galera probes too)")
	name := fs.String("name", "", "the profile's name (default: calibrated-SERVER)")
	cores := fs.Int("cores", runtime.NumCPU(), "the host's cores (host.cores)")
	out := fs.String("out", "", "write the profile here (default: standard output)")
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "replbench calibrate: %s\n", oneLine(fmt.Sprintf(format, a...)))
		return ExitUsage
	}
	positional, err := parseFlags(fs, args)
	if err == flag.ErrHelp {
		fmt.Fprintln(stdout, calibrateUsage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return ExitOK
	}
	if err != nil {
		return fail("%v (%s)", err, "see replbench calibrate --help")
	}
	if len(positional) > 0 {
		return fail("unexpected argument %q (accepted: flags only; see replbench calibrate --help)", positional[0])
	}
	if *from == "" {
		return fail("--from is required (accepted: a file of harness/target probe output)")
	}
	if *server != "standalone" && *server != "galera" {
		return fail("--server %q (accepted: standalone, galera)", *server)
	}
	if *cores < 0 {
		return fail("--cores %d (accepted: 0 for unlimited, or a positive number)", *cores)
	}
	if *name == "" {
		*name = "calibrated-" + *server
	}
	f, err := os.Open(*from)
	if err != nil {
		return fail("--from: %v (accepted: a readable file of probe output)", err)
	}
	defer f.Close()
	ps, err := servicetime.ParseProbes(f)
	if err != nil {
		return fail("%v", err)
	}
	p, err := servicetime.Calibrate(*name, *server, ps, *cores)
	if err != nil {
		return fail("%v", err)
	}
	data, err := p.Marshal()
	if err != nil {
		return fail("%v", err)
	}
	if *out == "" {
		_, _ = stdout.Write(data)
		return ExitOK
	}
	if err := results.WriteFileAtomic(*out, data); err != nil {
		return fail("--out: %v", err)
	}
	fmt.Fprintf(stdout, "replbench calibrate: wrote %s (%s)\n", *out, p.Name)
	return ExitOK
}
