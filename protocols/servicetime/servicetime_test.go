package servicetime

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(us int) time.Time { return t0.Add(time.Duration(us) * time.Microsecond) }

func TestHostQueuesOnItsCores(t *testing.T) {
	h := NewHost(2)
	// Three 100 us stages ready at once on two cores: two run together, the third waits.
	ends := []time.Time{h.Reserve(at(0), 100*time.Microsecond), h.Reserve(at(0), 100*time.Microsecond), h.Reserve(at(0), 100*time.Microsecond)}
	want := []time.Time{at(100), at(100), at(200)}
	for i := range ends {
		if !ends[i].Equal(want[i]) {
			t.Errorf("stage %d ends at %v, want %v", i, ends[i].Sub(t0), want[i].Sub(t0))
		}
	}
	// A stage ready after the cores went idle starts when it is ready.
	if e := h.Reserve(at(500), 10*time.Microsecond); !e.Equal(at(510)) {
		t.Errorf("idle host: ends at %v, want 510us", e.Sub(t0))
	}
	if h.Busy() != 310*time.Microsecond {
		t.Errorf("busy %v, want 310us", h.Busy())
	}
	// Unlimited cores never queue.
	u := NewHost(0)
	for range 5 {
		if e := u.Reserve(at(0), time.Millisecond); !e.Equal(at(1000)) {
			t.Fatalf("unlimited host queued: %v", e.Sub(t0))
		}
	}
}

func TestDiskGroupCommit(t *testing.T) {
	d := NewDisk(400 * time.Microsecond)
	// The first request flushes at once; requests during that flush share the next one.
	if e := d.Sync(at(0)); !e.Equal(at(400)) {
		t.Fatalf("first sync ends %v", e.Sub(t0))
	}
	for _, now := range []int{10, 200, 399} {
		if e := d.Sync(at(now)); !e.Equal(at(800)) {
			t.Fatalf("sync at %dus ends %v, want 800us (the next flush)", now, e.Sub(t0))
		}
	}
	// During the second flush, a request joins a third.
	if e := d.Sync(at(500)); !e.Equal(at(1200)) {
		t.Fatalf("sync at 500us ends %v, want 1200us", e.Sub(t0))
	}
	// Long after, the device is idle again.
	if e := d.Sync(at(5000)); !e.Equal(at(5400)) {
		t.Fatalf("idle sync ends %v, want 5400us", e.Sub(t0))
	}
	if f, r := d.Counts(); f != 4 || r != 6 {
		t.Fatalf("flushes %d requests %d, want 4 and 6", f, r)
	}
}

// With c committers each needing one fsync per commit, group commit makes throughput
// grow with c while a single committer pays a whole flush per commit.
func TestGroupCommitScalesInVirtualTime(t *testing.T) {
	for _, c := range []int{1, 4, 16} {
		synctest.Test(t, func(t *testing.T) {
			n := NewNode(&Profile{Name: "t", Commit: CommitCosts{RedoFsyncUs: 500}}, NewHost(0), nil)
			var wg sync.WaitGroup
			const each = 20
			start := time.Now()
			for range c {
				wg.Go(func() {
					for range each {
						_ = n.SyncRedo(context.Background())
					}
				})
			}
			wg.Wait()
			el := time.Since(start)
			flushes, reqs := n.Redo.Counts()
			if reqs != int64(c*each) {
				t.Fatalf("c=%d: %d requests", c, reqs)
			}
			// Committers that ask at the same instant share one flush: every flush carries
			// all c of them, so c committers take as long as one.
			wantFlushes := int64(each)
			if flushes != wantFlushes {
				t.Errorf("c=%d: %d flushes for %d commits, want %d", c, flushes, reqs, wantFlushes)
			}
			if el != time.Duration(wantFlushes)*500*time.Microsecond {
				t.Errorf("c=%d: elapsed %v, want %v", c, el, time.Duration(wantFlushes)*500*time.Microsecond)
			}
		})
	}
}

// A CPU stage takes max(modelled, actual): real work done inside the booking is hidden.
func TestCPUOverlapsRealWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewNode(&Profile{Name: "t", Statement: StatementCosts{InsertUs: 100}}, NewHost(1), nil)
		start := n.Start()
		time.Sleep(30 * time.Microsecond) // the engine's own work
		if err := n.CPU(context.Background(), start, n.StatementCost(Insert, 1, 1, false)); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el != 100*time.Microsecond {
			t.Fatalf("stage took %v, want the modelled 100us", el)
		}
		start = n.Start()
		time.Sleep(300 * time.Microsecond)
		_ = n.CPU(context.Background(), start, 100*time.Microsecond)
		if el := time.Since(start); el != 300*time.Microsecond {
			t.Fatalf("stage took %v, want the actual 300us", el)
		}
	})
}

