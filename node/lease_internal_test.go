package node

import (
	"context"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"etcq.dev/etcq/storage"
)

// Internal lease tests: they submit the lease operations only the leader's lease loop
// makes (expiries, checkpoints), with chosen arguments, on a single member.

// leaseSingle starts a one-member cluster whose lease loop leaves long leases alone.
func leaseSingle(t *testing.T, dir string) *Member {
	t.Helper()
	cfg := singleConfig(dir)
	cfg.SnapshotCount = 10000
	cfg.Logger = slog.New(slog.DiscardHandler)
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	waitLeader(t, m)
	return m
}

// submitExpiry proposes an expiry as the leader's lease loop does, and returns how many
// leases it revoked.
func submitExpiry(t *testing.T, ctx context.Context, m *Member, e leaseExpiry) int {
	t.Helper()
	r, err := m.submitPriority(ctx, &request{Op: opLeaseExpire, Lease: &leaseRequest{Expiries: []leaseExpiry{e}}})
	if err != nil {
		t.Fatalf("expiry %+v: %v", e, err)
	}
	return r.(int)
}

func leaseKeyCount(t *testing.T, m *Member, prefix string) int64 {
	t.Helper()
	end := []byte(prefix)
	end[len(end)-1]++
	r, err := m.Store().Range(storage.RangeRequest{Key: []byte(prefix), RangeEnd: end, CountOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	return r.Count
}

// TestLeaseExpiryGenerationChecked: an expiry names the generation the leader saw. One
// made before a renew (a deposed leader's, or one that raced with the renew) is ignored
// at apply: the lease and its keys stay, nothing changes, and it stays so after a
// restart. One naming the current generation revokes the lease and its keys in one
// revision.
func TestLeaseExpiryGenerationChecked(t *testing.T) {
	dir := t.TempDir()
	m := leaseSingle(t, dir)
	ctx := testCtxInternal(t, 20*time.Second)
	const id = 0x51
	if _, err := m.LeaseGrant(ctx, id, 600); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"/gen/a", "/gen/b", "/gen/c"} {
		if _, err := m.Put(ctx, storage.PutRequest{Key: []byte(k), Value: []byte("v"), Lease: id}); err != nil {
			t.Fatal(err)
		}
	}
	before, ok := m.lessor.get(id)
	if !ok {
		t.Fatal("granted lease not in the table")
	}
	if _, err := m.LeaseRenew(ctx, id); err != nil {
		t.Fatal(err)
	}
	after, _ := m.lessor.get(id)
	if after.Gen == before.Gen {
		t.Fatalf("a renew left the generation at %d", after.Gen)
	}
	rev := m.Store().Rev()

	if n := submitExpiry(t, ctx, m, leaseExpiry{ID: id, Gen: before.Gen}); n != 0 {
		t.Fatalf("a stale expiry (gen %d, lease at %d) revoked %d leases", before.Gen, after.Gen, n)
	}
	info, err := m.LeaseTimeToLive(ctx, id, true)
	if err != nil || info.TTL <= 0 || len(info.Keys) != 3 {
		t.Fatalf("lease after a stale expiry: %+v %v", info, err)
	}
	if got := m.Store().Rev(); got != rev {
		t.Fatalf("a stale expiry moved the revision from %d to %d", rev, got)
	}
	if n := leaseKeyCount(t, m, "/gen/"); n != 3 {
		t.Fatalf("%d of 3 keys left after a stale expiry", n)
	}

	// The ignored expiry is in the log; a restart replays nothing that revokes.
	m.Stop()
	m = leaseSingle(t, dir)
	if rec, ok := m.lessor.get(id); !ok || rec.Gen != after.Gen {
		t.Fatalf("lease after restart: %+v %v, want generation %d", rec, ok, after.Gen)
	}
	if n := leaseKeyCount(t, m, "/gen/"); n != 3 {
		t.Fatalf("%d of 3 keys left after restart", n)
	}

	if n := submitExpiry(t, ctx, m, leaseExpiry{ID: id, Gen: after.Gen}); n != 1 {
		t.Fatalf("a current expiry revoked %d leases, want 1", n)
	}
	if _, ok := m.lessor.get(id); ok {
		t.Fatal("lease still in the table after its expiry")
	}
	if _, ok := m.Store().Aux(leaseKey(id)); ok {
		t.Fatal("lease record still stored after its expiry")
	}
	if n := leaseKeyCount(t, m, "/gen/"); n != 0 {
		t.Fatalf("%d keys left after the expiry", n)
	}
	if got, want := m.Store().Rev(), rev+1; got != want {
		t.Fatalf("expiry of a lease with 3 keys: revision %d, want %d (one revision)", got, want)
	}
	// A second expiry of the same lease (a retry whose first attempt was applied) does
	// nothing.
	if n := submitExpiry(t, ctx, m, leaseExpiry{ID: id, Gen: after.Gen}); n != 0 {
		t.Fatalf("expiry of a revoked lease revoked %d", n)
	}
}

// TestLeaseExpiryOfEarlierIncarnation: a lease revoked and granted again under the same
// ID must not be revoked by an expiry the leader computed for the earlier one (an expiry
// still queued when the first lease went, e.g. a deposed leader's forwarded after it
// learnt the new leader, or a retry of one that timed out but was applied). So a
// generation must name one incarnation of a lease, not restart with every grant.
func TestLeaseExpiryOfEarlierIncarnation(t *testing.T) {
	m := leaseSingle(t, t.TempDir())
	ctx := testCtxInternal(t, 20*time.Second)
	const id = 0x52
	if _, err := m.LeaseGrant(ctx, id, 600); err != nil {
		t.Fatal(err)
	}
	old, _ := m.lessor.get(id)
	stale := leaseExpiry{ID: id, Gen: old.Gen} // what a leader saw expire
	if _, err := m.LeaseRevoke(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := m.LeaseGrant(ctx, id, 600); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(ctx, storage.PutRequest{Key: []byte("/inc/a"), Value: []byte("v"), Lease: id}); err != nil {
		t.Fatal(err)
	}
	cur, _ := m.lessor.get(id)
	if n := submitExpiry(t, ctx, m, stale); n != 0 {
		t.Errorf("an expiry computed for the revoked lease %x (gen %d) revoked its successor (gen %d), granted a moment ago with a 600 s TTL",
			id, stale.Gen, cur.Gen)
	}
	if n := leaseKeyCount(t, m, "/inc/"); n != 1 {
		t.Errorf("the new lease's key is gone")
	}
}

// TestLeaseCheckpointAfterRenew: the leader computes checkpoints from its table, then
// proposes them; a renew applied in between must not be undone by the checkpoint, or a
// lease kept alive by its client expires a moment after a successful renew. Fake clock:
// the lease is near its end when the checkpoint is taken, the renew lands, then the
// checkpoint.
func TestLeaseCheckpointAfterRenew(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := leaseSingle(t, t.TempDir())
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		const id, ttl = 0x53, 10
		if _, err := m.LeaseGrant(ctx, id, ttl); err != nil {
			t.Fatal(err)
		}
		time.Sleep(ttl*time.Second - 1500*time.Millisecond)
		var cps []leaseCheckpoint
		for _, cp := range m.lessor.checkpoints() { // as the leader's lease loop does
			if cp.ID == id {
				cps = append(cps, cp)
			}
		}
		if len(cps) != 1 {
			t.Fatalf("checkpoints: %+v", cps)
		}
		if r, err := m.LeaseRenew(ctx, id); err != nil || r.TTL != ttl {
			t.Fatalf("renew: %+v %v", r, err)
		}
		if _, err := m.submitPriority(ctx, &request{Op: opLeaseCheckpoint, Lease: &leaseRequest{Checkpoints: cps}}); err != nil {
			t.Fatal(err)
		}
		info, err := m.LeaseTimeToLive(ctx, id, false)
		if err != nil {
			t.Fatal(err)
		}
		if info.TTL < ttl-1 {
			t.Errorf("just renewed (TTL %d s), the lease has %d s left: a checkpoint taken before the renew (%d ms left) overwrote it",
				ttl, info.TTL, cps[0].RemainingMs)
		}
	})
}

