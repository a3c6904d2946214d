package galeratest

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cockroachdb/datadriven"
)

// Handle runs one datadriven command against the environment (created by the first
// command, cluster) and returns what happened. The commands:
//
//	cluster n=<N> [<param>=<value> ...] [<node>:<param>=<value> ...]
//	delay <node>=<ticks>              every link to and from node
//	delay <a>-><b>=<ticks>            one way;  <a><-><b>=<ticks> both ways
//	propose <node> key=<row>[:S|R|U|X] [key=...] [keys=(...)] [seen=<seqno>] [racing]
//	                                  racing: sent in the batch that installs the next view
//	causal <node>
//	deliver                           what is due now, no time passes
//	tick [<n>]                        let n ticks pass (default 1)
//	stabilize [max=<ticks>]           let time pass until nothing is in flight (default 1000)
//	drop <a>-><b>                     discard what is in flight on the link
//	partition                         one group of members per input line; heal undoes it
//	heal
//	stall <node> | unstall <node>     stop or restart the node's applier
//	apply <node> [<n>]                a stalled applier takes n write-sets (default 1)
//	leave <node>                      a graceful shutdown
//	kill <node>                       no goodbye; what it committed survives
//	restart <node> [seqno=<n>] [recovery=false] [bootstrap] [safe]
//	                                  a killed node rejoins from recovered position n
//	                                  (default: what it had committed), restoring its last
//	                                  primary view unless recovery=false (pc.recovery);
//	                                  bootstrap: pc.bootstrap; safe: safe_to_bootstrap 1
//	status [<node> ...]
//
// Every line of output is "t=<tick> <node>: <what it did>".
func Handle(e **Env, d *datadriven.TestData) (string, error) {
	if d.Cmd == "cluster" {
		env, err := cluster(d)
		if err != nil {
			return "", err
		}
		*e = env
		return env.Output(), nil
	}
	env := *e
	if env == nil {
		return "", fmt.Errorf("%s: start the script with cluster n=<N>", d.Cmd)
	}
	if err := env.handle(d); err != nil {
		return "", err
	}
	return env.Output(), nil
}

func cluster(d *datadriven.TestData) (*Env, error) {
	n := 0
	params := map[string]string{}
	perNode := map[string]map[string]string{}
	for _, a := range d.CmdArgs {
		if a.Key == "n" {
			var err error
			if n, err = strconv.Atoi(val(a)); err != nil || n < 1 {
				return nil, fmt.Errorf("cluster: n=%s is not a positive number of members", val(a))
			}
			continue
		}
		if len(a.Vals) != 1 {
			return nil, fmt.Errorf("cluster: %s needs one value", a.Key)
		}
		if node, name, ok := strings.Cut(a.Key, ":"); ok {
			if perNode[node] == nil {
				perNode[node] = map[string]string{}
			}
			perNode[node][name] = a.Vals[0]
			continue
		}
		params[a.Key] = a.Vals[0]
	}
	if n == 0 {
		return nil, fmt.Errorf("cluster: n=<members> is required")
	}
	return New(n, params, perNode)
}

