package sqlexec

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/replbench/replbench/protocols/servicetime"
)

// recordWaiter records the times the service-time model waits for, without waiting.
type recordWaiter struct{ until []time.Time }

func (r *recordWaiter) WaitUntil(_ context.Context, t time.Time) error {
	r.until = append(r.until, t)
	return nil
}

// With a cost profile, a statement through the SQL layer books its CPU on the node's host
// as the profile prices it (kind, rows, prepared or not), then waits its wait holding no
// core, as run's clients are charged; without one nothing is booked.
func TestStatementsAreChargedByTheCostProfile(t *testing.T) {
	srv := benchServer(t, 10)
	p, err := servicetime.Load("mariadb-10.11")
	if err != nil {
		t.Fatal(err)
	}
	w := &recordWaiter{}
	cost := servicetime.NewNode(p, servicetime.NewHost(p.Host.Cores), w)
	now := time.Unix(1000, 0)
	cost.Now = func() time.Time { return now }
	srv.nodes[0].Cost = cost
	s := srv.NewSession(0, "root")
	defer s.Close()
	s.db = "sbtest"
	ctx := context.Background()

	prep, err := s.Prepare("SELECT c FROM sbtest1 WHERE id=?")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Execute(ctx, prep, []Value{int64(3)}); err != nil {
		t.Fatal(err)
	}
	// One wait, until the CPU's booking ends plus the statement's wait.
	booked := func(cpu time.Duration) []time.Duration {
		return []time.Duration{cpu + cost.StatementWait(servicetime.Select)}
	}
	got := func() []time.Duration {
		var out []time.Duration
		for _, u := range w.until {
			out = append(out, u.Sub(now))
		}
		return out
	}
	want := booked(cost.StatementCost(servicetime.Select, 1, 0, true))
	if g := got(); !slices.Equal(g, want) || want[0] <= 0 {
		t.Fatalf("prepared point select booked %v from %v; want %v (its CPU, then its wait)", g, now, want)
	}
	now = now.Add(time.Second) // the host is idle again
	w.until = nil
	if _, err := s.Query(ctx, "SELECT c FROM sbtest1 WHERE id BETWEEN 1 AND 5"); err != nil {
		t.Fatal(err)
	}
	if g, want := got(), booked(cost.StatementCost(servicetime.Select, 5, 0, false)); !slices.Equal(g, want) {
		t.Fatalf("text range select booked %v; want %v", g, want)
	}
	srv.nodes[0].Cost = nil
	w.until = nil
	if _, err := s.Execute(ctx, prep, []Value{int64(3)}); err != nil || len(w.until) != 0 {
		t.Fatalf("without a profile: %v, bookings %v", err, w.until)
	}
}
