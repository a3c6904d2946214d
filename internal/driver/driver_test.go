package driver

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/replbench/replbench/protocols"
)

func TestInboxKeepsOrderAcrossBatches(t *testing.T) {
	b := NewInbox[int]()
	for i := range 3 {
		b.Post(i)
	}
	<-b.Wake()
	got := b.Drain()
	if len(got) != 3 || got[0] != 0 || got[2] != 2 {
		t.Fatalf("first batch %v, want [0 1 2]", got)
	}
	b.Post(3)
	if got := b.Drain(); len(got) != 1 || got[0] != 3 {
		t.Fatalf("second batch %v, want [3]", got)
	}
	if got := b.Drain(); len(got) != 0 {
		t.Fatalf("empty drain returned %v", got)
	}
}

func TestInboxConcurrentPostersLoseNothing(t *testing.T) {
	b := NewInbox[int]()
	const posters, each = 8, 1000
	var wg sync.WaitGroup
	for p := range posters {
		wg.Go(func() {
			for i := range each {
				b.Post(p*each + i)
			}
		})
	}
	seen := map[int]bool{}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; !finished; {
		select {
		case <-b.Wake():
		case <-done:
			finished = true
		}
		for _, v := range b.Drain() {
			if seen[v] {
				t.Fatalf("event %d delivered twice", v)
			}
			seen[v] = true
		}
	}
	if len(seen) != posters*each {
		t.Fatalf("got %d events, want %d", len(seen), posters*each)
	}
}

func TestQueuePopBlocksUntilPushOrClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := NewQueue[string]()
		got := make(chan string, 2)
		go func() {
			for {
				v, ok := q.Pop(context.Background())
				if !ok {
					close(got)
					return
				}
				got <- v
			}
		}()
		synctest.Wait()
		if len(got) != 0 {
			t.Fatal("Pop returned before anything was pushed")
		}
		q.Push("a")
		q.Push("b")
		synctest.Wait()
		if a, b := <-got, <-got; a != "a" || b != "b" {
			t.Fatalf("got %q %q, want a b in order", a, b)
		}
		q.Close()
		synctest.Wait()
		if _, open := <-got; open {
			t.Fatal("Pop did not return ok=false after Close")
		}
		if q.Push("c") {
			t.Fatal("Push after Close was accepted")
		}
	})
}

func TestQueuePopReturnsWhenContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := NewQueue[int]()
		ctx, cancel := context.WithCancel(context.Background())
		res := make(chan bool, 1)
		go func() { _, ok := q.Pop(ctx); res <- ok }()
		synctest.Wait()
		cancel()
		synctest.Wait()
		if ok := <-res; ok {
			t.Fatal("Pop on a cancelled context reported an item")
		}
	})
}

func TestQueueCompactsLongRuns(t *testing.T) {
	q := NewQueue[int]()
	next, want := 0, 0
	for round := range 20 {
		for range 700 + round {
			q.Push(next)
			next++
		}
		for range 600 {
			v, ok := q.Pop(context.Background())
			if !ok || v != want {
				t.Fatalf("pop: got %d, %v; want %d", v, ok, want)
			}
			want++
		}
	}
	if q.Len() != next-want {
		t.Fatalf("Len %d, want %d", q.Len(), next-want)
	}
	for want < next {
		if v, _ := q.Pop(context.Background()); v != want {
			t.Fatalf("after compaction got %d, want %d", v, want)
		}
		want++
	}
}

func TestCtxErr(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(protocols.ErrBFAbort())
	if !IsBFAbort(ctx) {
		t.Fatal("a context cancelled with ErrBFAbort is not a BF abort")
	}
	var pe *protocols.Error
	if err := CtxErr(ctx); !errors.As(err, &pe) || pe.Cause != protocols.CauseBFAbort {
		t.Fatalf("CtxErr = %v, want the BF abort error", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := CtxErr(ctx2); protocols.Classify(err) == protocols.CauseBFAbort || err == nil {
		t.Fatalf("plain cancel gave %v, want 1317", err)
	}
}
