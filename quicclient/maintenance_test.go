package quicclient_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"etcq.dev/etcq/node/nodetest"
	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/storage"
	"etcq.dev/etcq/wire"
)

// TestSnapshotDownload downloads a snapshot through the client, restores it into a store
// file and finds every key in it at the snapshot's revision; a download whose context is
// cancelled halfway fails instead of ending early.
func TestSnapshotDownload(t *testing.T) {
	s := serveSingle(t, 0)
	c := newClient(t, s.pki, s.endpoint())
	ctx := testCtx(t, patience)

	// Enough data for many 64 KiB chunks.
	const keys = 512
	value := strings.Repeat("x", 1024)
	var rev int64
	for i := 0; i < keys; i += 64 {
		var ops []quicclient.Op
		for j := i; j < i+64; j++ {
			ops = append(ops, quicclient.OpPut(fmt.Sprintf("/snap/%04d", j), value+fmt.Sprint(j)))
		}
		r, err := c.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			t.Fatal(err)
		}
		rev = r.Header.Revision
	}

	rc, err := c.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	image, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatalf("snapshot download: %v", err)
	}
	path := filepath.Join(t.TempDir(), "db")
	if err := storage.RestoreFile(bytes.NewReader(image), path); err != nil {
		t.Fatalf("restore the downloaded snapshot (%d bytes): %v", len(image), err)
	}
	st, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Rev() != rev {
		t.Fatalf("restored store at revision %d, want %d", st.Rev(), rev)
	}
	got, err := st.Range(storage.RangeRequest{Key: []byte("/snap/"), RangeEnd: []byte("/snap0")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.KVs) != keys {
		t.Fatalf("restored store holds %d keys, want %d", len(got.KVs), keys)
	}
	for i, kv := range got.KVs {
		if string(kv.Key) != fmt.Sprintf("/snap/%04d", i) || string(kv.Value) != value+fmt.Sprint(i) {
			t.Fatalf("restored key %d: %s = %.20q...", i, kv.Key, kv.Value)
		}
	}
	t.Logf("snapshot of %d bytes", len(image))

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rc, err = c.Snapshot(cctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	head := make([]byte, 1000)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}
	cancel()
	n, err := io.Copy(io.Discard, rc)
	if err == nil {
		t.Fatalf("a cancelled download read to its end (%d more bytes)", n)
	}
	if int64(len(head))+n >= int64(len(image)) {
		t.Fatalf("a cancelled download delivered %d bytes of %d", int64(len(head))+n, len(image))
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled download fails with %v, want context.Canceled", err)
	}
}

