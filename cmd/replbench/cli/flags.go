package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/replbench/replbench/harness"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
)

// The flag table. Every command that takes a cluster and a network (run, law, and any later
// one: serve, compare, node) defines its flags with addClusterFlags, and run also with
// addLoadFlags; each flag parses its value straight into the harness.Overrides the command
// applies to its scenario (Scenario.Apply), with the same checks and the same one-line
// errors in every command, and nothing copies the values into a second structure. A new
// command that takes a cluster is:
//
//	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
//	var o harness.Overrides
//	addClusterFlags(fs, &o, clusterDefaults{Protocol: "semisync", Nodes: "3", Threads: "1"})
//	// ... the command's own flags on fs ...
//	if _, err := parseFlags(fs, args); err != nil { /* one line, exit 2 */ }
//	s := &harness.Scenario{ /* the command's base */ }
//	s.Apply(o)
//	points, err := harness.ExpandModel(s) // or Expand, when it runs a workload
//
// and every point comes resolved (harness.PointSpec): settings per node, network built.

// clusterDefaults are what a command does when a cluster flag is left out, for its help.
type clusterDefaults struct {
	Protocol, Nodes, Threads string
}

// addClusterFlags defines the flags that say which cluster runs on which network and with
// how many client threads: --protocol, --nodes, --network, --delay, --link, --jitter,
// --loss, --writers, --threads, --param, --flavor. It returns their names.
func addClusterFlags(fs *flag.FlagSet, o *harness.Overrides, def clusterDefaults) []string {
	return defineAll(fs, []flagDef{
		{"protocol", "protocol name or alias, a comma-separated list, or all (see 'replbench params'); default: " + def.Protocol, func(v string) error {
			o.Protocols = nil
			for _, p := range strings.Split(v, ",") {
				p = strings.TrimSpace(p)
				if strings.EqualFold(p, "all") {
					o.Protocols = append(o.Protocols, protocols.Names()...)
					continue
				}
				if p != "" {
					o.Protocols = append(o.Protocols, p)
				}
			}
			if len(o.Protocols) == 0 {
				return fmt.Errorf("empty (accepted: all, or names among %s)", strings.Join(protocols.Names(), ", "))
			}
			return nil
		}},
		{"nodes", "cluster size n1..nN, 1 to 64 (default: " + def.Nodes + ")", func(v string) error {
			// 0 is a scenario file's "protocol default"; on the command line it is more
			// likely a script's empty variable, and running 3 nodes instead would be a
			// measurement of something else, so it is refused: leave the flag out instead.
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 || n > 64 {
				return fmt.Errorf("invalid node count %s (accepted: 1 to 64; leave the flag out for the protocol's default)", v)
			}
			o.Nodes = &n
			return nil
		}},
		{"network", "network preset: " + strings.Join(transport.PresetNames(), ", ") + " (default lan)", func(v string) error {
			o.Network = &v
			return nil
		}},
		{"delay", "NODE=DUR: egress delay of a node, as tc netem on its interface (repeatable)", func(v string) error {
			node, dur, err := transport.ParseEgress(v)
			if err != nil {
				return err
			}
			setDuration(&o.Egress, node, dur)
			return nil
		}},
		{"link", "A-B=DUR: one-way delay each way between A and B; A>B=DUR one way only (repeatable)", func(v string) error {
			ld, err := transport.ParseLink(v)
			if err != nil {
				return err
			}
			sep := "-"
			if ld.Directed {
				sep = ">"
			}
			setDuration(&o.Links, ld.From+sep+ld.To, ld.Delay)
			return nil
		}},
		{"jitter", "jitter: constant:D, uniform:D, normal:MEAN,SD or pareto:MEAN,SD", func(v string) error {
			if _, err := transport.ParseJitter(v); err != nil {
				return err
			}
			o.Jitter = &v
			return nil
		}},
		{"loss", "message loss probability (0.01 or 1%)", func(v string) error {
			l, err := transport.ParseLoss(v)
			if err != nil {
				return err
			}
			o.Loss = &l
			return nil
		}},
		{"writers", "nodes that run clients: n1, all, or n1,n3 (default n1)", func(v string) error {
			w := harness.ParseWriters(v)
			if len(w) == 0 {
				return errors.New("empty (accepted: n1, all, or a list such as n1,n3)")
			}
			o.Writers = w
			return nil
		}},
		{"threads", "client threads, comma-separated: each value is one point (e.g. 1,4,8; default " + def.Threads + ")", func(v string) error {
			t, err := harness.ParseIntList(v)
			if err != nil {
				return err
			}
			o.Threads = t
			return nil
		}},
		{"param", "NAME=VALUE on every node, or NODE:NAME=VALUE on one (repeatable; see 'replbench params PROTOCOL')", func(v string) error {
			return setKV(&o.Params, v, "NAME=VALUE or NODE:NAME=VALUE")
		}},
		{"flavor", "the server every node stands for (default: galera mariadb-10.11, semisync mysql-8.0; every result notes it; see 'replbench params P --flavor F'): --param " + protocols.FlavorParam + "=F; per node with --param NODE:" + protocols.FlavorParam + "=F", func(v string) error {
			return setKV(&o.Params, protocols.FlavorParam+"="+strings.TrimSpace(v), "a flavour name")
		}},
		{"cost-profile", "the service-time model's cost profile: a built-in NAME, a YAML FILE, or none for the pure protocol model (default: the flavour's built-in profile; galera: galera-4-mariadb-10.11): --param " + protocols.CostProfileParam + "=P", func(v string) error {
			return setKV(&o.Params, protocols.CostProfileParam+"="+strings.TrimSpace(v), "a cost profile")
		}},
	})
}