func (e *Env) handle(d *datadriven.TestData) error {
	node := func(k int) (int, error) {
		if len(d.CmdArgs) <= k {
			return -1, fmt.Errorf("%s: name a member", d.Cmd)
		}
		return e.index(d.CmdArgs[k].Key)
	}
	count := func(def int) (int, error) {
		for _, a := range d.CmdArgs {
			if n, err := strconv.Atoi(a.Key); err == nil && len(a.Vals) == 0 {
				return n, nil
			}
		}
		return def, nil
	}
	switch d.Cmd {
	case "delay":
		for _, a := range d.CmdArgs {
			t, err := strconv.ParseInt(val(a), 10, 64)
			if err != nil || t < 0 {
				return fmt.Errorf("delay %s: %q is not a number of ticks", a.Key, val(a))
			}
			links, err := e.links(a.Key)
			if err != nil {
				return err
			}
			for _, l := range links {
				e.SetDelay(l[0], l[1], t)
			}
		}
	case "propose":
		i, err := node(0)
		if err != nil {
			return err
		}
		var keys []string
		seen := int64(-1)
		racing := false
		for _, a := range d.CmdArgs[1:] {
			switch a.Key {
			case "racing":
				racing = true
			case "key", "keys":
				keys = append(keys, a.Vals...)
			case "seen":
				if seen, err = strconv.ParseInt(val(a), 10, 64); err != nil {
					return fmt.Errorf("propose: seen=%s is not a seqno", val(a))
				}
			default:
				return fmt.Errorf("propose: unknown argument %s (accepted: key, keys, seen, racing)", a.Key)
			}
		}
		if len(keys) == 0 {
			return fmt.Errorf("propose: a write-set needs at least one key=<row>")
		}
		if _, err := e.propose(i, keys, seen, racing); err != nil {
			return err
		}
	case "causal":
		i, err := node(0)
		if err != nil {
			return err
		}
		e.Causal(i)
	case "deliver":
		e.Deliver()
	case "tick":
		n, _ := count(1)
		e.Tick(n)
	case "stabilize":
		limit := 1000
		if a, ok := d.Arg("max"); ok {
			var err error
			if limit, err = strconv.Atoi(val(a)); err != nil {
				return fmt.Errorf("stabilize: max=%s is not a number of ticks", val(a))
			}
		}
		if !e.Stabilize(limit) {
			fmt.Fprintf(&e.out, "t=%d still busy after %d ticks\n", e.Now, limit)
		}
	case "drop":
		for _, a := range d.CmdArgs {
			links, err := e.links(a.Key)
			if err != nil {
				return err
			}
			for _, l := range links {
				fmt.Fprintf(&e.out, "t=%d dropped %d messages %s->%s\n", e.Now, e.Drop(l[0], l[1]), e.members[l[0]].name, e.members[l[1]].name)
			}
		}
	case "partition":
		var groups [][]int
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			var g []int
			for _, name := range strings.Fields(line) {
				i, err := e.index(name)
				if err != nil {
					return err
				}
				g = append(g, i)
			}
			groups = append(groups, g)
		}
		if len(groups) < 2 {
			return fmt.Errorf("partition: give at least two groups, one per input line")
		}
		e.Partition(groups)
	case "heal":
		e.Heal()
	case "stall", "unstall":
		i, err := node(0)
		if err != nil {
			return err
		}
		e.Stall(i, d.Cmd == "stall")
	case "apply":
		i, err := node(0)
		if err != nil {
			return err
		}
		n := 1
		if len(d.CmdArgs) > 1 && len(d.CmdArgs[1].Vals) == 0 {
			if n, err = strconv.Atoi(d.CmdArgs[1].Key); err != nil {
				return fmt.Errorf("apply: %q is not a count", d.CmdArgs[1].Key)
			}
		}
		e.Apply(i, n)
	case "leave":
		i, err := node(0)
		if err != nil {
			return err
		}
		e.Leave(i)
	case "kill":
		i, err := node(0)
		if err != nil {
			return err
		}
		e.Kill(i)
	case "restart":
		i, err := node(0)
		if err != nil {
			return err
		}
		seqno := e.members[i].lastLeft
		opts := RestartOptions{PCRecovery: true}
		for _, a := range d.CmdArgs[1:] {
			switch a.Key {
			case "seqno":
				if seqno, err = strconv.ParseInt(val(a), 10, 64); err != nil {
					return fmt.Errorf("restart: seqno=%s is not a seqno", val(a))
				}
			case "recovery":
				opts.PCRecovery = val(a) != "false"
			case "bootstrap":
				opts.Bootstrap = true
			case "safe":
				opts.SafeToBootstrap = true
			default:
				return fmt.Errorf("restart: unknown argument %s (accepted: seqno, recovery, bootstrap, safe)", a.Key)
			}
		}
		if err := e.Restart(i, seqno, opts); err != nil {
			return err
		}
	case "status":
		var which []int
		for k := range d.CmdArgs {
			i, err := node(k)
			if err != nil {
				return err
			}
			which = append(which, i)
		}
		if len(which) == 0 {
			for i := range e.members {
				which = append(which, i)
			}
		}
		e.out.WriteString(e.Status(which))
	default:
		return fmt.Errorf("unknown command %q (accepted: cluster, delay, propose, causal, deliver, tick, stabilize, drop, partition, heal, stall, unstall, apply, leave, kill, restart, status)", d.Cmd)
	}
	return nil
}

// links reads a link expression: a->b, a<->b, or a node (all its links, both ways).
func (e *Env) links(expr string) ([][2]int, error) {
	pair := func(sep string) ([2]int, bool, error) {
		a, b, ok := strings.Cut(expr, sep)
		if !ok {
			return [2]int{}, false, nil
		}
		i, err := e.index(a)
		if err != nil {
			return [2]int{}, true, err
		}
		j, err := e.index(b)
		return [2]int{i, j}, true, err
	}
	if l, ok, err := pair("<->"); ok {
		return [][2]int{l, {l[1], l[0]}}, err
	}
	if l, ok, err := pair("->"); ok {
		return [][2]int{l}, err
	}
	i, err := e.index(expr)
	if err != nil {
		return nil, err
	}
	var out [][2]int
	for j := range e.members {
		if j != i {
			out = append(out, [2]int{i, j}, [2]int{j, i})
		}
	}
	return out, nil
}

// val is an argument's single value ("" when it has none or several).
func val(a datadriven.CmdArg) string {
	if len(a.Vals) != 1 {
		return ""
	}
	return a.Vals[0]
}
