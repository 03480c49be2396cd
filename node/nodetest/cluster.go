package nodetest

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"etcq.dev/etcq/node"
	"etcq.dev/etcq/storage"
)

// Options shape a test cluster. Zero values take the defaults noted.
type Options struct {
	Size int   // members (3)
	Seed int64 // network randomness (from the clock; logged)
	// TickInterval (10ms) and ElectionTicks (10) make elections fast but not flaky.
	TickInterval  time.Duration
	ElectionTicks int
	// SnapshotCount and SnapshotCatchUpEntries as node.Config (1,000 and 100).
	SnapshotCount          uint64
	SnapshotCatchUpEntries uint64
	// SnapshotBytes and SnapshotCatchUpBytes as node.Config (0: node's defaults).
	SnapshotBytes        uint64
	SnapshotCatchUpBytes uint64
	// Tweak, if set, adjusts every member's config before it starts.
	Tweak func(*node.Config)
	// LogLevel of the members' logs, written through t.Log (slog.LevelWarn).
	LogLevel slog.Level
}

// Cluster is a set of members in one process, each with a real raft log and store in its
// own temporary directory, talking over a Network. Its methods fail the test on error.
type Cluster struct {
	t    testing.TB
	Net  *Network
	opts Options

	mu      sync.Mutex
	running map[uint64]*node.Member
	cfgs    map[uint64]node.Config
}

// NewCluster starts a new cluster of opts.Size members and waits for a leader. When the
// test ends (and has not failed), the network is healed and EnsureSame checks that every
// running member holds the same data.
func NewCluster(t testing.TB, opts Options) *Cluster {
	t.Helper()
	setDefault(&opts.Size, 3)
	setDefault(&opts.TickInterval, 10*time.Millisecond)
	setDefault(&opts.ElectionTicks, 10)
	setDefault(&opts.SnapshotCount, 1000)
	setDefault(&opts.SnapshotCatchUpEntries, 100)
	if opts.LogLevel == 0 {
		opts.LogLevel = slog.LevelWarn
	}
	if opts.Seed == 0 {
		opts.Seed = time.Now().UnixNano()
	}
	c := &Cluster{
		t:       t,
		Net:     NewNetwork(opts.Seed, t.Logf),
		opts:    opts,
		running: make(map[uint64]*node.Member),
		cfgs:    make(map[uint64]node.Config),
	}
	var initial []node.MemberInfo
	for i := 1; i <= opts.Size; i++ {
		id := uint64(i)
		initial = append(initial, node.MemberInfo{ID: id, Name: fmt.Sprintf("m%d", i), PeerURLs: []string{peerURL(id)}})
	}
	for _, mi := range initial {
		cfg := c.config(mi.ID, mi.Name)
		cfg.InitialCluster = initial
		cfg.ClusterToken = "nodetest"
		c.cfgs[mi.ID] = cfg
	}
	t.Cleanup(c.Close)
	// Cleanups run last-in first-out: this one, before Close. Every test ends with the
	// check that the running members, once the network heals, hold identical data.
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		c.Net.SetHook(nil)
		c.Net.Heal()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c.EnsureSame(ctx)
	})
	for _, mi := range initial {
		c.start(mi.ID)
	}
	c.WaitLeader()
	return c
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func peerURL(id uint64) string { return fmt.Sprintf("https://member-%x.nodetest:2380", id) }

func (c *Cluster) config(id uint64, name string) node.Config {
	dir := filepath.Join(c.t.TempDir(), name)
	cfg := node.Config{
		ID:                     id,
		Name:                   name,
		DataDir:                dir,
		TickInterval:           c.opts.TickInterval,
		ElectionTicks:          c.opts.ElectionTicks,
		SnapshotCount:          c.opts.SnapshotCount,
		SnapshotCatchUpEntries: c.opts.SnapshotCatchUpEntries,
		SnapshotBytes:          c.opts.SnapshotBytes,
		SnapshotCatchUpBytes:   c.opts.SnapshotCatchUpBytes,
		Logger: slog.New(slog.NewTextHandler(testWriter{c.t}, &slog.HandlerOptions{Level: c.opts.LogLevel})).
			With("member", name),
	}
	if c.opts.Tweak != nil {
		c.opts.Tweak(&cfg)
	}
	return cfg
}

