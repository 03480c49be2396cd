package node

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"etcq.dev/etcq/storage"
)

// Leases are replicated state: grant, renew, checkpoint, revoke and expiry are raft
// requests, and every member applies them to the same table, kept in the store's aux
// values (leases/<id>) and committed with the entry that changed it.
//
// Time is local. Each member estimates a lease's expiry from when it applied the lease's
// last grant, renew or checkpoint: apply time plus the remaining TTL. Members apply within
// moments of each other, so a new leader's estimates are as good as the old leader's: a
// leader change neither resets a TTL nor shortens one (at worst it lengthens it by the
// new leader's apply lag). After a restart a member counts the remaining TTL of the last
// checkpoint from the moment it loads it, which can only lengthen a lease.
//
// Only the leader expires leases. It proposes an expiry naming the lease's generation,
// which every renew bumps; at apply, an expiry whose generation is stale is ignored. So a
// deposed leader whose clock says a lease is over never revokes it: if the lease was kept
// alive through the new leader, its generation has moved on (etcd issue #15247).
const auxLeases = "leases/"

// auxLeaseGen holds the last lease generation handed out (8 bytes, big-endian). Every
// grant and renew of every lease takes the next one, so a generation names one lease
// incarnation at one moment: an expiry computed for a lease that was since revoked and
// granted again under the same ID cannot name the new lease.
const auxLeaseGen = "lease-gen"

func leaseKey(id int64) string { return fmt.Sprintf("%s%016x", auxLeases, uint64(id)) }

// MaxLeaseTTL is the longest TTL a lease may have, in seconds (as etcd).
const MaxLeaseTTL = 9_000_000_000

// leaseRecord is a lease's replicated state, as stored.
type leaseRecord struct {
	ID  int64
	TTL int64 // granted TTL, seconds
	// RemainingMs is the TTL left, in milliseconds, when it was last granted, renewed or
	// checkpointed.
	RemainingMs int64
	// Gen is the generation of the lease's last grant or renew (unique across leases and
	// incarnations, see auxLeaseGen); an expiry must name the current one.
	Gen uint64
}

// lease is a lease as this member knows it.
type lease struct {
	leaseRecord
	expiry time.Time // this member's estimate
	// expiring is the generation an expiry proposal is under way for (leader only).
	expiring uint64
}

// lessor is the member's lease table. The apply goroutine changes it; readers (TimeToLive,
// Leases, the store's lease check, the leader's expiry loop) take mu.
type lessor struct {
	mu     sync.Mutex
	leases map[int64]*lease
	now    func() time.Time
	gen    uint64 // the last generation handed out
}

func newLessor() *lessor {
	return &lessor{leases: make(map[int64]*lease), now: time.Now}
}

// load replaces the table with the store's (at start and after a snapshot restore).
func (l *lessor) load(s *storage.Store) error {
	keys, vals := s.AuxPrefix(auxLeases)
	leases := make(map[int64]*lease, len(keys))
	now := l.now()
	var gen uint64
	if b, ok := s.Aux(auxLeaseGen); ok {
		if len(b) != 8 {
			return fmt.Errorf("node: lease generation: %d bytes, want 8", len(b))
		}
		gen = binary.BigEndian.Uint64(b)
	}
	for i, k := range keys {
		var rec leaseRecord
		if err := msgpack.Unmarshal(vals[i], &rec); err != nil {
			return fmt.Errorf("node: lease %s: %w", strings.TrimPrefix(k, auxLeases), err)
		}
		leases[rec.ID] = &lease{leaseRecord: rec, expiry: now.Add(time.Duration(rec.RemainingMs) * time.Millisecond)}
		gen = max(gen, rec.Gen) // a store from before auxLeaseGen
	}
	l.mu.Lock()
	l.leases = leases
	l.gen = gen
	l.mu.Unlock()
	return nil
}