// addLoadFlags defines the flags that say what the clients do and for how long: the
// workload and its options, the run length, the pacing, retries and the fault timeline. It
// returns their names.
func addLoadFlags(fs *flag.FlagSet, o *harness.Overrides) []string {
	// --queries and --events (sysbench's name), --duration and --time are one setting each.
	queries := func(v string) error {
		q, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || q <= 0 {
			return fmt.Errorf("invalid count %s (accepted: a positive number of transactions)", v)
		}
		o.Queries = &q
		return nil
	}
	runLength := func(v string) error {
		d, err := harness.ParseDuration(v)
		if err != nil {
			return err
		}
		if d <= 0 {
			return fmt.Errorf("invalid run length %s (accepted: a positive duration such as 10s)", d)
		}
		o.Duration = &d
		return nil
	}
	return defineAll(fs, []flagDef{
		{"workload", "workload (see 'replbench workloads'; default insert)", func(v string) error {
			o.Workload = &v
			return nil
		}},
		{"workload-option", "NAME=VALUE workload option (repeatable); options may also be given as their own flags, e.g. --hot-rows 4", func(v string) error {
			return setKV(&o.WorkloadOptions, strings.TrimLeft(v, "-"), "NAME=VALUE")
		}},
		{"queries", "transactions per point over all clients, split evenly (mysqlslap's --number-of-queries)", queries},
		{"duration", "run length per point (e.g. 10s), instead of --queries", runLength},
		{"time", "alias of --duration (sysbench's --time)", runLength},
		{"events", "alias of --queries (sysbench's --events)", queries},
		{"seed", "seed for data, clients, jitter and loss (default 1)", func(v string) error {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return fmt.Errorf("invalid seed %q (accepted: an integer)", v)
			}
			o.Seed = &n
			return nil
		}},
		{"rate", "open loop: transactions/s over all clients, latency measured from the intended start (0: closed loop)", func(v string) error {
			r, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return fmt.Errorf("invalid rate %q (accepted: transactions per second, 0 for closed loop)", v)
			}
			o.Rate = &r
			return nil
		}},
		{"warmup", "warm-up time per point, excluded from the measurement", durationInto(&o.Warmup)},
		{"retries", "retries of a deadlock/certification/lock-timeout failure (default 0: mysqlslap does not retry)", func(v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("invalid retry count %q (accepted: 0 or more)", v)
			}
			o.Retries = &n
			return nil
		}},
		{"retry-backoff", "pause before each retry", durationInto(&o.RetryBackoff)},
		{"refused-backoff", fmt.Sprintf("pause of a client whose node refused its transaction (1290 read-only, 1047 not ready) before its next attempt, as a connection pool would; 0 retries at once (default %s)", harness.DefaultRefusedBackoff), durationInto(&o.RefusedBackoff)},
		{"fault", "AT:EVENT fault during the measured phase (repeatable), AT counted from its start; events: partition=n1,n2|n3, oneway=n1>n3, heal, clog=n1>n2 or n1-n2, unclog=..., delay=n3=50ms, link=n1-n2=40ms, loss=0.05, pause=n2, resume=n2, kill=n2|all, crash=n2|all, stop=n2|all, restart=n2|all, promote=n2, random or random=SEED; e.g. --fault 5s:partition=n1,n2|n3 --fault 10s:heal, --fault 2s:kill=n2 --fault 4s:restart=n2", func(v string) error {
			ev, err := harness.ParseFault(v)
			if err != nil {
				return err
			}
			o.Faults = append(o.Faults, ev)
			return nil
		}},
	})
}

// flagDef is one flag of the table: its name, help, and how its value goes into the
// overrides.
type flagDef struct {
	name, help string
	set        func(string) error
}

func defineAll(fs *flag.FlagSet, defs []flagDef) []string {
	names := make([]string, len(defs))
	for i, d := range defs {
		fs.Func(d.name, d.help, d.set)
		names[i] = d.name
	}
	return names
}

