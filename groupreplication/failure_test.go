package groupreplication

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/storage"
)

// waitUntil polls cond every 10 ms of virtual time and returns how long it took, failing
// the test after limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	t0 := time.Now()
	for !cond() {
		if time.Since(t0) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(t0)
}

// stateOf returns how member i sees member j in replication_group_members ("" if absent).
func (c *cluster) stateOf(i, j int) string {
	for _, r := range c.provs[i].Members() {
		if r.Host == c.nodes[j] {
			return r.State
		}
	}
	return ""
}

func (c *cluster) roleOf(i, j int) string {
	for _, r := range c.provs[i].Members() {
		if r.Host == c.nodes[j] {
			return r.Role
		}
	}
	return ""
}

func errCode(err error) int {
	var pe *protocols.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return 0
}

// §3.1 timeline, 3 members, n3 cut off: UNREACHABLE after 5 s, expelled after another
// member_expel_timeout (5 s); the majority keeps committing at the n1-n2 round trip; with
// unreachable_majority_timeout=10 n3 gives up 10 s after losing the majority: ERROR,
// super_read_only (1290). Its first auto-rejoin attempt, at once, fails (still cut off);
// the second, 300 s later, finds the group again: RECOVERING, it applies what it missed
// from the log, ONLINE, and every member holds the same data.
func TestFailure_MinorityMemberExpelledGivesUpAndRejoins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := start(t, 3, transport.NewMemBus(), lan(t, 3), true, map[string]string{pUnreachableMaj: "10"}, nil)
		defer c.close()
		ctx := context.Background()
		for i := range 5 {
			if err := c.insert(ctx, 0, int64(i)); err != nil {
				t.Fatal(err)
			}
		}
		t0 := time.Now()
		c.em.Partition([]string{"n1", "n2"}, []string{"n3"})
		suspected := waitUntil(t, 20*time.Second, "n3 UNREACHABLE on n1", func() bool { return c.stateOf(0, 2) == "UNREACHABLE" })
		gone := waitUntil(t, 20*time.Second, "n3 expelled from n1's view", func() bool { return c.stateOf(0, 2) == "" }) + suspected
		t.Logf("n3 UNREACHABLE on n1 after %v, expelled after %v", suspected, gone)
		if suspected < 5*time.Second || suspected > 5200*time.Millisecond {
			t.Fatalf("suspicion after %v, want 5 s (+ up to one tick)", suspected)
		}
		if gone < 10*time.Second || gone > 10300*time.Millisecond {
			t.Fatalf("expulsion after %v, want 5 s + member_expel_timeout 5 s (+ ticks and one ordering round)", gone)
		}
		if c.stateOf(1, 2) != "" {
			t.Fatalf("n2 still shows n3 as %q", c.stateOf(1, 2))
		}
		// The majority carries on at the cost of its own round trip.
		t1 := time.Now()
		for i := 100; i < 110; i++ {
			if err := c.insert(ctx, 0, int64(i)); err != nil {
				t.Fatal(err)
			}
		}
		cost := time.Since(t1) / 10
		if rtt := lan(t, 3).RTT("n1", "n2"); cost != rtt {
			t.Fatalf("commit on n1 without n3 costs %v, want the n1-n2 round trip %v", cost, rtt)
		}
		// n3 gives up 10 s after it lost the majority (at 5 s): ERROR and super_read_only.
		waitUntil(t, 20*time.Second, "n3 in ERROR", func() bool { return c.status(2, "MEMBER_STATE") == "ERROR" })
		erred := time.Since(t0)
		t.Logf("n3 in ERROR after %v; commit on n1 meanwhile %v", erred, cost)
		if erred < 15*time.Second || erred > 15200*time.Millisecond {
			t.Fatalf("n3 went to ERROR after %v, want 5 s + unreachable_majority_timeout 10 s", erred)
		}
		if rows := c.provs[2].Members(); len(rows) != 1 || rows[0].State != "ERROR" {
			t.Fatalf("n3's replication_group_members: %+v, want only itself in ERROR", rows)
		}
		if err := c.insert(ctx, 2, 1000); errCode(err) != protocols.ErOptionPreventsStatement {
			t.Fatalf("write on n3 in ERROR: %v, want 1290", err)
		}
		if got := c.status(2, "super_read_only"); got != "ON" {
			t.Fatalf("n3 super_read_only %s", got)
		}
		time.Sleep(30*time.Second - time.Since(t0))
		c.em.Heal()
		back := waitUntil(t, 10*time.Minute, "n3 ONLINE again", func() bool { return c.status(2, "MEMBER_STATE") == "ONLINE" }) + 30*time.Second
		t.Logf("healed at 30 s; n3 ONLINE again at %v", back)
		// The first attempt starts at 15 s and gives up at 20 s when no majority answers
		// within the detector's 5 s; the second starts 300 s later.
		if back < 320*time.Second || back > 321*time.Second {
			t.Fatalf("n3 back at %v, want the second attempt at 320 s", back)
		}
		if got := c.status(2, "gr_model_autorejoin_attempts"); got != "2" {
			t.Fatalf("auto-rejoin attempts %s, want 2", got)
		}
		if c.stateOf(0, 2) != "ONLINE" || c.roleOf(0, 2) != "SECONDARY" {
			t.Fatalf("n1 sees n3 as %s/%s", c.stateOf(0, 2), c.roleOf(0, 2))
		}
		if err := c.insert(ctx, 0, 2000); err != nil {
			t.Fatal(err)
		}
		if !c.quiesce(ctx) {
			t.Fatal("checksums differ after the rejoin")
		}
	})
}

