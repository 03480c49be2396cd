package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"etcq.dev/etcq/auth"
	"etcq.dev/etcq/storage"
	"etcq.dev/etcq/storage/raftlog"
)

// Member is one member of an etcq cluster: a raft node, its log, its store, and the
// goroutines that connect them. Its methods are safe for concurrent use.
type Member struct {
	cfg       Config
	id        uint64
	clusterID uint64
	log       *slog.Logger

	store     *storage.Store
	rlog      *raftlog.Log // owned by the raft goroutine
	mem       *raft.MemoryStorage
	raft      raft.Node
	transport PeerTransport
	imageDir  string // store images received with MsgSnap, waiting to be applied

	wait    *waitRegistry
	seq     atomic.Uint64
	readSeq atomic.Uint64

	propC  chan *request
	prioC  chan *request // lease renewals and expiries: ahead of propC
	lessor *lessor
	// proposalsFailed counts proposals consensus failed (metrics).
	proposalsFailed atomic.Int64
	alarms          alarms
	readC           chan *readWaiter
	readStateC      chan raft.ReadState
	applyC          chan toApply
	snapC           chan snapRequest
	applied         *appliedWaiter

	// auth is the replicated auth state (auth.go); bcryptSem bounds the password hashes
	// and checks under way, which hash at bcryptCost; tokens live tokenTTL.
	auth       *auth.State
	bcryptSem  chan struct{}
	bcryptCost int
	tokenTTL   time.Duration

	// Raft state as last seen by the raft goroutine, for everyone else to read.
	lead      atomic.Uint64
	term      atomic.Uint64
	committed atomic.Uint64
	leaderC   atomic.Pointer[chan struct{}] // closed and replaced on every leader change
	confState atomic.Pointer[raftpb.ConfState]

	// snapIndex is the index of the newest raft snapshot, raftApplied the last index raft
	// handed to the apply goroutine (apply goroutine only). raftApplied can trail the
	// applied index: a store image restored from a leader's snapshot may be newer than the
	// snapshot, but a raft snapshot may only be taken at an index the raft log has.
	snapIndex   uint64
	raftApplied uint64
	snapBytes   uint64 // entry data applied since the newest snapshot (apply goroutine only)
	// promoting is set while an automatic promotion is under way.
	promoting atomic.Bool

	stopOnce sync.Once
	stopC    chan struct{}
	removedC chan struct{} // closed when this member is removed from the cluster
	removed  sync.Once
	wg       sync.WaitGroup
}

// walMetadata is written once, when the raft log is created, and checked at every start.
type walMetadata struct {
	MemberID  uint64 `msgpack:"member_id"`
	ClusterID uint64 `msgpack:"cluster_id"`
}

// confContext travels in the Context of a conf change entry.
type confContext struct {
	Member uint64     `msgpack:"member"` // proposer, for its waiter (0: bootstrap)
	Seq    uint64     `msgpack:"seq"`
	Info   MemberInfo `msgpack:"info"`
	// Caller is the client the change is made for, checked again at apply; nil for the
	// member's own changes (promotion of a caught-up learner, publishing its client URLs).
	Caller *caller `msgpack:"caller,omitempty"`
}

