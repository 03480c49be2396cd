package storage

import (
	"errors"
	"fmt"
)

var errRestored = errors.New("storage: store restored from a snapshot")

// compactJob is one compaction to carry out in the background.
type compactJob struct {
	rev   int64
	done  chan struct{}
	epoch int64 // the store's restore epoch when the job was scheduled
}

// Compact compacts the history at rev: reads and watches below rev fail with ErrCompacted
// from now on, and the versions no read at rev or later can see are removed from the index
// and the file in the background, in batches of CompactionBatchLimit, so writers are never
// held up for long. The latest version of every key live at rev is kept. The returned
// channel is closed when the physical removal is done and committed.
func (w *Write) Compact(rev int64) (<-chan struct{}, error) {
	if w.err != nil {
		return nil, w.err
	}
	s := w.s
	if c := s.compactRev.Load(); rev <= c {
		return nil, fmt.Errorf("%w: %d <= compacted %d", ErrCompacted, rev, c)
	}
	if cur := s.rev.Load(); rev > cur {
		return nil, fmt.Errorf("%w: %d > current %d", ErrFutureRev, rev, cur)
	}
	s.compactRev.Store(rev)
	s.be.setMeta(metaCompactScheduled, u64(uint64(rev)))
	job := compactJob{rev: rev, done: make(chan struct{}), epoch: s.epoch.Load()}
	select {
	case s.compactC <- job:
	default:
		// A backlog of compactions: queue this one without holding the write lock;
		// its channel closes once the jobs before it are done.
		go func() {
			select {
			case s.compactC <- job:
			case <-s.stopC:
			}
		}()
	}
	return job.done, nil
}

// Compact compacts in a session of its own.
func (s *Store) Compact(rev int64) (<-chan struct{}, error) {
	w := s.Write()
	defer w.End()
	return w.Compact(rev)
}

func (s *Store) compactLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stopC:
			return
		case job := <-s.compactC:
			if err := s.compact(job); errors.Is(err, errRestored) {
				close(job.done) // the store was replaced; the job means nothing now
				continue
			} else if errors.Is(err, ErrClosed) {
				s.log.Info("compaction interrupted by close; it resumes at the next open", "rev", job.rev)
				continue
			} else if err != nil {
				s.log.Error("compaction failed", "rev", job.rev, "err", err)
				continue // the scheduled revision stays in meta; it resumes at the next open
			}
			close(job.done)
		}
	}
}

// compact removes the history hidden by a compaction at job.rev. It first compacts the
// index, learning which revision stays visible for every key, then walks the stored
// revisions below job.rev and deletes the others. A record at exactly job.rev is kept even
// when it is a tombstone, so a watch starting at the compaction revision still sees every
// event of it. Each step holds the locks briefly; a restore in between abandons the job.
func (s *Store) compact(job compactJob) error {
	rev, step := job.rev, s.opts.CompactionBatchLimit
	keep := make(map[Revision]struct{})
	var from []byte
	for first := true; first || from != nil; first = false {
		err := s.compactStep(job, func() error {
			from = s.idx.compactChunk(rev, from, step, keep)
			return nil
		})
		if err != nil {
			return err
		}
	}

	end := revKeyPrefix(rev) // records with Main < rev
	for cursor := revKeyPrefix(0); cursor != nil; {
		err := s.compactStep(job, func() error {
			v, err := s.be.view()
			if err != nil {
				return err
			}
			var dels [][]byte
			next := []byte(nil)
			n := 0
			v.scan(cursor, end, func(k, _ []byte) bool {
				if n == step {
					next = append([]byte(nil), k...)
					return false
				}
				n++
				r, tomb, perr := parseRevKey(k)
				if perr != nil {
					err = perr
					return false
				}
				if _, ok := keep[r]; tomb || !ok {
					dels = append(dels, append([]byte(nil), k...))
				}
				return true
			})
			v.Close()
			if err != nil {
				return fmt.Errorf("storage: compaction scan: %w", err)
			}
			if len(dels) > 0 {
				s.wmu.Lock()
				s.be.deleteKeys(dels)
				s.wmu.Unlock()
			}
			cursor = next
			return nil
		})
		if err != nil {
			return err
		}
	}
	err := s.compactStep(job, func() error {
		s.wmu.Lock()
		s.be.setMeta(metaCompactFinished, u64(uint64(rev)))
		s.wmu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.commit(); err != nil {
		return err
	}
	s.log.Info("compaction finished", "rev", rev)
	return nil
}

// compactStep runs one step of a compaction job unless the store is stopping or was
// restored since the job was scheduled.
func (s *Store) compactStep(job compactJob, step func() error) error {
	s.swapMu.RLock()
	defer s.swapMu.RUnlock()
	if s.stopping() {
		return ErrClosed
	}
	if s.epoch.Load() != job.epoch {
		return errRestored
	}
	return step()
}

func (s *Store) stopping() bool {
	select {
	case <-s.stopC:
		return true
	default:
		return false
	}
}
