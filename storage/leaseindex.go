package storage

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
)

// leaseIndex knows which live keys each lease is attached to: what a lease revoke deletes
// and what TimeToLive lists. It holds only keys that have a lease. It is rebuilt from the
// records at Open and Restore, and kept by the write path (every new version of a key and
// every tombstone passes through set).
type leaseIndex struct {
	mu      sync.Mutex
	byKey   map[string]int64
	byLease map[int64]map[string]struct{}
}

func newLeaseIndex() *leaseIndex {
	return &leaseIndex{byKey: make(map[string]int64), byLease: make(map[int64]map[string]struct{})}
}

// set records that key's live version has lease (0: none, or the key was deleted).
func (li *leaseIndex) set(key []byte, lease int64) {
	li.mu.Lock()
	defer li.mu.Unlock()
	old, had := li.byKey[string(key)]
	if old == lease {
		return
	}
	if had {
		keys := li.byLease[old]
		delete(keys, string(key))
		if len(keys) == 0 {
			delete(li.byLease, old)
		}
		delete(li.byKey, string(key))
	}
	if lease == 0 {
		return
	}
	k := string(key)
	li.byKey[k] = lease
	keys := li.byLease[lease]
	if keys == nil {
		keys = make(map[string]struct{})
		li.byLease[lease] = keys
	}
	keys[k] = struct{}{}
}

// keys returns the keys attached to lease, sorted.
func (li *leaseIndex) keys(lease int64) [][]byte {
	li.mu.Lock()
	out := make([][]byte, 0, len(li.byLease[lease]))
	for k := range li.byLease[lease] {
		out = append(out, []byte(k))
	}
	li.mu.Unlock()
	slices.SortFunc(out, bytes.Compare)
	return out
}

// LeaseKeys returns the live keys attached to a lease, sorted.
func (s *Store) LeaseKeys(lease int64) [][]byte {
	s.swapMu.RLock() // a restore replaces the index
	defer s.swapMu.RUnlock()
	return s.leases.keys(lease)
}

// checkLease refuses a put that names a lease the node does not know (Options.LeaseExists).
func (s *Store) checkLease(req *PutRequest) error {
	if req.Lease == 0 || s.opts.LeaseExists == nil || s.opts.LeaseExists(req.Lease) {
		return nil
	}
	return fmt.Errorf("%w: %d (key %q)", ErrLeaseNotFound, req.Lease, req.Key)
}
