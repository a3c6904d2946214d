package gcs

import (
	"container/heap"
	"fmt"
	"testing"
)

// clientRun drives c clients on member w over the sim: each client proposes a write-set,
// waits for its own delivery on w, spends the commit-path time T (certification, commit,
// redo flush, the reply and the client's next statement) and proposes the next one. It
// returns the mean commit latency (proposal to delivery) over the commits after warm-up.
func clientRun(s *sim, w, c int, T int64, warm, n int) float64 {
	type tm struct {
		at     int64
		client int
	}
	var timers []tm
	owner := map[string]int{}
	sentAt := map[string]int64{}
	next := 0
	propose := func(cl int) {
		a := fmt.Sprintf("c%d-%d", cl, next)
		next++
		owner[a], sentAt[a] = cl, s.now
		s.nodes[w].Propose([]byte(a))
		s.flush(w)
	}
	seen := 0
	done, sum := 0, int64(0)
	check := func() {
		for ; seen < len(s.out[w]); seen++ {
			d := s.out[w][seen]
			if d.Source != w || d.Action == nil {
				continue
			}
			a := string(d.Action)
			done++
			if done > warm {
				sum += s.at[w][seen] - sentAt[a]
			}
			timers = append(timers, tm{s.now + T, owner[a]})
		}
	}
	for cl := 0; cl < c; cl++ {
		propose(cl)
	}
	for done < warm+n {
		ti := -1
		for i, t := range timers {
			if ti < 0 || t.at < timers[ti].at {
				ti = i
			}
		}
		if ti >= 0 && (s.q.Len() == 0 || timers[ti].at <= s.q[0].due) {
			t := timers[ti]
			timers = append(timers[:ti], timers[ti+1:]...)
			s.now = t.at
			propose(t.client)
			check()
			continue
		}
		if s.q.Len() == 0 {
			panic("stalled")
		}
		e := heap.Pop(&s.q).(ev)
		s.now = e.due
		m, err := Decode(e.b, len(s.nodes))
		if err != nil {
			panic(err)
		}
		s.nodes[e.to].Step(m)
		for s.q.Len() > 0 && s.q[0].due == s.now && s.q[0].to == e.to {
			e2 := heap.Pop(&s.q).(ev)
			m2, _ := Decode(e2.b, len(s.nodes))
			s.nodes[e.to].Step(m2)
		}
		s.flush(e.to)
		check()
	}
	return float64(sum) / float64(n)
}

// windowRule is the commit latency the EVS sending rules give one writer with c clients
// and commit-path time T, R being the round trip to the farthest member, with the default
// windows (evs.user_send_window=2, evs.send_window=4, aggregation):
//   - c <= user_send_window: every write-set leaves at once; latency R.
//   - the writer itself is far: every message it receives is an answer to one of its own,
//     arriving R after it sent it. Write-sets beyond the user window queue, and a queued one
//     leaves only while such an answer is handled (never from a timer). In the steady state
//     the clients split into two batches half a round trip apart, and each batch, ready T
//     after its delivery, waits for the answer to the other batch, R/2 after its own
//     delivery: latency R + max(0, R/2 - T). A commit path of half a round trip or more
//     merges the batches and the extra wait vanishes.
//   - a non-writer is far: its answers reach the writer R after each of the writer's
//     sends, and the near member's answers arrive in between, so a queued write-set finds a
//     message to carry it within one near round trip and its window already opened by the
//     far member's answer to an earlier send: latency R whatever T.
func windowRule(R, T int64, c int, writerFar bool) float64 {
	if c <= 2 || !writerFar {
		return float64(R)
	}
	return float64(R + max(0, R/2-T))
}

func TestWindowRuleWithCommitPathTime(t *testing.T) {
	const D, eps = 50000, 25 // one-way delays in microseconds: the far member's egress, the LAN
	for _, far := range []int{0, 2} {
		for _, T := range []int64{70, 1500, 12500, 25000, 40000} {
			for _, c := range []int{1, 2, 3, 4, 8} {
				s := newSim(3, 1, nil)
				for i := range s.delay {
					for j := range s.delay {
						if i != j {
							s.delay[i][j] = eps
						}
					}
				}
				for j := range s.delay {
					if j != far {
						s.delay[far][j] = D
					}
				}
				R := int64(D + eps) // the round trip to the far member
				lat := clientRun(s, 0, c, T, 200, 400)
				want := windowRule(R, T, c, far == 0)
				if d := lat/want - 1; d > 0.01 || d < -0.01 {
					t.Errorf("far=n%d T=%dus c=%d: mean commit latency %.0fus = %.3f R, the rule says %.0fus = %.3f R", far+1, T, c, lat, lat/float64(R), want, want/float64(R))
				}
			}
		}
	}
}
