package law

import (
	"errors"
	"fmt"
	"time"

	"github.com/replbench/replbench/galera"
	"github.com/replbench/replbench/groupreplication"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/semisync"
)

// newModel checks the input and gives each member its configuration: in.Nodes, or the
// protocol's defaults (resolved by the protocol's own Parse) when in.Nodes is nil. A
// member's settings must be the protocol's own type, since that is what its provider runs
// on; a mismatch is a caller's mistake, named.
func newModel(in Input, proto string) (model, error) {
	if len(in.Members) == 0 {
		return model{}, errors.New("no members: give the cluster's node names (n1, n2, ...)")
	}
	if d := dup(in.Members); d != "" {
		return model{}, fmt.Errorf("member %s listed twice", d)
	}
	if in.Threads < 1 {
		return model{}, fmt.Errorf("threads %d: give at least 1 client thread", in.Threads)
	}
	if in.HotRows < 0 {
		return model{}, fmt.Errorf("hot rows %d: give 0 (no hot rows) or a positive count", in.HotRows)
	}
	if in.SyncCost < 0 {
		return model{}, fmt.Errorf("sync cost %v: give a non-negative duration", in.SyncCost)
	}
	writers := in.Writers
	if len(writers) == 0 {
		writers = in.Members[:1]
	}
	for _, w := range writers {
		if err := transport.CheckNode(w, in.Members); err != nil {
			return model{}, fmt.Errorf("writer: %w", err)
		}
	}
	if d := dup(writers); d != "" {
		return model{}, fmt.Errorf("writer %s listed twice", d)
	}
	if err := in.Network.Validate(in.Members); err != nil {
		return model{}, fmt.Errorf("network: %w", err)
	}
	if in.Duration < 0 {
		return model{}, fmt.Errorf("duration %v: give the measured phase's length, or 0 when unknown", in.Duration)
	}
	m := model{in: in, writers: writers, proto: proto, nodes: map[string]Node{}}
	switch {
	case in.Nodes == nil:
		var st protocols.Settings
		if proto != "standalone" {
			p, err := protocols.Lookup(proto)
			if err != nil {
				return model{}, err
			}
			if st, err = p.Resolve(nil); err != nil {
				return model{}, err
			}
		}
		for _, n := range in.Members {
			m.nodes[n] = Node{Settings: st}
		}
	case len(in.Nodes) != len(in.Members):
		return model{}, fmt.Errorf("%d node configurations for %d members: give one per member, in member order", len(in.Nodes), len(in.Members))
	default:
		for i, n := range in.Members {
			m.nodes[n] = in.Nodes[i]
		}
	}
	for _, n := range in.Members {
		nd := m.nodes[n]
		if nd.Engine.ApplyDelay < 0 {
			return model{}, fmt.Errorf("apply delay on %s: %v is negative (give a non-negative duration such as 2ms)", n, nd.Engine.ApplyDelay)
		}
		if err := checkType(proto, n, nd.Settings); err != nil {
			return model{}, err
		}
	}
	return m, nil
}

// checkType refuses settings of another protocol than the one modelled.
func checkType(proto, node string, st protocols.Settings) error {
	ok := true
	switch proto {
	case "galera":
		_, ok = st.(*galera.Settings)
	case "group-replication":
		_, ok = st.(*groupreplication.Settings)
	case "semisync", "async":
		_, ok = st.(*semisync.Settings)
	}
	if !ok {
		return fmt.Errorf("the settings of %s are %T, not %s's (resolve them with the protocol's Parse)", node, st, proto)
	}
	return nil
}

// galeraAt, grAt and semisyncAt are member n's settings, of the modelled protocol's type
// (newModel checked it).
func (m model) galeraAt(n string) *galera.Settings { return m.nodes[n].Settings.(*galera.Settings) }

func (m model) grAt(n string) *groupreplication.Settings {
	return m.nodes[n].Settings.(*groupreplication.Settings)
}

func (m model) semisyncAt(n string) *semisync.Settings {
	return m.nodes[n].Settings.(*semisync.Settings)
}

// applyDelay is member n's artificial apply cost (replbench.apply_delay).
func (m model) applyDelay(n string) time.Duration { return m.nodes[n].Engine.ApplyDelay }
