package selfhosted

import "sync"

// memo remembers the results of a pure computation by key, up to a number
// of entries; when full it starts over, which is simple and, for the few
// distinct inputs a function instance sees, rare. Calls may be concurrent.
type memo[V any] struct {
	mu      sync.Mutex
	max     int
	entries map[string]V
}

func newMemo[V any](max int) *memo[V] {
	return &memo[V]{max: max, entries: make(map[string]V, max)}
}

// get returns the remembered value of key, or computes and remembers it.
// Errors are not remembered.
func (m *memo[V]) get(key string, compute func() (V, error)) (V, error) {
	m.mu.Lock()
	v, ok := m.entries[key]
	m.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := compute()
	if err != nil {
		return v, err
	}
	m.mu.Lock()
	if len(m.entries) >= m.max {
		clear(m.entries)
	}
	m.entries[key] = v
	m.mu.Unlock()
	return v, nil
}
