package stent

import (
	"fmt"
	"sort"
	"sync"
)

// Registry maps function names to definitions. Clients check dispatches against it and
// workers run what it holds.
type Registry struct {
	mu   sync.RWMutex
	defs map[string]Definition
}

// DefaultRegistry is where NewActivity registers definitions unless InRegistry says otherwise.
var DefaultRegistry = NewRegistry()

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{defs: make(map[string]Definition)}
}

// Register adds d; a second definition with the same name is an error.
func (r *Registry) Register(d Definition) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.defs[d.Name()]; dup {
		return &InvalidArgumentError{Arg: "function name", Reason: fmt.Sprintf("%q is already registered", d.Name())}
	}
	r.defs[d.Name()] = d
	return nil
}

// Lookup returns the definition registered under name.
func (r *Registry) Lookup(name string) (Definition, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.defs[name]
	return d, ok
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.defs))
	for n := range r.defs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Definitions returns the registered definitions sorted by name.
func (r *Registry) Definitions() []Definition {
	names := r.Names()
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Definition, len(names))
	for i, n := range names {
		out[i] = r.defs[n]
	}
	return out
}

func (r *Registry) require(name string) (Definition, error) {
	if d, ok := r.Lookup(name); ok {
		return d, nil
	}
	return nil, &UnregisteredError{Name: name, Registered: r.Names()}
}