// The defaults (unreachable_majority_timeout 0): cut off, n3 keeps its own view (itself
// ONLINE, n1 and n2 UNREACHABLE) and waits; a write there is refused as on any secondary.
// After the heal it learns from the log that it was expelled, goes to ERROR, and its
// first auto-rejoin attempt (at once) brings it back through RECOVERING.
func TestFailure_MinorityWaitsThenLearnsItWasExpelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := start(t, 3, transport.NewMemBus(), lan(t, 3), true, nil, nil)
		defer c.close()
		ctx := context.Background()
		c.em.Partition([]string{"n1", "n2"}, []string{"n3"})
		for i := range 20 {
			if err := c.insert(ctx, 0, int64(i)); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(30 * time.Second)
		if c.status(2, "MEMBER_STATE") != "ONLINE" || c.stateOf(2, 0) != "UNREACHABLE" || c.stateOf(2, 1) != "UNREACHABLE" {
			t.Fatalf("n3 after 30 s alone: %s", c.status(2, "replication_group_members"))
		}
		if c.stateOf(0, 2) != "" {
			t.Fatal("n1 must have expelled n3")
		}
		if err := c.insert(ctx, 2, 500); errCode(err) != protocols.ErOptionPreventsStatement {
			t.Fatalf("write on n3: %v, want 1290", err)
		}
		t.Logf("n3 alone: %s; n1: %s", c.status(2, "replication_group_members"), c.status(0, "replication_group_members"))
		c.em.Heal()
		sawRecovering := false
		back := waitUntil(t, time.Minute, "n3 ONLINE", func() bool {
			sawRecovering = sawRecovering || c.status(2, "MEMBER_STATE") == "RECOVERING" || c.status(2, "MEMBER_STATE") == "ERROR"
			return sawRecovering && c.status(2, "MEMBER_STATE") == "ONLINE" && c.stateOf(0, 2) == "ONLINE"
		})
		t.Logf("n3 ONLINE %v after the heal, %s auto-rejoin attempt(s)", back, c.status(2, "gr_model_autorejoin_attempts"))
		if got := c.status(2, "gr_model_autorejoin_attempts"); got != "1" {
			t.Fatalf("auto-rejoin attempts %s, want 1", got)
		}
		if back > time.Second {
			t.Fatalf("rejoin took %v, want the immediate first attempt", back)
		}
		if !c.quiesce(ctx) {
			t.Fatal("checksums differ after the rejoin")
		}
	})
}

