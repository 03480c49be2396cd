package node_test

import (
	"errors"
	"testing"
	"time"

	"etcq.dev/etcq/node"
	"etcq.dev/etcq/node/nodetest"
	"etcq.dev/etcq/storage"
)

// TestLeaseExpiryDeletesKeys lets a lease expire: its keys go in one revision on every
// member, the lease is gone, and a put naming it is refused.
func TestLeaseExpiryDeletesKeys(t *testing.T) {
	c := nodetest.NewCluster(t, nodetest.Options{})
	ctx := testCtx(t, 30*time.Second)
	lead := c.Member(c.WaitLeader())
	var follower *node.Member
	for _, id := range c.Running() {
		if id != lead.ID() {
			follower = c.Member(id)
		}
	}
	g, err := follower.LeaseGrant(ctx, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if g.ID <= 0 || g.TTL < 1 {
		t.Fatalf("grant: %+v", g)
	}
	ws := follower.Store().NewWatchStream(0)
	defer ws.Close()
	if _, err := ws.Watch(storage.WatchRequest{ID: storage.AutoWatchID, Key: []byte("/l/"), RangeEnd: []byte("/l0")}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"/l/a", "/l/b", "/l/c"} {
		if _, err := lead.Put(ctx, storage.PutRequest{Key: []byte(k), Value: []byte("v"), Lease: g.ID}); err != nil {
			t.Fatal(err)
		}
	}
	info, err := follower.LeaseTimeToLive(ctx, g.ID, true)
	if err != nil || info.TTL < 0 || len(info.Keys) != 3 || info.GrantedTTL != g.TTL {
		t.Fatalf("time to live: %+v %v", info, err)
	}
	deletes := 0
	var deleteRev int64
	for deletes < 3 {
		select {
		case r := <-ws.C():
			for _, ev := range r.Events {
				if ev.Type == storage.EventDelete {
					deletes++
					if deleteRev != 0 && ev.KV.ModRevision != deleteRev {
						t.Fatalf("lease keys deleted at revisions %d and %d", deleteRev, ev.KV.ModRevision)
					}
					deleteRev = ev.KV.ModRevision
				}
			}
		case <-ctx.Done():
			t.Fatalf("lease never expired (%d of 3 keys deleted)", deletes)
		}
	}
	info, err = lead.LeaseTimeToLive(ctx, g.ID, false)
	if err != nil || info.TTL != -1 {
		t.Fatalf("time to live of an expired lease: %+v %v", info, err)
	}
	_, err = lead.Put(ctx, storage.PutRequest{Key: []byte("/l/d"), Lease: g.ID})
	if !errors.Is(err, storage.ErrLeaseNotFound) {
		t.Fatalf("put with an expired lease: %v", err)
	}
	if _, err := lead.LeaseRevoke(ctx, g.ID); !errors.Is(err, node.ErrLeaseNotFound) {
		t.Fatalf("revoke of an expired lease: %v", err)
	}
}

// TestLeaseRevokeAndRenew revokes a lease with keys by hand, and renews another.
func TestLeaseRevokeAndRenew(t *testing.T) {
	c := nodetest.NewCluster(t, nodetest.Options{})
	ctx := testCtx(t, 30*time.Second)
	m := c.Member(c.WaitLeader())
	a, err := m.LeaseGrant(ctx, 42, 60)
	if err != nil || a.ID != 42 || a.TTL != 60 {
		t.Fatalf("grant: %+v %v", a, err)
	}
	if _, err := m.LeaseGrant(ctx, 42, 60); !errors.Is(err, node.ErrLeaseExists) {
		t.Fatalf("second grant of one ID: %v", err)
	}
	if _, err := m.Put(ctx, storage.PutRequest{Key: []byte("k"), Lease: 42}); err != nil {
		t.Fatal(err)
	}
	r, err := m.LeaseRenew(ctx, 42)
	if err != nil || r.TTL != 60 {
		t.Fatalf("renew: %+v %v", r, err)
	}
	if r, err := m.LeaseRenew(ctx, 43); err != nil || r.TTL != 0 {
		t.Fatalf("renew of an unknown lease: %+v %v", r, err)
	}
	ids, err := m.Leases(ctx)
	if err != nil || len(ids) != 1 || ids[0] != 42 {
		t.Fatalf("leases: %v %v", ids, err)
	}
	if _, err := m.LeaseRevoke(ctx, 42); err != nil {
		t.Fatal(err)
	}
	got, err := m.Range(ctx, storage.RangeRequest{Key: []byte("k")}, false)
	if err != nil || got.Count != 0 {
		t.Fatalf("key of a revoked lease: %+v %v", got, err)
	}
}
