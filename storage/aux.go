package storage

import (
	"sort"
	"strings"
)

// Aux values are the node's small replicated metadata (the member list, and later leases
// and auth), kept beside the key space so that they are committed in the same bbolt
// transaction as the consistent index of the entry that changed them, travel in snapshots,
// and never show up in ranges, revisions or watches. All of it is held in memory.

// SetAux records an aux value in the session (nil or empty val deletes it). The slices are
// copied.
func (w *Write) SetAux(key string, val []byte) {
	if w.err != nil {
		return
	}
	s := w.s
	var stored []byte
	if len(val) > 0 {
		stored = append([]byte(nil), val...)
	}
	s.auxMu.Lock()
	if stored == nil {
		delete(s.aux, key)
	} else {
		s.aux[key] = stored
	}
	s.auxMu.Unlock()
	s.be.setAux(key, stored)
}

// Aux returns an aux value and whether it is set. The slice must not be modified.
func (s *Store) Aux(key string) ([]byte, bool) {
	s.auxMu.RLock()
	defer s.auxMu.RUnlock()
	v, ok := s.aux[key]
	return v, ok
}

// AuxPrefix returns the aux keys with the given prefix, sorted, with their values. The
// slices must not be modified.
func (s *Store) AuxPrefix(prefix string) (keys []string, vals [][]byte) {
	s.auxMu.RLock()
	defer s.auxMu.RUnlock()
	for k := range s.aux {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		vals = append(vals, s.aux[k])
	}
	return keys, vals
}