// New opens (or bootstraps) a member and starts it. It returns once the member runs; it
// has a leader only after an election.
func New(cfg Config) (*Member, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	dir := memberDir(cfg.DataDir)
	imageDir := filepath.Join(dir, "snap-images")
	if err := os.MkdirAll(imageDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: data dir: %w", err)
	}
	log := cfg.Logger.With("member", fmt.Sprintf("%x", cfg.ID))
	m := &Member{
		cfg:        cfg,
		id:         cfg.ID,
		log:        log,
		transport:  cfg.Transport,
		imageDir:   imageDir,
		wait:       newWaitRegistry(),
		lessor:     newLessor(),
		auth:       auth.New(),
		bcryptSem:  make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)),
		bcryptCost: cfg.BcryptCost,
		tokenTTL:   cfg.AuthTokenTTL,
		propC:      make(chan *request, cfg.RequestQueue),
		prioC:      make(chan *request, 1024),
		readC:      make(chan *readWaiter, 1024),
		readStateC: make(chan raft.ReadState, 64),
		applyC:     make(chan toApply, 16),
		snapC:      make(chan snapRequest, 1),
		applied:    newAppliedWaiter(),
		stopC:      make(chan struct{}),
		removedC:   make(chan struct{}),
	}
	m.seq.Store(uint64(time.Now().UnixNano())) // never reuse a sequence across restarts
	lc := make(chan struct{})
	m.leaderC.Store(&lc)

	newCluster := !cfg.Join
	meta := walMetadata{MemberID: cfg.ID, ClusterID: cfg.ClusterID}
	if newCluster {
		meta.ClusterID = clusterID(cfg.InitialCluster, cfg.ClusterToken)
	}
	metaBytes, err := msgpack.Marshal(&meta)
	if err != nil {
		return nil, err
	}
	rlog, state, err := raftlog.Open(filepath.Join(dir, "raft"), raftlog.Options{Logger: log, Metadata: metaBytes})
	if err != nil {
		return nil, err
	}
	m.rlog = rlog
	fail := func(err error) (*Member, error) {
		rlog.Close()
		if m.store != nil {
			m.store.Close()
		}
		return nil, err
	}
	var stored walMetadata
	if err := msgpack.Unmarshal(state.Metadata, &stored); err != nil {
		return fail(fmt.Errorf("%w: unreadable raft log metadata: %w", ErrDataDir, err))
	}
	if stored.MemberID != cfg.ID {
		return fail(fmt.Errorf("%w: it holds member %x, not %x", ErrDataDir, stored.MemberID, cfg.ID))
	}
	m.clusterID = stored.ClusterID

	so := cfg.StoreOptions
	if so.Logger == nil {
		so.Logger = log
	}
	so.LeaseExists = m.lessor.exists
	if m.store, err = storage.Open(storePath(cfg.DataDir), so); err != nil {
		return fail(err)
	}
	if err := m.lessor.load(m.store); err != nil {
		return fail(err)
	}
	if err := m.alarms.load(m.store); err != nil {
		return fail(err)
	}
	if err := m.loadAuth(); err != nil {
		return fail(err)
	}
	if m.mem, err = state.MemoryStorage(); err != nil {
		return fail(err)
	}
	fresh := state.HardState == nil || raft.IsEmptyHardState(state.HardState)
	fresh = fresh && len(state.Entries) == 0 && state.Snapshot == nil

	rc := &raft.Config{
		ID:                        cfg.ID,
		ElectionTick:              cfg.ElectionTicks,
		HeartbeatTick:             cfg.HeartbeatTicks,
		Storage:                   m.mem,
		MaxSizePerMsg:             1 << 20,
		MaxInflightMsgs:           512,
		MaxUncommittedEntriesSize: 64 << 20,
		CheckQuorum:               true,
		PreVote:                   true,
		StepDownOnRemoval:         true,
		ReadOnlyOption:            raft.ReadOnlySafe,
		Logger:                    newRaftLogger(log),
	}
	if state.Snapshot != nil {
		m.snapIndex = state.Snapshot.GetMetadata().GetIndex()
		m.raftApplied = m.snapIndex
		m.confState.Store(state.Snapshot.GetMetadata().GetConfState())
		m.applied.set(m.snapIndex)
	}
	// Peers: the member list the store holds, and the configured one (for a member that
	// joins, the cluster it joins: it learns the rest from the log).
	for _, mi := range append(m.members(), cfg.InitialCluster...) {
		if mi.ID != m.id {
			m.transport.AddPeer(mi.ID, mi.PeerURLs)
		}
	}
	if fresh && newCluster {
		peers := make([]raft.Peer, 0, len(cfg.InitialCluster))
		for _, mi := range cfg.InitialCluster {
			ctx, err := msgpack.Marshal(&confContext{Info: mi})
			if err != nil {
				return fail(err)
			}
			peers = append(peers, raft.Peer{ID: mi.ID, Context: ctx})
		}
		m.raft = raft.StartNode(rc, peers)
		log.Info("bootstrapped a new cluster", "cluster", fmt.Sprintf("%x", m.clusterID), "members", len(peers))
	} else {
		m.raft = raft.RestartNode(rc)
		log.Info("started", "cluster", fmt.Sprintf("%x", m.clusterID), "applied", m.applied.get(), "consistent_index", m.store.ConsistentIndex().Index)
	}

	m.wg.Add(5)
	go m.run()
	go m.applyLoop()
	go m.proposeLoop()
	go m.readLoop()
	go m.leaseLoop()
	if cfg.QuotaBackendBytes > 0 {
		m.wg.Add(1)
		go m.quotaLoop()
	}
	if len(cfg.ClientURLs) > 0 {
		m.wg.Add(1)
		go m.publishLoop()
	}
	return m, nil
}

// ID returns the member's ID; ClusterID the cluster's.
func (m *Member) ID() uint64        { return m.id }
func (m *Member) ClusterID() uint64 { return m.clusterID }

