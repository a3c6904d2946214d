package netdelay

import "time"

// Queue holds one direction's bytes until their release time: the time they were read
// plus the one-way delay in force when they were read, as netem stamps a packet when it is
// enqueued. Release times never go backwards, so a delay lowered while bytes are queued
// does not let later bytes overtake earlier ones: a TCP stream is FIFO, and so is the queue.
//
// Queue is a pure data structure: time is an input, nothing sleeps or locks inside; the
// pump that drives it owns the clock and the mutex. The zero value is an empty queue.
type Queue struct {
	items []chunk
	head  int
	bytes int
	last  time.Time // release time of the newest chunk
}

type chunk struct {
	data    []byte
	release time.Time
}

// Push queues data read at now, to be released delay later (or when the chunk before it is
// released, if that is later). The queue keeps data; the caller must not reuse it.
func (q *Queue) Push(now time.Time, delay time.Duration, data []byte) {
	r := now.Add(delay)
	if r.Before(q.last) {
		r = q.last
	}
	q.last = r
	q.items = append(q.items, chunk{data, r})
	q.bytes += len(data)
}

// Next returns the release time of the oldest queued chunk; ok is false when empty.
func (q *Queue) Next() (release time.Time, ok bool) {
	if q.head == len(q.items) {
		return time.Time{}, false
	}
	return q.items[q.head].release, true
}

// Pop removes and returns the oldest chunk if its release time is at or before now.
func (q *Queue) Pop(now time.Time) ([]byte, bool) {
	if q.head == len(q.items) || q.items[q.head].release.After(now) {
		return nil, false
	}
	c := q.items[q.head]
	q.items[q.head] = chunk{}
	q.head++
	q.bytes -= len(c.data)
	if q.head == len(q.items) { // empty: reuse the backing array from the start
		q.items, q.head = q.items[:0], 0
	} else if q.head >= 1024 && q.head*2 >= len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return c.data, true
}

// Len is the number of queued chunks; Bytes their total size.
func (q *Queue) Len() int   { return len(q.items) - q.head }
func (q *Queue) Bytes() int { return q.bytes }
