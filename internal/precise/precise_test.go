package precise

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// A waiter is never released before its deadline, whatever the order deadlines arrive in.
func TestTimerNeverEarly(t *testing.T) {
	tm := NewTimer()
	defer tm.Close()
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := range 64 {
		wg.Go(func() {
			at := time.Now().Add(time.Duration(64-i) * 37 * time.Microsecond)
			if err := tm.WaitUntil(context.Background(), at); err != nil {
				errs <- err.Error()
				return
			}
			if now := time.Now(); now.Before(at) {
				errs <- "released " + at.Sub(now).String() + " early"
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestTimerCancelAndClose(t *testing.T) {
	tm := NewTimer()
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- tm.WaitUntil(ctx, time.Now().Add(time.Hour)) }()
	time.Sleep(time.Millisecond)
	cancel()
	if err := <-res; err == nil {
		t.Fatal("a cancelled wait returned nil")
	}
	go func() { res <- tm.WaitUntil(context.Background(), time.Now().Add(time.Hour)) }()
	time.Sleep(time.Millisecond)
	tm.Close()
	if err := <-res; err != nil {
		t.Fatalf("Close should release waiters with nil, got %v", err)
	}
	// After Close, waits still work (on Go timers).
	if err := tm.WaitUntil(context.Background(), time.Now().Add(10*time.Microsecond)); err != nil {
		t.Fatal(err)
	}
}

func TestVirtualIsExactUnderSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		at := start.Add(37 * time.Microsecond)
		if err := (Virtual{}).WaitUntil(context.Background(), at); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 37*time.Microsecond {
			t.Fatalf("waited %v, want exactly 37us", got)
		}
	})
}

// BenchmarkTimerLateness reports how late the precise Timer releases a 50 us wait (p50 and
// p99 in microseconds), next to Go's own timer, on this machine.
func BenchmarkTimerLateness(b *testing.B) {
	for _, c := range []struct {
		name string
		w    func() (Waiter, func())
	}{
		{"precise", func() (Waiter, func()) { t := NewTimer(); return t, t.Close }},
		{"go-timer", func() (Waiter, func()) { return Virtual{}, func() {} }},
	} {
		b.Run(c.name, func(b *testing.B) {
			w, done := c.w()
			defer done()
			late := make([]time.Duration, 0, b.N)
			for b.Loop() {
				at := time.Now().Add(50 * time.Microsecond)
				_ = w.WaitUntil(context.Background(), at)
				late = append(late, time.Since(at))
			}
			slices.Sort(late)
			b.ReportMetric(float64(late[len(late)/2].Microseconds()), "p50-late-us")
			b.ReportMetric(float64(late[len(late)*99/100].Microseconds()), "p99-late-us")
		})
	}
}