// Store returns the member's store, for serializable reads and watches.
func (m *Member) Store() *storage.Store { return m.store }

// Leader returns the current leader's ID (0 if none is known).
func (m *Member) Leader() uint64 { return m.lead.Load() }

// Term returns the current raft term.
func (m *Member) Term() uint64 { return m.term.Load() }

// IsLeader reports whether this member leads.
func (m *Member) IsLeader() bool { return m.lead.Load() == m.id }

// LeaderChanged returns a channel closed at the next change of leader.
func (m *Member) LeaderChanged() <-chan struct{} { return *m.leaderC.Load() }

// Removed returns a channel closed once this member has applied its own removal.
func (m *Member) Removed() <-chan struct{} { return m.removedC }

// Stop shuts the member down. A leader first hands leadership to its most up-to-date
// follower, so the cluster does not wait an election timeout. Requests still waiting fail
// with ErrStoppedOutcome: they may have been committed. Stop is idempotent.
func (m *Member) Stop() {
	m.stopOnce.Do(func() {
		if m.IsLeader() {
			m.transferOnStop()
		}
		close(m.stopC)
		m.raft.Stop()
		m.wg.Wait()
		m.wait.failAll(ErrStoppedOutcome)
		if err := m.store.Close(); err != nil {
			m.log.Error("closing the store", "err", err)
		}
		if err := m.rlog.Close(); err != nil && !errors.Is(err, raftlog.ErrClosed) {
			m.log.Error("closing the raft log", "err", err)
		}
		m.log.Info("stopped")
	})
}

// transferOnStop hands leadership to the voter with the longest log and waits, at most an
// election timeout, for it to take over.
func (m *Member) transferOnStop() {
	st := m.raft.Status()
	var best, bestMatch uint64
	for id, pr := range st.Progress {
		if id != m.id && !pr.IsLearner && pr.RecentActive && pr.Match >= bestMatch {
			best, bestMatch = id, pr.Match
		}
	}
	if best == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.electionTimeout())
	defer cancel()
	if err := m.MoveLeader(ctx, best); err != nil {
		m.log.Warn("leadership transfer on stop failed", "to", fmt.Sprintf("%x", best), "err", err)
	}
}

func (m *Member) stopped() bool {
	select {
	case <-m.stopC:
		return true
	default:
		return false
	}
}

// fatal stops the member after an error that makes continuing unsafe (a failed write to
// the raft log or the store): a member that carries on could diverge from the others.
func (m *Member) fatal(err error) {
	m.log.Error("fatal error; stopping the member", "err", err)
	go m.Stop()
}

// appliedWaiter lets goroutines wait until the applied index reaches a value.
type appliedWaiter struct {
	mu      sync.Mutex
	index   uint64
	waiters map[uint64][]chan struct{}
}

func newAppliedWaiter() *appliedWaiter {
	return &appliedWaiter{waiters: make(map[uint64][]chan struct{})}
}

func (a *appliedWaiter) get() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.index
}

// set raises the applied index and releases the waiters it satisfies.
func (a *appliedWaiter) set(index uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if index <= a.index {
		return
	}
	a.index = index
	for i, chs := range a.waiters {
		if i <= index {
			for _, ch := range chs {
				close(ch)
			}
			delete(a.waiters, i)
		}
	}
}

// wait returns a channel closed once the applied index is at least index.
func (a *appliedWaiter) wait(index uint64) <-chan struct{} {
	ch := make(chan struct{})
	a.mu.Lock()
	defer a.mu.Unlock()
	if index <= a.index {
		close(ch)
		return ch
	}
	a.waiters[index] = append(a.waiters[index], ch)
	return ch
}

// AppliedIndex returns the index of the last entry applied to the store.
func (m *Member) AppliedIndex() uint64 { return m.applied.get() }

// CommittedIndex returns the last commit index the raft goroutine has seen.
func (m *Member) CommittedIndex() uint64 { return m.committed.Load() }

// WaitApplied returns once the member has applied the entry at index.
func (m *Member) WaitApplied(ctx context.Context, index uint64) error {
	select {
	case <-m.applied.wait(index):
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for index %d (applied %d): %w", ErrTimeout, index, m.applied.get(), ctx.Err())
	case <-m.stopC:
		return ErrStopped
	}
}

// memberDir is where a member keeps its state under its data dir: member/raft (the raft
// log), member/db (the store: storePath), member/snap-images.
func memberDir(dataDir string) string { return filepath.Join(dataDir, "member") }

// storePath is the store file of a member's data dir.
func storePath(dataDir string) string { return filepath.Join(memberDir(dataDir), "db") }
