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

const calibrateUsage = `usage: replbench calibrate --from PROBES[,PROBES...] [--server standalone|galera] [--name NAME] [--cores N] [--out FILE]
       replbench calibrate --target FILE|DSN [--probe-time 5s] [--clients 1,4,16] [--probes-out FILE] [--name NAME] [--cores N] [--out FILE]
       replbench calibrate --target GALERA1 --from STANDALONE-PROBES [--rounds 3] [--clients 1,4] [--probe-time 5s] [--probes-out FILE] ...

Derives a service-time cost profile (YAML, protocols/servicetime) from single-node
measurements of a real server on one host with no added delay. A profile is never derived
from a multi-node or delayed run: those are what it must predict.

--from reads the probe lines calibrate --probes-out writes (and harness/target's TestProbe
prints), from one file or several separated by commas (repeated sessions: each figure is
the median of its runs, and every round of the certification probe counts):
'== standalone flush=1' and '== standalone flush=2' sections and, for --server galera,
either the certification
probe's '== galera wsrep_on=1 round=R flush=2' / '== galera wsrep_on=0 round=R flush=2'
rounds or an older '== galera flush=2' section measured on a one-member cluster.

--target runs the probes itself against one server, local or remote, named by a target file
(as run --target reads it) or a DSN (standalone:USER:PASSWORD@HOST:PORT,
galera:USER:PASSWORD@HOST:PORT).
  - A standalone server: every probe at innodb_flush_log_at_trx_commit 2 and then 1 (the
    user needs the privilege to SET GLOBAL it); the server's own value is restored.
  - A one-member Galera cluster (wsrep_cluster_size 1: no network in the measurement): the
    certification probe. It measures what wsrep adds to a commit on the same server, data
    and buffer pool, as inserts in sessions with wsrep_on=1 against sessions with
    wsrep_on=0, in --rounds alternating rounds at flush=2, at each of --clients (the highest
    gives the CPU part by the utilisation law). The statement costs come from a standalone
    server's probes, given with --from; the profile is --server galera.
Any other server (a replica, a semi-sync source, a multi-member cluster) is refused.`

