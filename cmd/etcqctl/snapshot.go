package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"etcq.dev/etcq/storage"
)

func (a *app) snapshotCommand() *cobra.Command {
	sc := &cobra.Command{
		Use:   "snapshot <subcommand>",
		Short: "Manages etcq node snapshots",
	}
	sc.AddCommand(a.snapshotSaveCommand(), a.snapshotStatusCommand(), a.snapshotRestoreCommand())
	return sc
}

func (a *app) snapshotSaveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "save <filename>",
		Short: "Stores an etcq node backend snapshot to a given file",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return failf(exitBadArgs, "snapshot save expects one argument")
			}
			eps, err := a.clientEndpoints()
			if err != nil {
				return err
			}
			if len(eps) != 1 {
				return failf(exitInterrupted, "snapshot must be requested to one selected node, not multiple %v", eps)
			}
			// Without --command-timeout a download takes as long as it takes.
			ctx, cancel := context.WithCancel(a.ctx)
			if a.changed("command-timeout") {
				ctx, cancel = a.commandCtx()
			}
			defer cancel()
			c, err := a.client(eps[0])
			if err != nil {
				return err
			}
			defer c.Close()
			rc, err := c.SnapshotFrom(ctx, eps[0])
			if err != nil {
				return fail(exitInterrupted, err)
			}
			defer rc.Close()
			if err := saveSnapshot(rc, args[0]); err != nil {
				return fail(exitInterrupted, err)
			}
			fmt.Fprintf(a.stdout, "Snapshot saved at %s\n", args[0])
			return nil
		},
	}
}

// saveSnapshot writes a snapshot stream to path atomically: into path.part, verified
// against the stream's hash as it arrives, synced, then renamed. Nothing is left at path
// (or path.part) on error.
func saveSnapshot(r io.Reader, path string) error {
	part := path + ".part"
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create snapshot file: %w", err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(part)
		}
	}()
	// ReadSnapshot checks the stream (its framing and hash) while the tee writes it.
	tee := io.TeeReader(r, f)
	if _, err := storage.ReadSnapshot(tee, io.Discard); err != nil {
		return fmt.Errorf("download snapshot: %w", err)
	}
	var extra [1]byte
	if n, err := r.Read(extra[:]); n > 0 || (err != nil && !errors.Is(err, io.EOF)) {
		if err == nil {
			err = errors.New("data after the end of the snapshot")
		}
		return fmt.Errorf("download snapshot: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync snapshot file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close snapshot file: %w", err)
	}
	done = true
	if err := os.Rename(part, path); err != nil {
		os.Remove(part)
		return fmt.Errorf("rename snapshot file: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func (a *app) snapshotStatusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status <filename>",
		Short: "Gets backend snapshot status of a given file",
		Long: `When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
The items in the lists are hash, revision, total keys, total size.
`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return failf(exitBadArgs, "snapshot status requires exactly one argument")
			}
			st, err := snapshotStatus(args[0])
			if err != nil {
				return fail(exitError, err)
			}
			return a.display.DBStatus(st)
		},
	}
}

// snapshotStatus describes a snapshot file: the hash of its records, its revision, how
// many keys it holds at that revision, and the size of its database image. The file's own
// hash is verified first.
func snapshotStatus(path string) (dbStatus, error) {
	f, err := os.Open(path)
	if err != nil {
		return dbStatus{}, err
	}
	defer f.Close()
	dir, err := os.MkdirTemp("", "etcqctl-snapshot-status-")
	if err != nil {
		return dbStatus{}, err
	}
	defer os.RemoveAll(dir)
	db := filepath.Join(dir, "db")
	if err := storage.RestoreFile(f, db); err != nil {
		return dbStatus{}, fmt.Errorf("snapshot %s: %w", path, err)
	}
	fi, err := os.Stat(db)
	if err != nil {
		return dbStatus{}, err
	}
	s, err := storage.Open(db, storage.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return dbStatus{}, fmt.Errorf("snapshot %s: %w", path, err)
	}
	defer s.Close()
	hash, err := s.Hash()
	if err != nil {
		return dbStatus{}, err
	}
	all, err := s.Range(storage.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, CountOnly: true})
	if err != nil {
		return dbStatus{}, err
	}
	return dbStatus{Hash: hash, Revision: s.Rev(), TotalKey: int(all.Count), TotalSize: fi.Size()}, nil
}
