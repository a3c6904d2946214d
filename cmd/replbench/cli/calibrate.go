package cli

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/replbench/replbench/harness/target"
	"github.com/replbench/replbench/protocols/servicetime"
	"github.com/replbench/replbench/results"
	"github.com/replbench/replbench/storage"
)

const calibrateUsage = `usage: replbench calibrate --from PROBES [--server standalone|galera] [--name NAME] [--cores N] [--out FILE]
       replbench calibrate --target FILE|DSN [--probe-time 5s] [--clients 1,4,16] [--probes-out FILE] [--name NAME] [--cores N] [--out FILE]

Derives a service-time cost profile (YAML, protocols/servicetime) from single-node
measurements of a real server on one host with no added delay. A profile is never derived
from a multi-node or delayed run: those are what it must predict.

--from reads the probe lines harness/target prints (go test -run TestProbe -v ./harness/target),
under '== standalone flush=1', '== standalone flush=2' and, for --server galera,
'== galera flush=2' headers (the raw output in docs/measurements/calibration-mariadb-10.11.md
is such a file).

--target runs the same probes itself against one standalone server, local or remote, named by
a target file (as run --target reads it: kind: standalone, one node) or a DSN
(standalone:USER:PASSWORD@HOST:PORT). It sets innodb_flush_log_at_trx_commit to 2 and then 1
for the two probe sets (the user needs the privilege to SET GLOBAL it) and restores the
server's own value afterwards. Anything but a single standalone node is refused: a galera
profile needs the one-member galera probes, which --from reads.`

// calibrateMain is `replbench calibrate`.
func calibrateMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("calibrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	from := fs.String("from", "", "file of harness/target probe output (this or --target)")
	tgt := fs.String("target", "", "a single standalone server to probe: a target file or standalone:USER:PASSWORD@HOST:PORT (this or --from)")
	probeTime := fs.Duration("probe-time", 5*time.Second, "with --target: how long each probe runs")
	clientList := fs.String("clients", "1,4,16", "with --target: the client counts each probe runs at (1 is required)")
	probesOut := fs.String("probes-out", "", "with --target: also write the probe lines here, in the form --from reads")
	server := fs.String("server", "standalone", "what the profile models: standalone, or galera (--from only: needs the one-member galera probes too)")
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
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if len(positional) > 0 {
		return fail("unexpected argument %q (accepted: flags only; see replbench calibrate --help)", positional[0])
	}
	switch {
	case *from == "" && *tgt == "":
		return fail("give --from PROBES or --target FILE|DSN (accepted: a file of harness/target probe output, or a single standalone server to probe)")
	case *from != "" && *tgt != "":
		return fail("--from and --target are exclusive (accepted: one of them)")
	case *server != "standalone" && *server != "galera":
		return fail("--server %q (accepted: standalone, galera)", *server)
	case *tgt != "" && *server != "standalone":
		return fail("--server %s with --target: --target probes a single standalone server (accepted: --server standalone; a galera profile comes from --from with the one-member galera probes)", *server)
	case *cores < 0:
		return fail("--cores %d (accepted: 0 for unlimited, or a positive number)", *cores)
	case *from != "" && (set["probe-time"] || set["clients"] || set["probes-out"]):
		return fail("--probe-time, --clients and --probes-out go with --target (accepted with --from: --server, --name, --cores, --out)")
	case *probeTime <= 0:
		return fail("--probe-time %v (accepted: a positive duration, e.g. 5s)", *probeTime)
	}
	clients, err := parseProbeClients(*clientList)
	if err != nil {
		return fail("--clients: %v", err)
	}
	if *name == "" {
		*name = "calibrated-" + *server
	}

	var ps servicetime.Probes
	var note string
	if *from != "" {
		f, err := os.Open(*from)
		if err != nil {
			return fail("--from: %v (accepted: a readable file of probe output)", err)
		}
		ps, err = servicetime.ParseProbes(f)
		f.Close()
		if err != nil {
			return fail("%v", err)
		}
	} else {
		tf, err := target.Load(*tgt)
		if err != nil {
			return fail("--target: %v", err)
		}
		if err := singleStandalone(tf); err != nil {
			return fail("--target %s: %v", *tgt, err)
		}
		ctx := context.Background()
		tg, err := target.Connect(ctx, tf, target.Options{Tables: []storage.TableSchema{target.ProbeTable}, MaxConns: slices.Max(clients) + 2})
		if err != nil {
			fmt.Fprintf(stderr, "replbench calibrate: --target %s: %s\n", *tgt, oneLine(err.Error()))
			return ExitFailure
		}
		var lines bytes.Buffer
		ps, note, err = probeServer(ctx, targetProber{tg}, clients, *probeTime, io.MultiWriter(&lines, stderr))
		tg.Close()
		var refused *refusal
		if errors.As(err, &refused) {
			return fail("--target %s: %v", *tgt, err)
		}
		if err != nil {
			fmt.Fprintf(stderr, "replbench calibrate: --target %s: %s\n", *tgt, oneLine(err.Error()))
			return ExitFailure
		}
		if *probesOut != "" {
			if err := results.WriteFileAtomic(*probesOut, lines.Bytes()); err != nil {
				fmt.Fprintf(stderr, "replbench calibrate: --probes-out: %s\n", oneLine(err.Error()))
				return ExitFailure
			}
		}
	}
	p, err := servicetime.Calibrate(*name, *server, ps, *cores)
	if err != nil {
		return fail("%v", err)
	}
	if note != "" {
		p.Measured += "; " + note
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
		fmt.Fprintf(stderr, "replbench calibrate: --out: %s\n", oneLine(err.Error()))
		return ExitFailure
	}
	fmt.Fprintf(stdout, "replbench calibrate: wrote %s (%s)\n", *out, p.Name)
	return ExitOK
}

