package netdelay

import (
	"testing"
	"time"
)

func TestQueueReleasesAfterDelayInOrder(t *testing.T) {
	var q Queue
	t0 := time.Unix(1000, 0)
	ms := time.Millisecond
	q.Push(t0, 10*ms, []byte("a"))
	q.Push(t0.Add(1*ms), 10*ms, []byte("bb"))
	if q.Len() != 2 || q.Bytes() != 3 {
		t.Fatalf("len %d bytes %d, want 2 and 3", q.Len(), q.Bytes())
	}
	if r, _ := q.Next(); !r.Equal(t0.Add(10 * ms)) {
		t.Fatalf("first release %v, want t0+10ms", r.Sub(t0))
	}
	if _, ok := q.Pop(t0.Add(10*ms - 1)); ok {
		t.Fatal("released 1ns early")
	}
	if b, ok := q.Pop(t0.Add(10 * ms)); !ok || string(b) != "a" {
		t.Fatalf("pop at release: %q %v", b, ok)
	}
	if _, ok := q.Pop(t0.Add(10 * ms)); ok {
		t.Fatal("second chunk released before its own time")
	}
	if b, ok := q.Pop(t0.Add(11 * ms)); !ok || string(b) != "bb" {
		t.Fatalf("second pop: %q %v", b, ok)
	}
	if _, ok := q.Next(); ok || q.Bytes() != 0 {
		t.Fatal("queue not empty after popping everything")
	}
}

// A delay lowered while bytes wait must not let later bytes overtake earlier ones.
func TestQueueLoweredDelayKeepsFIFO(t *testing.T) {
	var q Queue
	t0 := time.Unix(1000, 0)
	ms := time.Millisecond
	q.Push(t0, 50*ms, []byte("old"))
	q.Push(t0.Add(1*ms), 1*ms, []byte("new")) // would be due at t0+2ms
	if _, ok := q.Pop(t0.Add(2 * ms)); ok {
		t.Fatal("something released before the first chunk's 50 ms were up")
	}
	b1, _ := q.Pop(t0.Add(50 * ms))
	b2, _ := q.Pop(t0.Add(50 * ms))
	if string(b1) != "old" || string(b2) != "new" {
		t.Fatalf("order %q %q, want old new, both at t0+50ms", b1, b2)
	}
	// A raised delay applies to what is read from then on.
	q.Push(t0.Add(60*ms), 100*ms, []byte("x"))
	if r, _ := q.Next(); !r.Equal(t0.Add(160 * ms)) {
		t.Fatalf("release after raising the delay %v, want t0+160ms", r.Sub(t0))
	}
}

func TestQueueCompactsLongRuns(t *testing.T) {
	var q Queue
	t0 := time.Unix(0, 0)
	for i := range 5000 {
		q.Push(t0, 0, []byte{byte(i)})
		if i%2 == 1 {
			b, _ := q.Pop(t0)
			if b[0] != byte(i/2) {
				t.Fatalf("pop %d got %d, want %d", i, b[0], byte(i/2))
			}
		}
	}
	if q.Len() != 2500 || len(q.items) > 4000 {
		t.Fatalf("len %d, backing %d: the popped prefix is not reclaimed", q.Len(), len(q.items))
	}
}
