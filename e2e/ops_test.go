package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/storage"
	"etcq.dev/etcq/wire"
)

// TestEveryOperation drives every operation of the client API against three member
// processes talking over quicpeer: KV, txn, compaction, watch, leases, membership,
// maintenance and snapshot download.
func TestEveryOperation(t *testing.T) {
	c := newCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cl := c.client()

	// KV and txn.
	first, err := cl.Put(ctx, "/ops/a", "1")
	if err != nil {
		t.Fatal(err)
	}
	wch := cl.Watch(ctx, "/ops/", quicclient.WithPrefix(), quicclient.WithRev(first.Header.Revision))
	if _, err := cl.Put(ctx, "/ops/b", "2"); err != nil {
		t.Fatal(err)
	}
	txn, err := cl.Txn(ctx).If(quicclient.Compare(quicclient.Value("/ops/a"), "=", "1")).
		Then(quicclient.OpPut("/ops/c", "3")).Else(quicclient.OpDelete("/ops/a")).Commit()
	if err != nil || !txn.Succeeded {
		t.Fatalf("txn: %+v %v", txn, err)
	}
	get, err := cl.Get(ctx, "/ops/", quicclient.WithPrefix())
	if err != nil || get.Count != 3 {
		t.Fatalf("get prefix: %+v %v", get, err)
	}
	del, err := cl.Delete(ctx, "/ops/b")
	if err != nil || del.Deleted != 1 {
		t.Fatalf("delete: %+v %v", del, err)
	}
	// The watch saw all four changes, in order.
	want := []string{"PUT /ops/a", "PUT /ops/b", "PUT /ops/c", "DELETE /ops/b"}
	var got []string
	for len(got) < len(want) {
		select {
		case wr := <-wch:
			for _, ev := range wr.Events {
				kind := "PUT"
				if ev.Type == wire.EventDelete {
					kind = "DELETE"
				}
				got = append(got, kind+" "+string(ev.KV.Key))
			}
		case <-ctx.Done():
			t.Fatalf("watch saw %v, want %v", got, want)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("watch saw %v, want %v", got, want)
	}
	if _, err := cl.Compact(ctx, del.Header.Revision); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Get(ctx, "/ops/a", quicclient.WithRev(first.Header.Revision)); !errors.Is(err, wire.ErrCompacted) {
		t.Fatalf("read below the compaction: %v", err)
	}

	// Leases.
	lease, err := cl.Grant(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Put(ctx, "/ops/leased", "x", quicclient.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.KeepAliveOnce(ctx, lease.ID); err != nil {
		t.Fatal(err)
	}
	ttl, err := cl.TimeToLive(ctx, lease.ID, quicclient.WithAttachedKeys())
	if err != nil || ttl.GrantedTTL != 30 || len(ttl.Keys) != 1 {
		t.Fatalf("time to live: %+v %v", ttl, err)
	}
	ids, err := cl.Leases(ctx)
	if err != nil || len(ids) != 1 || ids[0] != lease.ID {
		t.Fatalf("leases: %v %v", ids, err)
	}
	if _, err := cl.Revoke(ctx, lease.ID); err != nil {
		t.Fatal(err)
	}
	if r, err := cl.Get(ctx, "/ops/leased"); err != nil || r.Count != 0 {
		t.Fatalf("key of a revoked lease: %+v %v", r, err)
	}

	// Membership and maintenance. Members publish their client URLs through raft once
	// they run; the list shows them all soon after start.
	var members *quicclient.MemberListResponse
	for {
		members, err = cl.MemberList(ctx)
		if err != nil || len(members.Members) != 3 {
			t.Fatalf("member list: %+v %v", members, err)
		}
		published := 0
		for _, m := range members.Members {
			if len(m.ClientURLs) == 1 {
				published++
			}
		}
		if published == 3 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("members never published their client URLs: %+v", members.Members)
		case <-time.After(50 * time.Millisecond):
		}
	}
	added, err := cl.MemberAddAsLearner(ctx, "m4", []string{"https://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.MemberRemove(ctx, added.Member.ID); err != nil {
		t.Fatal(err)
	}
	var leader uint64
	var hashes []uint32
	for _, m := range c.members {
		st, err := cl.Status(ctx, m.clientURL())
		if err != nil {
			t.Fatal(err)
		}
		leader = st.Leader
		h, err := cl.HashKV(ctx, m.clientURL(), del.Header.Revision)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h.Hash)
	}
	if hashes[0] != hashes[1] || hashes[1] != hashes[2] {
		t.Fatalf("members disagree on the history: %v", hashes)
	}
	var target uint64
	for _, m := range members.Members {
		if m.ID != leader {
			target = m.ID
		}
	}
	leaderCl := c.clientOf(t, ctx, members.Members, leader)
	if err := leaderCl.MoveLeader(ctx, target); err != nil {
		t.Fatalf("move leader: %v", err)
	}

	// Snapshot download, restorable into a store file.
	snap, err := cl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "db")
	if err := storage.RestoreFile(snap, path); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, snap); err != nil {
		t.Fatal(err)
	}
	snap.Close()
	st, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.Range(storage.RangeRequest{Key: []byte("/ops/c")})
	if err != nil || r.Count != 1 {
		t.Fatalf("restored snapshot: %+v %v", r, err)
	}
}

// clientOf connects to the member with the given ID.
func (c *cluster) clientOf(t *testing.T, ctx context.Context, members []quicclient.Member, id uint64) *quicclient.Client {
	t.Helper()
	for _, m := range members {
		if m.ID == id {
			for _, mm := range c.members {
				if mm.name == m.Name {
					return c.client(mm)
				}
			}
		}
	}
	t.Fatalf("no member %x", id)
	return nil
}
