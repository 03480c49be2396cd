package node_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"etcq.dev/etcq/node"
	"etcq.dev/etcq/node/nodetest"
	"etcq.dev/etcq/storage"
)

// Lease tests on a fake clock. Each runs a whole nodetest cluster inside a synctest
// bubble: the members' tickers, timers and time.Now are the bubble's, and its clock only
// moves when every goroutine in it is blocked, so raft rounds, WAL writes and applies
// take no fake time at all, and a lease's life is measured exactly, whatever the load of
// the machine. (File I/O works inside a bubble: a goroutine in a system call is simply
// not idle, so the clock waits for it.) time.Sleep in these tests lets fake time pass.
//
// Ticks are production-like (100 ms, election timeout 1 s, so the shortest lease is 2 s):
// on a fake clock slow ticks cost nothing, and fewer of them keep the tests fast.

const lsTick = 100 * time.Millisecond

// lsSeed picks the network seed outside the bubble (inside, the clock always starts at
// the same instant) and logs it.
func lsSeed(t *testing.T) int64 {
	s := time.Now().UnixNano()
	t.Logf("seed %d", s)
	return s
}

func lsCluster(t *testing.T, seed int64, tweak func(*node.Config)) *nodetest.Cluster {
	t.Helper()
	return nodetest.NewCluster(t, nodetest.Options{Seed: seed, TickInterval: lsTick, ElectionTicks: 10, Tweak: tweak})
}

func lsOther(c *nodetest.Cluster, not ...uint64) uint64 {
	for _, id := range c.Running() {
		skip := false
		for _, n := range not {
			skip = skip || id == n
		}
		if !skip {
			return id
		}
	}
	return 0
}

// lsInfo is a linearizable TimeToLive (with keys) on member id.
func lsInfo(t *testing.T, ctx context.Context, c *nodetest.Cluster, id uint64, lease int64) node.LeaseInfo {
	t.Helper()
	info, err := c.Member(id).LeaseTimeToLive(ctx, lease, true)
	if err != nil {
		t.Fatalf("member %x: time to live of %x: %v", id, lease, err)
	}
	return info
}

// lsAlive checks that every running member has the lease with its keys, and that the
// keys are in every member's store.
func lsAlive(t *testing.T, ctx context.Context, c *nodetest.Cluster, lease int64, keys []string, when string) {
	t.Helper()
	for _, id := range c.Running() {
		info := lsInfo(t, ctx, c, id, lease)
		if info.TTL <= 0 || len(info.Keys) != len(keys) {
			t.Fatalf("%s: member %x: lease %x: %+v, want it alive with %d keys", when, id, lease, info, len(keys))
		}
		for i, k := range keys {
			if string(info.Keys[i]) != k {
				t.Fatalf("%s: member %x: lease keys %q, want %q", when, id, info.Keys, keys)
			}
		}
		for _, k := range keys {
			r, err := c.Member(id).Range(ctx, storage.RangeRequest{Key: []byte(k)}, false)
			if err != nil || r.Count != 1 || r.KVs[0].Lease != lease {
				t.Fatalf("%s: member %x: key %s: %+v %v", when, id, k, r, err)
			}
		}
	}
}

// lsWaitGone waits (on the fake clock, at most limit) until every running member has
// neither the lease nor its keys, and returns when the leader saw it gone.
func lsWaitGone(t *testing.T, ctx context.Context, c *nodetest.Cluster, lease int64, keys []string, limit time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		lead := c.WaitLeader()
		if lsInfo(t, ctx, c, lead, lease).TTL == -1 {
			gone := time.Now()
			target := c.Member(lead).AppliedIndex()
			for _, id := range c.Running() {
				m := c.Member(id)
				if err := m.WaitApplied(ctx, target); err != nil {
					t.Fatal(err)
				}
				if info := lsInfo(t, ctx, c, id, lease); info.TTL != -1 {
					t.Fatalf("member %x still has lease %x after the leader revoked it: %+v", id, lease, info)
				}
				for _, k := range keys {
					if r, err := m.Store().Range(storage.RangeRequest{Key: []byte(k)}); err != nil || r.Count != 0 {
						t.Fatalf("member %x: key %s of revoked lease %x: %+v %v", id, k, lease, r, err)
					}
				}
			}
			return gone
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease %x not revoked within %v of fake time", lease, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lsPutKeys(t *testing.T, ctx context.Context, m *node.Member, lease int64, keys []string) int64 {
	t.Helper()
	var rev int64
	for _, k := range keys {
		r, err := m.Put(ctx, storage.PutRequest{Key: []byte(k), Value: []byte("v"), Lease: lease})
		if err != nil {
			t.Fatalf("put %s with lease %x: %v", k, lease, err)
		}
		rev = r.Revision
	}
	return rev
}

// sleepUntil lets fake time pass until at.
func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }

