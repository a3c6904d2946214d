package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/replbench/replbench/harness"
	"github.com/replbench/replbench/harness/endpoint"
	"github.com/replbench/replbench/harness/target"
	"github.com/replbench/replbench/results"
	"github.com/replbench/replbench/storage/sqlexec"
	"github.com/replbench/replbench/workloads/sqldb"
)

// serveFlags are the flags of `replbench serve`: the flag table's cluster and load flags
// (the same as run's, parsed into o), and where the endpoints listen, who may log in and
// where the run directory goes. Of the load flags, serve uses the workload (whose tables
// every node loads, as a point of run would), the seed and the fault timeline (counted from
// the moment the endpoints are up); --duration, when given, stops serving after that long
// instead of at SIGINT/SIGTERM. The client flags (--threads, --queries, --rate, ...) are
// accepted for a command line shared with run but drive nothing: the clients are outside.
type serveFlags struct {
	fs *flag.FlagSet
	o  harness.Overrides

	listen, user, password string
	bus                    harness.BusConfig // --bus, --nats-url and NATS credentials (flags.go)
	dataDir, out           string
	converge               durationFlag
	maxAllowedPacket       int
	targetFile             string            // --target-file: a target file naming the endpoints, for run --target
	cpuProfile             string            // --cpu-profile: a pprof CPU profile of serving, for finding the front end's hot spots
	seed                   int64             // the scenario seed after the flags
	nodes                  nodesFlags        // --nodes-external, --run-id, --nodes-wait: the nodes as replbench node processes
	scenario               *harness.Scenario // the scenario the flags describe, for the node processes
}

// defaultConvergeTimeout bounds the convergence check when serving stops.
const defaultConvergeTimeout = 30 * time.Second

func newServeFlags() *serveFlags {
	f := &serveFlags{fs: flag.NewFlagSet("serve", flag.ContinueOnError)}
	f.converge.d = defaultConvergeTimeout
	fs := f.fs
	fs.SetOutput(io.Discard)
	addClusterFlags(fs, &f.o, clusterDefaults{Protocol: "galera", Nodes: "3, or what the protocol accepts when it is not 3", Threads: "1 (the clients are outside)"})
	addLoadFlags(fs, &f.o)
	fs.StringVar(&f.listen, "listen", endpoint.DefaultListen, "address of n1's MySQL endpoint; node i listens on the next ports (port 0: a free port each); or one address per node, n1=HOST:PORT,n2=HOST:PORT,... (nodes on machines of their own, with --nodes-external)")
	fs.StringVar(&f.user, "user", "root", "the account the endpoints accept (mysql_native_password)")
	fs.StringVar(&f.password, "password", "", "its password (default empty, as a fresh server)")
	fs.IntVar(&f.maxAllowedPacket, "max-allowed-packet", 64<<20, "@@max_allowed_packet in bytes; a larger packet gets 1153")
	fs.Var(&f.converge, "converge-timeout", "how long the convergence check at the end waits for every node to apply what was committed")
	addBusFlags(fs, &f.bus)
	f.nodes.define(fs)
	fs.StringVar(&f.dataDir, "data-dir", "", "keep each node's database on disk under DIR/<node> (default: in memory)")
	fs.StringVar(&f.out, "out", "runs", "parent directory of the run directory <timestamp>-serve-<protocol>")
	fs.StringVar(&f.targetFile, "target-file", "", "write a target file naming the endpoints to FILE once they are up, so that `replbench run --target FILE` drives the served cluster with replbench's own workloads over SQL")
	fs.StringVar(&f.cpuProfile, "cpu-profile", "", "write a pprof CPU profile of the process to FILE while the endpoints serve (go tool pprof FILE)")
	return f
}

