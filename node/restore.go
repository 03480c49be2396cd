package node

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"

	"etcq.dev/etcq/storage"
)

// RestoredStore describes the store RestoreDataDir made.
type RestoredStore struct {
	Revision int64 // the snapshot's revision
	Keys     int64 // keys live at that revision
}

// RestoreDataDir creates dataDir, which must not exist, holding the store of a snapshot
// (storage's snapshot stream, as Maintenance.Snapshot sends it) made ready for a member of
// a new cluster to start from: its consistent index goes back to 0, so that the new
// cluster's raft log applies from its first entry, and the old cluster's membership is
// dropped, because the new cluster's members record their own when they bootstrap. Keys,
// history, leases, auth and the compaction revision are kept. The raft log is left for
// the member to create. On failure nothing is left behind.
func RestoreDataDir(snapshot io.Reader, dataDir string) (RestoredStore, error) {
	if _, err := os.Stat(dataDir); err == nil {
		return RestoredStore{}, fmt.Errorf("node: restore: data dir %q exists", dataDir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return RestoredStore{}, fmt.Errorf("node: restore: %w", err)
	}
	dir := memberDir(dataDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return RestoredStore{}, fmt.Errorf("node: restore: %w", err)
	}
	st, err := restoreStore(snapshot, storePath(dataDir))
	if err != nil {
		os.RemoveAll(dataDir)
		return RestoredStore{}, fmt.Errorf("node: restore: %w", err)
	}
	return st, nil
}

func restoreStore(snapshot io.Reader, db string) (RestoredStore, error) {
	if err := storage.RestoreFile(snapshot, db); err != nil {
		return RestoredStore{}, err
	}
	s, err := storage.Open(db, storage.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return RestoredStore{}, err
	}
	w := s.Write()
	for _, prefix := range []string{auxMembers, auxRemoved, auxRefused} {
		keys, _ := s.AuxPrefix(prefix)
		for _, k := range keys {
			w.SetAux(k, nil)
		}
	}
	w.SetConsistentIndex(0, 0)
	w.End()
	err = s.Commit()
	st := RestoredStore{Revision: s.Rev()}
	if err == nil {
		var all *storage.RangeResponse
		if all, err = s.Range(storage.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, CountOnly: true}); err == nil {
			st.Keys = all.Count
		}
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return RestoredStore{}, fmt.Errorf("prepare the restored store: %w", err)
	}
	return st, nil
}