// TestClusterAndMaintenance drives the cluster and maintenance calls through a client of
// the three members: the member list, adding a learner (which never starts) and removing
// it, the status of each endpoint, agreement of the members' history hashes at one
// revision, and moving the leadership.
func TestClusterAndMaintenance(t *testing.T) {
	f := newFixture(t, nodetest.Options{}, nil)
	ctx := testCtx(t, patience)
	c := f.client()

	list, err := c.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ids := memberIDs(list.Members); !slices.Equal(ids, f.ids) {
		t.Fatalf("member list %v, want %v", ids, f.ids)
	}
	for _, m := range list.Members {
		if m.Name != fmt.Sprintf("m%d", m.ID) || m.IsLearner || len(m.PeerURLs) != 1 {
			t.Fatalf("member %+v", m)
		}
	}

	added, err := c.MemberAddAsLearner(ctx, "m4", []string{"https://member-4.nodetest:2380"})
	if err != nil {
		t.Fatal(err)
	}
	if added.Member.ID == 0 || !added.Member.IsLearner || added.Member.Name != "m4" || len(added.Members) != 4 {
		t.Fatalf("added %+v", added)
	}
	list, err = c.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(list.Members, func(m quicclient.Member) bool { return m.ID == added.Member.ID }); i < 0 || !list.Members[i].IsLearner {
		t.Fatalf("member list after the add: %+v", list.Members)
	}
	if _, err := c.MemberAddAsLearner(ctx, "m5", []string{"https://member-4.nodetest:2380"}); !errors.Is(err, wire.ErrPeerURLExists) {
		t.Fatalf("adding a member with a peer URL in use: %v", err)
	}
	removed, err := c.MemberRemove(ctx, added.Member.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ids := memberIDs(removed.Members); !slices.Equal(ids, f.ids) {
		t.Fatalf("members after the removal %v, want %v", ids, f.ids)
	}
	if list, err = c.MemberList(ctx); err != nil || !slices.Equal(memberIDs(list.Members), f.ids) {
		t.Fatalf("member list after the removal: %+v, %v", list, err)
	}
	if _, err := c.MemberRemove(ctx, added.Member.ID); !errors.Is(err, wire.ErrMemberNotFound) {
		t.Fatalf("removing a removed member: %v", err)
	}

	// Status of each endpoint: its own member, and one leader for all.
	lead := f.C.WaitLeader()
	for _, id := range f.ids {
		st, err := c.Status(ctx, f.endpoint(id))
		if err != nil {
			t.Fatal(err)
		}
		if st.Header.MemberID != id || st.Leader != lead || st.Version == "" || st.DBSize <= 0 ||
			st.RaftIndex == 0 || st.RaftTerm == 0 || st.IsLearner || len(st.Errors) > 0 {
			t.Fatalf("status of member %x: %+v", id, st)
		}
	}

	// History hashes at one revision agree, once every member has reached it.
	var rev int64
	for i := range 20 {
		p, err := c.Put(ctx, fmt.Sprintf("/hash/%d", i%3), fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		rev = p.Header.Revision
	}
	if _, err := c.Compact(ctx, rev-10); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(ctx, "/hash/0"); err != nil {
		t.Fatal(err)
	}
	var want *quicclient.HashKVResponse
	for _, id := range f.ids {
		waitFor(t, fmt.Sprintf("member %x to reach revision %d", id, rev), func() bool {
			st, err := c.Status(ctx, f.endpoint(id))
			return err == nil && st.Header.Revision > rev
		})
		h, err := c.HashKV(ctx, f.endpoint(id), rev)
		if err != nil {
			t.Fatal(err)
		}
		if h.HashRevision != rev || h.CompactRevision != rev-10 || h.Header.MemberID != id {
			t.Fatalf("hashkv of member %x at %d: %+v", id, rev, h)
		}
		if want == nil {
			want = h
		} else if h.Hash != want.Hash {
			t.Fatalf("member %x's history hash at %d is %x, member %x's %x", id, rev, h.Hash, want.Header.MemberID, want.Hash)
		}
	}

	// MoveLeader goes to the leader (as etcd's): a client on a follower is refused.
	target := f.others(lead)[0]
	onFollower := f.clientOn(ctx, target)
	if err := onFollower.MoveLeader(ctx, lead); !errors.Is(err, wire.ErrNotLeader) {
		t.Fatalf("move leader through a follower: %v", err)
	}
	onLeader := f.clientOn(ctx, lead)
	if err := onLeader.MoveLeader(ctx, target); err != nil {
		t.Fatalf("move leader from %x to %x: %v", lead, target, err)
	}
	for _, id := range f.ids {
		waitFor(t, fmt.Sprintf("member %x to follow %x", id, target), func() bool {
			st, err := c.Status(ctx, f.endpoint(id))
			return err == nil && st.Leader == target
		})
	}
	if err := onFollower.MoveLeader(ctx, 99); !errors.Is(err, wire.ErrMemberNotFound) {
		t.Fatalf("move leader to a member that does not exist: %v", err)
	}
}

func memberIDs(ms []quicclient.Member) []uint64 {
	ids := make([]uint64, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	slices.Sort(ids)
	return ids
}