// parseProbeClients reads --clients: positive counts, 1 among them (the calibration reads
// the uncontended means at one client).
func parseProbeClients(s string) ([]int, error) {
	var out []int
	one := false
	for _, x := range strings.Split(s, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil || c < 1 {
			return nil, fmt.Errorf("%q is not a client count (accepted: positive integers separated by commas, 1 among them, e.g. 1,4,16)", x)
		}
		one = one || c == 1
		out = append(out, c)
	}
	if !one {
		return nil, fmt.Errorf("%q lacks 1 (accepted: positive integers separated by commas, 1 among them: the profile reads the one-client means)", s)
	}
	return out, nil
}

// singleStandalone refuses a target that is not one standalone node, from its file alone.
func singleStandalone(f *target.File) error {
	if f.Kind != "standalone" || len(f.Nodes) != 1 {
		return fmt.Errorf("a %s target with %d node(s); calibrate needs a single standalone node (accepted: kind standalone with one node, e.g. from scripts/real-cluster.sh up standalone, or standalone:USER:PASSWORD@HOST:PORT)", f.Kind, len(f.Nodes))
	}
	return nil
}

// refusal is a server that turned out not to be what calibration may probe: bad input,
// not a failure of the run.
type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }

// serverInfo is what calibration checks on the server before probing it.
type serverInfo struct {
	Version string
	// Replicating names what makes the server more than a standalone node ("wsrep_on=ON",
	// "a replica of ...", "a semi-sync source"), or "".
	Replicating string
	// Flush is the server's innodb_flush_log_at_trx_commit, restored after the probes.
	Flush int
}

// prober is what a calibration needs from one server: its description, the redo flush
// setting, the probe table and the probes themselves (harness/target's). targetProber runs
// it on a real server; the tests use a fake.
type prober interface {
	Describe(ctx context.Context) (serverInfo, error)
	SetFlush(ctx context.Context, v int) error
	Prepare(ctx context.Context) error
	Probe(ctx context.Context, kind string, clients int, d time.Duration) (target.ProbeResult, error)
}

