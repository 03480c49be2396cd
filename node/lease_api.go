package node

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// LeaseGrant creates a lease of ttl seconds (raised to the minimum of one and a half
// election timeouts). id 0 lets the member choose the lease's ID.
func (m *Member) LeaseGrant(ctx context.Context, id, ttl int64) (*LeaseGrantResult, error) {
	if ttl > MaxLeaseTTL {
		return nil, fmt.Errorf("%w: %d seconds, the limit is %d", ErrLeaseTTLTooLong, ttl, MaxLeaseTTL)
	}
	if id < 0 {
		return nil, fmt.Errorf("%w: lease ID %d is negative", ErrBadConfig, id)
	}
	ttl = max(ttl, m.cfg.minLeaseTTL())
	chosen := id == 0
	for attempt := 0; ; attempt++ {
		if chosen {
			id = randomLeaseID()
		}
		r, err := m.submit(ctx, &request{Op: opLeaseGrant, Lease: &leaseRequest{ID: id, TTL: ttl}})
		if chosen && errors.Is(err, ErrLeaseExists) && attempt < 3 {
			continue // an ID the member picked collided: pick another
		}
		if err != nil {
			return nil, err
		}
		return r.(*LeaseGrantResult), nil
	}
}

// randomLeaseID picks a positive lease ID.
func randomLeaseID() int64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		if id := int64(binary.BigEndian.Uint64(b[:]) >> 1); id != 0 {
			return id
		}
	}
}

// LeaseRevoke deletes a lease and every key attached to it, in one revision.
func (m *Member) LeaseRevoke(ctx context.Context, id int64) (*LeaseRevokeResult, error) {
	r, err := m.submit(ctx, &request{Op: opLeaseRevoke, Lease: &leaseRequest{ID: id}})
	if err != nil {
		return nil, err
	}
	return r.(*LeaseRevokeResult), nil
}

// LeaseRenew restarts a lease's TTL (a keep-alive). It goes through raft, ahead of
// ordinary requests, so the renewal survives a leader change. TTL 0 in the result means
// the lease does not exist (any more).
func (m *Member) LeaseRenew(ctx context.Context, id int64) (*LeaseRenewResult, error) {
	r, err := m.submitPriority(ctx, &request{Op: opLeaseRenew, Lease: &leaseRequest{ID: id}})
	if err != nil {
		return nil, err
	}
	return r.(*LeaseRenewResult), nil
}

// LeaseTimeToLive describes a lease as of a linearizable read: its remaining TTL as this
// member estimates it, its granted TTL and, with keys, its attached keys. A missing lease
// has TTL -1.
func (m *Member) LeaseTimeToLive(ctx context.Context, id int64, keys bool) (LeaseInfo, error) {
	if err := m.linearizableWait(ctx); err != nil {
		return LeaseInfo{}, err
	}
	info, ok := m.lessor.info(id)
	if ok && keys {
		info.Keys = m.store.LeaseKeys(id)
	}
	return info, nil
}

// Leases lists the IDs of every lease, as of a linearizable read.
func (m *Member) Leases(ctx context.Context) ([]int64, error) {
	if err := m.linearizableWait(ctx); err != nil {
		return nil, err
	}
	return m.lessor.ids(), nil
}

// leaseLoop is the leader's lease work: it proposes the expiry of leases past their TTL,
// at most LeaseRevokeRate a second, and checkpoints every lease's remaining TTL every
// LeaseCheckpointInterval. On followers it only keeps its marks clean.
func (m *Member) leaseLoop() {
	defer m.wg.Done()
	tick := min(m.cfg.electionTimeout()/2, 500*time.Millisecond)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	perTick := max(1, int(float64(m.cfg.LeaseRevokeRate)*tick.Seconds()))
	lastCheckpoint := time.Now()
	wasLeader := false
	for {
		select {
		case <-m.stopC:
			return
		case <-ticker.C:
		}
		leader := m.IsLeader()
		if !leader {
			if wasLeader {
				m.lessor.forgetAll()
			}
			wasLeader = false
			continue
		}
		if !wasLeader {
			lastCheckpoint = time.Now()
		}
		wasLeader = true
		if expired := m.lessor.expired(perTick); len(expired) > 0 {
			go m.proposeExpiries(expired)
		}
		if time.Since(lastCheckpoint) >= m.cfg.LeaseCheckpointInterval {
			lastCheckpoint = time.Now()
			go m.proposeCheckpoints(m.lessor.checkpoints())
		}
	}
}

func (m *Member) proposeExpiries(expired []leaseExpiry) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*m.cfg.electionTimeout()+time.Second)
	defer cancel()
	if _, err := m.submitPriority(ctx, &request{Op: opLeaseExpire, Lease: &leaseRequest{Expiries: expired}}); err != nil {
		m.log.Debug("lease expiry not applied; will retry", "leases", len(expired), "err", err)
		m.lessor.forgetExpiring(expired)
	}
}

// checkpointBatch bounds the checkpoints in one request.
const checkpointBatch = 1000

func (m *Member) proposeCheckpoints(cps []leaseCheckpoint) {
	for len(cps) > 0 {
		n := min(len(cps), checkpointBatch)
		ctx, cancel := context.WithTimeout(context.Background(), 2*m.cfg.electionTimeout()+time.Second)
		_, err := m.submitPriority(ctx, &request{Op: opLeaseCheckpoint, Lease: &leaseRequest{Checkpoints: cps[:n]}})
		cancel()
		if err != nil {
			m.log.Debug("lease checkpoint not applied", "err", err)
			return
		}
		cps = cps[n:]
	}
}
