package storage

// BeginLocal starts a transaction that reads this node's own data without asking the
// replication protocol (no BeforeRead/BeforeWrite gate: no causal wait, no refusal on a
// non-Primary or read-only node). It is what an end-of-run check needs: a node that refuses
// clients still has data to compare, and a check must see it as it is, not as the protocol
// would let a client see it. Use it only to read; a write through it would bypass the
// protocol's own rules for writers.
func (e *Engine) BeginLocal() *Txn {
	t := e.Begin()
	t.readGate, t.writeGate = true, true
	return t
}