// §4: the primary is cut off. The majority expels it after 10 s and elects a new primary
// from the view: the lowest server_uuid among n2 and n3 with equal weights, or the one
// with the higher member_weight. The old primary's pending commit never returns while it
// is cut off; after the heal it learns it was expelled, rejoins as a SECONDARY and refuses
// writes with 1290.
func TestFailure_PrimaryCutOffNewPrimaryElected(t *testing.T) {
	lowest := 1
	if memberUUID("n3") < memberUUID("n2") {
		lowest = 2
	}
	for _, tc := range []struct {
		name    string
		perNode map[string]map[string]string
		want    int
	}{
		{"equal weights: lowest server_uuid", nil, lowest},
		{"n3 weight 80, n2 weight 60", map[string]map[string]string{"n3": {pMemberWeight: "80"}, "n2": {pMemberWeight: "60"}}, 2},
		{"n2 weight 80", map[string]map[string]string{"n2": {pMemberWeight: "80"}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := start(t, 3, transport.NewMemBus(), lan(t, 3), true, nil, tc.perNode)
				defer c.close()
				ctx := context.Background()
				for i := range 5 {
					if err := c.insert(ctx, 0, int64(i)); err != nil {
						t.Fatal(err)
					}
				}
				t0 := time.Now()
				c.em.Partition([]string{"n1"}, []string{"n2", "n3"})
				pending := make(chan error, 1)
				go func() { pending <- c.insert(ctx, 0, 50) }()
				var took time.Duration
				waitUntil(t, 30*time.Second, "a write on the new primary", func() bool {
					if c.insert(ctx, tc.want, 60) == nil {
						took = time.Since(t0)
						return true
					}
					return false
				})
				other := 3 - tc.want
				t.Logf("new primary %s accepted its first write %v after the cut; n2 sees %s", c.nodes[tc.want], took, c.status(1, "replication_group_members"))
				if took < 10*time.Second || took > 10500*time.Millisecond {
					t.Fatalf("new primary writable after %v, want 5 s detection + 5 s expel timeout + a few rounds", took)
				}
				if c.roleOf(other, tc.want) != "PRIMARY" || c.status(other, "group_replication_primary_member") != memberUUID(c.nodes[tc.want]) {
					t.Fatalf("%s does not see %s as primary: %s", c.nodes[other], c.nodes[tc.want], c.status(other, "replication_group_members"))
				}
				if err := c.insert(ctx, other, 61); errCode(err) != protocols.ErOptionPreventsStatement {
					t.Fatalf("write on the other secondary: %v, want 1290", err)
				}
				moved := waitUntil(t, 2*time.Second, "raft leadership moved to the primary", func() bool {
					return c.status(tc.want, "gr_model_raft_leader") == c.nodes[tc.want]
				})
				t.Logf("raft leader on the new primary %v later", moved)
				select {
				case err := <-pending:
					t.Fatalf("the cut-off primary's commit returned (%v); it must hang without a majority", err)
				default:
				}
				if c.status(0, "MEMBER_ROLE") != "PRIMARY" {
					t.Fatalf("n1 alone must still believe it is primary: %s", c.status(0, "replication_group_members"))
				}
				c.em.Heal()
				err := <-pending
				t.Logf("n1's pending commit after the heal: %v", err)
				if err == nil || protocols.Classify(err) != protocols.CauseNotReady {
					t.Fatalf("n1's pending commit: %v, want rolled back when n1 learns it was expelled", err)
				}
				waitUntil(t, time.Minute, "n1 ONLINE as a secondary", func() bool {
					return c.status(0, "MEMBER_STATE") == "ONLINE" && c.status(0, "MEMBER_ROLE") == "SECONDARY"
				})
				if err := c.insert(ctx, 0, 70); errCode(err) != protocols.ErOptionPreventsStatement {
					t.Fatalf("write on the old primary: %v, want 1290", err)
				}
				if err := c.insert(ctx, tc.want, 71); err != nil {
					t.Fatal(err)
				}
				if !c.quiesce(ctx) {
					t.Fatal("checksums differ")
				}
			})
		})
	}
}