// start runs member id with its recorded config (a first start or a restart).
func (c *Cluster) start(id uint64) *node.Member {
	c.t.Helper()
	cfg := c.cfgs[id]
	ep := c.Net.Join(id, nil)
	cfg.Transport = ep
	m, err := node.New(cfg)
	if err != nil {
		c.Net.Leave(id)
		c.t.Fatalf("start member %x: %v", id, err)
	}
	ep.Attach(m)
	c.mu.Lock()
	c.running[id] = m
	c.mu.Unlock()
	return m
}

// Member returns running member id (nil if it is stopped).
func (c *Cluster) Member(id uint64) *node.Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running[id]
}

// Running returns the IDs of the running members, sorted.
func (c *Cluster) Running() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]uint64, 0, len(c.running))
	for id := range c.running {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Stop stops member id gracefully (a leader hands over leadership first).
func (c *Cluster) Stop(id uint64) {
	c.t.Helper()
	m := c.Member(id)
	if m == nil {
		c.t.Fatalf("member %x is not running", id)
	}
	m.Stop()
	c.Net.Leave(id)
	c.mu.Lock()
	delete(c.running, id)
	c.mu.Unlock()
}

// Kill stops member id as a crash would look to the others: it drops off the network
// first, so it hands nothing over, then stops.
func (c *Cluster) Kill(id uint64) {
	c.t.Helper()
	m := c.Member(id)
	if m == nil {
		c.t.Fatalf("member %x is not running", id)
	}
	c.Net.Leave(id)
	m.Stop()
	c.mu.Lock()
	delete(c.running, id)
	c.mu.Unlock()
}

// Restart starts a stopped member again from its data directory.
func (c *Cluster) Restart(id uint64) *node.Member {
	c.t.Helper()
	if c.Member(id) != nil {
		c.t.Fatalf("member %x is running", id)
	}
	return c.start(id)
}

// AddMember adds a new member through the leader (as a learner that is promoted once
// caught up, unless learner is set) and starts it.
func (c *Cluster) AddMember(ctx context.Context, name string, learner bool) uint64 {
	c.t.Helper()
	leader := c.Member(c.WaitLeader())
	info, _, err := leader.AddMember(ctx, name, []string{fmt.Sprintf("https://%s.nodetest:2380", name)}, learner)
	if err != nil {
		c.t.Fatalf("add member %s: %v", name, err)
	}
	cfg := c.config(info.ID, name)
	cfg.Join = true
	cfg.ClusterID = leader.ClusterID()
	cfg.InitialCluster = append(leader.Members(), info)
	c.cfgs[info.ID] = cfg
	c.start(info.ID)
	return info.ID
}

// Forget drops a removed member's record so it is not restarted.
func (c *Cluster) Forget(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.cfgs, id)
}

// WaitLeader waits until every running member knows the same leader, and returns it.
func (c *Cluster) WaitLeader() uint64 {
	c.t.Helper()
	return c.WaitLeaderAmong(c.Running()...)
}

// WaitLeaderAmong waits until the given members agree on a leader among them.
func (c *Cluster) WaitLeaderAmong(ids ...uint64) uint64 {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var lead uint64
		agreed := true
		var waits []<-chan struct{}
		for _, id := range ids {
			m := c.Member(id)
			if m == nil {
				c.t.Fatalf("member %x is not running", id)
			}
			waits = append(waits, m.LeaderChanged())
			l := m.Leader()
			if l == 0 || (lead != 0 && l != lead) || !slices.Contains(ids, l) {
				agreed = false
			}
			lead = l
		}
		if agreed {
			return lead
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("members %v agree on no leader", ids)
		}
		waitAny(waits, time.Until(deadline))
	}
}

