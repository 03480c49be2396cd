package quicclient_test

import (
	"cmp"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"etcq.dev/etcq/certs/certstest"
	"etcq.dev/etcq/node"
	"etcq.dev/etcq/node/nodetest"
	"etcq.dev/etcq/quicclient"
)

// patience bounds every wait of these tests. It only turns a hang into a failure: tests
// wait for events or poll conditions, never for time to pass.
const patience = 20 * time.Second

// requestTimeout is the services' RequestTimeout: a linearizable read on a member cut off
// from its leader fails after it (the default, 7 s, would only make the tests slower).
const requestTimeout = 2 * time.Second

// testCtx returns a context that ends after d or when the test ends.
func testCtx(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

var seedFlag = flag.Uint64("seed", 0, "seed of the tests' randomness (0: from the clock)")

// seed returns a seed for the test's randomness, logged so that a failing run can be
// replayed with -args -seed N.
func seed(t testing.TB) uint64 {
	t.Helper()
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay: -args -seed %d)", s, s)
	return s
}

// testLogger sends records at level and above to t.Log.
func testLogger(t testing.TB, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func serverTLS(t testing.TB, pki *certstest.PKI, name string) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{pki.Server(t, name)},
		ClientCAs:    pki.CA().Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
}

// newClient connects to endpoints with a client certificate for "tester". The dial
// timeout is short: tests kill members, and a client retrying a dead endpoint should
// notice soon.
func newClient(t testing.TB, pki *certstest.PKI, endpoints ...string) *quicclient.Client {
	t.Helper()
	c, err := quicclient.New(testCtx(t, patience), quicclient.Config{
		Endpoints:   endpoints,
		TLS:         &tls.Config{Certificates: []tls.Certificate{pki.Client(t, "tester")}, RootCAs: pki.CA().Pool()},
		DialTimeout: time.Second,
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// fixture is a cluster of members on nodetest's fake network (raft traffic), each with
// a real client service: QUIC on 127.0.0.1 with mutual TLS from one test CA.
type fixture struct {
	t   testing.TB
	pki *certstest.PKI
	C   *nodetest.Cluster
	ids []uint64

	tweak func(*node.ServiceConfig)

	mu    sync.Mutex
	svcs  map[uint64]*node.Service // running services
	addrs map[uint64]string        // each member's client address, kept across restarts
}

// newFixture starts a cluster (3 members unless opts.Size says otherwise) and a client
// service on every member; tweak, if not nil, adjusts every service's config.
func newFixture(t testing.TB, opts nodetest.Options, tweak func(*node.ServiceConfig)) *fixture {
	t.Helper()
	if opts.ElectionTicks == 0 {
		// 200 ms: slow enough that a loaded machine (-race, other packages' tests) does
		// not time followers out between heartbeats, which makes them forget their
		// leader for a moment.
		opts.ElectionTicks = 20
	}
	c := nodetest.NewCluster(t, opts)
	f := &fixture{
		t: t, pki: certstest.New(t), C: c, ids: c.Running(), tweak: tweak,
		svcs: make(map[uint64]*node.Service), addrs: make(map[uint64]string),
	}
	// Registered after the cluster's: runs before the members stop.
	t.Cleanup(func() {
		f.mu.Lock()
		svcs := f.svcs
		f.svcs = map[uint64]*node.Service{}
		f.mu.Unlock()
		for _, s := range svcs {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.Shutdown(ctx)
			cancel()
		}
	})
	for _, id := range f.ids {
		f.serve(id)
	}
	return f
}

// serve starts member id's client service, on its earlier address if it had one.
func (f *fixture) serve(id uint64) {
	f.t.Helper()
	m := f.C.Member(id)
	if m == nil {
		f.t.Fatalf("member %x is not running", id)
	}
	f.mu.Lock()
	addr, ok := f.addrs[id]
	f.mu.Unlock()
	if !ok {
		addr = "127.0.0.1:0"
	}
	cfg := node.ServiceConfig{
		Addr:           addr,
		TLS:            serverTLS(f.t, f.pki, fmt.Sprintf("m%d", id)),
		RequestTimeout: requestTimeout,
		Logger:         testLogger(f.t, slog.LevelWarn).With("service", id),
	}
	if f.tweak != nil {
		f.tweak(&cfg)
	}
	svc, err := node.NewService(m, cfg)
	if err != nil {
		f.t.Fatalf("member %x: client service: %v", id, err)
	}
	f.mu.Lock()
	f.svcs[id] = svc
	f.addrs[id] = svc.Addr().String()
	f.mu.Unlock()
}

// endpoint is member id's client URL.
func (f *fixture) endpoint(id uint64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	addr, ok := f.addrs[id]
	if !ok {
		f.t.Fatalf("member %x has no client address", id)
	}
	return "https://" + addr
}

// endpoints lists the client URLs of ids, in that order (every member's if none).
func (f *fixture) endpoints(ids ...uint64) []string {
	if len(ids) == 0 {
		ids = f.ids
	}
	eps := make([]string, len(ids))
	for i, id := range ids {
		eps[i] = f.endpoint(id)
	}
	return eps
}

// client connects to the given members (every member if none), in that order: a new
// client uses the first one that has a leader.
func (f *fixture) client(ids ...uint64) *quicclient.Client {
	f.t.Helper()
	return newClient(f.t, f.pki, f.endpoints(ids...)...)
}

// clientOn returns a client of every member, id's endpoint first, once it uses member id
// (a new client uses the first endpoint whose member reports a leader, and a member
// may briefly know none).
func (f *fixture) clientOn(ctx context.Context, id uint64) *quicclient.Client {
	f.t.Helper()
	order := append([]uint64{id}, f.others(id)...)
	var c *quicclient.Client
	waitFor(f.t, fmt.Sprintf("a client on member %x", id), func() bool {
		if c != nil {
			c.Close()
		}
		c = f.client(order...)
		return activeMember(f.t, ctx, c) == id
	})
	return c
}

// others returns the members other than ids, sorted.
func (f *fixture) others(ids ...uint64) []uint64 {
	var out []uint64
	for _, id := range f.ids {
		keep := true
		for _, x := range ids {
			keep = keep && id != x
		}
		if keep {
			out = append(out, id)
		}
	}
	return out
}

// follower returns a running member that is not the leader.
func (f *fixture) follower() uint64 {
	f.t.Helper()
	lead := f.C.WaitLeader()
	for _, id := range f.C.Running() {
		if id != lead {
			return id
		}
	}
	f.t.Fatal("no follower")
	return 0
}

func (f *fixture) takeService(id uint64) *node.Service {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.svcs[id]
	delete(f.svcs, id)
	return s
}

// kill crashes member id as its clients see it: its connections close at once, without
// answers to the requests in flight, and the member drops off the raft network and stops.
func (f *fixture) kill(id uint64) {
	f.t.Helper()
	if s := f.takeService(id); s != nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // no drain: requests in flight are abandoned
		_ = s.Shutdown(ctx)
	}
	f.C.Kill(id)
}

// stop stops member id gracefully: its service answers the requests in flight, then the
// member hands over leadership if it has it and stops.
func (f *fixture) stop(id uint64) {
	f.t.Helper()
	if s := f.takeService(id); s != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.Shutdown(ctx)
		cancel()
	}
	f.C.Stop(id)
}

// restart starts a stopped member again, waits until it has caught up with the leader,
// and serves its clients on the address it had.
func (f *fixture) restart(id uint64) {
	f.t.Helper()
	m := f.C.Restart(id)
	lead := f.C.WaitLeader()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := m.WaitApplied(ctx, f.C.Member(lead).AppliedIndex()); err != nil {
		f.t.Fatalf("restarted member %x does not catch up: %v", id, err)
	}
	f.serve(id)
}

// activeMember returns the member c's requests go to, from the header of a read.
func activeMember(t testing.TB, ctx context.Context, c *quicclient.Client) uint64 {
	t.Helper()
	r, err := c.Get(ctx, "probe", quicclient.WithSerializable())
	if err != nil {
		t.Fatalf("probe read: %v", err)
	}
	return r.Header.MemberID
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // a poll interval, not a wait for something to settle
	}
}

