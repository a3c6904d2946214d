package storage

import (
	"context"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/monitor"
)

// orderedCluster is a minimal totally-ordered provider for one engine: a sequencer, a
// commit monitor, a 1 ms window before the write-set is sent (cancellable by a BF abort)
// and a 1 ms window after (not cancellable: the slot is taken). Every ordered write-set is
// logged so that the outcome can be recomputed by applying the log in order elsewhere.
type orderedCluster struct {
	mu  sync.Mutex
	seq int64
	log map[int64]*protocols.WriteSet
	mon *monitor.Monitor
}

func (c *orderedCluster) next(ws *protocols.WriteSet) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	ws.Seqno = c.seq
	c.log[c.seq] = ws
	return c.seq
}

func (c *orderedCluster) BeforeRead(context.Context) error  { return nil }
func (c *orderedCluster) BeforeWrite(context.Context) error { return nil }
func (c *orderedCluster) Replicate(ctx context.Context, ws *protocols.WriteSet) (protocols.Commit, error) {
	select {
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	case <-time.After(time.Millisecond):
	}
	s := c.next(ws)
	time.Sleep(time.Millisecond)
	return &orderedCommit{c, s}, nil
}

type orderedCommit struct {
	c *orderedCluster
	s int64
}

func (o *orderedCommit) GTID() protocols.GTID { return protocols.GTID{UUID: "x", Seqno: o.s} }
func (o *orderedCommit) Seqno() int64         { return o.s }
func (o *orderedCommit) Apply(ctx context.Context, engineCommit func() error) error {
	o.c.mon.Enter(context.Background(), o.s)
	defer o.c.mon.Leave(o.s)
	return engineCommit()
}

// Local clients and a remote applier fight over five hot rows under a total order. Every
// BF rule fires; nothing hangs (synctest reports a deadlock otherwise), and the node ends
// exactly as applying the ordered log in sequence on a fresh node does.
func TestConvergesUnderBFConflicts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rows = 5
		setup := func(node string) *Engine {
			e, err := Open(Options{Node: node})
			must(t, err)
			mustTable(t, e, counters)
			must(t, exec(t, e, func(tx *Txn) error {
				for i := range rows {
					if _, err := tx.Insert(bg, "counters", Row{i, 0}); err != nil {
						return err
					}
				}
				return nil
			}))
			return e
		}
		e := setup("n1")
		defer e.Close()
		c := &orderedCluster{log: map[int64]*protocols.WriteSet{}, mon: monitor.New(0)}
		e.SetReplicator(c)

		var wg sync.WaitGroup
		stop := time.Now().Add(2 * time.Second)
		for cl := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(cl), 1))
				for time.Now().Before(stop) {
					a, b := rng.IntN(rows), rng.IntN(rows)
					for {
						tx := e.Begin()
						err := func() error {
							for _, id := range []int{a, b} {
								r, err := tx.GetForUpdate(bg, "counters", id)
								if err != nil {
									return err
								}
								if err := tx.Update(bg, "counters", Row{id, r[1].(int64) + 1}); err != nil {
									return err
								}
								time.Sleep(time.Duration(rng.IntN(500)) * time.Microsecond)
							}
							return nil
						}()
						if err != nil {
							tx.Rollback()
						} else {
							err = tx.Commit(bg)
						}
						if err == nil {
							break
						}
						if !protocols.Retryable(err) {
							t.Error(err)
							return
						}
					}
				}
			}()
		}
		wg.Add(1)
		go func() { // the remote node's write-sets, applied in order
			defer wg.Done()
			rng := rand.New(rand.NewPCG(99, 1))
			for time.Now().Before(stop) {
				time.Sleep(time.Duration(200+rng.IntN(800)) * time.Microsecond)
				id := int64(rng.IntN(rows))
				ws := remoteUpdate(t, id, 1000+rng.Int64N(1000), 0)
				s := c.next(ws)
				c.mon.WaitFor(bg, s-1)
				a, err := e.PrepareApply(bg, ws)
				if err != nil {
					t.Error(err)
					return
				}
				c.mon.Enter(bg, s)
				if err := a.Commit(); err != nil {
					t.Error(err)
				}
				c.mon.Leave(s)
			}
		}()
		wg.Wait()

		ref := setup("ref")
		defer ref.Close()
		for s := int64(1); s <= c.seq; s++ {
			a, err := ref.PrepareApply(bg, c.log[s])
			must(t, err)
			must(t, a.Commit())
		}
		ce, _ := e.Checksums()
		cr, _ := ref.Checksums()
		if !reflect.DeepEqual(ce, cr) {
			t.Fatalf("node differs from the ordered log applied in sequence")
		}
		st := e.Stats()
		t.Logf("ordered %d, stats %+v", c.seq, st)
		if st.BFAborts == 0 || st.Replays == 0 || st.Applied == 0 {
			t.Fatalf("the mix did not exercise BF aborts and replays: %+v", st)
		}
	})
}
