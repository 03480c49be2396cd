package node_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/wire"
)

// TestServiceWatch watches a prefix from a past revision, sees every event once and in
// order, and sees a watch from a compacted revision end with ErrCompacted.
func TestServiceWatch(t *testing.T) {
	s := serveSingle(t, nil)
	c := connect(t, s.pki, "alice", s.endpoint())
	ctx := testCtx(t, 20*time.Second)

	first, err := c.Put(ctx, "/w/0", "v0")
	if err != nil {
		t.Fatal(err)
	}
	wch := c.Watch(ctx, "/w/", quicclient.WithPrefix(), quicclient.WithRev(first.Header.Revision), quicclient.WithPrevKV())
	for i := 1; i < 50; i++ {
		if _, err := c.Put(ctx, fmt.Sprintf("/w/%d", i%7), fmt.Sprintf("v%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Delete(ctx, "/w/3"); err != nil {
		t.Fatal(err)
	}
	want := first.Header.Revision
	for want <= first.Header.Revision+50 {
		select {
		case wr, ok := <-wch:
			if !ok {
				t.Fatal("watch channel closed")
			}
			if err := wr.Err(); err != nil {
				t.Fatal(err)
			}
			for _, ev := range wr.Events {
				if ev.KV.ModRevision != want {
					t.Fatalf("event at revision %d, want %d", ev.KV.ModRevision, want)
				}
				if want == first.Header.Revision+50 && (ev.Type != wire.EventDelete || ev.PrevKV == nil) {
					t.Fatalf("last event %+v, want a delete with its previous value", ev)
				}
				want++
			}
		case <-ctx.Done():
			t.Fatalf("waiting for revision %d", want)
		}
	}

	if _, err := c.Compact(ctx, first.Header.Revision+10); err != nil {
		t.Fatal(err)
	}
	old := c.Watch(ctx, "/w/", quicclient.WithPrefix(), quicclient.WithRev(first.Header.Revision))
	select {
	case wr := <-old:
		if !wr.Canceled || !errors.Is(wr.Err(), wire.ErrCompacted) || wr.CompactRevision != first.Header.Revision+10 {
			t.Fatalf("watch from a compacted revision: %+v, err %v", wr, wr.Err())
		}
	case <-ctx.Done():
		t.Fatal("no answer to a watch from a compacted revision")
	}
	if _, ok := <-old; ok {
		t.Fatal("the channel of a compacted watch stays open")
	}
}
