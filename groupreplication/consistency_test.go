package groupreplication

import (
	"testing"
	"time"
)

// §4, consistency table: "BEFORE ... X + D": the transaction first orders a sync message
// and waits for the local applier, then commits as usual. On an idle primary with n3
// slow, that is two LAN ordering rounds to the majority.
func TestConsistency_BeforeCostsOneMoreOrderingRound(t *testing.T) {
	nw := slowLinks(lan(t, 3), 3, D, "n3")
	eventual := commitCost(t, 3, 0, nw, nil)
	beforeCost := commitCost(t, 3, 0, nw, map[string]string{pConsistency: "BEFORE"})
	t.Logf("EVENTUAL %v, BEFORE %v", eventual, beforeCost)
	if beforeCost != 2*eventual {
		t.Fatalf("BEFORE costs %v, want two ordering rounds = %v", beforeCost, 2*eventual)
	}
}

// "AFTER ... every ONLINE member, after applier prepare, broadcasts
// Transaction_prepared_message; the origin and all members commit only when all have
// prepared": the slow member's receive and its prepared message through the group make a
// commit cost the round trip to the slowest member, where EVENTUAL ignored it.
func TestConsistency_AfterWaitsForTheSlowestMember(t *testing.T) {
	nw := slowLinks(lan(t, 3), 3, D, "n3")
	afterCost := commitCost(t, 3, 0, nw, map[string]string{pConsistency: "AFTER"})
	t.Logf("AFTER with D=%v on n3's links: %v", D, afterCost)
	if afterCost < 2*D || afterCost > 2*D+time.Millisecond {
		t.Fatalf("AFTER costs %v, want about the 2D round trip to n3", afterCost)
	}
	both := commitCost(t, 3, 0, nw, map[string]string{pConsistency: "BEFORE_AND_AFTER"})
	t.Logf("BEFORE_AND_AFTER: %v", both)
	if both != afterCost+nw.RTT("n1", "n2") {
		t.Fatalf("BEFORE_AND_AFTER costs %v, want AFTER + one LAN ordering round = %v", both, afterCost+nw.RTT("n1", "n2"))
	}
}

// BEFORE_ON_PRIMARY_FAILOVER costs nothing in steady state.
func TestConsistency_BeforeOnPrimaryFailoverIsFreeInSteadyState(t *testing.T) {
	nw := slowLinks(lan(t, 3), 3, D, "n3")
	cost := commitCost(t, 3, 0, nw, map[string]string{pConsistency: "BEFORE_ON_PRIMARY_FAILOVER"})
	if cost != nw.RTT("n1", "n2") {
		t.Fatalf("cost %v, want the EVENTUAL cost %v", cost, nw.RTT("n1", "n2"))
	}
}