// §4 "the new primary drains its current applier backlog" and BEFORE_ON_PRIMARY_FAILOVER
// "hold_transactions on a newly elected primary until its backlog is applied": n2's
// applier takes 1 s per transaction, so when n1 is cut off n2 still has a backlog.
// With EVENTUAL a write there is refused (1290, super_read_only stays on) until the
// backlog is applied; with BEFORE_ON_PRIMARY_FAILOVER it waits instead and then sees
// every row the old primary committed.
func TestFailure_NewPrimaryHoldsUntilBacklogApplied(t *testing.T) {
	for _, level := range []string{"EVENTUAL", "BEFORE_ON_PRIMARY_FAILOVER"} {
		t.Run(level, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				perNode := map[string]map[string]string{"n2": {pMemberWeight: "90"}}
				c := start(t, 3, transport.NewMemBus(), lan(t, 3), true, map[string]string{pConsistency: level, pWorkers: "1"}, perNode,
					func(node string, o *storage.Options) {
						if node == "n2" {
							o.ApplyDelay = time.Second
						}
					})
				defer c.close()
				ctx := context.Background()
				const rows = 16
				for i := range rows {
					if err := c.insert(ctx, 0, int64(i)); err != nil {
						t.Fatal(err)
					}
				}
				t0 := time.Now()
				c.em.Partition([]string{"n1"}, []string{"n2", "n3"})
				// The election happens at about 10 s; n2 has applied about 10 of 16.
				waitUntil(t, 20*time.Second, "n2 elected", func() bool { return c.status(1, "MEMBER_ROLE") == "PRIMARY" })
				elected := time.Since(t0)
				applied := c.status(1, "COUNT_TRANSACTIONS_REMOTE_APPLIED")
				var refused int
				var took time.Duration
				for {
					err := c.insert(ctx, 1, 100)
					if err == nil {
						took = time.Since(t0)
						break
					}
					if errCode(err) != protocols.ErOptionPreventsStatement {
						t.Fatal(err)
					}
					refused++
					time.Sleep(100 * time.Millisecond)
				}
				t.Logf("%s: n2 elected at %v with %s of %d applied; first write committed at %v after %d refusals (1290)", level, elected, applied, rows, took, refused)
				if got := c.status(1, "COUNT_TRANSACTIONS_REMOTE_APPLIED"); got != "16" || took < elected+5*time.Second {
					t.Fatalf("the new primary wrote at %v (elected %v) with %s of %d applied: it must hold until its backlog is applied", took, elected, got, rows)
				}
				if (level == "EVENTUAL") != (refused > 0) {
					t.Fatalf("%s: %d refusals; EVENTUAL refuses during the change, BEFORE_ON_PRIMARY_FAILOVER holds", level, refused)
				}
				tx := c.dbs[1].Begin()
				n := 0
				if err := tx.Scan(ctx, "t", storage.ScanOptions{}, func(storage.Row) bool { n++; return true }); err != nil {
					t.Fatal(err)
				}
				tx.Rollback()
				if n != rows+1 {
					t.Fatalf("n2 holds %d rows, want %d", n, rows+1)
				}
			})
		})
	}
}

