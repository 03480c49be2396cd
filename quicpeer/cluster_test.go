package quicpeer_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"etcq.dev/etcq/certs/certstest"
	"etcq.dev/etcq/internal/udpproxy"
	"etcq.dev/etcq/node"
	"etcq.dev/etcq/quicpeer"
	"etcq.dev/etcq/storage"
)

// The seams fit: a Transport is node's PeerTransport, a Member is quicpeer's Handler.
var (
	_ node.PeerTransport = (*quicpeer.Transport)(nil)
	_ quicpeer.Handler   = (*node.Member)(nil)
)

// qcluster is node.Members talking over real quicpeer transports on 127.0.0.1, each
// optionally reached through a udpproxy.
type qcluster struct {
	t       *testing.T
	pki     *certstest.PKI
	initial []node.MemberInfo
	dirs    map[uint64]string
	addrs   map[uint64]string // where each member's transport listens
	logs    map[uint64]*logSink
	proxies map[uint64]*udpproxy.Proxy

	mu      sync.Mutex
	members map[uint64]*node.Member
	trs     map[uint64]*quicpeer.Transport
}

type clusterOpts struct {
	size int
	// proxied puts a udpproxy in front of every member: its peer URL is the proxy's.
	proxied bool
	seed    int64
}

func newQCluster(t *testing.T, o clusterOpts) *qcluster {
	t.Helper()
	c := &qcluster{
		t:       t,
		pki:     certstest.New(t),
		dirs:    make(map[uint64]string),
		addrs:   make(map[uint64]string),
		logs:    make(map[uint64]*logSink),
		proxies: make(map[uint64]*udpproxy.Proxy),
		members: make(map[uint64]*node.Member),
		trs:     make(map[uint64]*quicpeer.Transport),
	}
	t.Cleanup(c.close)
	trs := make(map[uint64]*quicpeer.Transport)
	for i := 1; i <= o.size; i++ {
		id := uint64(i)
		c.dirs[id] = filepath.Join(t.TempDir(), fmt.Sprint(id))
		c.logs[id] = newLogSink(t)
		tr := c.transport(id, "127.0.0.1:0")
		trs[id] = tr
		c.addrs[id] = tr.Addr().String()
		url := "https://" + c.addrs[id]
		if o.proxied {
			p, err := udpproxy.New(c.addrs[id], o.seed+int64(i))
			if err != nil {
				t.Fatal(err)
			}
			c.proxies[id] = p
			url = "https://" + p.Addr().String()
		}
		c.initial = append(c.initial, node.MemberInfo{ID: id, Name: fmt.Sprintf("m%d", i), PeerURLs: []string{url}})
	}
	for _, mi := range c.initial {
		c.start(mi.ID, trs[mi.ID])
	}
	c.waitLeader()
	return c
}

// transport makes member id's transport; the transport logs quietly (Warn and up) to the
// test log, and in full to the member's sink.
func (c *qcluster) transport(id uint64, listen string) *quicpeer.Transport {
	c.t.Helper()
	tr, err := quicpeer.New(quicpeer.Config{
		ID:          id,
		Listen:      listen,
		TLS:         peerTLS(c.pki, c.pki.Peer(c.t, fmt.Sprintf("member-%x", id))),
		Logger:      c.logs[id].logger(),
		DialTimeout: 2 * time.Second,
		MaxBackoff:  200 * time.Millisecond,
	})
	if err != nil {
		c.t.Fatalf("transport %x: %v", id, err)
	}
	return tr
}

