package group

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/replbench/replbench/groupreplication/flowcontrol"
)

// TestInteraction runs the scripts in testdata/: groups of members (agreement + group
// machine + a model applier) over an in-memory network in virtual time (ticks of 100 ms).
// Each script keys its claims, in comment lines, to the sentence of the source material
// it checks (/work/shared/research/gr-semisync.md, the seeds).
//
//	init n=<members> [mode=single|multi] [cache=<bytes>] [threshold=<txns>] [majority-timeout=<s>]
//	link <a>-<b>=<ticks>         one-way delay both ways between a and b (default 1)
//	delay <node>=<ticks>         the same on every link of node
//	propose <node> keys=(k,...)  a client on node commits a transaction writing rows k
//	load <node> clients=<n>      n clients on node each commit transactions on fresh rows,
//	                             one at a time (0: stop)
//	applier <node> rate=<n>      node's applier commits n transactions per tick (0: at once;
//	                             -1: stopped)
//	tick [<n>]                   n ticks of virtual time (default 1)
//	stabilize                    tick until nothing is in flight and no proposal waits
//	drop <a>><b> [type=MsgProp]  drop the frames in flight from a to b (only those holding
//	                             that raft message type, if given)
//	partition <a> <b> | <c> ...  cut every link between the groups; heal joins them again
//	heal
//	status                       every member's state, positions and database digest
func TestInteraction(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var e *env
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "init" && e == nil {
				d.Fatalf(t, "init first")
			}
			if e != nil {
				e.out.Reset()
			}
			switch d.Cmd {
			case "init":
				var err error
				e, err = newEnv(argInt(t, d, "n", 3), initConfig(t, d))
				if err != nil {
					d.Fatalf(t, "%v", err)
				}
				// Bootstrap: n1 campaigns and announces itself primary (single-primary),
				// every member learns the leader (multi-primary).
				for !e.formed() {
					if e.now > 1000 {
						d.Fatalf(t, "no group formed in 1000 ticks:\n%s", e.out.String())
					}
					e.tick()
				}
				var b strings.Builder
				fmt.Fprintf(&b, "ready at t=%d\n", e.now)
				for _, mb := range e.members {
					fmt.Fprintf(&b, "%s: members %s\n", mb.name, mb.rows)
				}
				return b.String()
			case "link":
				for _, a := range d.CmdArgs {
					ends := strings.Split(a.Key, "-")
					ticks, _ := strconv.Atoi(a.SingleVal(t))
					i, j := e.index(t, ends[0]), e.index(t, ends[1])
					e.delay[i][j], e.delay[j][i] = ticks, ticks
				}
				return "ok"
			case "delay":
				for _, a := range d.CmdArgs {
					ticks, _ := strconv.Atoi(a.SingleVal(t))
					i := e.index(t, a.Key)
					for j := range e.members {
						if j != i {
							e.delay[i][j], e.delay[j][i] = ticks, ticks
						}
					}
				}
				return "ok"
			case "propose":
				mb := e.members[e.index(t, d.CmdArgs[0].Key)]
				var keys []string
				d.ScanArgs(t, "keys", &keys)
				id, err := e.propose(mb, "t", keys)
				if err != nil && err != errThrottled {
					fmt.Fprintf(&e.out, "%s: refused: %v\n", mb.name, err)
					return e.out.String()
				}
				fmt.Fprintf(&e.out, "%s: txn %d proposed", mb.name, id)
				if err != nil {
					fmt.Fprintf(&e.out, ", %v", err)
				}
				e.out.WriteString("\n")
				e.process()
				return e.out.String()
			case "load":
				mb := e.members[e.index(t, d.CmdArgs[0].Key)]
				mb.load = argInt(t, d, "clients", 0)
				return "ok"
			case "applier":
				mb := e.members[e.index(t, d.CmdArgs[0].Key)]
				mb.rate = argInt(t, d, "rate", 0)
				return "ok"
			case "tick":
				n := 1
				if len(d.CmdArgs) > 0 {
					n, _ = strconv.Atoi(d.CmdArgs[0].Key)
				}
				for range n {
					e.tick()
				}
				return e.out.String()
			case "stabilize":
				for range 10000 {
					if e.quiet() {
						break
					}
					e.tick()
				}
				return e.out.String()
			case "drop":
				ends := strings.Split(d.CmdArgs[0].Key, ">")
				from, to := e.index(t, ends[0]), e.index(t, ends[1])
				var only string
				if d.HasArg("type") {
					d.ScanArgs(t, "type", &only)
				}
				return fmt.Sprintf("dropped %d frames", e.drop(from, to, only))
			case "partition":
				e.partition(t, d.CmdArgs)
				return "ok"
			case "heal":
				for i := range e.cut {
					clear(e.cut[i])
				}
				return "ok"
			case "status":
				var b strings.Builder
				for _, mb := range e.members {
					b.WriteString(e.status(mb) + "\n")
				}
				return b.String()
			}
			d.Fatalf(t, "unknown command %q", d.Cmd)
			return ""
		})
	})
}