func (f *serveFlags) usage(w io.Writer) {
	fmt.Fprintln(w, "usage: replbench serve [flags]")
	fmt.Fprintln(w, "\nBrings a cluster up (the same cluster, network, parameter and fault flags as run)")
	fmt.Fprintln(w, "and gives every node a MySQL endpoint for real clients (mysql, mysqlslap, sysbench,")
	fmt.Fprintln(w, "an application). Runs until SIGINT or SIGTERM, then closes the connections, checks")
	fmt.Fprintln(w, "that the nodes converged and writes a run directory with each node's status")
	fmt.Fprintln(w, "variables and the fault timeline. --duration D stops after D instead; --fault times")
	fmt.Fprintln(w, "count from when the endpoints are up.")
	fmt.Fprintln(w, "In one process --fault takes the network faults (partition, oneway, clog, unclog,")
	fmt.Fprintln(w, "heal, delay, link, loss).")
	fmt.Fprintln(w, "\nWith --nodes-external --nats-url URL [--run-id ID] the nodes are 'replbench node'")
	fmt.Fprintln(w, "processes, on this machine or others (as for run --nodes-external); each opens its")
	fmt.Fprintln(w, "endpoint at the address --listen gives it: HOST:PORT is n1's with n2 on the next")
	fmt.Fprintln(w, "port, ...; n1=HOST:PORT,n2=HOST:PORT,... gives each node its own (one per machine).")
	fmt.Fprintln(w, "--fault also takes pause= and resume= (the node's endpoint and links are held), and")
	fmt.Fprintln(w, "kill=, stop= and restart= of nodes started with 'replbench node --supervise' (a")
	fmt.Fprintln(w, "restarted node serves again at the same address). The stop is the same:")
	fmt.Fprintln(w, "convergence check over the node processes, run directory with each node's status")
	fmt.Fprintln(w, "and the fault record. DDL on any endpoint is carried by the coordinator to every")
	fmt.Fprintln(w, "node, one change at a time (the cluster quiesced, n1 first: its refusal changes")
	fmt.Fprintln(w, "nothing); a node process that is gone fails DDL with an error naming it. Promote")
	fmt.Fprintln(w, "and crash are refused.")
	fmt.Fprintln(w, "\nflags:")
	f.fs.SetOutput(w)
	f.fs.PrintDefaults()
	f.fs.SetOutput(io.Discard)
}

// prepareServe turns the command line into the one point to serve, or an error for one
// line on stderr. Nothing is created or bound here.
func prepareServe(args []string) (*serveFlags, *harness.PointSpec, error) {
	f := newServeFlags()
	positional, err := parseFlags(f.fs, args)
	if err != nil {
		return f, nil, err
	}
	if len(positional) > 0 {
		return f, nil, fmt.Errorf("unexpected argument %q (serve takes flags only; see replbench serve -h)", strings.Join(positional, " "))
	}
	s := &harness.Scenario{Name: "serve", Protocol: "galera", Workload: harness.WorkloadSpec{Name: "insert"}, Threads: harness.IntList{1}, Seed: 1}
	s.Apply(f.o)
	f.seed = s.Seed
	f.scenario = s
	if f.user == "" {
		return f, nil, errors.New("--user: empty (accepted: an account name, default root)")
	}
	if f.maxAllowedPacket < 1024 || f.maxAllowedPacket > 1<<30 {
		return f, nil, fmt.Errorf("--max-allowed-packet: %d out of range (accepted: 1024 to %d, as MySQL)", f.maxAllowedPacket, 1<<30)
	}
	if err := checkBus(&f.bus); err != nil {
		return f, nil, err
	}
	if err := results.CheckWritableDir(f.out); err != nil {
		return f, nil, fmt.Errorf("--out: %v", err)
	}
	if f.targetFile != "" {
		if err := results.CheckWritableDir(filepath.Dir(f.targetFile)); err != nil {
			return f, nil, fmt.Errorf("--target-file: %v", err)
		}
	}
	if f.cpuProfile != "" {
		if err := results.CheckWritableDir(filepath.Dir(f.cpuProfile)); err != nil {
			return f, nil, fmt.Errorf("--cpu-profile: %v", err)
		}
	}
	if f.dataDir != "" {
		if err := results.CheckWritableDir(f.dataDir); err != nil {
			return f, nil, fmt.Errorf("--data-dir: %v", err)
		}
		if err := harness.CheckDataDir(f.dataDir); err != nil {
			return f, nil, fmt.Errorf("--data-dir: %v", err)
		}
	}
	points, err := harness.ExpandModel(s)
	if err != nil {
		return f, nil, err
	}
	if len(points) != 1 {
		return f, nil, fmt.Errorf("the flags describe %d clusters (a list of protocols, thread counts or a sweep); serve brings up one (accepted: one value per flag)", len(points))
	}
	if _, err := endpoint.NodeAddrs(f.listen, points[0].Nodes); err != nil {
		return f, nil, fmt.Errorf("--listen: %v", err)
	}
	if err := f.nodes.check(visited(f.fs), f.bus, points, f.seed); err != nil {
		return f, nil, err
	}
	if !f.nodes.external {
		if err := harness.CheckLiveFaults(&points[0], f.seed); err != nil {
			return f, nil, err
		}
	}
	return f, &points[0], nil
}

