package quicclient_test

import (
	"errors"
	"fmt"
	"strconv"
	"testing"

	"etcq.dev/etcq/node/nodetest"
	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/wire"
)

// TestWatchResumesAcrossKill watches a prefix from a past revision on the leader, kills
// the leader while a writer (on the other members) keeps writing, and finds every
// revision of the prefix delivered once, in order, across the move to another member.
// The writer is the cluster's only writer, so the prefix's revisions must run without a
// gap from the watch's start to the writer's final write; acknowledged writes must carry
// their values.
func TestWatchResumesAcrossKill(t *testing.T) {
	f := newFixture(t, nodetest.Options{}, nil)
	ctx := testCtx(t, patience)
	victim := f.C.WaitLeader()
	wc := f.clientOn(ctx, victim)
	writer := f.client(f.others(victim)...)

	start, err := writer.Put(ctx, "/wr/start", "start")
	if err != nil {
		t.Fatal(err)
	}
	wch := wc.Watch(ctx, "/wr/", quicclient.WithPrefix(), quicclient.WithRev(start.Header.Revision))

	const writes, killAt = 300, 100
	acked := map[int64]string{start.Header.Revision: "start"} // revision -> value
	kill := make(chan struct{})
	done := make(chan int64, 1) // the final write's revision
	go func() {
		defer close(done)
		for i := range writes {
			if i == killAt {
				close(kill)
			}
			val := strconv.Itoa(i)
			p, err := writer.Put(ctx, fmt.Sprintf("/wr/k%d", i%7), val)
			switch {
			case err == nil:
				acked[p.Header.Revision] = val
			case errors.Is(err, quicclient.ErrOutcomeUnknown) || saysNotApplied(err):
				t.Logf("write %d: %v", i, err)
			default:
				t.Errorf("write %d: %v", i, err)
				return
			}
		}
		p, err := writer.Put(ctx, "/wr/end", "end")
		if err != nil {
			t.Errorf("final write: %v", err)
			return
		}
		acked[p.Header.Revision] = "end"
		done <- p.Header.Revision
	}()

	var (
		got     []quicclient.Event
		members = map[uint64]bool{}
		endRev  int64
		killed  bool
	)
	for endRev == 0 || lastRev(got) < endRev {
		select {
		case <-kill:
			f.kill(victim)
			killed, kill = true, nil
		case rev, ok := <-done:
			if !ok {
				t.Fatal("the writer failed")
			}
			endRev, done = rev, nil
		case wr, ok := <-wch:
			if !ok {
				t.Fatalf("watch channel closed after %d events", len(got))
			}
			if wr.Canceled {
				t.Fatalf("watch canceled after %d events: %v", len(got), wr.Err())
			}
			members[wr.Header.MemberID] = true
			got = append(got, wr.Events...)
		case <-ctx.Done():
			t.Fatalf("after %d events, the last at revision %d: %v", len(got), lastRev(got), ctx.Err())
		}
	}
	if !killed {
		t.Fatal("the watch saw everything before the kill")
	}
	prev := -1 // the writer's sequence number of the last event
	for i, ev := range got {
		want := start.Header.Revision + int64(i)
		if ev.KV.ModRevision != want {
			t.Fatalf("event %d at revision %d, want %d (lost or repeated)", i, ev.KV.ModRevision, want)
		}
		val := string(ev.KV.Value)
		if v, ok := acked[want]; ok && val != v {
			t.Fatalf("event at revision %d has value %q, the write there wrote %q", want, val, v)
		}
		switch n, err := strconv.Atoi(val); {
		case i == 0 && val == "start" || i == len(got)-1 && val == "end":
		case err != nil || n <= prev || string(ev.KV.Key) != fmt.Sprintf("/wr/k%d", n%7):
			t.Fatalf("event %d: %s = %q after write %d: not the writer's next write", i, ev.KV.Key, val, prev)
		default:
			prev = n
		}
	}
	if got := lastRev(got); got != endRev {
		t.Fatalf("events end at revision %d, the final write is at %d", got, endRev)
	}
	if !members[victim] || len(members) < 2 {
		t.Fatalf("watch served by members %v; want the killed %x, then another", members, victim)
	}
	t.Logf("%d events, %d acknowledged writes, served by %v", len(got), len(acked), members)
}

func lastRev(evs []quicclient.Event) int64 {
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].KV.ModRevision
}

// TestWatchCompactedWhileDisconnected watches through a client that knows only one
// member; the member dies, the history the watch needs next is compacted, the member
// comes back. The watch must end with ErrCompacted and the compaction's revision rather
// than skip the compacted revisions.
func TestWatchCompactedWhileDisconnected(t *testing.T) {
	f := newFixture(t, nodetest.Options{}, nil)
	ctx := testCtx(t, patience)
	a := f.follower()
	wc := f.client(a)
	oc := f.client(f.others(a)...)

	first, err := oc.Put(ctx, "/wc/0", "v")
	if err != nil {
		t.Fatal(err)
	}
	wch := wc.Watch(ctx, "/wc/", quicclient.WithPrefix(), quicclient.WithRev(first.Header.Revision))
	for i := 1; i < 5; i++ {
		if _, err := oc.Put(ctx, fmt.Sprintf("/wc/%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	next := first.Header.Revision
	for next < first.Header.Revision+5 {
		select {
		case wr := <-wch:
			if wr.Canceled {
				t.Fatalf("watch canceled: %v", wr.Err())
			}
			for _, ev := range wr.Events {
				if ev.KV.ModRevision != next {
					t.Fatalf("event at revision %d, want %d", ev.KV.ModRevision, next)
				}
				next++
			}
		case <-ctx.Done():
			t.Fatalf("waiting for revision %d", next)
		}
	}

	f.kill(a)
	var last int64
	for i := 5; i < 15; i++ {
		p, err := oc.Put(ctx, fmt.Sprintf("/wc/%d", i), "v")
		if err != nil {
			t.Fatal(err)
		}
		last = p.Header.Revision
	}
	if _, err := oc.Compact(ctx, last, quicclient.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	f.restart(a)

	select {
	case wr, ok := <-wch:
		if !ok {
			t.Fatal("watch channel closed without a reason")
		}
		if !wr.Canceled || len(wr.Events) > 0 || !errors.Is(wr.Err(), wire.ErrCompacted) || wr.CompactRevision != last {
			t.Fatalf("after the compaction: %+v, err %v; want the watch canceled as compacted at %d", wr, wr.Err(), last)
		}
	case <-ctx.Done():
		t.Fatal("no word from the watch after the compaction")
	}
	select {
	case wr, ok := <-wch:
		if ok {
			t.Fatalf("the watch goes on after its cancellation: %+v", wr)
		}
	case <-ctx.Done():
		t.Fatal("the channel of a compacted watch stays open")
	}
}
