package gcs

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
)

// sim is a discrete-event network for driving EVS members without goroutines: integer
// virtual time, a one-way delay per directed link, optional jitter and loss, FIFO per link.
type sim struct {
	now      int64
	nodes    []*EVS
	delay    [][]int64 // one-way delay from i to j
	jitter   int64
	loss     float64
	rng      *rand.Rand
	q        evq
	seq      int
	lastDue  [][]int64
	tick     int64 // 0: no ticks
	nextTick int64
	cut      map[[2]int]bool // directed links that drop messages (a partition)
	out      [][]Delivery    // per node, in delivery order
	at       [][]int64       // delivery time of each
	msgs     int
}

type ev struct {
	due      int64
	n        int
	from, to int
	b        []byte
}

type evq []ev

func (q evq) Len() int { return len(q) }
func (q evq) Less(i, j int) bool {
	if q[i].due != q[j].due {
		return q[i].due < q[j].due
	}
	return q[i].n < q[j].n
}
func (q evq) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *evq) Push(x any)   { *q = append(*q, x.(ev)) }
func (q *evq) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

func newSim(n int, seed uint64, cfg func(*Config)) *sim {
	s := &sim{rng: rand.New(rand.NewPCG(seed, 7)), out: make([][]Delivery, n), at: make([][]int64, n)}
	for i := 0; i < n; i++ {
		c := DefaultConfig(i, n)
		if cfg != nil {
			cfg(&c)
		}
		s.nodes = append(s.nodes, New(c))
		s.delay = append(s.delay, make([]int64, n))
		s.lastDue = append(s.lastDue, make([]int64, n))
	}
	return s
}

func (s *sim) setNodeDelay(i int, d int64) {
	for j := range s.nodes {
		if j != i {
			s.delay[i][j], s.delay[j][i] = d, d
		}
	}
}

func (s *sim) send(from, to int, m *Msg) {
	s.msgs++
	if s.cut[[2]int{from, to}] {
		return
	}
	if s.loss > 0 && s.rng.Float64() < s.loss {
		return
	}
	d := s.delay[from][to]
	if s.jitter > 0 {
		d += s.rng.Int64N(s.jitter + 1)
	}
	due := max(s.now+d, s.lastDue[from][to])
	s.lastDue[from][to] = due
	s.seq++
	heap.Push(&s.q, ev{due: due, n: s.seq, from: from, to: to, b: Encode(nil, m)})
}

// flush runs node i's Ready and dispatches its output.
func (s *sim) flush(i int) {
	rd := s.nodes[i].Ready()
	for _, env := range rd.Messages {
		if env.To >= 0 {
			s.send(i, env.To, env.Msg)
			continue
		}
		for j := range s.nodes {
			if j != i {
				s.send(i, j, env.Msg)
			}
		}
	}
	for _, d := range rd.Deliveries {
		s.out[i] = append(s.out[i], d)
		s.at[i] = append(s.at[i], s.now)
	}
}

func (s *sim) propose(i int, action string) {
	s.nodes[i].Propose([]byte(action))
	s.flush(i)
}

// run processes events until the queue is empty (or until time limit), ticking if set.
func (s *sim) run(limit int64) {
	for {
		if s.tick > 0 && (s.q.Len() == 0 || s.nextTick <= s.q[0].due) {
			if s.nextTick > limit {
				return
			}
			s.now = s.nextTick
			s.nextTick += s.tick
			for i, n := range s.nodes {
				n.Tick()
				s.flush(i)
			}
			continue
		}
		if s.q.Len() == 0 || s.q[0].due > limit {
			return
		}
		e := heap.Pop(&s.q).(ev)
		s.now = e.due
		if s.cut[[2]int{e.from, e.to}] {
			continue
		}
		m, err := Decode(e.b, len(s.nodes))
		if err != nil {
			panic(fmt.Sprintf("decode: %v", err))
		}
		if m.Source != e.from {
			panic("source mismatch")
		}
		s.nodes[e.to].Step(m)
		// Batch everything due at the same instant for this node, as a driver loop would.
		for s.q.Len() > 0 && s.q[0].due == s.now && s.q[0].to == e.to {
			e2 := heap.Pop(&s.q).(ev)
			if s.cut[[2]int{e2.from, e2.to}] {
				continue
			}
			m2, err := Decode(e2.b, len(s.nodes))
			if err != nil {
				panic(err)
			}
			s.nodes[e.to].Step(m2)
		}
		s.flush(e.to)
	}
}

func (s *sim) actions(i int) []string {
	var out []string
	for _, d := range s.out[i] {
		if !d.Causal && d.View == nil {
			out = append(out, fmt.Sprintf("%d/%d:%s", d.Seq, d.Source, d.Action))
		}
	}
	return out
}

// partition cuts every link between the groups, both ways, dropping messages in flight.
func (s *sim) partition(groups ...[]int) {
	s.cut = map[[2]int]bool{}
	for gi, g := range groups {
		for gj, h := range groups {
			if gi == gj {
				continue
			}
			for _, a := range g {
				for _, b := range h {
					s.cut[[2]int{a, b}] = true
				}
			}
		}
	}
}

func (s *sim) heal() { s.cut = nil }

// views returns the views node i installed, in order.
func (s *sim) views(i int) []*View {
	var out []*View
	for _, d := range s.out[i] {
		if d.View != nil {
			out = append(out, d.View)
		}
	}
	return out
}

// history is node i's deliveries as payloads, with each installed view as "view{members}
// P|N" in its place.
func (s *sim) history(i int) []string {
	var out []string
	for _, d := range s.out[i] {
		switch {
		case d.View != nil:
			out = append(out, fmt.Sprintf("view%v %s", d.View.Members, map[bool]string{true: "P", false: "N"}[d.View.Primary]))
		case !d.Causal:
			out = append(out, string(d.Action))
		}
	}
	return out
}