// calibrateMain is `replbench calibrate`.
func calibrateMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("calibrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	from := fs.String("from", "", "probe output files, separated by commas (alone, or with a one-member galera --target: the standalone probes)")
	tgt := fs.String("target", "", "a server to probe: a target file or KIND:USER:PASSWORD@HOST:PORT, a standalone server or a one-member galera")
	rounds := fs.Int("rounds", 3, "with a galera --target: alternating wsrep_on=1 / wsrep_on=0 rounds of the certification probe")
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
	case *server != "standalone" && *server != "galera":
		return fail("--server %q (accepted: standalone, galera)", *server)
	case *cores < 0:
		return fail("--cores %d (accepted: 0 for unlimited, or a positive number)", *cores)
	case *tgt == "" && (set["probe-time"] || set["clients"] || set["probes-out"] || set["rounds"]):
		return fail("--probe-time, --clients, --rounds and --probes-out go with --target (accepted with --from alone: --server, --name, --cores, --out)")
	case *probeTime <= 0:
		return fail("--probe-time %v (accepted: a positive duration, e.g. 5s)", *probeTime)
	case *rounds < 1:
		return fail("--rounds %d (accepted: a positive number of rounds)", *rounds)
	}
	clients, err := parseProbeClients(*clientList)
	if err != nil {
		return fail("--clients: %v", err)
	}

	var tf *target.File
	galera := false
	if *tgt != "" {
		var err error
		tf, err = target.Load(*tgt)
		if err != nil {
			return fail("--target: %v", err)
		}
		galera, err = probeable(tf)
		if err != nil {
			return fail("--target %s: %v", *tgt, err)
		}
		switch {
		case !galera && *from != "":
			return fail("--from with a standalone --target: the target's own probes are the input (accepted: --from alone, --target alone, or a one-member galera --target with --from the standalone probes)")
		case !galera && *server != "standalone":
			return fail("--server %s with a standalone --target (accepted: --server standalone; a galera profile also needs a one-member galera --target, with --from the standalone probes)", *server)
		case !galera && set["rounds"]:
			return fail("--rounds goes with a one-member galera --target (accepted with a standalone one: --probe-time, --clients, --probes-out)")
		case galera && set["server"] && *server != "galera":
			return fail("--server %s with a galera --target (accepted: galera, or leave it out)", *server)
		case galera && *from == "":
			return fail("a galera --target measures certification only: give the standalone server's probes with --from (accepted: a file calibrate --target STANDALONE --probes-out FILE wrote)")
		}
		if galera {
			*server = "galera"
		}
	}
	var ps servicetime.Probes
	var note string
	if *from != "" {
		for _, name := range strings.Split(*from, ",") {
			f, err := os.Open(name)
			if err != nil {
				return fail("--from: %v (accepted: readable files of probe output, separated by commas)", err)
			}
			got, err := servicetime.ParseProbes(f)
			f.Close()
			if err != nil {
				return fail("--from %s: %v", name, err)
			}
			got.Renumber(ps)
			ps = append(ps, got...)
		}
	}
	if *tgt != "" {
		ctx := context.Background()
		opt := target.Options{Tables: []storage.TableSchema{target.ProbeTable}, MaxConns: slices.Max(clients) + 2}
		tg, err := target.Connect(ctx, tf, opt)
		if err != nil {
			fmt.Fprintf(stderr, "replbench calibrate: --target %s: %s\n", *tgt, oneLine(err.Error()))
			return ExitFailure
		}
		pr := targetProber{t: tg}
		if galera {
			opt.Session = map[string]string{"wsrep_on": "0"}
			if pr.off, err = target.Connect(ctx, tf, opt); err != nil {
				tg.Close()
				fmt.Fprintf(stderr, "replbench calibrate: --target %s: %s\n", *tgt, oneLine(err.Error()))
				return ExitFailure
			}
		}
		var lines bytes.Buffer
		var got servicetime.Probes
		if galera {
			got, note, err = probeCertification(ctx, pr, clients, *rounds, *probeTime, io.MultiWriter(&lines, stderr))
		} else {
			got, note, err = probeServer(ctx, pr, clients, *probeTime, io.MultiWriter(&lines, stderr))
		}
		got.Renumber(ps)
		ps = append(ps, got...)
		pr.Close()
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
	if *name == "" {
		*name = "calibrated-" + *server
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

// probeable says from its file alone whether a target is one calibration can probe: a
// single standalone node (galera false) or a single galera node (galera true; that it is a
// one-member cluster is checked on the server).
func probeable(f *target.File) (galera bool, err error) {
	if (f.Kind != "standalone" && f.Kind != "galera") || len(f.Nodes) != 1 {
		return false, fmt.Errorf("a %s target with %d node(s); calibrate probes one node (accepted: kind standalone with one node, e.g. from scripts/real-cluster.sh up standalone, or kind galera with one node of a one-member cluster, scripts/real-cluster.sh up galera --nodes 1)", f.Kind, len(f.Nodes))
	}
	return f.Kind == "galera", nil
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
	// ClusterSize is wsrep_cluster_size on a Galera member (0 elsewhere).
	ClusterSize int
}

// prober is what a calibration needs from one server: its description, the redo flush
// setting, the probe table and the probes themselves (harness/target's), in sessions that
// replicate (the server's default) or, on a Galera member, in sessions with wsrep_on=0.
// targetProber runs it on a real server; the tests use a fake.
type prober interface {
	Describe(ctx context.Context) (serverInfo, error)
	SetFlush(ctx context.Context, v int) error
	Prepare(ctx context.Context) error
	Probe(ctx context.Context, kind string, clients int, d time.Duration) (target.ProbeResult, error)
	ProbeUnreplicated(ctx context.Context, kind string, clients int, d time.Duration) (target.ProbeResult, error)
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
		if err := printProbes(ctx, w, p.Probe, target.ProbeKinds, clients, d); err != nil {
			return nil, "", err
		}
	}
	ps, err := servicetime.ParseProbes(&text)
	if err != nil {
		return nil, "", err
	}
	note := fmt.Sprintf("probed by replbench calibrate --target on %s, %v per probe, clients %v, the server's innodb_flush_log_at_trx_commit=%d restored", info.Version, d, clients, info.Flush)
	return ps, note, nil
}

// printProbes runs probe for every kind at every client count, printing each result as
// the line ParseProbes reads.
func printProbes(ctx context.Context, w io.Writer, probe func(context.Context, string, int, time.Duration) (target.ProbeResult, error), kinds []string, clients []int, d time.Duration) error {
	for _, kind := range kinds {
		for _, c := range clients {
			r, err := probe(ctx, kind, c, d)
			if err != nil {
				return err
			}
			fmt.Fprintln(w, r.String())
		}
	}
	return nil
}

// probeCertification is the certification probe on a one-member Galera cluster: inserts
// at each client count in sessions with wsrep_on=1 and then wsrep_on=0, round after round,
// at innodb_flush_log_at_trx_commit=2, the server's own setting restored. What differs
// between the halves of a round is wsrep's work on a commit alone (the write-set, the gcs
// send and self-delivery, certification, the commit monitors): the server, its data, its
// buffer pool and the machine's state are the same, which a one-member cluster against a
// separate standalone server does not give (an earlier calibration's one-member insert came
// out faster than the standalone one). With one member nothing crosses a network.
func probeCertification(ctx context.Context, p prober, clients []int, rounds int, d time.Duration, log io.Writer) (servicetime.Probes, string, error) {
	info, err := p.Describe(ctx)
	if err != nil {
		return nil, "", err
	}
	if info.ClusterSize != 1 {
		what := fmt.Sprintf("wsrep_cluster_size=%d", info.ClusterSize)
		if info.Replicating == "" {
			what = "wsrep_on=OFF: not a Galera member"
		}
		return nil, "", &refusal{fmt.Sprintf("the server is not a one-member Galera cluster (%s); the certification probe needs one member, so that no network is in the measurement (accepted: scripts/real-cluster.sh up galera --nodes 1)", what)}
	}
	defer func() { _ = p.SetFlush(context.WithoutCancel(ctx), info.Flush) }()
	if err := p.Prepare(ctx); err != nil {
		return nil, "", fmt.Errorf("preparing the probe table: %w", err)
	}
	if err := p.SetFlush(ctx, 2); err != nil {
		return nil, "", fmt.Errorf("SET GLOBAL innodb_flush_log_at_trx_commit=2: %w (the user needs the privilege to set it)", err)
	}
	var text bytes.Buffer
	w := io.MultiWriter(&text, log)
	for r := 1; r <= rounds; r++ {
		for _, on := range []int{1, 0} {
			fmt.Fprintf(w, "== galera wsrep_on=%d round=%d flush=2\n", on, r)
			probe := p.Probe
			if on == 0 {
				probe = p.ProbeUnreplicated
			}
			if err := printProbes(ctx, w, probe, []string{target.ProbeInsert}, clients, d); err != nil {
				return nil, "", err
			}
		}
	}
	ps, err := servicetime.ParseProbes(&text)
	if err != nil {
		return nil, "", err
	}
	note := fmt.Sprintf("certification probed by replbench calibrate --target on a one-member cluster of %s, %d rounds, %v per probe, clients %v, the server's innodb_flush_log_at_trx_commit=%d restored", info.Version, rounds, d, clients, info.Flush)
	return ps, note, nil
}

// targetProber is prober on a connected target's only node; off, for a Galera member, is
// a second connection of the same target whose sessions set wsrep_on=0.
type targetProber struct{ t, off *target.Target }

// Close closes both connections.
func (p targetProber) Close() {
	p.t.Close()
	if p.off != nil {
		p.off.Close()
	}
}

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
		var name string
		if err := p.db().QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_size'").Scan(&name, &info.ClusterSize); err != nil {
			return info, fmt.Errorf("reading wsrep_cluster_size: %w", err)
		}
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

func (p targetProber) ProbeUnreplicated(ctx context.Context, kind string, clients int, d time.Duration) (target.ProbeResult, error) {
	if p.off == nil {
		return target.ProbeResult{}, errors.New("no wsrep_on=0 sessions: the target is not a Galera member")
	}
	return p.off.Probe(ctx, p.node(), kind, clients, d)
}