// probeServer runs the local calibration's probes on one standalone server: every probe
// kind at each client count, at innodb_flush_log_at_trx_commit=2 and then 1, and restores
// the server's own setting. It prints the probe lines (the form --from reads) to log and
// returns them parsed, with a note for the profile's measured field.
func probeServer(ctx context.Context, p prober, clients []int, d time.Duration, log io.Writer) (servicetime.Probes, string, error) {
	info, err := p.Describe(ctx)
	if err != nil {
		return nil, "", err
	}
	if info.Replicating != "" {
		return nil, "", &refusal{fmt.Sprintf("the server is not a standalone node (%s); calibrate needs a single standalone node (accepted: a server with wsrep_on=OFF and no replication)", info.Replicating)}
	}
	defer func() { _ = p.SetFlush(context.WithoutCancel(ctx), info.Flush) }()
	if err := p.Prepare(ctx); err != nil {
		return nil, "", fmt.Errorf("preparing the probe table: %w", err)
	}
	var text bytes.Buffer
	w := io.MultiWriter(&text, log)
	for _, fl := range []int{2, 1} {
		if err := p.SetFlush(ctx, fl); err != nil {
			return nil, "", fmt.Errorf("SET GLOBAL innodb_flush_log_at_trx_commit=%d: %w (the user needs the privilege to set it)", fl, err)
		}
		fmt.Fprintf(w, "== standalone flush=%d\n", fl)
		for _, kind := range target.ProbeKinds {
			for _, c := range clients {
				r, err := p.Probe(ctx, kind, c, d)
				if err != nil {
					return nil, "", err
				}
				fmt.Fprintln(w, r.String())
			}
		}
	}
	ps, err := servicetime.ParseProbes(&text)
	if err != nil {
		return nil, "", err
	}
	note := fmt.Sprintf("probed by replbench calibrate --target on %s, %v per probe, clients %v, the server's innodb_flush_log_at_trx_commit=%d restored", info.Version, d, clients, info.Flush)
	return ps, note, nil
}

// targetProber is prober on a connected target's only node.
type targetProber struct{ t *target.Target }

func (p targetProber) node() string { return p.t.File.Nodes[0].Name }

func (p targetProber) db() *sql.DB { return p.t.Node(p.node()).SQL() }

func (p targetProber) Describe(ctx context.Context) (serverInfo, error) {
	info := serverInfo{Version: p.t.Versions[p.node()]}
	vars := map[string]string{}
	rows, err := p.db().QueryContext(ctx, "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('wsrep_on', 'innodb_flush_log_at_trx_commit', 'rpl_semi_sync_master_enabled', 'group_replication_group_name')")
	if err != nil {
		return info, err
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return info, err
		}
		vars[strings.ToLower(k)] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return info, err
	}
	info.Flush, err = strconv.Atoi(vars["innodb_flush_log_at_trx_commit"])
	if err != nil {
		return info, fmt.Errorf("reading innodb_flush_log_at_trx_commit: %q is not a number", vars["innodb_flush_log_at_trx_commit"])
	}
	switch {
	case strings.EqualFold(vars["wsrep_on"], "ON"):
		info.Replicating = "wsrep_on=ON: a Galera member"
	case strings.EqualFold(vars["rpl_semi_sync_master_enabled"], "ON"):
		info.Replicating = "rpl_semi_sync_master_enabled=ON: a semi-sync source"
	case vars["group_replication_group_name"] != "":
		info.Replicating = "group_replication_group_name is set: a Group Replication member"
	}
	if info.Replicating == "" {
		// A replica answers SHOW SLAVE STATUS with a row (MySQL 8.4 only knows REPLICA).
		r, err := p.db().QueryContext(ctx, "SHOW SLAVE STATUS")
		if err != nil {
			r, err = p.db().QueryContext(ctx, "SHOW REPLICA STATUS")
		}
		if err == nil {
			if r.Next() {
				info.Replicating = "SHOW SLAVE STATUS has a row: a replica"
			}
			r.Close()
		}
	}
	return info, nil
}

func (p targetProber) SetFlush(ctx context.Context, v int) error {
	_, err := p.db().ExecContext(ctx, fmt.Sprintf("SET GLOBAL innodb_flush_log_at_trx_commit = %d", v))
	return err
}

func (p targetProber) Prepare(ctx context.Context) error { return p.t.PrepareProbe(ctx, p.node()) }

func (p targetProber) Probe(ctx context.Context, kind string, clients int, d time.Duration) (target.ProbeResult, error) {
	return p.t.Probe(ctx, p.node(), kind, clients, d)
}
