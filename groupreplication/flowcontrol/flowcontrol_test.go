package flowcontrol

import "testing"

// period feeds one round of stats from every member, then steps.
func period(c *Controller, stats map[string]Stats) int64 {
	for _, n := range []string{"n1", "n2", "n3"} {
		if s, ok := stats[n]; ok {
			c.Receive(n, s)
		}
	}
	return c.Step()
}

// TestQuotaLoop follows §6 of the spec step by step: a lagging applier (queue over 25000)
// caps writers at the lagger's pace less hold_percent, split between writing members;
// once the queue drains, the quota grows by release_percent per period and is then lifted.
func TestQuotaLoop(t *testing.T) {
	c := New(DefaultConfig())
	cum := map[string]*Stats{"n1": {}, "n2": {}, "n3": {}}
	round := func(local1, local2, applied3, queue3 int64) int64 {
		out := map[string]Stats{}
		for n, s := range cum {
			s.Certified += local1 + local2
			switch n {
			case "n1":
				s.Local += local1
				s.Applied += local2
			case "n2":
				s.Local += local2
				s.Applied += local1
			case "n3":
				s.Applied += applied3
				s.ApplyQueue = queue3
			}
			out[n] = *s
		}
		return period(c, out)
	}
	// "On receiving a message, holds++ if queue_cert > cert_threshold || queue_apply > apply_threshold."
	if q := round(10000, 0, 10000, 0); q != 0 {
		t.Fatalf("no lag: quota must stay off, got %d", q)
	}
	if q := round(10000, 0, 10000, 0); q != 0 {
		t.Fatalf("no lag: quota must stay off, got %d", q)
	}
	// n3 applies 4000/period with 30000 queued: cap = min Δapplied of laggers = 4000; one
	// writer; less hold_percent 10 → 3600.
	if q := round(10000, 0, 4000, 30000); q != 3600 {
		t.Fatalf("one writer: want 3600, got %d", q)
	}
	// "q = writers>1 ? q/writers": two members wrote in the last period (safe = n3's 4000).
	if q := round(5000, 5000, 4000, 30000); q != 1800 {
		t.Fatalf("two writers: want 1800, got %d", q)
	}
	// Over-use in the previous period is subtracted: n1's writers used 2000 of 1800.
	for range 2000 {
		c.Admit()
	}
	if q := round(5000, 5000, 4000, 30000); q != 1800-200 {
		t.Fatalf("extra: want 1600, got %d", q)
	}
	// Released: "q*(1+release%/100)".
	if q := round(2000, 0, 6000, 0); q != 2400 {
		t.Fatalf("release: want 2400, got %d", q)
	}
	if q := round(2000, 0, 6000, 0); q != 3600 {
		t.Fatalf("release: want 3600, got %d", q)
	}
}

func TestAdmit(t *testing.T) {
	c := New(DefaultConfig())
	c.quota = 2
	if !c.Admit() || !c.Admit() || c.Admit() {
		t.Fatal("quota 2 admits exactly two per period")
	}
	c.Step()
	c.quota = 0
	for range 100 {
		if !c.Admit() {
			t.Fatal("quota 0 is unthrottled")
		}
	}
}

func TestDisabled(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Mode = Disabled
	c := New(cfg)
	c.Receive("n3", Stats{ApplyQueue: 1 << 30})
	if q := c.Step(); q != 0 {
		t.Fatalf("DISABLED never throttles, got %d", q)
	}
}

func TestPurge(t *testing.T) {
	c := New(DefaultConfig())
	c.Receive("n3", Stats{})
	for range 11 {
		c.Step()
	}
	if c.Members() != 0 {
		t.Fatal("a member silent for 10 steps must be purged")
	}
}

// NextQuota is the rule the bounds evaluate for a steady state without running a
// controller: one member applying 4000 a period with 30000 queued, two writers, the
// defaults: 4000 less hold_percent 10, split in two.
func TestNextQuotaSteadyState(t *testing.T) {
	c := DefaultConfig()
	members := []Period{
		{Certified: 10000, Applied: 5000, Local: 5000},
		{Certified: 10000, Applied: 5000, Local: 5000},
		{Certified: 10000, Applied: 4000, ApplyQueue: 30000},
	}
	if !c.Lagging(0, 30000) || c.Lagging(25000, 25000) {
		t.Fatal("Lagging: a queue past the threshold, not at it")
	}
	if q := c.NextQuota(0, 0, true, members); q != 1800 {
		t.Fatalf("two writers behind a 4000/period laggard: quota %d, want 1800", q)
	}
	if q := c.NextQuota(1800, 0, false, members); q != 2700 {
		t.Fatalf("released: quota %d, want 1800 + 50%%", q)
	}
	c.Mode = Disabled
	if q := c.NextQuota(0, 0, true, members); q != 0 {
		t.Fatalf("DISABLED: quota %d, want none", q)
	}
}
