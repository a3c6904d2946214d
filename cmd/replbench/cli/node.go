package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/replbench/replbench/harness"
	"github.com/replbench/replbench/harness/endpoint"
	"github.com/replbench/replbench/harness/nodes"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/storage/sqlexec"
)

// nodeMain is `replbench node`: one node of a run whose coordinator is `replbench run
// --nodes-external` with the same --nats-url and --run-id. The node takes everything
// else (protocol, settings, network, cost profile, seed, workload) from the coordinator,
// so the command line here names only who it is and where to meet.
func nodeMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o harness.NodeOptions
	fs.StringVar(&o.Name, "name", "", "this node's name in the run: n1, n2, ... (required)")
	fs.StringVar(&o.RunID, "run-id", "", "the run id the coordinator was given with --run-id (required)")
	fs.StringVar(&o.DataDir, "data-dir", "", "keep the node's database on disk under DIR/<name> (default: in memory)")
	wait := durationFlag{d: harness.DefaultNodesWait}
	fs.Var(&wait, "wait", "how long to wait for the coordinator to accept this node (default 1m0s)")
	idle := durationFlag{d: harness.DefaultNodeIdle}
	fs.Var(&idle, "idle-timeout", "end the node when the coordinator has asked nothing for this long (default 10m0s)")
	supervise := fs.Bool("supervise", false, "run the node as a child process and kill, stop and restart it on the coordinator's kill=, stop= and restart= faults (its database then lives on disk: under --data-dir, or a temporary directory removed at exit)")
	addBusFlags(fs, &o.Bus)
	usage := func(w io.Writer) {
		fmt.Fprintln(w, "usage: replbench node --name NODE --nats-url URL --run-id ID [flags]")
		fmt.Fprintln(w, "\nRuns one node of a coordinated run in this process; the coordinator is")
		fmt.Fprintln(w, "'replbench run|compare|serve ... --nodes-external --nats-url URL --run-id ID'.")
		fmt.Fprintln(w, "\nflags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "replbench node: "+format+"\n", a...)
		return ExitUsage
	}
	positional, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout)
		return ExitOK
	}
	if err != nil {
		return bad("%s", oneLine(err.Error()))
	}
	if len(positional) > 0 {
		return bad("unexpected argument %q (accepted: flags only; see replbench node -h)", positional[0])
	}
	if !harness.ValidNodeName(o.Name) {
		return bad("--name %q: not a node name (accepted: n1, n2, ...)", o.Name)
	}
	if err := nodes.CheckRunID(o.RunID); err != nil {
		return bad("--run-id: %v", err)
	}
	if o.Bus.URL == "" {
		return bad("--nats-url is required: the external NATS cluster the coordinator and the other nodes use")
	}
	if err := checkBus(&o.Bus); err != nil {
		return bad("%s", oneLine(err.Error()))
	}
	if v := os.Getenv(harness.EnvSupervisor); v != "" {
		// A supervisor's child: the supervisor checked the data directory once; this
		// process may be a restart that reopens what its predecessor left there.
		if *supervise {
			return bad("--supervise inside a supervised node process (%s=%s): unset the variable or drop the flag", harness.EnvSupervisor, v)
		}
		o.Supervisor, _ = strconv.Atoi(v)
	} else if o.DataDir != "" {
		if err := harness.CheckDataDir(o.DataDir); err != nil {
			return bad("--data-dir: %v", err)
		}
	}
	o.Wait, o.Idle = wait.d, idle.d
	o.Log = stderr
	o.ServeSQL = serveNodeSQL
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *supervise {
		return superviseNode(ctx, o, args, stderr)
	}
	err = harness.ServeNode(ctx, o)
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, harness.ErrNoCoordinator), errors.Is(err, harness.ErrNotMember):
		return bad("%s", oneLine(err.Error()))
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "replbench node: interrupted")
		return ExitInterrupted
	}
	fmt.Fprintf(stderr, "replbench node %s: %s\n", o.Name, oneLine(err.Error()))
	return ExitFailure
}

