package group

import (
	"testing"
	"time"

	"github.com/replbench/replbench/protocols"
)

// XCom discards messages from a node that is not in the current configuration, and a
// restarted server is a new node. Member n1's first incarnation (0) sends a transaction,
// is expelled, and its late transaction is dropped; its new incarnation (7) joins, and a
// still later transaction of the old one is dropped too, while the new one's is applied.
// An expulsion decided for the old incarnation does not remove the new one.
func TestDeliver_MessagesCountOnlyFromTheIncarnationInTheView(t *testing.T) {
	names := []string{"n1", "n2", "n3"}
	m := New(Config{Self: 1, Members: names, UUIDs: names, SinglePrimary: false, GTIDBlockSize: 1000}, time.Unix(0, 0))
	txn := func(inc, id int64) []byte {
		ws := &protocols.WriteSet{Source: "n1", Keys: []protocols.Key{{Table: "t", Row: []byte{byte(id)}, Type: protocols.KeyExclusive}}}
		return AppendMessage(nil, &Message{Kind: KindTxn, Origin: 0, Inc: inc, ID: id, WS: ws})
	}
	applies := func(data []byte) int { return len(m.Deliver(data).Applies) }
	if n := applies(txn(0, 1)); n != 1 {
		t.Fatalf("a transaction of the incarnation in the view: %d applies, want 1", n)
	}
	m.Deliver(AppendMessage(nil, &Message{Kind: KindExpel, Origin: 2, ID: 0, TargetInc: 0}))
	if n := applies(txn(0, 2)); n != 0 {
		t.Fatal("a transaction of an expelled incarnation was applied")
	}
	m.Deliver(AppendMessage(nil, &Message{Kind: KindJoin, Origin: 0, Inc: 7, ID: 50}))
	if n := applies(txn(0, 3)); n != 0 {
		t.Fatal("a transaction of the replaced incarnation was applied after the new one joined")
	}
	m.Deliver(AppendMessage(nil, &Message{Kind: KindExpel, Origin: 2, ID: 0, TargetInc: 0}))
	if !m.view.Holds(0, 7) {
		t.Fatal("a repeated expulsion of the old incarnation removed the new one")
	}
	if n := applies(txn(7, 7_000_000)); n != 1 {
		t.Fatalf("a transaction of the new incarnation: %d applies, want 1", n)
	}
}
