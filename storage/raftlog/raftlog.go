package raftlog

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"go.etcd.io/etcd/client/pkg/v3/fileutil"
	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
)

const (
	// DefaultSegmentSize is etcd's WAL segment size: each segment file is preallocated to
	// it, and a new segment is cut once the current one passes it.
	DefaultSegmentSize int64 = 64 * 1000 * 1000

	// DefaultKeepSnapshots is how many snapshot files Release keeps by default.
	DefaultKeepSnapshots = 5

	walDirName  = "wal"
	snapDirName = "snap"
	walSuffix   = ".wal"
	snapSuffix  = ".snap"
)

// Options configure Open. The zero value is the production setting.
type Options struct {
	// Logger receives this package's records and those of etcd's wal and snap packages.
	// nil discards them.
	Logger *slog.Logger

	// SegmentSize is the size of a WAL segment file; 0 means DefaultSegmentSize (64 MB).
	// etcd's wal reads it from a process-wide variable, so every Log open at the same time
	// in one process must use the same size: Open sets the variable when no other Log is
	// open, and fails with ErrSegmentSize when other open Logs use a different size.
	SegmentSize int64

	// KeepSnapshots is how many snapshot files Release keeps (0: DefaultKeepSnapshots). WAL
	// segments are kept back to the oldest kept snapshot, so that each of them can still be
	// loaded if the newer ones turn out unreadable.
	KeepSnapshots int

	// Metadata is written into the WAL when Open creates it, and returned in State.Metadata
	// by every later Open (etcd keeps the member and cluster IDs there). Ignored when the
	// WAL exists.
	Metadata []byte

	// NoFsync turns off every fsync. For tests and benchmarks only: a crash of the machine
	// (not of the process) may then lose acknowledged writes.
	NoFsync bool
}

// State is what Open found on disk.
type State struct {
	// Snapshot is the newest snapshot that is both readable and recorded in the WAL, or
	// nil if there is none.
	Snapshot *raftpb.Snapshot
	// HardState is the last hard state saved; empty (not nil) on a new log.
	HardState *raftpb.HardState
	// Entries are the entries after the snapshot, overwritten entries already dropped. The
	// tail may be uncommitted (beyond HardState.Commit): raft decides what to do with it.
	Entries []*raftpb.Entry
	// Metadata is Options.Metadata as given when the log was created.
	Metadata []byte
}

// MemoryStorage returns a raft.MemoryStorage loaded with the state (the snapshot, then the
// hard state, then the entries), ready to be the Storage of raft.RestartNode.
func (s *State) MemoryStorage() (*raft.MemoryStorage, error) {
	ms := raft.NewMemoryStorage()
	if s.Snapshot != nil {
		if err := ms.ApplySnapshot(s.Snapshot); err != nil {
			return nil, fmt.Errorf("raftlog: loading snapshot %d into memory storage: %w",
				s.Snapshot.GetMetadata().GetIndex(), err)
		}
	}
	if s.HardState != nil {
		if err := ms.SetHardState(s.HardState); err != nil {
			return nil, fmt.Errorf("raftlog: loading hard state into memory storage: %w", err)
		}
	}
	if err := ms.Append(s.Entries); err != nil {
		return nil, fmt.Errorf("raftlog: loading entries into memory storage: %w", err)
	}
	return ms, nil
}

// Log is an open raft log: etcd's WAL in dir/wal and snapshot files in dir/snap. It is not
// safe for concurrent use; the raft goroutine owns it.
type Log struct {
	lg      *slog.Logger
	zl      *zap.Logger
	walDir  string
	snapDir string
	keep    int
	noFsync bool

	w  *wal.WAL
	ss *snap.Snapshotter

	lastIndex uint64 // index of the last entry in the log (or of the snapshot, if later)
	snapIndex uint64 // index of the newest snapshot saved or loaded; 0 if none
	err       error  // sticky: the first write failure
	closed    bool
}

// segment is the process-wide WAL segment size bookkeeping: wal.SegmentSizeBytes is a
// package variable read by every WAL in the process on every Save.
var segment struct {
	mu   sync.Mutex
	open int   // Logs open
	size int64 // the size they use
}