// waitAny returns when one of chs is closed or d has passed.
func waitAny(chs []<-chan struct{}, d time.Duration) {
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
	case <-time.After(d):
	}
}

// EnsureSame waits until every running member has applied the leader's commit index,
// then checks that all hold identical data: the same revision, the same history hash, and
// the same keys and values at that revision.
func (c *Cluster) EnsureSame(ctx context.Context) {
	c.t.Helper()
	lead := c.Member(c.WaitLeader())
	// A write through raft makes the commit index one every member must reach; the data
	// is compared at its revision, so writes still in flight do not matter.
	barrier, err := lead.Put(ctx, storage.PutRequest{Key: []byte("\xffnodetest/barrier"), Value: []byte("x")})
	if err != nil {
		c.t.Fatalf("barrier write: %v", err)
	}
	target := lead.AppliedIndex()
	ids := c.Running()
	for _, id := range ids {
		if err := c.Member(id).WaitApplied(ctx, target); err != nil {
			c.t.Fatalf("member %x: %v", id, err)
		}
	}
	ref := c.Member(ids[0]).Store()
	rev := barrier.Revision
	want, err := ref.HashKV(rev)
	if err != nil {
		c.t.Fatalf("member %x hashkv: %v", ids[0], err)
	}
	all := storage.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: rev}
	wantKVs, err := ref.Range(all)
	if err != nil {
		c.t.Fatalf("member %x range: %v", ids[0], err)
	}
	for _, id := range ids[1:] {
		st := c.Member(id).Store()
		if st.Rev() < rev {
			c.t.Fatalf("member %x at revision %d, member %x at %d after applying the same index", id, st.Rev(), ids[0], rev)
		}
		got, err := st.HashKV(rev)
		if err != nil {
			c.t.Fatalf("member %x hashkv: %v", id, err)
		}
		if got.Hash != want.Hash || got.CompactRevision != want.CompactRevision {
			c.t.Fatalf("member %x history hash %+v, member %x %+v", id, got, ids[0], want)
		}
		kvs, err := st.Range(all)
		if err != nil {
			c.t.Fatalf("member %x range: %v", id, err)
		}
		if fmt.Sprint(kvs.KVs) != fmt.Sprint(wantKVs.KVs) {
			c.t.Fatalf("member %x data differs from member %x at revision %d", id, ids[0], rev)
		}
	}
	c.ensureSameAux(ctx, ids)
}

// ensureSameAux compares the members' replicated metadata (members, leases), which is
// current state, not history: lease work in flight can change it between two members'
// reads, so a difference is checked again after another barrier before it counts.
func (c *Cluster) ensureSameAux(ctx context.Context, ids []uint64) {
	c.t.Helper()
	var diff string
	for attempt := 0; attempt < 5; attempt++ {
		lead := c.Member(c.WaitLeader())
		if _, err := lead.Put(ctx, storage.PutRequest{Key: []byte("\xffnodetest/barrier"), Value: []byte("x")}); err != nil {
			c.t.Fatalf("barrier write: %v", err)
		}
		target := lead.AppliedIndex()
		for _, id := range ids {
			if err := c.Member(id).WaitApplied(ctx, target); err != nil {
				c.t.Fatalf("member %x: %v", id, err)
			}
		}
		wantK, wantV := c.Member(ids[0]).Store().AuxPrefix("")
		diff = ""
		for _, id := range ids[1:] {
			gotK, gotV := c.Member(id).Store().AuxPrefix("")
			if fmt.Sprintf("%q %x", gotK, gotV) != fmt.Sprintf("%q %x", wantK, wantV) {
				diff = fmt.Sprintf("member %x replicated metadata differs from member %x:\n %q\n %q", id, ids[0], gotK, wantK)
			}
		}
		if diff == "" {
			return
		}
	}
	c.t.Fatal(diff)
}

// Close stops every member and the network.
func (c *Cluster) Close() {
	for _, id := range c.Running() {
		c.Kill(id)
	}
	c.Net.Close()
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}
