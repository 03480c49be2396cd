package quicclient_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"etcq.dev/etcq/node"
	"etcq.dev/etcq/node/nodetest"
	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/storage"
	"etcq.dev/etcq/wire"
)

// TestFailoverOnKill kills the member a client uses, first the leader, then (after the
// old leader is back) the member it moved to: each time, the client's next reads and
// writes are served by another member without the caller doing anything.
func TestFailoverOnKill(t *testing.T) {
	f := newFixture(t, nodetest.Options{}, nil)
	ctx := testCtx(t, patience)
	lead := f.C.WaitLeader()
	c := f.clientOn(ctx, lead)
	if _, err := c.Put(ctx, "/f/before", "1"); err != nil {
		t.Fatal(err)
	}

	f.kill(lead)
	get, err := c.Get(ctx, "/f/before")
	if err != nil {
		t.Fatalf("get after the leader's kill: %v", err)
	}
	if len(get.KVs) != 1 || string(get.KVs[0].Value) != "1" || get.Header.MemberID == lead {
		t.Fatalf("get after the leader's kill: %+v", get)
	}
	put, err := c.Put(ctx, "/f/after", "2")
	if err != nil {
		t.Fatalf("put after the leader's kill: %v", err)
	}
	if put.Header.MemberID == lead {
		t.Fatalf("put served by the killed member %x", lead)
	}
	txn, err := c.Txn(ctx).If(quicclient.Compare(quicclient.Value("/f/after"), "=", "2")).
		Then(quicclient.OpGet("/f/", quicclient.WithPrefix())).Commit()
	if err != nil || !txn.Succeeded || txn.Responses[0].Range.Count != 2 {
		t.Fatalf("read-only txn after the leader's kill: %+v, %v", txn, err)
	}

	// The old leader comes back on its address; now the client's new member dies.
	f.restart(lead)
	if got := activeMember(t, ctx, f.client(lead)); got != lead {
		t.Fatalf("restarted member's endpoint served by %x", got)
	}
	now := activeMember(t, ctx, c)
	f.kill(now)
	get, err = c.Get(ctx, "/f/after")
	if err != nil || len(get.KVs) != 1 || get.Header.MemberID == now {
		t.Fatalf("get after member %x's kill: %+v, %v", now, get, err)
	}
	if put, err = c.Put(ctx, "/f/last", "3"); err != nil || put.Header.MemberID == now {
		t.Fatalf("put after member %x's kill: %+v, %v", now, put, err)
	}
}

// TestWriteInFlightIsNotRetried holds writes in flight on a member: the network drops
// every append sent to it, so the leader commits and applies its clients' writes but the
// member never answers them. Then the member goes down. Each write must come back as a
// success or ErrOutcomeUnknown (they were applied: an error saying otherwise would be a
// lie), and none may be sent again: each key is found at version 1.
func TestWriteInFlightIsNotRetried(t *testing.T) {
	for _, tc := range []struct {
		name string
		down func(f *fixture, id uint64)
	}{
		// Its connections close with the requests in flight unanswered.
		{"crash", (*fixture).kill},
		// The member stops (a fatal disk error does this) while its service still
		// answers: the requests in flight fail with the member's "stopped".
		{"member stops under its service", func(f *fixture, id uint64) { f.C.Stop(id) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The writes wait on the held member until it goes down, not for a timeout.
			f := newFixture(t, nodetest.Options{}, func(c *node.ServiceConfig) { c.RequestTimeout = patience })
			ctx := testCtx(t, patience)
			held := f.follower()
			c := f.clientOn(ctx, held)
			holdAppends(f, held)

			const n = 8
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					_, errs[i] = c.Put(ctx, fmt.Sprintf("/inflight/%d", i), "v")
				})
			}
			lead := f.C.WaitLeader()
			st := f.C.Member(lead).Store()
			waitFor(t, "the leader to apply the held writes", func() bool {
				r, err := st.Range(storage.RangeRequest{Key: []byte("/inflight/"), RangeEnd: []byte("/inflight0"), CountOnly: true})
				return err == nil && r.Count == n
			})
			tc.down(f, held)
			wg.Wait()
			f.C.Net.SetHook(nil)

			for i, err := range errs {
				if err != nil && !errors.Is(err, quicclient.ErrOutcomeUnknown) {
					t.Errorf("write %d, applied by the cluster, returned %v: want success or ErrOutcomeUnknown", i, err)
				}
			}
			for i := range n {
				get, err := c.Get(ctx, fmt.Sprintf("/inflight/%d", i))
				if err != nil {
					t.Fatal(err)
				}
				if len(get.KVs) != 1 || get.KVs[0].Version != 1 {
					t.Errorf("key /inflight/%d: %+v; want version 1 (written once)", i, get.KVs)
				}
			}
			put, err := c.Put(ctx, "/inflight/after", "x")
			if err != nil || put.Header.MemberID == held {
				t.Fatalf("put after member %x went down: %+v, %v", held, put, err)
			}
		})
	}
}