func TestNilNodeChargesNothing(t *testing.T) {
	var n *Node
	if n != NewNode(&Profile{Name: None}, NewHost(1), nil) {
		t.Fatal("a zero profile should give a nil node")
	}
	if err := n.CPU(context.Background(), n.Start(), time.Second); err != nil {
		t.Fatal(err)
	}
	if n.StatementCost(Insert, 5, 5, true) != 0 || n.MessageCost(true, 1<<20) != 0 || n.SyncRedo(context.Background()) != nil {
		t.Fatal("nil node charged something")
	}
}

func TestStatementAndMessageCosts(t *testing.T) {
	n := NewNode(&Profile{Name: "t",
		Statement:   StatementCosts{SelectUs: 20, RowReadUs: 2, RowWriteUs: 5, UpdateUs: 30, PrepareSaves: 0.25},
		Replication: ReplicationCosts{SendMsgUs: 10, SendKiBUs: 4, RecvMsgUs: 8, CertifyUs: 3, CertifyKeyUs: 1, ApplyTxnUs: 10, ApplyRowUs: 2}},
		NewHost(1), nil)
	for _, c := range []struct {
		got, want time.Duration
		what      string
	}{
		{n.StatementCost(Select, 100, 0, false), Us(20 + 99*2), "range select of 100 rows"},
		{n.StatementCost(Update, 1, 3, true), Us(30*0.75 + 2*5), "prepared update of 3 rows"},
		{n.MessageCost(true, 2048), Us(10 + 2*4), "send 2 KiB"},
		{n.MessageCost(false, 0), Us(8), "receive"},
		{n.CertifyCost(4), Us(3 + 4), "certify 4 keys"},
		{n.ApplyCost(3), Us(10 + 6), "apply 3 rows"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestLoadRefusesBadProfiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct{ arg, want string }{
		{"nosuch", `unknown cost profile "nosuch" (accepted: none`},
		{filepath.Join(dir, "missing.yaml"), "accepted: a readable YAML file"},
		{write("neg.yaml", "statement:\n  select_us: -3\n"), "statement.select_us is -3 (accepted: 0 to"},
		{write("typo.yaml", "statment:\n  select_us: 3\n"), "field statment not found"},
		{write("cores.yaml", "host:\n  cores: -1\n"), "host.cores is -1"},
	} {
		_, err := Load(c.arg)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Load(%s): %v, want one line containing %q", filepath.Base(c.arg), err, c.want)
		}
	}
	p, err := Load(write("ok.yaml", "description: test\nhost:\n  cores: 2\ncommit:\n  redo_fsync_us: 250\n"))
	if err != nil || p.Name != "ok" || p.Host.Cores != 2 || p.Commit.RedoFsyncUs != 250 {
		t.Fatalf("Load(ok.yaml) = %+v, %v", p, err)
	}
	back, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	q, err := Parse("x", back)
	if err != nil || *q != *p {
		t.Fatalf("round trip: %+v %v", q, err)
	}
	if none, err := Load(None); err != nil || !none.IsZero() {
		t.Fatalf("none: %+v %v", none, err)
	}
	for _, b := range Builtins()[1:] {
		if _, err := Load(b); err != nil {
			t.Errorf("built-in %s: %v", b, err)
		}
	}
}

// CommitRedo follows innodb_flush_log_at_trx_commit: at 1 concurrent commits share one
// group-committed fsync (the second and third wait for the next flush, not one each), at 2
// each pays the redo write on the CPU, at 0 nothing.
func TestCommitRedoByFlushSetting(t *testing.T) {
	p := &Profile{Name: "t", Commit: CommitCosts{RedoFsyncUs: 1000, RedoWriteUs: 10}}
	for _, tc := range []struct {
		flush int
		want  time.Duration // when the last of three simultaneous committers returns
	}{{1, 1000 * time.Microsecond}, {2, 10 * time.Microsecond}, {0, 0}} {
		synctest.Test(t, func(t *testing.T) {
			n := NewNode(p, NewHost(0), nil)
			n.FlushAtCommit = tc.flush
			start := time.Now()
			var wg sync.WaitGroup
			for range 3 {
				wg.Add(1)
				go func() { defer wg.Done(); _ = n.CommitRedo(context.Background()) }()
			}
			wg.Wait()
			if got := time.Since(start); got != tc.want {
				t.Errorf("flush=%d: three commits took %v, want %v", tc.flush, got, tc.want)
			}
		})
	}
}

// Certification's and a statement's CPU queue on the host's cores and their waits do not:
// four commits that certify at once (or four inserts) on one core with 100 us of CPU and
// 300 us of wait finish at 400, 500, 600 and 700 us (the cores serialise the CPU, the waits
// overlap), where the same 400 us all booked as CPU would end at 400, 800, 1200 and 1600 us.
func TestCPUAndWaitSplitInVirtualTime(t *testing.T) {
	stages := map[string]struct {
		set func(p *Profile, cpu, wait float64)
		run func(n *Node) error
	}{
		"certify": {
			func(p *Profile, cpu, wait float64) { p.Replication.CertifyUs, p.Replication.CertifyWaitUs = cpu, wait },
			func(n *Node) error { return n.Certify(context.Background(), 1) },
		},
		"insert": {
			func(p *Profile, cpu, wait float64) { p.Statement.InsertUs, p.Statement.InsertWaitUs = cpu, wait },
			func(n *Node) error {
				return n.Statement(context.Background(), n.Start(), Insert, 0, 1, false)
			},
		},
	}
	for name, st := range stages {
		for _, c := range []struct {
			cpu, wait float64
			want      []time.Duration
		}{
			{100, 300, []time.Duration{400, 500, 600, 700}},
			{400, 0, []time.Duration{400, 800, 1200, 1600}},
		} {
			synctest.Test(t, func(t *testing.T) {
				p := &Profile{Name: name, Host: HostCosts{Cores: 1}}
				st.set(p, c.cpu, c.wait)
				n := NewNode(p, NewHost(1), nil)
				got := finishTimes(t, 4, func() error { return st.run(n) })
				if !slices.Equal(got, c.want) {
					t.Fatalf("%s, cpu %v us, wait %v us: finished at %v us, want exactly %v", name, c.cpu, c.wait, got, c.want)
				}
			})
		}
	}
}

// finishTimes runs f in k goroutines at once and returns when each returned, in
// microseconds from the start, sorted (under synctest, exact).
func finishTimes(t *testing.T, k int, f func() error) []time.Duration {
	start := time.Now()
	var mu sync.Mutex
	var got []time.Duration
	var wg sync.WaitGroup
	for range k {
		wg.Go(func() {
			if err := f(); err != nil {
				t.Error(err)
			}
			mu.Lock()
			got = append(got, time.Since(start)/time.Microsecond)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(got)
	return got
}

// The redo flush booked from the commit's start overlaps the engine's own commit work, which
// the profile's statement figures already contain: with a 67 us fsync, 30 us of commit work
// from start ends the commit at 67 us (not 97, as booked from now), and 100 us of work ends
// it at 100 us, the work being the longer. A start after now counts from now.
func TestCommitRedoFromOverlapsTheCommitWork(t *testing.T) {
	for _, c := range []struct {
		work, want time.Duration
		fromNow    bool
	}{
		{30, 67, false},
		{100, 100, false},
		{30, 97, true},
	} {
		synctest.Test(t, func(t *testing.T) {
			p := &Profile{Name: "redo", Host: HostCosts{Cores: 1}}
			p.Commit.RedoFsyncUs = 67
			n := NewNode(p, NewHost(1), nil)
			n.FlushAtCommit = 1
			start := time.Now()
			time.Sleep(c.work * time.Microsecond)
			from := start
			if c.fromNow {
				from = start.Add(time.Hour) // after now: counts from now
			}
			if err := n.CommitRedoFrom(context.Background(), from); err != nil {
				t.Fatal(err)
			}
			if got := time.Since(start) / time.Microsecond; got != c.want {
				t.Fatalf("%d us of commit work: the commit ended at %d us, want exactly %d", c.work, got, c.want)
			}
		})
	}
}

// A statement with no CPU still lasts until the start it was given: the caller's round trip
// (costTx books a statement from its start plus client.statement_rtt_us) is paid even by a
// statement the profile prices at 0.
func TestStatementWithoutCPUPaysItsRoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &Profile{Name: "rtt", Host: HostCosts{Cores: 1}}
		p.Client.StatementRTTUs = 100
		n := NewNode(p, NewHost(1), nil)
		start := time.Now()
		if err := n.Statement(context.Background(), start.Add(Us(p.Client.StatementRTTUs)), Other, 0, 0, false); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 100*time.Microsecond {
			t.Fatalf("a statement with no CPU took %v, want its 100us round trip", got)
		}
	})
}