func serveMain(args []string, stdout, stderr io.Writer) int {
	f, ps, err := prepareServe(args)
	if errors.Is(err, flag.ErrHelp) {
		f.usage(stdout)
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "replbench serve: %s\n", oneLine(err.Error()))
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	serveFn := serve
	if f.nodes.external {
		serveFn = serveExternal
	}
	code, err := serveFn(ctx, f, ps, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "replbench serve: %s\n", oneLine(err.Error()))
	}
	return code
}

// serveRecord is what the run directory's serve.json holds.
type serveRecord struct {
	Protocol       string                       `json:"protocol"`
	Nodes          int                          `json:"nodes"`
	Network        string                       `json:"network"`
	Workload       string                       `json:"workload"`
	Started        time.Time                    `json:"started"`
	Stopped        time.Time                    `json:"stopped"`
	Endpoints      []endpoint.Info              `json:"endpoints"`
	Faults         []string                     `json:"faults"`
	Converged      bool                         `json:"converged"`
	ConvergeDetail string                       `json:"converge_detail,omitempty"`
	Status         map[string]map[string]string `json:"status"`
}

func serve(ctx context.Context, f *serveFlags, ps *harness.PointSpec, stdout, stderr io.Writer) (int, error) {
	started := time.Now()
	progress := func(s string) { fmt.Fprintf(stderr, "replbench serve: %s\n", s) }
	live, err := harness.StartLive(ctx, ps, f.bus, f.dataDir, f.seed, progress)
	if err != nil {
		if ctx.Err() != nil {
			return ExitInterrupted, errors.New("interrupted while the cluster was starting; nothing written")
		}
		return ExitFailure, fmt.Errorf("start the cluster: %w", err)
	}
	defer live.Close()
	var nodes []*sqlexec.Node
	for _, n := range live.Nodes() {
		nodes = append(nodes, &sqlexec.Node{Name: n.Name, Engine: n.Engine, Provider: n.Provider, Protocol: n.Protocol, Params: n.Params, Cost: n.Cost})
	}
	srv, err := sqlexec.NewServer(nodes, sqlexec.Options{MaxAllowedPacket: f.maxAllowedPacket})
	if err != nil {
		return ExitFailure, err
	}
	set, err := endpoint.Start(srv, endpoint.Config{Listen: f.listen, User: f.user, Password: f.password})
	if err != nil {
		return ExitFailure, err
	}
	infos := set.Endpoints()
	// The target file is in place before the table announces the endpoints.
	if f.targetFile != "" {
		if err := writeServeTarget(f.targetFile, ps.Protocol, infos, f.user, f.password); err != nil {
			_ = set.Close()
			return ExitFailure, fmt.Errorf("--target-file: %w", err)
		}
	}
	printEndpoints(stdout, f, ps, infos, "")

	// The fault timeline runs from now, as a point's runs from its measured phase.
	serveCtx := ctx
	var cancel context.CancelFunc = func() {}
	if ps.Duration > 0 {
		serveCtx, cancel = context.WithTimeout(ctx, ps.Duration)
	}
	defer cancel()
	if f.cpuProfile != "" {
		if err := os.MkdirAll(filepath.Dir(f.cpuProfile), 0o755); err != nil {
			return ExitFailure, fmt.Errorf("--cpu-profile: %w", err)
		}
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return ExitFailure, fmt.Errorf("--cpu-profile: %w", err)
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			pf.Close()
			return ExitFailure, fmt.Errorf("--cpu-profile: %w", err)
		}
		defer pf.Close()
		defer pprof.StopCPUProfile()
	}
	t0 := time.Now()
	var mu sync.Mutex
	applied := []string{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, ev := range ps.Faults {
			select {
			case <-serveCtx.Done():
				return
			case <-time.After(time.Until(t0.Add(ev.At))):
			}
			live.Fault(ev)
			at := time.Since(t0)
			mu.Lock()
			applied = append(applied, ev.Applied(at))
			mu.Unlock()
			progress("fault " + ev.Applied(at))
		}
	}()
	<-serveCtx.Done()
	wg.Wait()
	progress("stopping: closing the client connections")
	closeErr := set.Close()
	// The convergence check heals nothing: a partition still in force at the end is a
	// divergence the run directory should record, as run's check does.
	cctx, ccancel := context.WithTimeout(context.Background(), f.converge.d+5*time.Second)
	defer ccancel()
	ok, detail := live.Converge(cctx, f.converge.d)
	status := make([][][]string, len(nodes))
	for i := range nodes {
		status[i] = srv.Status(i)
	}
	code, err := finishServe(stdout, f, ps, started, t0, infos, applied, ok, detail, status, "")
	if err == nil && closeErr != nil {
		return ExitFailure, closeErr
	}
	return code, err
}