func argInt(t *testing.T, d *datadriven.TestData, key string, def int) int {
	if !d.HasArg(key) {
		return def
	}
	var v int
	d.ScanArgs(t, key, &v)
	return v
}

func initConfig(t *testing.T, d *datadriven.TestData) envConfig {
	c := defaultConfig()
	if d.HasArg("mode") {
		var mode string
		d.ScanArgs(t, "mode", &mode)
		c.SinglePrimary = mode != "multi"
	}
	c.cache = uint64(argInt(t, d, "cache", 0))
	if th := argInt(t, d, "threshold", 0); th > 0 {
		c.FlowControl = flowcontrol.DefaultConfig()
		c.FlowControl.CertifierThreshold, c.FlowControl.ApplierThreshold = int64(th), int64(th)
	}
	c.UnreachableMajorityTimeout = time.Duration(argInt(t, d, "majority-timeout", 0)) * time.Second
	return c
}

func (e *env) index(t *testing.T, name string) int {
	for i, n := range e.names {
		if n == name {
			return i
		}
	}
	t.Fatalf("no member %q (members: %v)", name, e.names)
	return -1
}

// formed reports whether every member has finished Start.
func (e *env) formed() bool {
	for _, mb := range e.members {
		if ok, _ := mb.m.Ready(); !ok {
			return false
		}
	}
	return true
}

// quiet reports whether nothing is in flight but heartbeats and beacons, and no client
// proposal waits.
func (e *env) quiet() bool {
	for _, mb := range e.members {
		if len(mb.sent) > 0 || len(mb.applyQ) > 0 || len(mb.queue) > 0 || mb.rejoin.at >= 0 || mb.rejoin.waiting {
			return false
		}
		if mb.m.State() != Online || mb.last != e.members[0].last {
			return false
		}
	}
	for _, f := range e.flights {
		for _, msg := range f.msgs {
			if msg.Type != raftpb.MsgHeartbeat && msg.Type != raftpb.MsgHeartbeatResp {
				return false
			}
		}
	}
	return true
}

// drop removes the frames in flight from one member to another (with only set, just the
// raft messages of that type) and returns how many frames it touched.
func (e *env) drop(from, to int, only string) int {
	n := 0
	kept := e.flights[:0]
	for _, f := range e.flights {
		if f.from != from || f.to != to {
			kept = append(kept, f)
			continue
		}
		if only == "" {
			n++
			continue
		}
		var rest []raftpb.Message
		for _, msg := range f.msgs {
			if msg.Type.String() != only {
				rest = append(rest, msg)
			}
		}
		if len(rest) != len(f.msgs) {
			n++
		}
		if len(rest) > 0 || f.msgs == nil {
			f.msgs = rest
			kept = append(kept, f)
		}
	}
	e.flights = kept
	return n
}

func (e *env) partition(t *testing.T, args []datadriven.CmdArg) {
	group := make([]int, len(e.members))
	g := 0
	for _, a := range args {
		if a.Key == "|" {
			g++
			continue
		}
		group[e.index(t, a.Key)] = g + 1
	}
	for i := range e.members {
		for j := range e.members {
			e.cut[i][j] = group[i] != group[j]
		}
	}
}
