package checker

import "slices"

// NodeState is one live node's data at the end of a run, read from its storage directly
// rather than through the protocol (a node that refuses reads, being non-Primary or behind,
// still has data to check). On the model it wraps a node's engine; on a real cluster a SQL
// connection to that server.
type NodeState interface {
	// Node names the node ("n2").
	Node() string
	// Elements returns what the list or set under key holds, in its order (empty when the
	// key is absent).
	Elements(key string) ([]int64, error)
	// Value returns the register under key, and false when the key was never written.
	Value(key string) (int64, bool, error)
}

// MapState is a NodeState held in memory: for tests, and for callers that read a node's
// data in one pass before checking.
type MapState struct {
	Name  string
	Lists map[string][]int64
	Regs  map[string]int64
}

func (m *MapState) Node() string { return m.Name }

func (m *MapState) Elements(key string) ([]int64, error) { return slices.Clone(m.Lists[key]), nil }

func (m *MapState) Value(key string) (int64, bool, error) {
	v, ok := m.Regs[key]
	return v, ok, nil
}