// TestLeaseSynctestExpiry: a lease granted on a follower is alive, with its keys, until
// just before its TTL; then the leader revokes it: every member drops the lease and its
// keys, all in one revision; the lease can neither be revoked nor take keys any more.
func TestLeaseSynctestExpiry(t *testing.T) {
	seed := lsSeed(t)
	synctest.Test(t, func(t *testing.T) {
		c := lsCluster(t, seed, nil)
		ctx := testCtx(t, 5*time.Minute)
		lead := c.WaitLeader()
		f := lsOther(c, lead)
		const ttl = 5
		granted := time.Now()
		g, err := c.Member(f).LeaseGrant(ctx, 0, ttl)
		if err != nil || g.TTL != ttl {
			t.Fatalf("grant: %+v %v", g, err)
		}
		keys := []string{"/exp/a", "/exp/b", "/exp/c"}
		rev := lsPutKeys(t, ctx, c.Member(lead), g.ID, keys)

		sleepUntil(granted.Add(ttl*time.Second - 300*time.Millisecond))
		lsAlive(t, ctx, c, g.ID, keys, "just before the TTL")
		gone := lsWaitGone(t, ctx, c, g.ID, keys, 5*time.Second)
		t.Logf("lease gone %v after the grant (TTL %d s)", gone.Sub(granted), ttl)
		for _, id := range c.Running() {
			if got := c.Member(id).Store().Rev(); got != rev+1 {
				t.Fatalf("member %x: revision %d after the expiry, want %d: three keys, one revision", id, got, rev+1)
			}
		}
		if _, err := c.Member(f).Put(ctx, storage.PutRequest{Key: []byte("/exp/d"), Lease: g.ID}); !errors.Is(err, storage.ErrLeaseNotFound) {
			t.Fatalf("put with the expired lease: %v", err)
		}
		if _, err := c.Member(f).LeaseRevoke(ctx, g.ID); !errors.Is(err, node.ErrLeaseNotFound) {
			t.Fatalf("revoke of the expired lease: %v", err)
		}
	})
}

// TestLeaseSynctestKeepAliveMinutes: a lease renewed on a follower every third of its TTL
// lives for minutes of fake time with its keys; checkpoints happen along the way. Once
// renewals stop, it lives a TTL more, then goes.
func TestLeaseSynctestKeepAliveMinutes(t *testing.T) {
	seed := lsSeed(t)
	synctest.Test(t, func(t *testing.T) {
		c := lsCluster(t, seed, func(cfg *node.Config) { cfg.LeaseCheckpointInterval = 10 * time.Second })
		ctx := testCtx(t, time.Hour)
		lead := c.WaitLeader()
		f := lsOther(c, lead)
		const ttl = 6
		g, err := c.Member(f).LeaseGrant(ctx, 0, ttl)
		if err != nil {
			t.Fatal(err)
		}
		keys := []string{"/ka/a", "/ka/b"}
		lsPutKeys(t, ctx, c.Member(f), g.ID, keys)
		start := time.Now()
		last := start
		renewals := 0
		for time.Since(start) < 3*time.Minute {
			time.Sleep(ttl * time.Second / 3)
			r, err := c.Member(f).LeaseRenew(ctx, g.ID)
			if err != nil || r.TTL != ttl {
				t.Fatalf("renewal %d, %v into the lease's life: %+v %v", renewals+1, time.Since(start), r, err)
			}
			last = time.Now()
			renewals++
		}
		lsAlive(t, ctx, c, g.ID, keys, fmt.Sprintf("after %v and %d renewals", time.Since(start), renewals))
		if info := lsInfo(t, ctx, c, c.WaitLeader(), g.ID); info.TTL != ttl || info.GrantedTTL != ttl {
			t.Fatalf("just renewed: %+v", info)
		}
		sleepUntil(last.Add(ttl*time.Second - 300*time.Millisecond))
		lsAlive(t, ctx, c, g.ID, keys, "just before the TTL after the last renewal")
		gone := lsWaitGone(t, ctx, c, g.ID, keys, 5*time.Second)
		t.Logf("%d renewals over %v; lease gone %v after the last", renewals, last.Sub(start), gone.Sub(last))
	})
}