// TestLeaseLessorExpiredMarks: the leader proposes each expired lease once per generation,
// at most limit at a time; a failed proposal (forgetExpiring) or lost leadership
// (forgetAll) makes it propose again; a renew (new generation, new expiry) ends it.
func TestLeaseLessorExpiredMarks(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLessor()
	l.now = func() time.Time { return now }
	for id := int64(1); id <= 5; id++ {
		l.leases[id] = &lease{leaseRecord: leaseRecord{ID: id, TTL: 10, RemainingMs: 10000, Gen: 1}, expiry: now.Add(time.Duration(id) * time.Second)}
	}
	if got := l.expired(10); len(got) != 0 {
		t.Fatalf("nothing is due, got %+v", got)
	}
	now = now.Add(3 * time.Second) // leases 1..3 are due
	first := l.expired(2)
	if len(first) != 2 {
		t.Fatalf("limit 2: got %+v", first)
	}
	second := l.expired(10)
	if len(second) != 1 {
		t.Fatalf("the third due lease: got %+v", second)
	}
	if got := l.expired(10); len(got) != 0 {
		t.Fatalf("leases proposed twice: %+v", got)
	}
	l.forgetExpiring(first)
	if got := l.expired(10); len(got) != 2 {
		t.Fatalf("after a failed proposal of %+v: got %+v", first, got)
	}
	// A renew of lease 3 (new generation, expiry moved on) ends its due state; its old
	// proposal's failure must not matter.
	l.leases[3] = &lease{leaseRecord: leaseRecord{ID: 3, TTL: 10, RemainingMs: 10000, Gen: 2}, expiry: now.Add(10 * time.Second)}
	l.forgetExpiring(second)
	l.forgetAll()
	got := l.expired(10)
	if len(got) != 2 {
		t.Fatalf("after losing leadership: got %+v, want leases 1 and 2", got)
	}
	for _, e := range got {
		if e.ID == 3 || e.Gen != 1 {
			t.Fatalf("unexpected expiry %+v", e)
		}
	}
	if cps := l.checkpoints(); len(cps) != 3 {
		// Leases 1 and 2 are past their expiry; 3, 4 and 5 have time left.
		t.Fatalf("checkpoints: %+v", cps)
	}
}

func testCtxInternal(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