// finishServe is the stop of serve, in-process or on node processes: it writes the run
// directory (serve.json with the endpoints, the fault record, the convergence verdict and
// each node's SHOW STATUS; status.txt; faults.txt), prints the closing line and returns
// the exit code (ExitFailure when the nodes did not converge). where names the node
// processes ("" in one process).
func finishServe(stdout io.Writer, f *serveFlags, ps *harness.PointSpec, started, t0 time.Time, infos []endpoint.Info, applied []string, ok bool, detail string, status [][][]string, where string) (int, error) {
	rec := serveRecord{Protocol: ps.Protocol, Nodes: ps.Nodes, Network: ps.Network.Name, Workload: ps.Workload.Name,
		Started: started, Stopped: time.Now(), Endpoints: infos, Faults: applied, Converged: ok, ConvergeDetail: detail,
		Status: map[string]map[string]string{}}
	if rec.Faults == nil {
		rec.Faults = []string{}
	}
	var text strings.Builder
	for i, e := range infos {
		m := map[string]string{}
		fmt.Fprintf(&text, "== %s (%s)\n", e.Node, e.Addr)
		for _, row := range status[i] {
			m[row[0]] = row[1]
			fmt.Fprintf(&text, "%s\t%s\n", row[0], row[1])
		}
		rec.Status[e.Node] = m
	}
	dir, err := harness.MakeRunDir(f.out, started, "serve-"+ps.Protocol)
	if err != nil {
		return ExitFailure, err
	}
	js, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return ExitFailure, err
	}
	if err := results.WriteFileAtomic(filepath.Join(dir, "serve.json"), append(js, '\n')); err != nil {
		return ExitFailure, err
	}
	if err := results.WriteFileAtomic(filepath.Join(dir, "status.txt"), []byte(text.String())); err != nil {
		return ExitFailure, err
	}
	faults := strings.Join(applied, "\n")
	if faults != "" {
		faults += "\n"
	}
	if err := results.WriteFileAtomic(filepath.Join(dir, "faults.txt"), []byte(faults)); err != nil {
		return ExitFailure, err
	}
	verdict := "converged"
	if !ok {
		verdict = "DID NOT CONVERGE: " + detail
	}
	fmt.Fprintf(stdout, "served %s%s; %s; written to %s\n", time.Since(t0).Round(time.Millisecond), where, verdict, dir)
	if !ok {
		return ExitFailure, nil
	}
	return ExitOK, nil
}

