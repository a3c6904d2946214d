package groupreplication

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
)

// §4: "SP secondaries run with super_read_only=ON": a write on n2 fails with 1290 and is
// counted as read_only; the primary's writes reach n2.
func TestSinglePrimary_SecondaryRefusesWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := start(t, 3, transport.NewMemBus(), lan(t, 3), true, nil, nil)
		defer c.close()
		ctx := context.Background()
		err := c.insert(ctx, 1, 1)
		var pe *protocols.Error
		if !errors.As(err, &pe) || pe.Code != protocols.ErOptionPreventsStatement {
			t.Fatalf("write on n2: got %v, want ERROR 1290", err)
		}
		if protocols.Classify(err) != protocols.CauseReadOnly {
			t.Fatalf("cause %v, want read_only", protocols.Classify(err))
		}
		if err := c.insert(ctx, 0, 1); err != nil {
			t.Fatal(err)
		}
		if !c.quiesce(ctx) {
			t.Fatal("not converged")
		}
		if got := c.status(1, "MEMBER_ROLE"); got != "SECONDARY" {
			t.Fatalf("n2 role %s", got)
		}
		if c.status(1, "group_replication_primary_member") != memberUUID("n1") {
			t.Fatal("primary must be n1")
		}
	})
}

// hotspot has every member increment the same few rows from several clients, the way
// Callaghan's hotspot workload does, and returns the errors by cause.
func hotspot(t *testing.T, c *cluster, clients, txns, rows int) map[protocols.Cause]int {
	ctx := context.Background()
	for r := range rows {
		if err := c.insert(ctx, 0, int64(r)); err != nil {
			t.Fatal(err)
		}
	}
	c.quiesce(ctx)
	var mu sync.Mutex
	causes := map[protocols.Cause]int{}
	var wg sync.WaitGroup
	for m := range c.provs {
		for k := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range txns {
					err := c.increment(ctx, m, int64((i+k)%rows))
					if err != nil {
						mu.Lock()
						causes[protocols.Classify(err)]++
						mu.Unlock()
					}
				}
			}()
		}
	}
	wg.Wait()
	return causes
}

// Multi-primary hotspot from all members: concurrent writes to one row are decided by the
// agreed order; losers get 3101 (counted as certification), and the members converge.
func TestMultiPrimary_HotspotConflictsAndConverges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := start(t, 3, transport.NewMemBus(), lan(t, 3), true, map[string]string{pSinglePrimary: "OFF"}, nil)
		defer c.close()
		causes := hotspot(t, c, 4, 30, 2)
		t.Logf("errors by cause: %v", causes)
		if causes[protocols.CauseCertification] == 0 {
			t.Fatal("a hotspot from three members must lose some certifications")
		}
		for cause := range causes {
			if cause != protocols.CauseCertification && cause != protocols.CauseBFAbort && cause != protocols.CauseDeadlock {
				t.Fatalf("unexpected error cause %s: %v", cause, causes)
			}
		}
		if !c.quiesce(context.Background()) {
			t.Fatal("members did not converge")
		}
		conflicts, _ := strconv.Atoi(c.status(0, "COUNT_CONFLICTS_DETECTED"))
		if conflicts != causes[protocols.CauseCertification] {
			t.Fatalf("COUNT_CONFLICTS_DETECTED %d, clients saw %d certification failures", conflicts, causes[protocols.CauseCertification])
		}
		for i := range c.provs {
			if c.status(i, "COUNT_CONFLICTS_DETECTED") != c.status(0, "COUNT_CONFLICTS_DETECTED") {
				t.Fatal("members disagree on the conflict count")
			}
		}
	})
}

// The certifier's invariant across a real cluster: under random delays and seeds, every
// member reaches the same verdict, GTID and dependency for every transaction.
func TestSameVerdictsOnEveryMemberUnderRandomDelays(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		synctest.Test(t, func(t *testing.T) {
			nw := lan(t, 3)
			nw.Jitter = transport.Jitter{Dist: transport.Uniform, Amount: time.Duration(seed) * time.Millisecond}
			nw.SetLinkBoth("n2", "n3", time.Duration(seed)*3*time.Millisecond)
			c := &cluster{t: t}
			c = start(t, 3, transport.NewMemBus(), nw, true, map[string]string{pSinglePrimary: "OFF",
				pBlockSize: strconv.Itoa(int(seed * 3))}, nil)
			defer c.close()
			causes := hotspot(t, c, 2, 20, 3)
			if !c.quiesce(context.Background()) {
				t.Fatal("members did not converge")
			}
			d := c.provs[0].verdictDigest()
			for i, p := range c.provs {
				if p.verdictDigest() != d {
					t.Fatalf("seed %d: member %d's verdicts differ from n1's", seed, i+1)
				}
				if c.status(i, "gtid_executed") != c.status(0, "gtid_executed") {
					t.Fatalf("seed %d: gtid_executed differs: %s vs %s", seed, c.status(i, "gtid_executed"), c.status(0, "gtid_executed"))
				}
			}
			t.Logf("seed %d: conflicts %v, gtid_executed %s", seed, causes, c.status(0, "gtid_executed"))
		})
	}
}

// Multi-primary sets auto_increment_increment 7 and offset server_id on every member.
func TestMultiPrimary_AutoIncrement(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := start(t, 3, transport.NewMemBus(), lan(t, 3), true, map[string]string{pSinglePrimary: "OFF"}, nil)
		defer c.close()
		for i, db := range c.dbs {
			inc, off := db.AutoIncrement()
			if inc != 7 || off != i+1 {
				t.Fatalf("%s: increment %d offset %d, want 7 and %d", c.nodes[i], inc, off, i+1)
			}
		}
	})
	synctest.Test(t, func(t *testing.T) {
		c := start(t, 3, transport.NewMemBus(), lan(t, 3), true, nil, nil)
		defer c.close()
		if inc, off := c.dbs[1].AutoIncrement(); inc != 1 || off != 1 {
			t.Fatalf("single-primary must leave auto-increment alone, got %d/%d", inc, off)
		}
	})
}
