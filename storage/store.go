package storage

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Store. The zero value gives the defaults noted on each field.
type Options struct {
	// BatchInterval is how long writes may wait in memory before a commit (100ms).
	BatchInterval time.Duration
	// BatchLimit is the number of pending writes that triggers a commit (10,000).
	BatchLimit int
	// InitialMmapSize is bbolt's initial memory map (2 GiB of address space). A map large
	// enough for the file keeps growth from remapping, which waits for open readers.
	InitialMmapSize int
	// CompactionBatchLimit is the number of keys or revisions compaction handles per step
	// before it lets writers in again (1,000).
	CompactionBatchLimit int
	// WatchBufferSize is the capacity of a watch stream's response channel (128).
	WatchBufferSize int
	// Logger receives the store's logs (slog.Default()).
	Logger *slog.Logger
	// LeaseExists, if set, is asked about the lease of every put (in a txn, of every put on
	// the path taken); a put naming a lease it does not know fails with ErrLeaseNotFound
	// and, in a txn, nothing of the txn is applied. It is called inside the write session,
	// so it must not use the store.
	LeaseExists func(lease int64) bool
}

func (o *Options) setDefaults() {
	if o.BatchInterval <= 0 {
		o.BatchInterval = 100 * time.Millisecond
	}
	if o.BatchLimit <= 0 {
		o.BatchLimit = 10000
	}
	if o.InitialMmapSize <= 0 {
		o.InitialMmapSize = 2 << 30
	}
	if o.CompactionBatchLimit <= 0 {
		o.CompactionBatchLimit = 1000
	}
	if o.WatchBufferSize <= 0 {
		o.WatchBufferSize = 128
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Store is an MVCC key-value store on one bbolt file. It is safe for concurrent use: any
// number of readers run alongside one write session at a time.
type Store struct {
	opts Options
	path string
	log  *slog.Logger

	be         *backend
	idx        *index
	leases     *leaseIndex
	commitHist commitHistogram
	hub        *watchHub

	// swapMu is held for reading by every operation that touches the backend or the
	// index (reads, write sessions, commits, compaction steps, catch-up reads), and for
	// writing by Restore, which replaces both. Nobody takes it twice.
	swapMu sync.RWMutex
	// epoch counts restores; a compaction scheduled before one is abandoned.
	epoch atomic.Int64
	// wmu is held by the write session (see Write) and by anything that must see the
	// store between sessions: commit's batch swap, snapshots, restore.
	wmu sync.Mutex
	// rev is the current revision; readers read it without locks. It is raised only
	// after the revision's records are in the index and the pending batch.
	rev atomic.Int64
	// compactRev is the compacted revision: reads below it fail with ErrCompacted. It is
	// raised before compaction removes anything.
	compactRev atomic.Int64
	// ci is the consistent index recorded by the last write session.
	ci atomic.Pointer[ConsistentIndex]
	// aux mirrors the aux bucket (see aux.go).
	auxMu sync.RWMutex
	aux   map[string][]byte

	commitErr atomic.Pointer[error]
	commitC   chan struct{} // a write session asks for a commit
	compactC  chan compactJob
	stopC     chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closed    atomic.Bool
}

// ConsistentIndex is the raft log position whose effects the store holds: it is committed
// in the same bbolt transaction as the data it covers.
type ConsistentIndex struct {
	Index, Term uint64
}

// Open opens (or creates) the store in the bbolt file at path, rebuilds the in-memory
// index from it, and resumes a compaction a crash interrupted.
func Open(path string, opts Options) (*Store, error) {
	opts.setDefaults()
	if err := finishRestore(path); err != nil {
		return nil, err
	}
	be, err := openBackend(path, backendOptions{InitialMmapSize: opts.InitialMmapSize, Timeout: time.Second})
	if err != nil {
		return nil, err
	}
	s := &Store{
		opts:     opts,
		path:     path,
		log:      opts.Logger.With("component", "storage"),
		be:       be,
		commitC:  make(chan struct{}, 1),
		compactC: make(chan compactJob, 64),
		stopC:    make(chan struct{}),
	}
	s.hub = newWatchHub(s)
	scheduled, err := s.load()
	if err != nil {
		be.close()
		return nil, err
	}
	s.hub.lastRev = s.rev.Load()
	s.wg.Add(2)
	go s.commitLoop()
	go s.compactLoop()
	if scheduled > 0 {
		s.log.Info("resuming compaction", "rev", scheduled)
		s.compactC <- compactJob{rev: scheduled, done: make(chan struct{}), epoch: s.epoch.Load()}
	}
	return s, nil
}

// load rebuilds the index and the counters from the committed database. It returns a
// compaction revision that was scheduled but not finished, or 0.
func (s *Store) load() (resume int64, err error) {
	s.idx = newIndex()
	s.leases = newLeaseIndex()
	aux, err := s.be.readAux()
	if err != nil {
		return 0, err
	}
	s.auxMu.Lock()
	s.aux = aux
	s.auxMu.Unlock()
	ciRaw, err := s.be.readMeta(metaConsistentIndex)
	if err != nil {
		return 0, err
	}
	index, term, err := decodeIndexTerm(ciRaw)
	if err != nil {
		return 0, err
	}
	s.ci.Store(&ConsistentIndex{Index: index, Term: term})
	var sched, fin uint64
	for _, m := range []struct {
		key []byte
		dst *uint64
	}{{metaCompactScheduled, &sched}, {metaCompactFinished, &fin}} {
		raw, err := s.be.readMeta(m.key)
		if err != nil {
			return 0, err
		}
		if *m.dst, err = decodeU64(raw); err != nil {
			return 0, err
		}
	}
	cur := int64(1)
	v, err := s.be.view()
	if err != nil {
		return 0, err
	}
	defer v.Close()
	var kv KeyValue
	v.scan(nil, nil, func(k, val []byte) bool {
		var rev Revision
		var tomb bool
		if rev, tomb, err = parseRevKey(k); err != nil {
			return false
		}
		if err = decodeRecord(val, &kv, false); err != nil {
			err = fmt.Errorf("record %v: %w", rev, err)
			return false
		}
		key := append([]byte(nil), kv.Key...)
		if tomb {
			s.idx.restoreTombstone(key, rev)
			s.leases.set(key, 0)
		} else {
			s.idx.restore(key, rev, kv.CreateRevision, kv.Version)
			s.leases.set(key, kv.Lease)
		}
		cur = rev.Main
		return true
	})
	if err != nil {
		return 0, fmt.Errorf("storage: rebuild index: %w", err)
	}
	cur = max(cur, int64(sched))
	s.rev.Store(cur)
	s.compactRev.Store(int64(sched))
	if sched > fin {
		return int64(sched), nil
	}
	return 0, nil
}

// Rev returns the current revision.
func (s *Store) Rev() int64 { return s.rev.Load() }

// CompactRev returns the compacted revision (0 if never compacted).
func (s *Store) CompactRev() int64 { return s.compactRev.Load() }

// ConsistentIndex returns the raft position recorded by the last write session. After
// Open it is the committed one: entries at or below it are already in the store.
func (s *Store) ConsistentIndex() ConsistentIndex { return *s.ci.Load() }

// Size returns the database file size and the bytes of it in use.
func (s *Store) Size() (size, inUse int64) {
	s.swapMu.RLock()
	defer s.swapMu.RUnlock()
	return s.be.sizes()
}

// Err returns the last commit error, or nil once a commit has succeeded since. A failing
// commit (a full disk, say) keeps its writes in memory and is retried.
func (s *Store) Err() error {
	if p := s.commitErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Commit writes the pending batch to disk and returns once it is durable.
func (s *Store) Commit() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.commit()
}

func (s *Store) commit() error {
	s.swapMu.RLock()
	defer s.swapMu.RUnlock()
	s.be.commitMu.Lock()
	defer s.be.commitMu.Unlock()
	s.wmu.Lock()
	b := s.be.swap()
	s.wmu.Unlock()
	if b == nil {
		return s.Err()
	}
	start := time.Now()
	err := s.be.write(b)
	s.commitHist.observe(time.Since(start))
	if err != nil {
		s.commitErr.Store(&err)
		s.log.Error("commit failed; writes kept in memory for retry", "err", err)
		return err
	}
	s.commitErr.Store(nil)
	return nil
}

// commitLoop commits every BatchInterval, and early when a session fills the batch.
func (s *Store) commitLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.BatchInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopC:
			return
		case <-t.C:
		case <-s.commitC:
		}
		_ = s.commit()
	}
}

// Close stops the background work, commits what is pending and closes the file. Watch
// streams are closed. Close is idempotent.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.stopC)
		s.wg.Wait()
		s.hub.close()
		err = s.commit()
		if cerr := s.be.close(); err == nil {
			err = cerr
		}
	})
	return err
}
