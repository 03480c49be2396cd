package storage

import (
	"fmt"
)

// compactJob is one compaction to carry out in the background.
type compactJob struct {
	rev  int64
	done chan struct{}
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
	job := compactJob{rev: rev, done: make(chan struct{})}
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
			if err := s.compact(job.rev); err != nil {
				s.log.Error("compaction failed", "rev", job.rev, "err", err)
				continue // the scheduled revision stays in meta; it resumes at the next open
			}
			close(job.done)
		}
	}
}

// compact removes the history hidden by a compaction at rev. It first compacts the index,
// learning which revision stays visible for every key, then walks the stored revisions up
// to rev and deletes the others. A record at exactly rev is kept even when it is a
// tombstone, so a watch starting at the compaction revision still sees every event of it.
func (s *Store) compact(rev int64) error {
	step := s.opts.CompactionBatchLimit
	keep := make(map[Revision]struct{})
	var from []byte
	for {
		if s.stopping() {
			return ErrClosed
		}
		from = s.idx.compactChunk(rev, from, step, keep)
		if from == nil {
			break
		}
	}

	end := revKeyPrefix(rev) // records with Main < rev
	cursor := revKeyPrefix(0)
	for {
		if s.stopping() {
			return ErrClosed
		}
		v, err := s.be.view()
		if err != nil {
			return err
		}
		var dels [][]byte
		var next []byte
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
		if next == nil {
			break
		}
		cursor = next
	}
	s.wmu.Lock()
	s.be.setMeta(metaCompactFinished, u64(uint64(rev)))
	s.wmu.Unlock()
	if err := s.commit(); err != nil {
		return err
	}
	s.log.Info("compaction finished", "rev", rev)
	return nil
}

func (s *Store) stopping() bool {
	select {
	case <-s.stopC:
		return true
	default:
		return false
	}
}