// durationInto parses a non-negative duration into *dst.
func durationInto(dst **time.Duration) func(string) error {
	return func(v string) error {
		d, err := harness.ParseDuration(v)
		if err != nil {
			return err
		}
		*dst = &d
		return nil
	}
}

// setDuration writes key=d into *m, allocating the map on first use.
func setDuration(m *map[string]time.Duration, key string, d time.Duration) {
	if *m == nil {
		*m = map[string]time.Duration{}
	}
	(*m)[key] = d
}

// setKV writes a NAME=VALUE flag value into *m, allocating the map on first use.
func setKV(m *map[string]string, v, form string) error {
	k, val, ok := strings.Cut(v, "=")
	if k = strings.TrimSpace(k); !ok || k == "" {
		return fmt.Errorf("%q: expected %s", v, form)
	}
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[k] = val
	return nil
}

// parseFlags parses args with fs, allowing positional arguments before, between or after
// the flags, and returns the positional ones. A bad value is reported as "--NAME: what is
// wrong (accepted: ...)", one line.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, flagError(err)
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// flagValueError matches the flag package's report of a value its Func refused.
var flagValueError = regexp.MustCompile(`^invalid value ".*" for flag -([\w-]+): (.*)$`)

// flagError rewrites the flag package's `invalid value "x" for flag -name: why` as
// `--name: why`, the form every other input error of the command line has.
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if m := flagValueError.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("--%s: %s", m[1], m[2])
	}
	return err
}

// visited returns the names of the flags given on the command line.
func visited(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return set
}

// addBusFlags defines the message-bus flags every command that starts a cluster takes:
// --bus, --nats-url and the credentials and TLS files of an external NATS. Secrets are
// better given by environment (REPLBENCH_NATS_PASSWORD, REPLBENCH_NATS_TOKEN, read by
// orEnv), where ps does not show them; they are never printed or written either way.
func addBusFlags(fs *flag.FlagSet, b *harness.BusConfig) {
	b.Kind = "nats"
	fs.StringVar(&b.Kind, "bus", "nats", "message bus: nats (embedded, or external with --nats-url) or memory")
	fs.StringVar(&b.URL, "nats-url", "", "URL of an external NATS cluster, comma-separated (default: an embedded server)")
	fs.StringVar(&b.Auth.User, "nats-user", "", "user name for the external NATS (with --nats-password)")
	fs.StringVar(&b.Auth.Password, "nats-password", "", "password for the external NATS (or $REPLBENCH_NATS_PASSWORD)")
	fs.StringVar(&b.Auth.Token, "nats-token", "", "token for the external NATS (or $REPLBENCH_NATS_TOKEN)")
	fs.StringVar(&b.Auth.NKeySeedFile, "nats-nkey", "", "nkey seed file for the external NATS")
	fs.StringVar(&b.Auth.CredsFile, "nats-creds", "", "credentials (JWT) file for the external NATS")
	fs.StringVar(&b.Auth.TLSCAFile, "nats-tls-ca", "", "CA file to verify the external NATS over TLS")
	fs.StringVar(&b.Auth.TLSCertFile, "nats-tls-cert", "", "client certificate for TLS (with --nats-tls-key)")
	fs.StringVar(&b.Auth.TLSKeyFile, "nats-tls-key", "", "client key for TLS (with --nats-tls-cert)")
}

// checkBus completes the bus flags from the environment and checks them before anything
// runs: the kind, the credentials, and (for an external NATS) one real connection.
func checkBus(b *harness.BusConfig) error {
	b.Auth.Password = orEnv(b.Auth.Password, "REPLBENCH_NATS_PASSWORD")
	b.Auth.Token = orEnv(b.Auth.Token, "REPLBENCH_NATS_TOKEN")
	if err := b.Validate(); err != nil {
		return fmt.Errorf("--bus: %v", err)
	}
	if b.URL != "" {
		if err := transport.CheckNATS(transport.NATSOptions{URL: b.URL, Auth: b.Auth}); err != nil {
			return fmt.Errorf("--nats-url: %v", err)
		}
	}
	return nil
}

// orEnv is v, or the environment variable name when v is empty.
func orEnv(v, name string) string {
	if v == "" {
		return os.Getenv(name)
	}
	return v
}

// addTargetFlags defines --target, the real cluster a command runs its points on instead
// of the model (run) or beside it (compare); see applyTarget for what it sets.
func addTargetFlags(fs *flag.FlagSet, path *string) []string {
	return defineAll(fs, []flagDef{
		{"target", "FILE.yaml naming real MySQL-protocol servers n1..nN (scripts/real-cluster.sh writes one), or KIND:USER:PASSWORD@HOST:PORT,HOST:PORT...: run every point on them instead of the model", func(v string) error {
			if strings.TrimSpace(v) == "" {
				return errors.New("empty (accepted: a target file, e.g. /tmp/replbench-real/target.yaml)")
			}
			*path = v
			return nil
		}},
	})
}
