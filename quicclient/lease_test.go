package quicclient_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"etcq.dev/etcq/certs/certstest"
	"etcq.dev/etcq/node"
	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/wire"
)

// Leases through the client, on one member with its client service (real clock: QUIC
// sockets keep a synctest bubble from ever going idle). The member ticks every 10 ms,
// so the shortest lease is 1 s.

// ltPatience bounds every wait: it turns a hang into a failure.
const ltPatience = 20 * time.Second

type ltTransport struct{}

func (ltTransport) Send([]*raftpb.Message) {}
func (ltTransport) SendSnapshot(_ *raftpb.Message, image io.ReadCloser, _ int64) {
	image.Close()
}
func (ltTransport) AddPeer(uint64, []string) {}
func (ltTransport) RemovePeer(uint64)        {}

// ltServer is a one-member cluster serving clients on 127.0.0.1.
type ltServer struct {
	pki  *certstest.PKI
	m    *node.Member
	addr string
}

func ltServe(t *testing.T) *ltServer {
	t.Helper()
	pki := certstest.New(t)
	m, err := node.New(node.Config{
		ID: 1, Name: "one", DataDir: t.TempDir(),
		InitialCluster: []node.MemberInfo{{ID: 1, Name: "one", PeerURLs: []string{"https://127.0.0.1:2380"}}},
		Transport:      ltTransport{},
		TickInterval:   10 * time.Millisecond,
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	deadline := time.After(ltPatience)
	for !m.IsLeader() {
		select {
		case <-m.LeaderChanged():
		case <-deadline:
			t.Fatal("no leader")
		}
	}
	svc, err := node.NewService(m, node.ServiceConfig{
		Addr: "127.0.0.1:0",
		TLS: &tls.Config{
			Certificates: []tls.Certificate{pki.Server(t, "one")},
			ClientCAs:    pki.CA().Pool(),
			ClientAuth:   tls.RequireAndVerifyClientCert,
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
	return &ltServer{pki: pki, m: m, addr: svc.Addr().String()}
}

func (s *ltServer) client(t *testing.T) *quicclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ltPatience)
	defer cancel()
	c, err := quicclient.New(ctx, quicclient.Config{
		Endpoints: []string{"https://" + s.addr},
		TLS:       &tls.Config{Certificates: []tls.Certificate{s.pki.Client(t, "leaser")}, RootCAs: s.pki.CA().Pool()},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ltCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), ltPatience)
	t.Cleanup(cancel)
	return ctx
}

func ltKeys(t *testing.T, ctx context.Context, c *quicclient.Client, prefix string) ([]string, int64) {
	t.Helper()
	r, err := c.Get(ctx, prefix, quicclient.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, kv := range r.KVs {
		keys = append(keys, string(kv.Key))
	}
	return keys, r.Header.Revision
}

// TestLeaseClientLifecycle: grant (member-chosen and client-chosen IDs), puts with a
// lease, TimeToLive with and without keys, Leases, KeepAliveOnce, Revoke; then every
// operation naming the revoked lease fails with wire.ErrLeaseNotFound, a txn naming it
// applies nothing, and the errors of grant (duplicate ID, TTL too long) are the wire's.
func TestLeaseClientLifecycle(t *testing.T) {
	s := ltServe(t)
	c := s.client(t)
	ctx := ltCtx(t)

	g, err := c.Grant(ctx, 60)
	if err != nil || g.ID <= 0 || g.TTL != 60 || g.Header.MemberID != 1 {
		t.Fatalf("grant: %+v %v", g, err)
	}
	const chosen = 0x42
	g2, err := c.Grant(ctx, 30, quicclient.WithLeaseID(chosen))
	if err != nil || g2.ID != chosen || g2.TTL != 30 {
		t.Fatalf("grant with a chosen ID: %+v %v", g2, err)
	}
	if _, err := c.Grant(ctx, 30, quicclient.WithLeaseID(chosen)); !errors.Is(err, wire.ErrLeaseExists) {
		t.Fatalf("second grant of one ID: %v", err)
	}
	if _, err := c.Grant(ctx, node.MaxLeaseTTL+1); !errors.Is(err, wire.ErrLeaseTTLTooLong) {
		t.Fatalf("grant over the longest TTL: %v", err)
	}
	short, err := c.Grant(ctx, 0)
	if err != nil || short.TTL < 1 {
		t.Fatalf("grant of TTL 0 (raised to the minimum): %+v %v", short, err)
	}

	for _, k := range []string{"/cl/b", "/cl/a"} {
		if _, err := c.Put(ctx, k, "v", quicclient.WithLease(g.ID)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Put(ctx, "/cl/c", "v", quicclient.WithLease(chosen)); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Get(ctx, "/cl/a"); err != nil || len(r.KVs) != 1 || r.KVs[0].Lease != g.ID {
		t.Fatalf("leased key: %+v %v", r, err)
	}

	ttl, err := c.TimeToLive(ctx, g.ID, quicclient.WithAttachedKeys())
	if err != nil || ttl.ID != g.ID || ttl.TTL <= 0 || ttl.TTL > 60 || ttl.GrantedTTL != 60 {
		t.Fatalf("time to live: %+v %v", ttl, err)
	}
	if len(ttl.Keys) != 2 || string(ttl.Keys[0]) != "/cl/a" || string(ttl.Keys[1]) != "/cl/b" {
		t.Fatalf("attached keys %q, want [/cl/a /cl/b]", ttl.Keys)
	}
	if ttl, err := c.TimeToLive(ctx, g.ID); err != nil || len(ttl.Keys) != 0 || ttl.TTL <= 0 {
		t.Fatalf("time to live without keys: %+v %v", ttl, err)
	}
	ids, err := c.Leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{g.ID, chosen}
	// The short lease may have expired by now.
	ids = slices.DeleteFunc(ids, func(id int64) bool { return id == short.ID })
	slices.Sort(ids)
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("leases %v, want %v (and maybe %d)", ids, want, short.ID)
	}
	if ka, err := c.KeepAliveOnce(ctx, g.ID); err != nil || ka.ID != g.ID || ka.TTL != 60 || ka.Err != nil {
		t.Fatalf("keep-alive once: %+v %v", ka, err)
	}

	if _, err := c.Revoke(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	keys, rev := ltKeys(t, ctx, c, "/cl/")
	if !slices.Equal(keys, []string{"/cl/c"}) {
		t.Fatalf("keys after the revoke: %q, want [/cl/c]", keys)
	}
	if ttl, err := c.TimeToLive(ctx, g.ID, quicclient.WithAttachedKeys()); err != nil || ttl.TTL != -1 || len(ttl.Keys) != 0 {
		t.Fatalf("time to live of a revoked lease: %+v %v", ttl, err)
	}
	if _, err := c.Revoke(ctx, g.ID); !errors.Is(err, wire.ErrLeaseNotFound) {
		t.Fatalf("second revoke: %v", err)
	}
	if _, err := c.KeepAliveOnce(ctx, g.ID); !errors.Is(err, wire.ErrLeaseNotFound) {
		t.Fatalf("keep-alive of a revoked lease: %v", err)
	}
	if _, err := c.KeepAlive(ctx, g.ID); !errors.Is(err, wire.ErrLeaseNotFound) {
		t.Fatalf("KeepAlive of a revoked lease: %v", err)
	}
	if _, err := c.Put(ctx, "/cl/x", "v", quicclient.WithLease(g.ID)); !errors.Is(err, wire.ErrLeaseNotFound) {
		t.Fatalf("put with a revoked lease: %v", err)
	}
	_, err = c.Txn(ctx).
		If(quicclient.Compare(quicclient.Version("/cl/x"), "=", 0)).
		Then(quicclient.OpPut("/cl/x", "v"), quicclient.OpDelete("/cl/c"), quicclient.OpPut("/cl/y", "v", quicclient.WithLease(g.ID))).
		Commit()
	if !errors.Is(err, wire.ErrLeaseNotFound) {
		t.Fatalf("txn with a put naming a revoked lease: %v", err)
	}
	keys, rev2 := ltKeys(t, ctx, c, "/cl/")
	if !slices.Equal(keys, []string{"/cl/c"}) || rev2 != rev {
		t.Fatalf("after the refused txn: keys %q at revision %d, want [/cl/c] at %d", keys, rev2, rev)
	}
	if ids, err := c.Leases(ctx); err != nil || slices.Contains(ids, g.ID) || !slices.Contains(ids, chosen) {
		t.Fatalf("leases after the revoke: %v %v", ids, err)
	}
}

// TestLeaseClientExpiry: a lease nobody keeps alive goes with its keys, and can no longer
// be renewed.
func TestLeaseClientExpiry(t *testing.T) {
	s := ltServe(t)
	c := s.client(t)
	ctx := ltCtx(t)
	g, err := c.Grant(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "/ce/a", "v", quicclient.WithLease(g.ID)); err != nil {
		t.Fatal(err)
	}
	for {
		ttl, err := c.TimeToLive(ctx, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ttl.TTL == -1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("lease %x never expired: %+v", g.ID, ttl)
		case <-time.After(20 * time.Millisecond): // a poll interval
		}
	}
	if keys, _ := ltKeys(t, ctx, c, "/ce/"); len(keys) != 0 {
		t.Fatalf("keys of an expired lease: %q", keys)
	}
	if _, err := c.KeepAliveOnce(ctx, g.ID); !errors.Is(err, wire.ErrLeaseNotFound) {
		t.Fatalf("keep-alive of an expired lease: %v", err)
	}
}

// TestLeaseClientKeepAlive: KeepAlive's channel reports a renewal about every third of
// the TTL and holds the lease (and its key) past its TTL. When someone else revokes
// the lease, the channel's last response carries an error matching ErrLeaseLost and
// wire.ErrLeaseNotFound, and the channel closes. Ending the context closes the channel
// of another keep-alive, whose lease then runs out on its own.
func TestLeaseClientKeepAlive(t *testing.T) {
	s := ltServe(t)
	c := s.client(t)
	other := s.client(t)
	ctx := ltCtx(t)
	const ttl = 2
	g, err := c.Grant(ctx, ttl)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "/ka/a", "v", quicclient.WithLease(g.ID)); err != nil {
		t.Fatal(err)
	}
	granted := time.Now()
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	ch, err := c.KeepAlive(kctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	renewals := 0
	for renewals < 4 || time.Since(granted) < ttl*time.Second*3/2 {
		select {
		case r, ok := <-ch:
			if !ok || r.Err != nil || r.ID != g.ID || r.TTL != ttl {
				t.Fatalf("keep-alive response %d: %+v (open %v)", renewals, r, ok)
			}
			renewals++
		case <-ctx.Done():
			t.Fatalf("%d renewals, then none", renewals)
		}
	}
	t.Logf("%d renewals in %v (TTL %d s)", renewals, time.Since(granted), ttl)
	if ttl, err := other.TimeToLive(ctx, g.ID, quicclient.WithAttachedKeys()); err != nil || ttl.TTL <= 0 || len(ttl.Keys) != 1 {
		t.Fatalf("kept-alive lease after 1.5 times its TTL: %+v %v", ttl, err)
	}

	if _, err := other.Revoke(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	var last quicclient.LeaseKeepAliveResponse
	for open := true; open; {
		select {
		case r, ok := <-ch:
			if ok {
				last = r
			}
			open = ok
		case <-ctx.Done():
			t.Fatal("keep-alive channel still open after the revoke")
		}
	}
	if !errors.Is(last.Err, quicclient.ErrLeaseLost) || !errors.Is(last.Err, wire.ErrLeaseNotFound) || last.ID != g.ID {
		t.Fatalf("last keep-alive response after the revoke: %+v", last)
	}

	// Ending the context ends the keep-alive.
	g2, err := c.Grant(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	kctx2, stop2 := context.WithCancel(ctx)
	ch2, err := c.KeepAlive(kctx2, g2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r := <-ch2; r.Err != nil || r.TTL != 1 {
		t.Fatalf("first response: %+v", r)
	}
	stop2()
	for r := range ch2 {
		if r.Err != nil {
			t.Fatalf("a keep-alive ended by its context reported %v", r.Err)
		}
	}
	for {
		ttl, err := other.TimeToLive(ctx, g2.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ttl.TTL == -1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("lease %x still there after its keep-alive ended: %+v", g2.ID, ttl)
		case <-time.After(20 * time.Millisecond): // a poll interval
		}
	}
}
