package storage

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Restore replaces the whole store with the image in a snapshot stream (a raft snapshot
// sent by the leader). The stream and every record of its image are verified into a
// temporary file first; the store is untouched if it is bad. Then, with every reader and
// writer held off, the old file is moved aside, the new one takes its place and the index
// is rebuilt; if that fails, the old file comes back. Pending writes are discarded: the
// snapshot supersedes them. Watchers carry on: each is caught up from the new history, or
// canceled when that history no longer holds its next revision. Open Snapshots must be
// closed for Restore to finish.
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
	aside := s.path + preRestoreSuffix
	if err := os.Rename(s.path, aside); err != nil {
		return s.reopen(fmt.Errorf("storage: restore: %w", err))
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return s.rollBack(aside, fmt.Errorf("storage: restore: %w", err))
	}
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		return s.rollBack(aside, fmt.Errorf("storage: restore: %w", err))
	}
	if err := s.tryReopen(); err != nil {
		return s.rollBack(aside, fmt.Errorf("storage: restore: %w", err))
	}
	if err := os.Remove(aside); err != nil {
		s.log.Warn("restore: cannot remove the replaced file", "path", aside, "err", err)
	}
	return nil
}

// preRestoreSuffix names the file a restore moves aside until the new one has loaded.
const preRestoreSuffix = ".pre-restore"

// finishRestore settles a restore a crash interrupted, before the file is opened: if only
// the file moved aside exists, the swap never happened and it comes back; if both exist,
// the new file (verified before the swap) stays.
func finishRestore(path string) error {
	aside := path + preRestoreSuffix
	if _, err := os.Stat(aside); err != nil {
		return nil
	}
	if _, err := os.Stat(path); err == nil {
		return os.Remove(aside)
	}
	if err := os.Rename(aside, path); err != nil {
		return fmt.Errorf("storage: recover interrupted restore: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// rollBack puts the file moved aside back in place and reopens it.
func (s *Store) rollBack(aside string, cause error) error {
	if err := os.Rename(aside, s.path); err != nil {
		s.closed.Store(true)
		return fmt.Errorf("%w; roll back failed too, store unusable: %w", cause, err)
	}
	return s.reopen(cause)
}

// reopen opens the file at s.path again and rebuilds the in-memory state. It returns cause
// (nil on success); if the file does not open, the store is unusable and that is reported.
// swapMu must be held for writing.
func (s *Store) reopen(cause error) error {
	if err := s.tryReopen(); err != nil {
		s.closed.Store(true)
		if cause != nil {
			return fmt.Errorf("%w; reopen failed, store unusable: %w", cause, err)
		}
		return fmt.Errorf("storage: reopen after restore failed, store unusable: %w", err)
	}
	return cause
}

// tryReopen opens the file at s.path and rebuilds the in-memory state from it, leaving the
// store closed-but-recoverable on error. swapMu must be held for writing.
func (s *Store) tryReopen() error {
	be, err := openBackend(s.path, backendOptions{InitialMmapSize: s.opts.InitialMmapSize, Timeout: time.Second})
	if err != nil {
		return err
	}
	s.be = be
	resume, err := s.load()
	if err != nil {
		be.close()
		return err
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
	return nil
}
