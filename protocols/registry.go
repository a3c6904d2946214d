package protocols

import (
	"slices"

	"github.com/replbench/replbench/internal/registry"
)

// Protocol describes a registered replication protocol.
type Protocol struct {
	Name     string
	Aliases  []string
	Summary  string  // one line, for listings
	Notes    string  // where the model departs from the real system; printed by `replbench params`
	Params   []Param // every parameter with its real name and default
	MinNodes int
	MaxNodes int // 0: no limit
	// Parse builds the protocol's typed Settings from one node's resolved parameters and
	// enforces the rules that tie several parameters together (Galera's keepalive at most a
	// third of the suspect timeout, GR's min quota not above its max quota, ...); its error
	// names the parameters and what to change. It is registered here rather than only called
	// in New so that the harness resolves every node before it writes a run directory or
	// starts a node, and hands the result to New, to the law and to the results alike. Nil
	// means no typed settings (ParamSettings) and no cross-parameter rules.
	Parse func(Params) (Settings, error)
	New   func(Config) (Provider, error)
	// Flavors are the servers this protocol can stand for, the default first (see Flavor).
	// Register adds the FlavorParam declaration for them; nil means one unnamed server.
	Flavors []Flavor
	// Rejoins reports that New accepts Config.Rejoin: the node faults restart and promote
	// (and a random nemesis's kills and crashes) work on this protocol.
	Rejoins bool
	// FixedSource reports a source/replica topology: one source (Members[0], or
	// Config.Source after a promotion) that no election replaces, so the promote fault
	// applies.
	FixedSource bool
}

// Resolve merges user values over the protocol's defaults, checks each value (name,
// choices, kind, range: see the package-level Resolve) and builds the typed Settings with
// Parse, which checks the cross-parameter rules. user holds only this protocol's
// parameters, under their names or aliases; the harness splits engine parameters off first.
//
// With flavours, the flavour named by FlavorParam (or the default) supplies its defaults and
// refuses the options its server lacks before anything else is checked.
func (p *Protocol) Resolve(user map[string]string) (Settings, error) {
	defs, err := p.resolveFlavor(user)
	if err != nil {
		return nil, err
	}
	st, err := ResolveSettings(defs, p.Parse, user)
	if err != nil {
		return nil, err
	}
	if err := checkCostProfile(st.Params()); err != nil {
		return nil, err
	}
	return st, nil
}

// protocolsByName is the table Register fills and Lookup reads.
var protocolsByName = registry.New[Protocol]("protocols", "protocol")

// Register adds a protocol; packages call it from init. A duplicate name or alias, or
// parameter definitions whose defaults fail their own ranges or Parse, panics: both are
// programming errors that would otherwise surface only as a refused run.
func Register(p Protocol) {
	if len(p.Flavors) > 0 {
		if _, dup := findDecl(p.Params, FlavorParam); !dup {
			p.Params = append(slices.Clone(p.Params), flavorParam(&p))
		}
		if _, dup := findDecl(p.Params, CostProfileParam); !dup {
			p.Params = append(slices.Clone(p.Params), costProfileParam(&p))
		}
		for i := range p.Flavors {
			for name := range p.Flavors[i].Defaults {
				if _, ok := findDecl(p.Params, name); !ok {
					panic("protocols: " + p.Name + ": flavour " + p.Flavors[i].Name + " sets a default for undeclared parameter " + name)
				}
			}
			if _, err := ResolveSettings(p.withDefaults(&p.Flavors[i]), p.Parse, map[string]string{FlavorParam: p.Flavors[i].Name}); err != nil {
				panic("protocols: " + p.Name + ": flavour " + p.Flavors[i].Name + "'s defaults fail: " + err.Error())
			}
		}
	}
	if err := CheckDefs(p.Params); err != nil {
		panic("protocols: " + p.Name + ": " + err.Error())
	}
	if _, err := p.Resolve(nil); err != nil {
		panic("protocols: " + p.Name + ": the defaults fail: " + err.Error())
	}
	protocolsByName.Add(p.Name, p.Aliases, &p)
}

// Lookup finds a protocol by name or alias. The error lists the accepted names.
func Lookup(name string) (*Protocol, error) { return protocolsByName.Lookup(name) }

// Names returns the registered protocol names, sorted.
func Names() []string { return protocolsByName.Names() }