func acquireSegmentSize(size int64) error {
	segment.mu.Lock()
	defer segment.mu.Unlock()
	if segment.open > 0 && segment.size != size {
		return fmt.Errorf("%w: %d requested, %d in use by %d open log(s)", ErrSegmentSize, size, segment.size, segment.open)
	}
	if segment.open == 0 && wal.SegmentSizeBytes != size {
		// No WAL of ours is open, so nothing reads the variable concurrently; the next
		// Open acquires segment.mu after this write, which orders it before every read.
		wal.SegmentSizeBytes = size
	}
	segment.size = size
	segment.open++
	return nil
}

func releaseSegmentSize() {
	segment.mu.Lock()
	defer segment.mu.Unlock()
	segment.open--
}

// Open opens the raft log in dir, creating dir, dir/wal and dir/snap on first use, and
// returns it with what it holds. A torn last WAL record (a crash in the middle of a
// write) is cut off, once, with wal.Repair; any other damage fails with ErrCorrupt.
func Open(dir string, opts Options) (*Log, *State, error) {
	if opts.SegmentSize == 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.SegmentSize < 0 {
		return nil, nil, fmt.Errorf("%w: negative size %d", ErrSegmentSize, opts.SegmentSize)
	}
	if opts.KeepSnapshots <= 0 {
		opts.KeepSnapshots = DefaultKeepSnapshots
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	if err := acquireSegmentSize(opts.SegmentSize); err != nil {
		return nil, nil, err
	}
	l := &Log{
		lg:      lg,
		zl:      zapToSlog(lg),
		walDir:  filepath.Join(dir, walDirName),
		snapDir: filepath.Join(dir, snapDirName),
		keep:    opts.KeepSnapshots,
		noFsync: opts.NoFsync,
	}
	l.ss = snap.New(l.zl, l.snapDir)
	st, err := l.open(dir, opts.Metadata)
	if err != nil {
		releaseSegmentSize()
		return nil, nil, err
	}
	if opts.NoFsync {
		l.w.SetUnsafeNoFsync()
	}
	l.lastIndex = l.snapIndex
	if n := len(st.Entries); n > 0 {
		l.lastIndex = st.Entries[n-1].GetIndex()
	}
	lg.Info("raftlog: opened", "dir", dir, "snapshot", l.snapIndex, "entries", len(st.Entries),
		"last", l.lastIndex, "term", st.HardState.GetTerm(), "commit", st.HardState.GetCommit())
	return l, st, nil
}

func (l *Log) open(dir string, metadata []byte) (*State, error) {
	if err := os.MkdirAll(l.snapDir, fileutil.PrivateDirMode); err != nil {
		return nil, fmt.Errorf("raftlog: creating %s: %w", l.snapDir, err)
	}
	if !wal.Exist(l.walDir) {
		return l.create(dir, metadata)
	}

	walSnaps, err := validSnapshotEntries(l.zl, l.walDir)
	if err != nil {
		return nil, classify("reading snapshot records from the WAL", err)
	}
	var (
		snapshot *raftpb.Snapshot
		start    = &walpb.Snapshot{}
	)
	snapshot, err = l.ss.LoadNewestAvailable(walSnaps)
	switch {
	case errors.Is(err, snap.ErrNoSnapshot):
		snapshot = nil
	case err != nil:
		return nil, fmt.Errorf("raftlog: loading snapshot: %w", err)
	default:
		md := snapshot.GetMetadata()
		start = &walpb.Snapshot{Index: new(md.GetIndex()), Term: new(md.GetTerm()), ConfState: md.GetConfState()}
		l.snapIndex = md.GetIndex()
	}

	for repaired := false; ; repaired = true {
		w, err := wal.Open(l.zl, l.walDir, start)
		if err != nil {
			return nil, classify("opening the WAL", err)
		}
		md, hs, ents, err := readAll(w)
		if err == nil {
			l.w = w
			if n := len(walSnaps); n > 0 && snapshot == nil && walSnaps[n-1].GetIndex() > 0 {
				l.lg.Warn("raftlog: the WAL records snapshots but no snapshot file is readable; starting from the beginning of the WAL",
					"newest_record", walSnaps[n-1].GetIndex())
			}
			return &State{Snapshot: snapshot, HardState: hs, Entries: ents, Metadata: md}, nil
		}
		if cerr := w.Close(); cerr != nil {
			l.lg.Warn("raftlog: closing the WAL after a failed read", "err", cerr)
		}
		if repaired || !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, classify("reading the WAL", err)
		}
		l.lg.Warn("raftlog: torn record at the end of the WAL; repairing", "dir", l.walDir, "err", err)
		if !wal.Repair(l.zl, l.walDir) {
			return nil, fmt.Errorf("%w: the WAL has a torn tail that wal.Repair could not cut off: %w", ErrCorrupt, err)
		}
	}
}