// superviseNode is `replbench node --supervise`: this process runs the node as its child
// (this binary again, with the same flags less --supervise) and kills, stops and
// restarts it when the coordinator's fault timeline says so (nodes.Supervisor). The child's
// database is on disk, so that a restart has something to reopen: under --data-dir, or in
// a temporary directory this process removes when it ends.
func superviseNode(ctx context.Context, o harness.NodeOptions, args []string, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "replbench node %s: cannot find this program to run the node: %v\n", o.Name, err)
		return ExitFailure
	}
	var childArgs []string
	for _, a := range args {
		if k, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); k != "supervise" {
			childArgs = append(childArgs, a)
		}
	}
	if o.DataDir == "" {
		dir, err := os.MkdirTemp("", "replbench-node-"+o.Name+"-")
		if err != nil {
			fmt.Fprintf(stderr, "replbench node %s: create a data directory: %v (give one with --data-dir)\n", o.Name, err)
			return ExitFailure
		}
		defer os.RemoveAll(dir)
		childArgs = append(childArgs, "--data-dir", dir)
	}
	nc, err := transport.ConnectNATS(transport.NATSOptions{URL: o.Bus.URL, Auth: o.Bus.Auth}, "replbench supervisor "+o.Name)
	if err != nil {
		fmt.Fprintf(stderr, "replbench node %s: %s\n", o.Name, oneLine(err.Error()))
		return ExitFailure
	}
	defer nc.Close()
	sup := &nodes.Supervisor{NC: nc, RunID: o.RunID, Node: o.Name, Idle: o.Idle, Log: stderr,
		Spawn: func() *exec.Cmd {
			cmd := exec.Command(exe, append([]string{"node"}, childArgs...)...)
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", harness.EnvSupervisor, os.Getpid()))
			cmd.Stdout, cmd.Stderr = stderr, stderr
			return cmd
		}}
	err = sup.Run(ctx)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return ExitOK
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "replbench node: interrupted")
		return ExitInterrupted
	case errors.As(err, &ee):
		return ee.ExitCode() // the node said why
	}
	fmt.Fprintf(stderr, "replbench node %s: %s\n", o.Name, oneLine(err.Error()))
	return ExitFailure
}

// nodesFlags are the coordinator's flags of `replbench run` (--nodes-external, --run-id,
// --nodes-wait): run every point's nodes as `replbench node` processes instead of in this
// process.
type nodesFlags struct {
	external bool
	runID    string
	wait     durationFlag
}

func (f *nodesFlags) define(fs *flag.FlagSet) {
	f.wait.d = harness.DefaultNodesWait
	fs.BoolVar(&f.external, "nodes-external", false, "run the nodes as separate processes ('replbench node --name nK --nats-url URL --run-id ID', on this or other machines) over --nats-url; this process coordinates")
	fs.StringVar(&f.runID, "run-id", "replbench", "with --nodes-external: the run id the node processes were started with")
	fs.Var(&f.wait, "nodes-wait", "with --nodes-external: how long to wait for every node to register (default 1m0s)")
}

// check validates the flags against the bus and the points before anything runs. With
// --target, run refuses --nodes-external (runTargetConflict) and compare runs its model
// side on the node processes.
func (f *nodesFlags) check(set map[string]bool, bus harness.BusConfig, points []harness.PointSpec, seed int64) error {
	if !f.external {
		for _, n := range []string{"run-id", "nodes-wait"} {
			if set[n] {
				return fmt.Errorf("--%s without --nodes-external (accepted: with --nodes-external only)", n)
			}
		}
		return nil
	}
	for _, c := range []struct{ flag, why string }{
		{"data-dir", "each node keeps its database where its own replbench node --data-dir says"},
	} {
		if set[c.flag] {
			return fmt.Errorf("--%s conflicts with --nodes-external: %s (accepted: one of them)", c.flag, c.why)
		}
	}
	if bus.URL == "" {
		return errors.New("--nodes-external needs --nats-url: the external NATS cluster the node processes use (accepted: --nats-url nats://HOST:PORT[,nats://HOST:PORT...])")
	}
	if err := nodes.CheckRunID(f.runID); err != nil {
		return fmt.Errorf("--run-id: %v", err)
	}
	return harness.CheckExternal(points, seed)
}

// connect waits for the nodes of the largest point; nil when the nodes run in-process.
func (f *nodesFlags) connect(ctx context.Context, bus harness.BusConfig, points []harness.PointSpec, seed int64) (*harness.ExternalNodes, error) {
	if !f.external {
		return nil, nil
	}
	n := 0
	for _, ps := range points {
		n = max(n, ps.Nodes)
	}
	x, err := harness.ConnectNodes(ctx, bus, f.runID, n, f.wait.d)
	if err != nil {
		return nil, err
	}
	if err := x.CheckSupervised(points, seed); err != nil {
		x.Close()
		return nil, err
	}
	return x, nil
}

// serveNodeSQL is a node process's MySQL endpoint for serve --nodes-external: the same
// harness/endpoint code as in-process serve, over the node's one-node SQL layer, every
// statement held while the node is paused.
func serveNodeSQL(srv *sqlexec.Server, addr, user, password string, hold func(context.Context) error) (harness.NodeEndpoint, func() error, error) {
	set, err := endpoint.Start(srv, endpoint.Config{Listen: addr, User: user, Password: password,
		Hold: func(ctx context.Context, _ int) error { return hold(ctx) }})
	if err != nil {
		return harness.NodeEndpoint{}, nil, err
	}
	return harness.NodeEndpoint(set.Endpoints()[0]), set.Close, nil
}