// waitNoLeader waits until member m knows no leader.
func waitNoLeader(t testing.TB, m *node.Member) {
	t.Helper()
	deadline := time.After(patience)
	for {
		changed := m.LeaderChanged()
		if m.Leader() == 0 {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("member %x still follows %x", m.ID(), m.Leader())
		}
	}
}

// holdAppends makes the network drop every append (and snapshot) sent to member id, so
// it applies nothing committed from now on while its own proposals still reach the
// leader: its clients' writes are applied by the others and never answered. The hook
// stays until SetHook(nil) (Heal keeps it).
func holdAppends(f *fixture, id uint64) {
	f.C.Net.SetHook(func(m *raftpb.Message) bool {
		if m.GetTo() != id {
			return true
		}
		switch m.GetType() {
		case raftpb.MessageType_MsgApp, raftpb.MessageType_MsgSnap:
			return false
		}
		return true
	})
}

// single is one member, alone in its cluster, with its client service.
type single struct {
	pki *certstest.PKI
	m   *node.Member
	svc *node.Service
}

func (s *single) endpoint() string { return "https://" + s.svc.Addr().String() }

// serveSingle starts a one-member cluster and its client service; tick is its raft tick
// (10 ms if 0).
func serveSingle(t testing.TB, tick time.Duration) *single {
	t.Helper()
	pki := certstest.New(t)
	m, err := node.New(node.Config{
		ID: 1, Name: "one", DataDir: t.TempDir(),
		InitialCluster: []node.MemberInfo{{ID: 1, Name: "one", PeerURLs: []string{"https://127.0.0.1:2380"}}},
		Transport:      loneTransport{},
		TickInterval:   cmp.Or(tick, 10*time.Millisecond),
		Logger:         testLogger(t, slog.LevelWarn),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	deadline := time.After(patience)
	for !m.IsLeader() {
		select {
		case <-m.LeaderChanged():
		case <-deadline:
			t.Fatal("no leader")
		}
	}
	svc, err := node.NewService(m, node.ServiceConfig{
		Addr: "127.0.0.1:0", TLS: serverTLS(t, pki, "one"), Logger: testLogger(t, slog.LevelWarn),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
	return &single{pki: pki, m: m, svc: svc}
}

// newRand returns a generator seeded with s.
func newRand(s uint64) *rand.Rand { return rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15)) }