// create makes a new WAL. wal.Create builds it in dir/wal.tmp and renames it into place,
// so a crash leaves either no WAL or a complete empty one.
func (l *Log) create(dir string, metadata []byte) (*State, error) {
	names, err := listSnapFiles(l.snapDir)
	if err != nil {
		return nil, fmt.Errorf("raftlog: listing %s: %w", l.snapDir, err)
	}
	if len(names) > 0 {
		return nil, fmt.Errorf("%w: %s holds %d snapshot file(s) but there is no WAL in %s",
			ErrCorrupt, l.snapDir, len(names), l.walDir)
	}
	w, err := wal.Create(l.zl, l.walDir, metadata)
	if err != nil {
		return nil, classify("creating the WAL", err)
	}
	l.w = w
	// wal.Create made dir/wal durable in dir; make dir durable in its parent too, in case
	// Open just created it.
	if err := l.syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("raftlog: fsync parent of %s: %w", dir, err)
	}
	l.lg.Info("raftlog: created a new WAL", "dir", dir)
	return &State{HardState: &raftpb.HardState{}, Metadata: slices.Clone(metadata)}, nil
}

// classify wraps an error of the wal package: a lock held elsewhere is ErrLocked, an
// operating-system error stays what it is, anything else is the wal judging the content of
// the files, which is ErrCorrupt.
func classify(what string, err error) error {
	switch {
	case errors.Is(err, fileutil.ErrLocked):
		return fmt.Errorf("%w: %s: %w", ErrLocked, what, err)
	case errors.Is(err, ErrCorrupt), isIOError(err):
		return fmt.Errorf("raftlog: %s: %w", what, err)
	default:
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, what, err)
	}
}

// undecodable is the prefix of the panic etcd's pbutil.MustUnmarshalMessage raises when a
// WAL record passed its CRC check but its payload is not valid protobuf.
const undecodable = "unmarshal should never fail"

// recoverUndecodable turns that one panic into ErrCorrupt. It is used only around the
// read-only decoding of Open (wal.ReadAll, wal.ValidSnapshotEntries), after which the WAL
// object is closed and dropped; every other panic propagates. Such a record needs a CRC
// that matches garbage, so it comes from a software bug or a deliberate edit, not from a
// torn write or random bit rot; etcd itself crashes on it.
func recoverUndecodable(err *error) {
	r := recover()
	if r == nil {
		return
	}
	if s, ok := r.(string); ok && strings.HasPrefix(s, undecodable) {
		*err = fmt.Errorf("%w: a WAL record has a valid CRC but an undecodable payload: %s", ErrCorrupt, s)
		return
	}
	panic(r)
}

func readAll(w *wal.WAL) (md []byte, hs *raftpb.HardState, ents []*raftpb.Entry, err error) {
	defer recoverUndecodable(&err)
	return w.ReadAll()
}

func validSnapshotEntries(zl *zap.Logger, walDir string) (snaps []*walpb.Snapshot, err error) {
	defer recoverUndecodable(&err)
	return wal.ValidSnapshotEntries(zl, walDir)
}

func (l *Log) usable() error {
	if l.closed {
		return ErrClosed
	}
	return l.err
}

// fail records the first write failure: after it the WAL's buffer and file position are
// unknown, so nothing more is written.
func (l *Log) fail(what string, err error) error {
	l.err = fmt.Errorf("%w: %s: %w", ErrFailed, what, err)
	l.lg.Error("raftlog: write failed; the log refuses further writes", "op", what, "err", err)
	return fmt.Errorf("raftlog: %s: %w", what, err)
}

