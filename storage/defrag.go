package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// defragSuffix names the compacted copy a defragmentation writes before the swap.
const defragSuffix = ".defrag"

// Defrag rewrites the store file without its free pages, giving the space that compaction
// freed back to the file system. Pending writes are committed first. Readers and writers
// wait while the file is copied (as with etcd's defrag, which blocks the member for the
// duration); on failure the old file stays in use, untouched.
func (s *Store) Defrag() error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.commit(); err != nil {
		return err
	}
	start := time.Now()
	before, _ := s.Size()
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	// A write may have landed between the commit and the lock.
	if b := s.be.swap(); b != nil {
		if err := s.be.write(b); err != nil {
			return fmt.Errorf("storage: defrag: %w", err)
		}
	}
	tmp := s.path + defragSuffix
	os.Remove(tmp)
	if err := copyCompacted(tmp, s.be.db); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("storage: defrag: %w", err)
	}
	if err := s.be.close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("storage: defrag: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		os.Remove(tmp)
		return s.reopen(fmt.Errorf("storage: defrag: %w", err))
	}
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		return s.reopen(fmt.Errorf("storage: defrag: %w", err))
	}
	s.epoch.Add(1)
	if err := s.reopen(nil); err != nil {
		return err
	}
	after, _ := s.be.sizes()
	s.log.Info("defragmented the store", "before", before, "after", after, "took", time.Since(start))
	return nil
}

// copyCompacted writes the live pages of src into a new file at path.
func copyCompacted(path string, src *bolt.DB) error {
	dst, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	if err := bolt.Compact(dst, src, 64<<20); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
