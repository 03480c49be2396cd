package node_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"etcq.dev/etcq/node"
	"etcq.dev/etcq/node/nodetest"
	"etcq.dev/etcq/storage"
)

// Lease tests on the real clock, on a nodetest cluster.

// TestLeaseUnknownIsRefused: every operation naming a lease that does not exist says so
// clearly, on the leader and on a follower, and changes nothing: a revoke fails with
// ErrLeaseNotFound, a put (alone or inside a txn) with storage.ErrLeaseNotFound and
// nothing of the txn applied; a renew reports TTL 0 and TimeToLive TTL -1. Grant limits
// and defaults are checked on the way.
func TestLeaseUnknownIsRefused(t *testing.T) {
	c := nodetest.NewCluster(t, nodetest.Options{})
	ctx := testCtx(t, 30*time.Second)
	lead := c.WaitLeader()
	const unknown = 0x0bad1ea5e
	for _, id := range []uint64{lead, lsOther(c, lead)} {
		m := c.Member(id)
		where := fmt.Sprintf("member %x (leader %x)", id, lead)
		rev := m.Store().Rev()
		if _, err := m.LeaseRevoke(ctx, unknown); !errors.Is(err, node.ErrLeaseNotFound) {
			t.Fatalf("%s: revoke of an unknown lease: %v", where, err)
		}
		if _, err := m.Put(ctx, storage.PutRequest{Key: []byte("/unk/put"), Value: []byte("v"), Lease: unknown}); !errors.Is(err, storage.ErrLeaseNotFound) {
			t.Fatalf("%s: put with an unknown lease: %v", where, err)
		}
		txn := storage.TxnRequest{
			Compare: []storage.Compare{{Result: storage.CompareEqual, Target: storage.TargetVersion, Key: []byte("/unk/a")}},
			Success: []storage.RequestOp{
				{Put: &storage.PutRequest{Key: []byte("/unk/a"), Value: []byte("v")}},
				{DeleteRange: &storage.DeleteRangeRequest{Key: []byte("/unk/c")}},
				{Put: &storage.PutRequest{Key: []byte("/unk/b"), Value: []byte("v"), Lease: unknown}},
			},
		}
		if _, err := m.Txn(ctx, txn); !errors.Is(err, storage.ErrLeaseNotFound) {
			t.Fatalf("%s: txn with a put naming an unknown lease: %v", where, err)
		}
		r, err := m.Range(ctx, storage.RangeRequest{Key: []byte("/unk/"), RangeEnd: []byte("/unk0")}, false)
		if err != nil || r.Count != 0 {
			t.Fatalf("%s: keys after refused writes: %+v %v", where, r, err)
		}
		if got := m.Store().Rev(); got != rev {
			t.Fatalf("%s: refused writes moved the revision from %d to %d", where, rev, got)
		}
		if r, err := m.LeaseRenew(ctx, unknown); err != nil || r.TTL != 0 {
			t.Fatalf("%s: renew of an unknown lease: %+v %v", where, r, err)
		}
		if info, err := m.LeaseTimeToLive(ctx, unknown, true); err != nil || info.TTL != -1 || len(info.Keys) != 0 {
			t.Fatalf("%s: time to live of an unknown lease: %+v %v", where, info, err)
		}
		if ids, err := m.Leases(ctx); err != nil || len(ids) != 0 {
			t.Fatalf("%s: leases: %v %v", where, ids, err)
		}
	}

	m := c.Member(lead)
	if _, err := m.LeaseGrant(ctx, 0, node.MaxLeaseTTL+1); !errors.Is(err, node.ErrLeaseTTLTooLong) {
		t.Fatalf("grant over the longest TTL: %v", err)
	}
	if _, err := m.LeaseGrant(ctx, -5, 10); err == nil {
		t.Fatal("grant of a negative ID succeeded")
	}
	g, err := m.LeaseGrant(ctx, 0, 0)
	if err != nil || g.ID <= 0 || g.TTL < 1 {
		t.Fatalf("grant with TTL 0 (the minimum): %+v %v", g, err)
	}
	// A txn whose other path names the unknown lease is fine: only the path taken counts.
	txn := storage.TxnRequest{
		Success: []storage.RequestOp{{Put: &storage.PutRequest{Key: []byte("/unk/ok"), Value: []byte("v"), Lease: g.ID}}},
		Failure: []storage.RequestOp{{Put: &storage.PutRequest{Key: []byte("/unk/no"), Value: []byte("v"), Lease: unknown}}},
	}
	if r, err := m.Txn(ctx, txn); err != nil || !r.Succeeded {
		t.Fatalf("txn with the unknown lease on the path not taken: %+v %v", r, err)
	}
	if _, err := m.LeaseRevoke(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
}

// TestLeaseMassExpiryDoesNotStallWrites grants 10,000 leases of the shortest TTL, one
// key each, from many clients at once, while one writer keeps putting through another
// member. The leader revokes them all (a few thousand a second), and every one of the
// writer's puts succeeds meanwhile; in the end no leased key and no lease is left, on
// any member.
func TestLeaseMassExpiryDoesNotStallWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 leases")
	}
	const (
		leases  = 10_000
		workers = 256
		rate    = 5_000 // revocations a second: 10,000 take 2 s
	)
	c := nodetest.NewCluster(t, nodetest.Options{
		// 600 ms: no spurious election when the machine is busy (-race, other tests),
		// which could fail a put for reasons that are not the leases'; the shortest
		// lease is still 1 s.
		ElectionTicks: 60,
		Tweak:         func(cfg *node.Config) { cfg.LeaseRevokeRate = rate },
	})
	ctx := testCtx(t, 2*time.Minute)
	lead := c.WaitLeader()
	ids := c.Running()
	writerOn := lsOther(c, lead)

	// The writer: sequential puts until told to stop; each must succeed.
	stopWriter := make(chan struct{})
	var writerErr error
	var puts atomic.Int64
	var slowest, slowestExpiring time.Duration // the latter once the grants are done
	var granting atomic.Bool
	granting.Store(true)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		m := c.Member(writerOn)
		for i := 0; ; i++ {
			select {
			case <-stopWriter:
				return
			default:
			}
			start := time.Now()
			_, err := m.Put(ctx, storage.PutRequest{Key: []byte(fmt.Sprintf("/writer/%d", i%100)), Value: []byte(fmt.Sprint(i))})
			if err != nil {
				writerErr = fmt.Errorf("put %d through member %x: %w", i, writerOn, err)
				return
			}
			slowest = max(slowest, time.Since(start))
			if !granting.Load() {
				slowestExpiring = max(slowestExpiring, time.Since(start))
			}
			puts.Add(1)
		}
	}()
	stopAndCheckWriter := func() {
		close(stopWriter)
		<-writerDone
		if writerErr != nil {
			t.Fatal(writerErr)
		}
	}

	// Grants, then a put with the lease right after each, all through the leader (no
	// forwarding: the grants go as fast as they can). On a slow machine a lease of
	// 1 s may go before its key is written: that put is refused, and a new lease is
	// granted for the key.
	began := time.Now()
	var next atomic.Int64
	var regrants atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for range workers {
		m := c.Member(lead)
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= leases {
					return
				}
				key := []byte(fmt.Sprintf("/mass/%05d", i))
				for {
					g, err := m.LeaseGrant(ctx, 0, 1)
					if err != nil {
						errc <- fmt.Errorf("grant for %s: %w", key, err)
						return
					}
					_, err = m.Put(ctx, storage.PutRequest{Key: key, Value: []byte("v"), Lease: g.ID})
					if errors.Is(err, storage.ErrLeaseNotFound) {
						regrants.Add(1)
						continue
					}
					if err != nil {
						errc <- fmt.Errorf("put %s: %w", key, err)
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		stopAndCheckWriter()
		t.Fatal(err)
	}
	granted := time.Since(began)
	granting.Store(false)
	putsAtGranted := puts.Load()

	// Wait for every leased key to go, on the leader's store.
	leader := c.Member(c.WaitLeader())
	all := storage.RangeRequest{Key: []byte("/mass/"), RangeEnd: []byte("/mass0"), CountOnly: true}
	deadline := time.Now().Add(time.Minute)
	for {
		r, err := leader.Store().Range(all)
		if err != nil {
			stopAndCheckWriter()
			t.Fatal(err)
		}
		if r.Count == 0 {
			break
		}
		if time.Now().After(deadline) {
			stopAndCheckWriter()
			t.Fatalf("%d leased keys still there a minute after the last grant", r.Count)
		}
		time.Sleep(20 * time.Millisecond) // a poll interval
	}
	gone := time.Since(began)
	putsAtGone := puts.Load()
	stopAndCheckWriter()
	t.Logf("%d leases (%d granted again after expiring before their put) granted in %v, all gone after %v; "+
		"the writer made %d puts meanwhile (%d after the last grant); the slowest took %v (%v after the last grant)",
		leases, regrants.Load(), granted.Round(time.Millisecond), gone.Round(time.Millisecond), puts.Load(), putsAtGone-putsAtGranted,
		slowest.Round(time.Millisecond), slowestExpiring.Round(time.Millisecond))
	// The last leases were granted at least a TTL before they could go: the writer had
	// that long to make progress while they were being revoked.
	if putsAtGone <= putsAtGranted {
		t.Fatalf("the writer made no put while the last leases expired (%d puts in all)", putsAtGone)
	}

	// Every member: no leased key, no lease.
	target := leader.AppliedIndex()
	for _, id := range ids {
		m := c.Member(id)
		if err := m.WaitApplied(ctx, target); err != nil {
			t.Fatal(err)
		}
		if r, err := m.Store().Range(all); err != nil || r.Count != 0 {
			t.Fatalf("member %x: leased keys left: %+v %v", id, r, err)
		}
		left, err := m.Leases(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 0 {
			t.Fatalf("member %x: %d leases left", id, len(left))
		}
	}
}

// TestLeaseRenewOnFollowerAcrossLeaderChange (real clock, short TTL): a client renews
// through a follower every third of the TTL while leadership moves twice; the lease
// never goes, and renewals keep answering with the granted TTL.
func TestLeaseRenewOnFollowerAcrossLeaderChange(t *testing.T) {
	c := nodetest.NewCluster(t, nodetest.Options{ElectionTicks: 30})
	ctx := testCtx(t, 30*time.Second)
	lead := c.WaitLeader()
	f := lsOther(c, lead)
	g, err := c.Member(f).LeaseGrant(ctx, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Member(f).Put(ctx, storage.PutRequest{Key: []byte("/rf/a"), Value: []byte("v"), Lease: g.ID}); err != nil {
		t.Fatal(err)
	}
	renew := func(step string) {
		t.Helper()
		r, err := c.Member(f).LeaseRenew(ctx, g.ID)
		if err != nil || r.TTL != g.TTL {
			t.Fatalf("%s: renew through %x: %+v %v", step, f, r, err)
		}
	}
	for step := range 2 {
		renew(fmt.Sprintf("before move %d", step))
		cur := c.WaitLeader()
		to := lsOther(c, cur, f)
		if err := c.Member(cur).MoveLeader(ctx, to); err != nil {
			t.Fatal(err)
		}
		if got := c.WaitLeader(); got != to {
			t.Fatalf("leader %x, want %x", got, to)
		}
		renew(fmt.Sprintf("after move %d", step))
		// Two more renewals a third of the TTL apart: more than a TTL since the grant.
		for range 2 {
			timer := time.NewTimer(time.Duration(g.TTL) * time.Second / 3)
			select {
			case <-timer.C:
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			}
			renew(fmt.Sprintf("move %d", step))
		}
	}
	info, err := c.Member(c.WaitLeader()).LeaseTimeToLive(ctx, g.ID, true)
	if err != nil || info.TTL <= 0 || len(info.Keys) != 1 {
		t.Fatalf("lease after two leader changes: %+v %v", info, err)
	}
}