// TestLeaseSynctestTTLAcrossLeaderChanges: a lease's remaining TTL carries over a
// leadership transfer and a crash of the leader: the new leader neither resets it to the
// granted TTL nor lets the lease go before a full TTL since its last renewal.
func TestLeaseSynctestTTLAcrossLeaderChanges(t *testing.T) {
	seed := lsSeed(t)
	synctest.Test(t, func(t *testing.T) {
		c := lsCluster(t, seed, nil)
		ctx := testCtx(t, 5*time.Minute)
		lead := c.WaitLeader()
		f := lsOther(c, lead)
		const ttl = 10
		g, err := c.Member(f).LeaseGrant(ctx, 0, ttl)
		if err != nil {
			t.Fatal(err)
		}
		keys := []string{"/lc/a"}
		lsPutKeys(t, ctx, c.Member(lead), g.ID, keys)
		time.Sleep(2 * time.Second)
		renewed := time.Now()
		if _, err := c.Member(f).LeaseRenew(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
		// left is the most TTL a member may report: a full TTL from the renewal.
		left := func() int64 {
			return int64(math.Ceil((ttl*time.Second - time.Since(renewed)).Seconds()))
		}

		time.Sleep(3 * time.Second)
		to := lsOther(c, lead)
		if err := c.Member(lead).MoveLeader(ctx, to); err != nil {
			t.Fatal(err)
		}
		if got := c.WaitLeader(); got != to {
			t.Fatalf("leader %x after moving leadership to %x", got, to)
		}
		info := lsInfo(t, ctx, c, to, g.ID)
		t.Logf("after the transfer to %x: %+v (at most %d s left)", to, info, left())
		if info.TTL <= 0 || info.TTL > left() || info.TTL >= info.GrantedTTL {
			t.Fatalf("new leader %x after a transfer: TTL %d, want 1..%d (granted %d)", to, info.TTL, left(), info.GrantedTTL)
		}

		time.Sleep(time.Second)
		c.Kill(to) // no handover: the others elect a leader after an election timeout
		next := c.WaitLeader()
		info = lsInfo(t, ctx, c, next, g.ID)
		t.Logf("after the crash of %x, leader %x: %+v (at most %d s left)", to, next, info, left())
		if info.TTL <= 0 || info.TTL > left() {
			t.Fatalf("new leader %x after a crash: TTL %d, want 1..%d", next, info.TTL, left())
		}

		sleepUntil(renewed.Add(ttl*time.Second - 300*time.Millisecond))
		lsAlive(t, ctx, c, g.ID, keys, "just before the TTL after two leader changes")
		gone := lsWaitGone(t, ctx, c, g.ID, keys, 5*time.Second)
		t.Logf("lease gone %v after its last renewal (TTL %d s)", gone.Sub(renewed), ttl)
		c.Restart(to) // so the end-of-test check covers all three members
	})
}

// TestLeaseSynctestTTLAcrossFullRestart: with a short checkpoint interval, a restart of
// every member resumes a lease from its last checkpoint: its TTL is about the
// checkpointed one (not the granted TTL), it does not end before its TTL, and it still
// expires, keys and all.
func TestLeaseSynctestTTLAcrossFullRestart(t *testing.T) {
	seed := lsSeed(t)
	const interval = time.Second
	synctest.Test(t, func(t *testing.T) {
		c := lsCluster(t, seed, func(cfg *node.Config) { cfg.LeaseCheckpointInterval = interval })
		ctx := testCtx(t, 5*time.Minute)
		lead := c.WaitLeader()
		const ttl = 30
		granted := time.Now()
		g, err := c.Member(lead).LeaseGrant(ctx, 0, ttl)
		if err != nil {
			t.Fatal(err)
		}
		keys := []string{"/rs/a", "/rs/b"}
		lsPutKeys(t, ctx, c.Member(lead), g.ID, keys)
		time.Sleep(10*time.Second + 200*time.Millisecond)

		stopped := time.Now()
		ids := c.Running()
		for _, id := range ids {
			c.Stop(id)
		}
		for _, id := range ids {
			c.Restart(id)
		}
		lead = c.WaitLeader()
		info := lsInfo(t, ctx, c, lead, g.ID)
		// The last checkpoint was at most an interval and a lease-loop tick (500 ms)
		// before the stop; a member counts its remaining TTL from when it loads it.
		most := int64(math.Ceil((ttl*time.Second - stopped.Sub(granted) + interval + 500*time.Millisecond).Seconds()))
		least := int64((ttl*time.Second - time.Since(granted)).Seconds())
		t.Logf("after a full restart (%v after the grant, stopped at %v): %+v, want %d..%d",
			time.Since(granted), stopped.Sub(granted), info, least, most)
		if info.GrantedTTL != ttl || info.TTL > most || info.TTL < least {
			t.Fatalf("TTL after a full restart %d (granted %d), want %d..%d", info.TTL, info.GrantedTTL, least, most)
		}

		sleepUntil(granted.Add(ttl*time.Second - 300*time.Millisecond))
		lsAlive(t, ctx, c, g.ID, keys, "just before the TTL, after a full restart")
		gone := lsWaitGone(t, ctx, c, g.ID, keys, time.Duration(most)*time.Second)
		t.Logf("lease gone %v after the grant (TTL %d s)", gone.Sub(granted), ttl)
	})
}

// TestLeaseSynctestPartitionedLeaderDoesNotRevoke (etcd issue #15247): the leader is
// isolated right after a lease's renewal. It keeps believing it leads (its election
// timeout is long) past the lease's TTL by its own clock, so its lease loop finds the
// lease expired, while the client keeps the lease alive through the new leader on the
// other side. After the old leader steps down and the partition heals, the lease and its
// keys exist on every member.
func TestLeaseSynctestPartitionedLeaderDoesNotRevoke(t *testing.T) {
	seed := lsSeed(t)
	const old = 1
	synctest.Test(t, func(t *testing.T) {
		rec := &lsRecorder{}
		c := lsCluster(t, seed, func(cfg *node.Config) {
			if cfg.ID == old {
				cfg.ElectionTicks = 60 // 6 s: as leader it steps down 6 to 12 s after it loses its quorum
				cfg.Logger = slog.New(&lsRecordHandler{rec: rec, next: cfg.Logger.Handler()})
			}
		})
		ctx := testCtx(t, 5*time.Minute)
		if lead := c.WaitLeader(); lead != old {
			if err := c.Member(lead).MoveLeader(ctx, old); err != nil {
				t.Fatal(err)
			}
		}
		if lead := c.WaitLeader(); lead != old {
			t.Fatalf("leader %x, want %x", lead, old)
		}
		sides := []uint64{2, 3}
		const ttl = 4
		g, err := c.Member(sides[0]).LeaseGrant(ctx, 0, ttl)
		if err != nil || g.TTL != ttl {
			t.Fatalf("grant: %+v %v", g, err)
		}
		keys := []string{"/pl/a", "/pl/b", "/pl/c"}
		lsPutKeys(t, ctx, c.Member(sides[0]), g.ID, keys)
		if _, err := c.Member(sides[0]).LeaseRenew(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
		renewed := time.Now()
		if err := c.Member(old).WaitApplied(ctx, c.Member(sides[0]).AppliedIndex()); err != nil {
			t.Fatal(err)
		}
		c.Net.Isolate(old)

		// The client renews every third of the TTL through the majority side, retrying
		// soon when a renewal fails (no leader there yet).
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var renewals, failures int
		var lost error
		wg.Go(func() {
			for i := 0; ; i++ {
				m := c.Member(sides[i%2])
				rctx, cancel := context.WithTimeout(ctx, time.Second)
				r, err := m.LeaseRenew(rctx, g.ID)
				cancel()
				wait := ttl * time.Second / 3
				mu.Lock()
				switch {
				case err != nil:
					failures++
					wait = 100 * time.Millisecond
				case r.TTL != ttl:
					lost = fmt.Errorf("renewal through member %x: %+v", m.ID(), r)
				default:
					renewals++
				}
				done := lost != nil
				mu.Unlock()
				if done {
					return
				}
				select {
				case <-stop:
					return
				case <-ctx.Done(): // the test failed and is ending
					return
				case <-time.After(wait):
				}
			}
		})
		stopRenewing := func() {
			close(stop)
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			if lost != nil {
				t.Fatal(lost)
			}
			t.Logf("%d renewals through the majority side (%d failed attempts)", renewals, failures)
		}

		// By its own clock the old leader's lease is over, and its lease loop (a tick
		// every 500 ms) has looked since; it has not stepped down yet.
		sleepUntil(renewed.Add(ttl*time.Second + 600*time.Millisecond))
		if !c.Member(old).IsLeader() {
			stopRenewing()
			t.Fatalf("scenario not reached: member %x stepped down before the lease's TTL ran out by its clock", old)
		}
		newLead := c.WaitLeaderAmong(sides...)
		t.Logf("member %x still leads on its own; member %x leads the majority", old, newLead)

		deadline := time.Now().Add(30 * time.Second)
		for c.Member(old).IsLeader() {
			if time.Now().After(deadline) {
				stopRenewing()
				t.Fatalf("isolated member %x never stepped down", old)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("member %x stepped down %v after its isolation", old, time.Since(renewed))
		time.Sleep(ttl * time.Second) // a while longer in the minority
		c.Net.Heal()
		lead := c.WaitLeader()
		if err := c.Member(old).WaitApplied(ctx, c.Member(lead).AppliedIndex()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(ttl * time.Second) // renewals go on; anything the old leader had queued has landed
		lsAlive(t, ctx, c, g.ID, keys, "after the partition healed")
		// Evidence that the old leader did try: its expiry proposal failed (it never
		// reached a quorum) and it said so. (Waits for the proposal's own deadline.)
		logDeadline := time.Now().Add(30 * time.Second)
		for !rec.has("lease expiry not applied") {
			if time.Now().After(logDeadline) {
				stopRenewing()
				t.Fatalf("scenario not reached: member %x never proposed the expiry (no \"lease expiry not applied\" in its log)", old)
			}
			time.Sleep(100 * time.Millisecond)
		}
		lsAlive(t, ctx, c, g.ID, keys, "after the old leader's expiry proposal failed")
		stopRenewing()
		lsAlive(t, ctx, c, g.ID, keys, "after the renewals stopped")
	})
}

// lsRecorder keeps the messages a member logged, at every level.
type lsRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *lsRecorder) has(sub string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.msgs {
		if strings.Contains(m, sub) {
			return true
		}
	}
	return false
}

// lsRecordHandler records every record and passes on those next is enabled for.
type lsRecordHandler struct {
	rec  *lsRecorder
	next slog.Handler
}

func (h *lsRecordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *lsRecordHandler) Handle(ctx context.Context, r slog.Record) error {
	h.rec.mu.Lock()
	h.rec.msgs = append(h.rec.msgs, r.Message)
	h.rec.mu.Unlock()
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *lsRecordHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &lsRecordHandler{rec: h.rec, next: h.next.WithAttrs(as)}
}

func (h *lsRecordHandler) WithGroup(name string) slog.Handler {
	return &lsRecordHandler{rec: h.rec, next: h.next.WithGroup(name)}
}
