package node_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/wire"
)

// TestServiceKV drives the KV service through quicclient against one member.
func TestServiceKV(t *testing.T) {
	s := serveSingle(t, nil)
	c := connect(t, s.pki, "alice", s.endpoint())
	ctx := testCtx(t, 20*time.Second)

	put, err := c.Put(ctx, "/app/a", "1")
	if err != nil {
		t.Fatal(err)
	}
	if put.Header.MemberID != 1 || put.Header.Revision < 2 || put.Header.ClusterID == 0 {
		t.Fatalf("put header %+v", put.Header)
	}
	put2, err := c.Put(ctx, "/app/a", "2", quicclient.WithPrevKV())
	if err != nil || put2.PrevKV == nil || string(put2.PrevKV.Value) != "1" {
		t.Fatalf("put with prev kv: %+v %v", put2, err)
	}
	for i := range 5 {
		if _, err := c.Put(ctx, fmt.Sprintf("/app/b/%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	get, err := c.Get(ctx, "/app/", quicclient.WithPrefix(), quicclient.WithLimit(3), quicclient.WithSort(wire.SortByKey, wire.SortDescend))
	if err != nil {
		t.Fatal(err)
	}
	if len(get.KVs) != 3 || !get.More || get.Count != 6 || string(get.KVs[0].Key) != "/app/b/4" {
		t.Fatalf("get prefix: %+v", get)
	}
	old, err := c.Get(ctx, "/app/a", quicclient.WithRev(put.Header.Revision), quicclient.WithSerializable())
	if err != nil || len(old.KVs) != 1 || string(old.KVs[0].Value) != "1" {
		t.Fatalf("get at revision: %+v %v", old, err)
	}

	txn, err := c.Txn(ctx).
		If(quicclient.Compare(quicclient.Value("/app/a"), "=", "2")).
		Then(quicclient.OpPut("/app/c", "x"), quicclient.OpGet("/app/a")).
		Else(quicclient.OpDelete("/app/a")).
		Commit()
	if err != nil || !txn.Succeeded || len(txn.Responses) != 2 || string(txn.Responses[1].Range.KVs[0].Value) != "2" {
		t.Fatalf("txn: %+v %v", txn, err)
	}
	_, err = c.Txn(ctx).Then(quicclient.OpPut("/d", "1"), quicclient.OpPut("/d", "2")).Commit()
	if !errors.Is(err, wire.ErrDuplicateKey) {
		t.Fatalf("txn with a duplicate key: %v", err)
	}

	del, err := c.Delete(ctx, "/app/b/", quicclient.WithPrefix(), quicclient.WithPrevKV())
	if err != nil || del.Deleted != 5 || len(del.PrevKVs) != 5 {
		t.Fatalf("delete prefix: %+v %v", del, err)
	}

	if _, err := c.Compact(ctx, del.Header.Revision, quicclient.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(ctx, "/app/a", quicclient.WithRev(put.Header.Revision))
	if !errors.Is(err, wire.ErrCompacted) {
		t.Fatalf("get at a compacted revision: %v", err)
	}
	_, err = c.Get(ctx, "/app/a", quicclient.WithRev(del.Header.Revision+100))
	if !errors.Is(err, wire.ErrFutureRev) {
		t.Fatalf("get at a future revision: %v", err)
	}
}
