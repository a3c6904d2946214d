// Package registry is the one name-to-definition table behind protocols.Register and
// workloads.Register. Both tables are filled from init functions and read for the rest of
// the process, so a read-write mutex costs nothing in practice and lets a test register
// extra entries while others look names up; a duplicate name panics because it is a
// programming error in a package's init, never something a user can fix with a flag.
//
// It is internal so that each of those packages keeps its own exported API (Register,
// Lookup, Names) and its own error texts, and only the table logic is shared.
package registry

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Registry maps canonical names and aliases to definitions of type T. Use New; the
// zero value has no owner or kind for its messages.
type Registry[T any] struct {
	owner string // package name that prefixes panics: "protocols"
	kind  string // what a name denotes, for errors: "protocol"

	mu      sync.RWMutex
	byName  map[string]*T
	aliases map[string]string // alias -> canonical name
}

// New returns an empty registry. owner prefixes the duplicate-registration panic (the
// package whose init went wrong); kind names the thing in Lookup's error ("unknown
// protocol ...").
func New[T any](owner, kind string) *Registry[T] {
	return &Registry[T]{owner: owner, kind: kind, byName: map[string]*T{}, aliases: map[string]string{}}
}

// Add registers v under name and its aliases. It panics if any of them is already taken,
// as a name or an alias, so that two packages cannot silently shadow each other.
func (r *Registry[T]) Add(name string, aliases []string, v *T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range append([]string{name}, aliases...) {
		_, dupName := r.byName[n]
		_, dupAlias := r.aliases[n]
		if dupName || dupAlias {
			panic(r.owner + ": duplicate registration of " + n)
		}
	}
	r.byName[name] = v
	for _, a := range aliases {
		r.aliases[a] = name
	}
}

// Lookup finds a definition by name or alias. The error lists the accepted canonical
// names, so that a typo on the command line is answered with what to type instead.
func (r *Registry[T]) Lookup(name string) (*T, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if a, ok := r.aliases[name]; ok {
		name = a
	}
	v, ok := r.byName[name]
	if !ok {
		return nil, fmt.Errorf("unknown %s %q (accepted: %s)", r.kind, name, strings.Join(r.namesLocked(), ", "))
	}
	return v, nil
}

// Names returns the canonical names, sorted; aliases are not listed.
func (r *Registry[T]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.namesLocked()
}

func (r *Registry[T]) namesLocked() []string {
	out := make([]string, 0, len(r.byName))
	for n := range r.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