// Save appends the entries and the hard state to the WAL, in that order, in one write. It
// fsyncs when raft.MustSync says so (there are entries, or the term or vote changed); a
// commit-index-only change is written but not synced. Entries whose index is at or below
// the last one saved replace the old ones from that index on (raft log truncation); they
// must be contiguous, start after the last snapshot and at most one past the last index
// (else ErrBadEntries). hs may be nil or empty when only entries are saved.
func (l *Log) Save(hs *raftpb.HardState, ents []*raftpb.Entry) error {
	if err := l.usable(); err != nil {
		return err
	}
	if len(ents) > 0 {
		first := ents[0].GetIndex()
		if first <= l.snapIndex || first > l.lastIndex+1 {
			return fmt.Errorf("%w: first entry %d, snapshot %d, last index %d", ErrBadEntries, first, l.snapIndex, l.lastIndex)
		}
		for i, e := range ents[1:] {
			if e.GetIndex() != first+uint64(i)+1 {
				return fmt.Errorf("%w: entry %d follows %d", ErrBadEntries, e.GetIndex(), ents[i].GetIndex())
			}
		}
	}
	if err := l.w.Save(hs, ents); err != nil {
		return l.fail("save", err)
	}
	if n := len(ents); n > 0 {
		l.lastIndex = ents[n-1].GetIndex()
	}
	return nil
}

// SaveSnapshot makes a snapshot durable: first the snapshot file (written and fsynced, and
// the snap directory fsynced so the file's name is durable too), then the WAL's snapshot
// record (fsynced). A crash in between leaves a snapshot file that the WAL does not name,
// which Open ignores. The snapshot must be newer than the last one saved and carry a
// ConfState. Its Data is held in memory and written in one piece: keep it small.
func (l *Log) SaveSnapshot(s *raftpb.Snapshot) error {
	if err := l.usable(); err != nil {
		return err
	}
	md := s.GetMetadata()
	switch {
	case raft.IsEmptySnap(s):
		return fmt.Errorf("%w: empty snapshot", ErrBadSnapshot)
	case md.GetConfState() == nil:
		return fmt.Errorf("%w: snapshot %d has no ConfState", ErrBadSnapshot, md.GetIndex())
	case md.GetIndex() <= l.snapIndex:
		return fmt.Errorf("%w: snapshot %d is not newer than snapshot %d", ErrBadSnapshot, md.GetIndex(), l.snapIndex)
	}
	if err := l.ss.SaveSnap(s); err != nil {
		// The snapshotter removed its partial file; nothing refers to it. Not sticky.
		return fmt.Errorf("raftlog: writing snapshot file %d: %w", md.GetIndex(), err)
	}
	// snap.SaveSnap fsyncs the file but not the directory; without this, a power loss
	// could keep the WAL record and lose the file's directory entry.
	if err := l.syncDir(l.snapDir); err != nil {
		return l.fail("fsync snap dir", err)
	}
	rec := &walpb.Snapshot{Index: new(md.GetIndex()), Term: new(md.GetTerm()), ConfState: md.GetConfState()}
	if err := l.w.SaveSnapshot(rec); err != nil {
		return l.fail("save snapshot record", err)
	}
	l.snapIndex = md.GetIndex()
	l.lastIndex = max(l.lastIndex, l.snapIndex)
	l.lg.Debug("raftlog: snapshot saved", "index", md.GetIndex(), "term", md.GetTerm(), "bytes", len(s.GetData()))
	return nil
}