// nextGen hands out the next lease generation, recorded in the session.
func (l *lessor) nextGen(w *storage.Write) uint64 {
	l.mu.Lock()
	l.gen++
	gen := l.gen
	l.mu.Unlock()
	w.SetAux(auxLeaseGen, binary.BigEndian.AppendUint64(nil, gen))
	return gen
}

func (l *lessor) exists(id int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.leases[id]
	return ok
}

// LeaseInfo describes a lease: its granted TTL and the seconds this member estimates are
// left (-1: no such lease).
type LeaseInfo struct {
	ID         int64
	TTL        int64
	GrantedTTL int64
	Keys       [][]byte
}

func (l *lessor) info(id int64) (LeaseInfo, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ls, ok := l.leases[id]
	if !ok {
		return LeaseInfo{ID: id, TTL: -1}, false
	}
	left := int64(math.Ceil(ls.expiry.Sub(l.now()).Seconds()))
	return LeaseInfo{ID: id, TTL: max(left, 0), GrantedTTL: ls.TTL}, true
}

func (l *lessor) ids() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]int64, 0, len(l.leases))
	for id := range l.leases {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// put records a lease (grant, renew, checkpoint) in the table and in the session.
func (l *lessor) put(w *storage.Write, rec leaseRecord) error {
	b, err := msgpack.Marshal(&rec)
	if err != nil {
		return err
	}
	w.SetAux(leaseKey(rec.ID), b)
	l.mu.Lock()
	l.leases[rec.ID] = &lease{leaseRecord: rec, expiry: l.now().Add(time.Duration(rec.RemainingMs) * time.Millisecond)}
	l.mu.Unlock()
	return nil
}

// revoke deletes a lease and its keys (in one revision) in the session.
func (l *lessor) revoke(w *storage.Write, s *storage.Store, id int64) error {
	if _, err := w.DeleteKeys(s.LeaseKeys(id)); err != nil {
		return err
	}
	w.SetAux(leaseKey(id), nil)
	l.mu.Lock()
	delete(l.leases, id)
	l.mu.Unlock()
	return nil
}

func (l *lessor) get(id int64) (leaseRecord, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ls, ok := l.leases[id]
	if !ok {
		return leaseRecord{}, false
	}
	return ls.leaseRecord, true
}

// leaseExpiry names a lease the leader found expired, and the generation it saw.
type leaseExpiry struct {
	ID  int64
	Gen uint64
}

// leaseCheckpoint records a lease's remaining TTL.
type leaseCheckpoint struct {
	ID          int64
	RemainingMs int64
	// Gen is the generation the remaining TTL was computed for: a renew applied since
	// makes the checkpoint stale, and it is ignored.
	Gen uint64
}

// expired returns up to limit leases past their expiry that no expiry proposal covers yet,
// and marks them as covered.
func (l *lessor) expired(limit int) []leaseExpiry {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var out []leaseExpiry
	for id, ls := range l.leases {
		if len(out) >= limit {
			break
		}
		if ls.expiring != ls.Gen && !now.Before(ls.expiry) {
			ls.expiring = ls.Gen
			out = append(out, leaseExpiry{ID: id, Gen: ls.Gen})
		}
	}
	return out
}

// forgetExpiring drops the marks of expiry proposals, so that expired leases are proposed
// again (after an expiry proposal failed, or leadership changed hands).
func (l *lessor) forgetExpiring(ids []leaseExpiry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range ids {
		if ls, ok := l.leases[e.ID]; ok && ls.expiring == e.Gen {
			ls.expiring = 0
		}
	}
}

// checkpoints returns the remaining TTL of every live lease.
func (l *lessor) checkpoints() []leaseCheckpoint {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	out := make([]leaseCheckpoint, 0, len(l.leases))
	for id, ls := range l.leases {
		if left := ls.expiry.Sub(now); left > 0 {
			out = append(out, leaseCheckpoint{ID: id, RemainingMs: left.Milliseconds(), Gen: ls.Gen})
		}
	}
	return out
}

// forgetAll drops every expiry mark (leadership was lost).
func (l *lessor) forgetAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ls := range l.leases {
		ls.expiring = 0
	}
}
