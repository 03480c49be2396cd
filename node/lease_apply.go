package node

import (
	"fmt"

	"etcq.dev/etcq/storage"
)

// LeaseGrantResult is the lease a grant created.
type LeaseGrantResult struct {
	ID, TTL  int64
	Revision int64
}

// LeaseRenewResult is a renewed lease's TTL; TTL 0 means the lease does not exist.
type LeaseRenewResult struct {
	ID, TTL  int64
	Revision int64
}

// LeaseRevokeResult is the result of a revoke.
type LeaseRevokeResult struct {
	Revision int64
}

// applyLease applies one lease operation in the entry's session. Every decision depends
// on the replicated table only, so every member decides the same.
func (m *Member) applyLease(w *storage.Write, op opCode, r *leaseRequest) (any, error) {
	l := m.lessor
	switch op {
	case opLeaseGrant:
		if _, ok := l.get(r.ID); ok {
			return nil, fmt.Errorf("%w: %d", ErrLeaseExists, r.ID)
		}
		if err := l.put(w, leaseRecord{ID: r.ID, TTL: r.TTL, RemainingMs: r.TTL * 1000, Gen: l.nextGen(w)}); err != nil {
			return nil, err
		}
		return &LeaseGrantResult{ID: r.ID, TTL: r.TTL, Revision: m.store.Rev()}, nil
	case opLeaseRevoke:
		if _, ok := l.get(r.ID); !ok {
			return nil, fmt.Errorf("%w: %d", ErrLeaseNotFound, r.ID)
		}
		if err := l.revoke(w, m.store, r.ID); err != nil {
			return nil, err
		}
		return &LeaseRevokeResult{Revision: m.store.Rev()}, nil
	case opLeaseRenew:
		rec, ok := l.get(r.ID)
		if !ok {
			return &LeaseRenewResult{ID: r.ID, Revision: m.store.Rev()}, nil
		}
		rec.Gen = l.nextGen(w)
		rec.RemainingMs = rec.TTL * 1000
		if err := l.put(w, rec); err != nil {
			return nil, err
		}
		return &LeaseRenewResult{ID: r.ID, TTL: rec.TTL, Revision: m.store.Rev()}, nil
	case opLeaseCheckpoint:
		for _, cp := range r.Checkpoints {
			rec, ok := l.get(cp.ID)
			if !ok || rec.Gen != cp.Gen {
				continue // gone, or renewed since the checkpoint was taken
			}
			rec.RemainingMs = cp.RemainingMs
			if err := l.put(w, rec); err != nil {
				return nil, err
			}
		}
		return nil, nil
	case opLeaseExpire:
		revoked := 0
		for _, e := range r.Expiries {
			// A renew since the leader saw the lease expire voids the expiry.
			if rec, ok := l.get(e.ID); ok && rec.Gen == e.Gen {
				if err := l.revoke(w, m.store, e.ID); err != nil {
					return nil, err
				}
				revoked++
			}
		}
		return revoked, nil
	}
	return nil, fmt.Errorf("node: unknown lease operation %d", op)
}