// TestWritesAcrossKillAreAtMostOnce runs concurrent writers through one client and kills
// its member under them (the leader or a follower, at a random point; one time in three
// it is a graceful stop instead). Every write
// targets its own key. Half the writers put; a put applied twice would leave version 2.
// The others create their key in a txn guarded by "version = 0"; applied twice, it would
// answer Succeeded false. Then: every acknowledged write is there, once; every write
// refused as not applied is absent; every ErrOutcomeUnknown one is there once or absent;
// nothing else is there.
func TestWritesAcrossKillAreAtMostOnce(t *testing.T) {
	s := seed(t)
	rng := newRand(s)
	f := newFixture(t, nodetest.Options{Seed: int64(s >> 1)}, nil)
	ctx := testCtx(t, patience)
	victim := f.C.WaitLeader()
	if rng.IntN(2) == 0 {
		victim = f.follower()
	}
	killAfter := int64(40 + rng.IntN(80))
	down, how := f.kill, "killing"
	if rng.IntN(3) == 0 {
		down, how = f.stop, "stopping"
	}
	t.Logf("%s member %x (leader %x) after %d acknowledged writes", how, victim, f.C.WaitLeader(), killAfter)
	c := f.clientOn(ctx, victim)

	type outcome int
	const (
		applied outcome = iota + 1
		notApplied
		unknown
	)
	const writers = 16
	var (
		acked   atomic.Int64
		stop    atomic.Bool
		mu      sync.Mutex
		results = map[string]outcome{}
		wg      sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			for j := 0; !stop.Load(); j++ {
				key := fmt.Sprintf("/atmost/%02d/%05d", w, j)
				var err error
				if w%2 == 0 {
					_, err = c.Put(ctx, key, key)
				} else {
					var r *quicclient.TxnResponse
					r, err = c.Txn(ctx).If(quicclient.Compare(quicclient.Version(key), "=", 0)).
						Then(quicclient.OpPut(key, key)).Commit()
					if err == nil && !r.Succeeded {
						t.Errorf("txn creating %s found it existing: applied twice", key)
					}
				}
				var o outcome
				switch {
				case err == nil:
					o = applied
					acked.Add(1)
				case errors.Is(err, quicclient.ErrOutcomeUnknown):
					o = unknown
				case saysNotApplied(err):
					o = notApplied
				default:
					t.Errorf("write %s: unexpected error %v", key, err)
					return
				}
				mu.Lock()
				results[key] = o
				mu.Unlock()
			}
		})
	}
	waitFor(t, "writes before the kill", func() bool { return acked.Load() >= killAfter || t.Failed() })
	down(victim)
	killedAt := acked.Load()
	waitFor(t, "writes after the kill", func() bool { return acked.Load() >= killedAt+100 || t.Failed() })
	stop.Store(true)
	wg.Wait()

	get, err := c.Get(ctx, "/atmost/", quicclient.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]int64{}
	for _, kv := range get.KVs {
		found[string(kv.Key)] = kv.Version
		if string(kv.Value) != string(kv.Key) {
			t.Errorf("%s = %q", kv.Key, kv.Value)
		}
	}
	counts := map[outcome]int{}
	for key, o := range results {
		counts[o]++
		v, ok := found[key]
		switch {
		case ok && v != 1:
			t.Errorf("%s at version %d: written more than once", key, v)
		case o == applied && !ok:
			t.Errorf("%s was acknowledged but is not there", key)
		case o == notApplied && ok:
			t.Errorf("%s was refused as not applied but is there", key)
		}
		delete(found, key)
	}
	if len(found) > 0 {
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range found {
				if !yield(k) {
					return
				}
			}
		})
		t.Errorf("keys nobody wrote: %v", keys)
	}
	t.Logf("%d writes: %d acknowledged, %d refused as not applied, %d of unknown outcome",
		len(results), counts[applied], counts[notApplied], counts[unknown])
}

