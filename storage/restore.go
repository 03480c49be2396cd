package storage

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Restore replaces the whole store with the image in a snapshot stream (a raft snapshot
// sent by the leader). The stream is verified into a temporary file first; the store is
// untouched if it is bad. Then, with every reader and writer held off, the file is swapped
// in and the index rebuilt. Pending writes are discarded: the snapshot supersedes them.
// Watchers carry on: each is caught up from the new history, or canceled with the
// compacted revision when that history no longer holds its next revision. Open Snapshots
// must be closed for Restore to finish.
func (s *Store) Restore(r io.Reader) error {
	if s.closed.Load() {
		return ErrClosed
	}
	tmp, err := writeImage(r, filepath.Dir(s.path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // a no-op once renamed

	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	s.epoch.Add(1)
	if err := s.be.close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return s.reopenAfter(fmt.Errorf("storage: restore: %w", err))
	}
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		return s.reopenAfter(fmt.Errorf("storage: restore: %w", err))
	}
	return s.reopenAfter(nil)
}

// reopenAfter opens the file at s.path again and rebuilds the in-memory state; cause is the
// error to report (nil on success). swapMu must be held for writing.
func (s *Store) reopenAfter(cause error) error {
	be, err := openBackend(s.path, backendOptions{InitialMmapSize: s.opts.InitialMmapSize, Timeout: s.opts.BatchInterval * 10})
	if err != nil {
		s.closed.Store(true)
		return fmt.Errorf("storage: reopen after restore (store unusable): %w", err)
	}
	s.be = be
	resume, err := s.load()
	if err != nil {
		s.closed.Store(true)
		return fmt.Errorf("storage: reload after restore (store unusable): %w", err)
	}
	s.hub.restored(s.rev.Load())
	if resume > 0 {
		job := compactJob{rev: resume, done: make(chan struct{}), epoch: s.epoch.Load()}
		go func() {
			select {
			case s.compactC <- job:
			case <-s.stopC:
			}
		}()
	}
	return cause
}