// targetKinds maps a served protocol to the target kind that names how its servers are
// driven and waited for (harness/target, workloads/sqldb).
var targetKinds = map[string]string{"galera": sqldb.KindGalera, "standalone": sqldb.KindStandalone,
	"semisync": sqldb.KindSemisync, "async": sqldb.KindSemisync, "group-replication": sqldb.KindGR}

// writeServeTarget writes a target file (harness/target's format, as real-cluster.sh writes
// for real servers) naming the served endpoints, so that the same workload definitions run
// on the model directly, through serve and on a real cluster. A writable node is the
// source (semisync) or primary (GR); the others are replicas or secondaries. The file is
// read back with the target parser before it is written, so a file serve writes is one
// run accepts.
func writeServeTarget(path, protocol string, infos []endpoint.Info, user, password string) error {
	kind, ok := targetKinds[protocol]
	if !ok {
		return fmt.Errorf("protocol %s has no target kind (accepted: %s)", protocol, strings.Join(slices.Sorted(maps.Keys(targetKinds)), ", "))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# replbench serve --protocol %s: its endpoints as a target (replbench run --target %s)\n", protocol, path)
	fmt.Fprintf(&b, "kind: %s\ndatabase: %s\nnodes:\n", kind, sqlexec.DefaultDatabase)
	for _, e := range infos {
		host, port, err := net.SplitHostPort(e.Addr)
		if err != nil {
			return err
		}
		role := "member"
		switch kind {
		case sqldb.KindSemisync:
			role = map[bool]string{true: "source", false: "replica"}[e.Role == "read-write"]
		case sqldb.KindGR:
			role = map[bool]string{true: "primary", false: "secondary"}[e.Role == "read-write"]
		}
		fmt.Fprintf(&b, "  - {name: %s, host: %q, port: %s, user: %q, password: %q, role: %s}\n", e.Node, host, port, user, password, role)
	}
	if _, err := target.ParseFile(path, []byte(b.String())); err != nil {
		return err
	}
	return results.WriteFileAtomic(path, []byte(b.String()))
}

// printEndpoints prints the table of endpoints serve announces (node, address, role,
// state), how to connect, and the target file when one was written; where says where the
// nodes run when that is not this process.
func printEndpoints(w io.Writer, f *serveFlags, ps *harness.PointSpec, infos []endpoint.Info, where string) {
	fmt.Fprintf(w, "%s, %d nodes, network %s%s: serving MySQL (user %s)\n", ps.Protocol, ps.Nodes, ps.Network.Name, where, f.user)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tROLE\tSTATE")
	for _, e := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Node, e.Addr, e.Role, e.State)
	}
	tw.Flush()
	if host, port, err := net.SplitHostPort(infos[0].Addr); err == nil {
		fmt.Fprintf(w, "connect: mysql -h %s -P %s -u%s; stop with Ctrl-C or SIGTERM\n", host, port, f.user)
	}
	if f.targetFile != "" {
		fmt.Fprintf(w, "target: replbench run --target %s\n", f.targetFile)
	}
}

