package law

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/replbench/replbench/groupreplication"
)

// XCom's event horizon as the bound states it (grHorizon), against the Group Replication
// provider itself in virtual time (raft over the emulator, its horizon driver, profile
// none), on the documents' wan-50 (50 ms on the writer n1's egress, so the floor F is one
// round trip to n2). With t threads up to H = min(group_replication_write_concurrency, 10)
// every thread has an instance of its own: the provider reaches the bound t / F exactly
// (to 1 %). Beyond H the horizon leaves the bound at t / F (the instances batch), and what
// it costs is latency: a commit sent while all H instances are in flight waits for the next
// one, less than one more floor, so the provider lies in [t / 2F, t / F]. Raising the
// horizon to 200 changes nothing: the 10 proposers bind, and the derivation says H = 10.
func TestGRHorizonBoundAgainstTheProvider(t *testing.T) {
	ms := time.Millisecond
	for _, wc := range []int{10, 200} {
		for _, threads := range []int{1, 4, 10, 20, 40} {
			t.Run(fmt.Sprintf("write_concurrency=%d/threads=%d", wc, threads), func(t *testing.T) {
				net, members := nw(t, "wan-50", 3)
				all := map[string]string{"group_replication_write_concurrency": strconv.Itoa(wc)}
				nodes := resolved(t, "gr", members, all, nil)
				e, err := Explain(Input{Network: net, Members: members, Protocol: "gr", Nodes: nodes, Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				h := groupreplication.InstancesInFlight(wc)
				if want := fmt.Sprintf("= %d instances in flight", h); !strings.Contains(e.Throughput, want) || h != groupreplication.Proposers {
					t.Fatalf("derivation does not say %q: %s", want, e.Throughput)
				}
				if e.Bound.Limit != "latency" {
					t.Fatalf("limit %s: with batching the horizon must not lower the bound at %d threads: %s", e.Bound.Limit, threads, e.Throughput)
				}
				floor := time.Duration(e.Bound.CommitFloorMs * float64(ms))
				span := 40 * floor
				n := providerRun(t, groupreplication.New, net, members, nodes, threads, 0, 10*floor, span)
				tps := float64(n) / span.Seconds()
				t.Logf("%d commits in %v: %.1f tps = %.3f of the bound %.1f (%s)", n, span, tps, tps/e.Bound.MaxTPS, e.Bound.MaxTPS, e.Bound.Limit)
				if tps > e.Bound.MaxTPS*1.01 {
					t.Fatalf("the provider reached %.1f tps, above the bound %.1f: %s", tps, e.Bound.MaxTPS, e.Throughput)
				}
				if threads <= h && tps < 0.99*e.Bound.MaxTPS {
					t.Fatalf("%d threads <= H = %d: %.1f tps, want the bound %.1f (every commit one floor)", threads, h, tps, e.Bound.MaxTPS)
				}
				if threads > h && tps < e.Bound.MaxTPS/2 {
					t.Fatalf("%d threads > H = %d: %.1f tps, below half the bound %.1f (no commit waits more than one extra floor)", threads, h, tps, e.Bound.MaxTPS)
				}
			})
		}
	}
}