// Release frees the disk space that restarting no longer needs, given index, the index of
// a snapshot saved with SaveSnapshot (normally the newest; ErrBadRelease if it is beyond
// it). Of the snapshot files at or below index it keeps the newest KeepSnapshots; it
// releases the WAL's hold on the segments before the oldest kept one
// (wal.ReleaseLockTo) and deletes those segments, so every kept snapshot can still be
// loaded with the WAL after it. Snapshot files above index are not touched.
func (l *Log) Release(index uint64) error {
	if err := l.usable(); err != nil {
		return err
	}
	if index > l.snapIndex {
		return fmt.Errorf("%w: release to %d, newest snapshot %d", ErrBadRelease, index, l.snapIndex)
	}
	snaps, err := listSnapFiles(l.snapDir)
	if err != nil {
		return fmt.Errorf("raftlog: listing snapshots: %w", err)
	}
	snaps = slices.DeleteFunc(snaps, func(f fileName) bool { return f.index > index })
	if len(snaps) == 0 {
		return nil
	}
	var removedSnaps, removedSegs int
	if n := len(snaps) - l.keep; n > 0 {
		for _, f := range snaps[:n] {
			if err := os.Remove(filepath.Join(l.snapDir, f.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("raftlog: removing snapshot file: %w", err)
			}
			removedSnaps++
		}
		snaps = snaps[n:]
	}
	oldest := snaps[0].index

	if err := l.w.ReleaseLockTo(oldest); err != nil {
		return fmt.Errorf("raftlog: releasing WAL segments before %d: %w", oldest, err)
	}
	segs, err := listWALFiles(l.walDir)
	if err != nil {
		return fmt.Errorf("raftlog: listing WAL segments: %w", err)
	}
	// The segment that holds index "oldest" is the last one that starts before it (a
	// segment's name carries the index of its first entry); everything before it goes.
	// This is the same segment wal.ReleaseLockTo(oldest) keeps locked.
	keepFrom := -1
	for i, s := range segs {
		if s.index < oldest {
			keepFrom = i
		}
	}
	for _, s := range segs[:max(keepFrom, 0)] {
		removed, err := removeUnlocked(filepath.Join(l.walDir, s.name))
		if err != nil {
			return fmt.Errorf("raftlog: removing WAL segment: %w", err)
		}
		if !removed {
			// Still held by the WAL: cannot happen after ReleaseLockTo above, but the lock
			// is the authority, as in etcd's purge.
			l.lg.Warn("raftlog: WAL segment still locked; not removed", "segment", s.name)
			break
		}
		removedSegs++
	}
	if removedSnaps > 0 {
		if err := l.syncDir(l.snapDir); err != nil {
			return l.fail("fsync snap dir", err)
		}
	}
	if removedSegs > 0 {
		if err := l.syncDir(l.walDir); err != nil {
			return l.fail("fsync wal dir", err)
		}
	}
	l.lg.Debug("raftlog: released", "index", index, "oldest_snapshot", oldest,
		"snapshots_removed", removedSnaps, "segments_removed", removedSegs)
	return nil
}

// Close flushes and fsyncs the WAL and releases its files. Further calls return ErrClosed;
// closing twice returns nil.
func (l *Log) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	defer releaseSegmentSize()
	if err := l.w.Close(); err != nil {
		return fmt.Errorf("raftlog: closing the WAL: %w", err)
	}
	return nil
}

func (l *Log) syncDir(dir string) error {
	if l.noFsync {
		return nil
	}
	d, err := fileutil.OpenDir(dir)
	if err != nil {
		return err
	}
	err = fileutil.Fsync(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// removeUnlocked removes path if it can take its lock (as the wal locks its segments),
// and reports false if the lock is held.
func removeUnlocked(path string) (bool, error) {
	lf, err := fileutil.TryLockFile(path, os.O_WRONLY, fileutil.PrivateFileMode)
	switch {
	case errors.Is(err, fileutil.ErrLocked):
		return false, nil
	case errors.Is(err, os.ErrNotExist):
		return true, nil
	case err != nil:
		return false, err
	}
	err = os.Remove(path)
	if cerr := lf.Close(); err == nil {
		err = cerr
	}
	return err == nil, err
}

// fileName is a WAL segment ("%016x-%016x.wal": sequence, first index) or a snapshot
// file ("%016x-%016x.snap": term, index), parsed.
type fileName struct {
	name  string
	first uint64 // sequence or term
	index uint64
}

// listFiles returns dir's files with the suffix whose names parse, in directory order.
func listFiles(dir, suffix string) ([]fileName, error) {
	names, err := fileutil.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []fileName
	for _, n := range names {
		base, ok := strings.CutSuffix(n, suffix)
		if !ok || len(base) != 33 {
			continue
		}
		f := fileName{name: n}
		if _, err := fmt.Sscanf(base, "%016x-%016x", &f.first, &f.index); err != nil {
			continue // not ours; the wal and snap packages skip such names too
		}
		out = append(out, f)
	}
	return out, nil
}

// listWALFiles returns the WAL segments in sequence order.
func listWALFiles(dir string) ([]fileName, error) {
	segs, err := listFiles(dir, walSuffix)
	slices.SortFunc(segs, func(a, b fileName) int { return cmp.Compare(a.first, b.first) })
	return segs, err
}

// listSnapFiles returns the snapshot files in index order.
func listSnapFiles(dir string) ([]fileName, error) {
	snaps, err := listFiles(dir, snapSuffix)
	slices.SortFunc(snaps, func(a, b fileName) int {
		return cmp.Or(cmp.Compare(a.index, b.index), cmp.Compare(a.first, b.first))
	})
	return snaps, err
}
