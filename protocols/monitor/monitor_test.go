package monitor

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestOutOfOrderLeaveAdvancesContiguousPrefix(t *testing.T) {
	m := New(0)
	m.Leave(2)
	m.Leave(3)
	if got := m.LastLeft(); got != 0 {
		t.Fatalf("LastLeft %d after leaving 2,3 without 1; want 0", got)
	}
	m.Cancel(1)
	if got := m.LastLeft(); got != 3 {
		t.Fatalf("LastLeft %d; want 3", got)
	}
	m.Leave(3) // twice: no-op
	if got := m.LastLeft(); got != 3 {
		t.Fatalf("LastLeft %d; want 3", got)
	}
}

// Commits in strict order whatever order the workers arrive in.
func TestEnterIsStrictOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(0)
		var mu sync.Mutex
		var order []int64
		var wg sync.WaitGroup
		for _, s := range []int64{5, 3, 1, 4, 2} {
			wg.Add(1)
			go func(s int64) {
				defer wg.Done()
				time.Sleep(time.Duration(6-s) * time.Millisecond) // later positions arrive first
				if err := m.Enter(context.Background(), s); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				order = append(order, s)
				mu.Unlock()
				m.Leave(s)
			}(s)
		}
		wg.Wait()
		for i, s := range order {
			if s != int64(i+1) {
				t.Fatalf("commit order %v", order)
			}
		}
	})
}

func TestWaitForHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(0)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := m.WaitFor(ctx, 1); err != context.DeadlineExceeded {
			t.Fatalf("err %v, want deadline exceeded", err)
		}
		m.Reset(10)
		if err := m.WaitFor(context.Background(), 10); err != nil {
			t.Fatal(err)
		}
	})
}