// saysNotApplied reports whether err is a member's answer that it did nothing (wire's
// availability codes) or the client's that it never sent the request.
func saysNotApplied(err error) bool {
	for _, e := range []error{
		wire.ErrTooManyRequests, wire.ErrNoLeader, wire.ErrNotLeader, wire.ErrStopped,
		wire.ErrUnavailable, wire.ErrNoSpace, wire.ErrNotCapable, wire.ErrDropped,
		quicclient.ErrNoEndpoint, quicclient.ErrConnectionLost,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// TestMemberWithoutLeaderIsAvoided isolates a follower until it knows no leader. A new
// client skips it although it is its first endpoint; clients already connected to it see
// their linearizable read and their write served by another member.
func TestMemberWithoutLeaderIsAvoided(t *testing.T) {
	f := newFixture(t, nodetest.Options{}, nil)
	ctx := testCtx(t, patience)
	x := f.follower()
	order := append([]uint64{x}, f.others(x)...)
	reader, writer := f.clientOn(ctx, x), f.clientOn(ctx, x)
	if _, err := writer.Put(ctx, "/iso/k", "before"); err != nil {
		t.Fatal(err)
	}

	f.C.Net.Isolate(x)
	waitNoLeader(t, f.C.Member(x))

	fresh := f.client(order...)
	if got := activeMember(t, ctx, fresh); got == x {
		t.Fatalf("a new client chose member %x, which has no leader", x)
	}
	put, err := fresh.Put(ctx, "/iso/k", "during")
	if err != nil {
		t.Fatal(err)
	}

	get, err := reader.Get(ctx, "/iso/k")
	if err != nil {
		t.Fatalf("linearizable get while the client's member has no leader: %v", err)
	}
	if get.Header.MemberID == x || len(get.KVs) != 1 || string(get.KVs[0].Value) != "during" {
		t.Fatalf("linearizable get while member %x has no leader: %+v", x, get)
	}
	if get.Header.Revision < put.Header.Revision {
		t.Fatalf("linearizable get at revision %d, before the put at %d", get.Header.Revision, put.Header.Revision)
	}

	put, err = writer.Put(ctx, "/iso/k", "writer")
	if err != nil {
		t.Fatalf("put while the client's member has no leader: %v", err)
	}
	if put.Header.MemberID == x {
		t.Fatalf("put served by member %x, which has no leader", x)
	}
}

// TestGracefulStopAnswersWritesInFlight stops a member's service gracefully while writes
// wait on it (the network drops the appends sent to it, as in
// TestWriteInFlightIsNotRetried).
// The draining service refuses new requests as not served, so the client moves its next
// requests to another member; but the writes in flight are still to be answered: once
// the member applies them, each must come back a success, not ErrOutcomeUnknown because
// the client gave their connection up.
func TestGracefulStopAnswersWritesInFlight(t *testing.T) {
	f := newFixture(t, nodetest.Options{}, func(c *node.ServiceConfig) { c.RequestTimeout = patience })
	ctx := testCtx(t, patience)
	held := f.follower()
	c := f.clientOn(ctx, held)
	holdAppends(f, held)

	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = c.Put(ctx, fmt.Sprintf("/drain/%d", i), "v")
		})
	}
	st := f.C.Member(f.C.WaitLeader()).Store()
	waitFor(t, "the leader to apply the held writes", func() bool {
		r, err := st.Range(storage.RangeRequest{Key: []byte("/drain/"), RangeEnd: []byte("/drain0"), CountOnly: true})
		return err == nil && r.Count == n
	})

	svc := f.takeService(held)
	drained := make(chan error, 1)
	go func() { drained <- svc.Shutdown(ctx) }()
	// Reads go elsewhere once the service refuses them.
	waitFor(t, "the client to leave the draining member", func() bool { return activeMember(t, ctx, c) != held })

	f.C.Net.SetHook(nil) // the member catches up and answers the held writes
	wg.Wait()
	if err := <-drained; err != nil {
		t.Errorf("graceful shutdown: %v", err)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("write %d, answered by the draining member, returned %v", i, err)
		}
	}
}

// TestFailoverWaitHonorsContext: while one caller fails over to a member whose handshake
// is held up, another caller whose context ends gives up waiting for that failover at
// once, instead of queueing behind the dial. The held member counts its handshakes: had
// the second caller waited for the first's dial to end, that dial would have timed out
// and the first caller would have dialed again.
func TestFailoverWaitHonorsContext(t *testing.T) {
	s := serveSingle(t, 0)
	release := make(chan struct{})
	dialing := make(chan struct{}, 8)
	var handshakes atomic.Int32
	held := serverTLS(t, s.pki, "one")
	held.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		handshakes.Add(1)
		dialing <- struct{}{}
		<-release
		return nil, nil
	}
	slow, err := node.NewService(s.m, node.ServiceConfig{Addr: "127.0.0.1:0", TLS: held, Logger: testLogger(t, slog.LevelWarn)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = slow.Shutdown(context.Background()) })
	c, err := quicclient.New(testCtx(t, patience), quicclient.Config{
		Endpoints:   []string{s.endpoint(), "https://" + slow.Addr().String()},
		TLS:         &tls.Config{Certificates: []tls.Certificate{s.pki.Client(t, "tester")}, RootCAs: s.pki.CA().Pool()},
		DialTimeout: time.Hour,
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := s.svc.Shutdown(testCtx(t, patience)); err != nil {
		t.Fatal(err)
	}

	// The first caller fails over: its member is gone; the other one holds the handshake.
	done1 := make(chan error, 1)
	go func() { _, err := c.Get(testCtx(t, patience), "k"); done1 <- err }()
	select {
	case <-dialing:
	case err := <-done1:
		t.Fatalf("the first caller returned (%v) before dialing the other member", err)
	}

	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if _, err := c.Get(ctx2, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second caller: %v, want its context's deadline", err)
	}
	close(release)
	if err := <-done1; err != nil {
		t.Fatalf("the first caller, once the handshake went on: %v", err)
	}
	if n := handshakes.Load(); n != 1 {
		t.Fatalf("%d handshakes with the held member: the first dial ended before the second caller returned", n)
	}
}