// serveExternal is serve --nodes-external: this process coordinates node processes
// (replbench node --name nK --nats-url URL --run-id ID) over the external NATS. It waits
// for them as run --nodes-external does (harness.ConnectNodes), sends them the point, and
// each node opens its own MySQL endpoint over its own engine and provider, at the address
// --listen gives it (n1's address and node i on its port + i, or one address per node,
// n1=HOST:PORT,...). It prints the same table, writes --target-file, runs the fault
// timeline from when the endpoints are up (network faults on every node's emulator; kill,
// stop and restart through each node's supervisor, a restarted node serving again at the
// same address), and serves until SIGINT, SIGTERM or --duration. At the stop it does what
// in-process serve does (finishServe): closes the clients' connections, checks that the
// nodes converged (positions and checksums over NATS), and writes the run directory with
// each node's SHOW STATUS and the fault record; then it ends the node processes.
//
// DDL through the endpoints goes through this coordinator to every node
// (harness/bus_ddl.go, started by ServeExternal).
func serveExternal(ctx context.Context, f *serveFlags, ps *harness.PointSpec, stdout, stderr io.Writer) (int, error) {
	started := time.Now()
	progress := func(s string) { fmt.Fprintf(stderr, "replbench serve: %s\n", s) }
	progress(fmt.Sprintf("waiting up to %s for nodes %s of run %s", f.nodes.wait.d, strings.Join(ps.Members(), ", "), f.nodes.runID))
	x, err := f.nodes.connect(ctx, f.bus, []harness.PointSpec{*ps}, f.seed)
	if err != nil {
		if ctx.Err() != nil {
			return ExitInterrupted, errors.New("interrupted while waiting for the nodes; nothing written")
		}
		return ExitUsage, err // as run: the nodes did not come, or are not the run's
	}
	defer x.Close()
	addrs, err := endpoint.NodeAddrs(f.listen, ps.Nodes)
	if err != nil {
		return ExitUsage, fmt.Errorf("--listen: %v", err)
	}
	sn, err := x.ServeExternal(ctx, f.scenario, ps, harness.ServeConfig{Addrs: addrs, User: f.user, Password: f.password, MaxAllowedPacket: f.maxAllowedPacket})
	if err != nil {
		if ctx.Err() != nil {
			return ExitInterrupted, errors.New("interrupted while the cluster was starting; nothing written")
		}
		return ExitFailure, fmt.Errorf("start the cluster on the node processes: %w", err)
	}
	infos := endpointInfos(sn.Endpoints())
	if f.targetFile != "" {
		if err := writeServeTarget(f.targetFile, ps.Protocol, infos, f.user, f.password); err != nil {
			sn.Close()
			return ExitFailure, fmt.Errorf("--target-file: %w", err)
		}
	}
	where := " on the node processes of run " + x.RunID()
	printEndpoints(stdout, f, ps, infos, ", nodes as processes of run "+x.RunID())
	serveCtx := ctx
	if ps.Duration > 0 {
		var cancel context.CancelFunc
		serveCtx, cancel = context.WithTimeout(ctx, ps.Duration)
		defer cancel()
	}
	t0 := time.Now()
	sn.StartFaults(t0, func(at time.Duration, ev harness.FaultEvent) { progress("fault " + ev.Applied(at)) })
	<-serveCtx.Done()
	// The timeline stops before the check, as at the end of run's measured phase: a cut
	// still in force is healed and a node still down restarted, and the record says so.
	progress("stopping: ending the fault timeline, closing the client connections, then checking convergence")
	applied := sn.StopFaults()
	cctx, ccancel := context.WithTimeout(context.Background(), f.converge.d+2*time.Minute)
	defer ccancel()
	closeErr := sn.CloseEndpoints(cctx)
	ok, detail := sn.Converge(cctx, f.converge.d)
	// A node whose process is gone (killed outside a supervisor, its machine lost) cannot
	// be checked: the record keeps the status of the nodes that answered and the verdict
	// says which did not, rather than serve ending without a record.
	status, err := sn.Status(cctx)
	if err != nil {
		progress("read the nodes' status: " + err.Error())
		if ok {
			ok, detail = false, "not every node could be checked: "+err.Error()
		}
	}
	infos = endpointInfos(sn.Endpoints())
	sn.Close()
	code, err := finishServe(stdout, f, ps, started, t0, infos, applied, ok, detail, status, where)
	if err == nil && closeErr != nil {
		return ExitFailure, fmt.Errorf("close the endpoints: %w", closeErr)
	}
	return code, err
}

// endpointInfos converts the node processes' endpoints to endpoint.Info, for the table,
// the target file and serve.json.
func endpointInfos(eps []harness.NodeEndpoint) []endpoint.Info {
	infos := make([]endpoint.Info, len(eps))
	for i, e := range eps {
		infos[i] = endpoint.Info(e)
	}
	return infos
}