// §3.1 "A minority partition blocks: commits hang": five members split so that nobody
// has a majority ({n1,n2} and n3, n4, n5 each alone). The primary's commit does not return
// and nobody is expelled (an expulsion needs a majority too); after the heal the commit
// returns and all five are ONLINE with equal data.
func TestFailure_FiveMembersLosingThreeBlockUntilHeal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := start(t, 5, transport.NewMemBus(), lan(t, 5), true, nil, nil)
		defer c.close()
		ctx := context.Background()
		if err := c.insert(ctx, 0, 1); err != nil {
			t.Fatal(err)
		}
		c.em.Partition([]string{"n1", "n2"}, []string{"n3"}, []string{"n4"}, []string{"n5"})
		done := make(chan error, 1)
		go func() { done <- c.insert(ctx, 0, 2) }()
		time.Sleep(60 * time.Second)
		select {
		case err := <-done:
			t.Fatalf("a commit returned without a majority: %v", err)
		default:
		}
		t.Logf("after 60 s: n1 sees %s", c.status(0, "replication_group_members"))
		for j := 2; j < 5; j++ {
			if c.stateOf(0, j) != "UNREACHABLE" {
				t.Fatalf("n1 sees %s as %q, want UNREACHABLE (not expelled)", c.nodes[j], c.stateOf(0, j))
			}
		}
		if c.status(0, "gr_model_majority_lost") != "ON" {
			t.Fatal("n1 must report the lost majority")
		}
		t0 := time.Now()
		c.em.Heal()
		if err := <-done; err != nil {
			t.Fatalf("the blocked commit after the heal: %v", err)
		}
		t.Logf("the blocked commit returned %v after the heal", time.Since(t0))
		waitUntil(t, time.Minute, "all ONLINE", func() bool {
			for j := range 5 {
				if c.stateOf(0, j) != "ONLINE" {
					return false
				}
			}
			return true
		})
		if err := c.insert(ctx, 0, 3); err != nil {
			t.Fatal(err)
		}
		if !c.quiesce(ctx) {
			t.Fatal("checksums differ")
		}
	})
}

// §3.1 exit action, "taken after auto-rejoin fails or is not attempted": with
// autorejoin_tries=0 and OFFLINE_MODE, n3 gives up after unreachable_majority_timeout and
// refuses reads and writes with 3032; a manual START GROUP_REPLICATION (Rejoin) after the
// heal brings it back ONLINE with the group's data.
func TestFailure_ExitActionOfflineModeAndManualRejoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := start(t, 3, transport.NewMemBus(), lan(t, 3), true, map[string]string{
			pUnreachableMaj: "5", pAutorejoinTries: "0", pExitAction: "OFFLINE_MODE"}, nil)
		defer c.close()
		ctx := context.Background()
		c.em.Partition([]string{"n1", "n2"}, []string{"n3"})
		if err := c.insert(ctx, 0, 1); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 20*time.Second, "n3 in ERROR", func() bool { return c.status(2, "MEMBER_STATE") == "ERROR" })
		time.Sleep(time.Second)
		if err := c.insert(ctx, 2, 2); errCode(err) != 3032 {
			t.Fatalf("write on n3 after the exit action: %v, want 3032", err)
		}
		if err := c.provs[2].BeforeRead(ctx); errCode(err) != 3032 {
			t.Fatalf("read on n3 after the exit action: %v, want 3032", err)
		}
		c.em.Heal()
		time.Sleep(10 * time.Second)
		if c.status(2, "MEMBER_STATE") != "ERROR" {
			t.Fatal("with autorejoin_tries=0, n3 must stay in ERROR until rejoined by hand")
		}
		if err := c.provs[2].Rejoin(ctx); err != nil {
			t.Fatal(err)
		}
		if c.stateOf(0, 2) != "ONLINE" {
			t.Fatalf("n1 sees n3 as %q", c.stateOf(0, 2))
		}
		if !c.quiesce(ctx) {
			t.Fatal("checksums differ after the manual rejoin")
		}
	})
}
