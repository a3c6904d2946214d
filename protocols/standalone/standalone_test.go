package standalone

import (
	"context"
	"errors"
	"testing"

	"github.com/replbench/replbench/protocols"
)

func TestOneNodeOnly(t *testing.T) {
	if _, err := New(protocols.Config{Node: "n1", Members: []string{"n1", "n2"}}); err == nil {
		t.Fatal("standalone accepted two members")
	}
	p, err := protocols.Lookup("standalone")
	if err != nil || p.MinNodes != 1 || p.MaxNodes != 1 {
		t.Fatalf("registration %+v, %v", p, err)
	}
}

// The floor decides every transaction at once, in order, and counts a position as committed
// only once the engine commit succeeded.
func TestReplicateDecidesAtOnce(t *testing.T) {
	prov, err := New(protocols.Config{Node: "n1", Members: []string{"n1"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := int64(1); i <= 3; i++ {
		ws := &protocols.WriteSet{Source: "n1", TrxID: uint64(i)}
		c, err := prov.Replicate(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		if c.Seqno() != i || ws.Seqno != i || ws.Snapshot != i-1 || c.GTID().Seqno != i {
			t.Fatalf("transaction %d: seqno %d, ws %+v, gtid %v", i, c.Seqno(), ws, c.GTID())
		}
		ran := false
		if err := c.Apply(ctx, func() error { ran = true; return nil }); err != nil || !ran {
			t.Fatalf("apply: ran=%v err=%v", ran, err)
		}
		if prov.LastCommitted() != i {
			t.Fatalf("last committed %d, want %d", prov.LastCommitted(), i)
		}
	}
	failed := errors.New("disk full")
	c, _ := prov.Replicate(ctx, &protocols.WriteSet{Source: "n1"})
	if err := c.Apply(ctx, func() error { return failed }); !errors.Is(err, failed) {
		t.Fatalf("engine error not returned: %v", err)
	}
	if prov.LastCommitted() != 3 {
		t.Fatalf("a failed engine commit was counted: %d", prov.LastCommitted())
	}
}
