package protocols

import (
	"fmt"
	"sort"
	"strings"
	"sync"
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
	New      func(Config) (Provider, error)
}

var (
	regMu    sync.RWMutex
	registry = map[string]*Protocol{}
	aliases  = map[string]string{}
)

// Register adds a protocol; packages call it from init. A duplicate name panics: two
// protocols with one name is a programming error.
func Register(p Protocol) {
	regMu.Lock()
	defer regMu.Unlock()
	for _, n := range append([]string{p.Name}, p.Aliases...) {
		if _, dup := registry[n]; dup {
			panic("protocols: duplicate registration of " + n)
		}
		if _, dup := aliases[n]; dup {
			panic("protocols: duplicate registration of " + n)
		}
	}
	registry[p.Name] = &p
	for _, a := range p.Aliases {
		aliases[a] = p.Name
	}
}

// Lookup finds a protocol by name or alias. The error lists the accepted names.
func Lookup(name string) (*Protocol, error) {
	regMu.RLock()
	defer regMu.RUnlock()
	if a, ok := aliases[name]; ok {
		name = a
	}
	p, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("unknown protocol %q (accepted: %s)", name, strings.Join(namesLocked(), ", "))
	}
	return p, nil
}

// Names returns the registered protocol names, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