// start runs member id (first start or restart) on transport tr.
func (c *qcluster) start(id uint64, tr *quicpeer.Transport) *node.Member {
	c.t.Helper()
	m, err := node.New(node.Config{
		ID:                     id,
		Name:                   fmt.Sprintf("m%d", id),
		DataDir:                c.dirs[id],
		InitialCluster:         c.initial,
		ClusterToken:           "quicpeer-test",
		Transport:              tr,
		TickInterval:           10 * time.Millisecond,
		ElectionTicks:          10,
		SnapshotCount:          100,
		SnapshotCatchUpEntries: 20,
		Logger:                 slog.New(slog.NewTextHandler(testWriter{c.t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		tr.Close()
		c.t.Fatalf("member %x: %v", id, err)
	}
	if err := tr.Start(m.ClusterID(), m); err != nil {
		c.t.Fatalf("start transport %x: %v", id, err)
	}
	c.mu.Lock()
	c.members[id], c.trs[id] = m, tr
	c.mu.Unlock()
	return m
}

func (c *qcluster) member(id uint64) *node.Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[id]
}

func (c *qcluster) running() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []uint64
	for id := range c.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// stop stops member id and closes its transport.
func (c *qcluster) stop(id uint64) {
	c.mu.Lock()
	m, tr := c.members[id], c.trs[id]
	delete(c.members, id)
	delete(c.trs, id)
	c.mu.Unlock()
	m.Stop()
	if err := tr.Close(); err != nil {
		c.t.Errorf("close transport %x: %v", id, err)
	}
}

// restart starts a stopped member again from its data dir, on its address.
func (c *qcluster) restart(id uint64) *node.Member {
	c.t.Helper()
	return c.start(id, c.transport(id, c.addrs[id]))
}

func (c *qcluster) close() {
	for _, id := range c.running() {
		c.stop(id)
	}
	for _, p := range c.proxies {
		p.Close()
	}
}

// waitLeader waits until the running members agree on a leader among them.
func (c *qcluster) waitLeader() uint64 {
	c.t.Helper()
	deadline := time.Now().Add(eventually)
	for {
		ids := c.running()
		var lead uint64
		agreed := true
		var changed []<-chan struct{}
		for _, id := range ids {
			m := c.member(id)
			changed = append(changed, m.LeaderChanged())
			l := m.Leader()
			agreed = agreed && l != 0 && (lead == 0 || l == lead) && slices.Contains(ids, l)
			lead = l
		}
		if agreed {
			return lead
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("members %v agree on no leader", ids)
		}
		waitAny(changed, time.Until(deadline))
	}
}

func waitAny(chs []<-chan struct{}, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	done := make(chan struct{})
	defer close(done)
	fired := make(chan struct{}, len(chs))
	for _, ch := range chs {
		go func() {
			select {
			case <-ch:
				fired <- struct{}{}
			case <-done:
			}
		}()
	}
	select {
	case <-fired:
	case <-timer.C:
	}
}

// checkConverged waits until every running member has applied a barrier write, then
// checks that they hold the same history and that every key of want has its value on
// every member.
func (c *qcluster) checkConverged(ctx context.Context, want map[string]string) {
	c.t.Helper()
	lead := c.member(c.waitLeader())
	barrier, err := lead.Put(ctx, storage.PutRequest{Key: []byte("\xffbarrier"), Value: []byte("x")})
	if err != nil {
		c.t.Fatalf("barrier write: %v", err)
	}
	target := lead.AppliedIndex()
	ids := c.running()
	var ref storage.HashKVResult
	for i, id := range ids {
		m := c.member(id)
		if err := m.WaitApplied(ctx, target); err != nil {
			c.t.Fatalf("member %x never applied index %d: %v", id, target, err)
		}
		h, err := m.Store().HashKV(barrier.Revision)
		if err != nil {
			c.t.Fatalf("member %x: hash: %v", id, err)
		}
		if i == 0 {
			ref = h
		} else if h.Hash != ref.Hash || h.CompactRevision != ref.CompactRevision {
			c.t.Fatalf("member %x history %+v, member %x %+v", id, h, ids[0], ref)
		}
		r, err := m.Range(ctx, storage.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l")}, true)
		if err != nil {
			c.t.Fatalf("member %x range: %v", id, err)
		}
		got := make(map[string]string, len(r.KVs))
		for _, kv := range r.KVs {
			got[string(kv.Key)] = string(kv.Value)
		}
		for k, v := range want {
			if got[k] != v {
				c.t.Fatalf("member %x: %s = %q, want %q (an acknowledged write is missing)", id, k, got[k], v)
			}
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// TestClusterOverQUIC: three members elect a leader and replicate over quicpeer; a
// member stopped while the others write far past a snapshot comes back on its data dir
// and address, and catches up (by a snapshot streamed over quicpeer).
func TestClusterOverQUIC(t *testing.T) {
	c := newQCluster(t, clusterOpts{size: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 2*eventually)
	defer cancel()
	want := map[string]string{}
	put := func(id uint64, k, v string) {
		t.Helper()
		if _, err := c.member(id).Put(ctx, storage.PutRequest{Key: []byte(k), Value: []byte(v)}); err != nil {
			t.Fatalf("put %s through %x: %v", k, id, err)
		}
		want[k] = v
	}
	for i, id := range c.running() {
		put(id, fmt.Sprintf("k%03d", i), "first")
	}
	for _, id := range c.running() {
		r, err := c.member(id).Range(ctx, storage.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l")}, false)
		if err != nil || r.Count != 3 {
			t.Fatalf("linearizable range on %x: %+v %v", id, r, err)
		}
	}

	victim := uint64(3)
	if c.waitLeader() == victim {
		victim = 2
	}
	c.stop(victim)
	var alive uint64
	for _, id := range c.running() {
		alive = id
	}
	for i := range 300 { // past SnapshotCount + SnapshotCatchUpEntries: the log is compacted
		put(alive, fmt.Sprintf("k%03d", i+10), strconv.Itoa(i))
	}
	c.restart(victim)
	c.checkConverged(ctx, want)
	for _, id := range c.running() {
		if id == victim {
			continue
		}
		if _, ok := findLog(c.logs[id], "sent a snapshot"); ok {
			return
		}
	}
	t.Fatalf("member %x caught up without a snapshot: the test no longer covers snapshots", victim)
}

// findLog returns a record with message msg the sink holds, if any.
func findLog(s *logSink, msg string) (logRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.recs {
		if r.msg == msg {
			return r, true
		}
	}
	return logRecord{}, false
}

// seed returns the seed for randomized tests: ETCQ_QUICPEER_SEED if set, else the clock.
func seed(t *testing.T) int64 {
	t.Helper()
	s := time.Now().UnixNano()
	if env := os.Getenv("ETCQ_QUICPEER_SEED"); env != "" {
		var err error
		if s, err = strconv.ParseInt(env, 10, 64); err != nil {
			t.Fatalf("ETCQ_QUICPEER_SEED: %v", err)
		}
	}
	t.Logf("seed %d (rerun with ETCQ_QUICPEER_SEED=%d)", s, s)
	return s
}

// TestClusterOverLossyQUIC: every link goes through a proxy that loses and delays
// datagrams both ways; concurrent writers through every member keep going, a member is
// restarted in the middle; once the links heal, every acknowledged write is on every
// member and the members agree on the whole history.
func TestClusterOverLossyQUIC(t *testing.T) {
	s := seed(t)
	c := newQCluster(t, clusterOpts{size: 3, proxied: true, seed: s})
	faults := udpproxy.Faults{Loss: 0.08, Delay: time.Millisecond, Jitter: 2 * time.Millisecond}
	for _, p := range c.proxies {
		p.SetFaults(udpproxy.ToTarget, faults)
		p.SetFaults(udpproxy.FromTarget, faults)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*eventually)
	defer cancel()

	var mu sync.Mutex
	want := map[string]string{}
	write := func(writer int, n int) {
		for i := range n {
			k, v := fmt.Sprintf("k-w%d-%04d", writer, i), fmt.Sprintf("v%d", i)
			id := uint64(1 + (writer+i)%3)
			m := c.member(id)
			if m == nil {
				continue // stopped meanwhile
			}
			wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := m.Put(wctx, storage.PutRequest{Key: []byte(k), Value: []byte(v)})
			wcancel()
			if err == nil { // only acknowledged writes must survive
				mu.Lock()
				want[k] = v
				mu.Unlock()
			}
		}
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() { write(w, 60) })
	}
	wg.Wait()
	victim := uint64(2)
	c.stop(victim)
	for w := range 4 {
		wg.Go(func() { write(10+w, 30) })
	}
	wg.Wait()
	c.restart(victim)
	for w := range 4 {
		wg.Go(func() { write(20+w, 30) })
	}
	wg.Wait()

	var lost uint64
	for _, p := range c.proxies {
		lost += p.Stats(udpproxy.ToTarget).Dropped + p.Stats(udpproxy.FromTarget).Dropped
		p.Heal()
	}
	if lost == 0 {
		t.Fatal("the proxies dropped nothing: the test ran without loss")
	}
	if len(want) == 0 {
		t.Fatal("no write was acknowledged")
	}
	t.Logf("%d acknowledged writes, %d datagrams dropped", len(want), lost)
	c.checkConverged(ctx, want)
}
