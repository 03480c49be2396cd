package raftlog

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
)

func TestOpenNewIsEmpty(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "member")
	opts := testOptions(t)
	opts.Metadata = []byte("member=1 cluster=7")
	l, st := mustOpen(t, dir, opts)
	if st.Snapshot != nil || len(st.Entries) != 0 || st.HardState == nil || st.HardState.GetTerm() != 0 {
		t.Fatalf("new log state: %+v", st)
	}
	if string(st.Metadata) != "member=1 cluster=7" {
		t.Fatalf("metadata %q", st.Metadata)
	}
	for _, sub := range []string{walDirName, snapDirName} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			t.Fatalf("%s: %v", sub, err)
		}
	}
	if _, err := os.Stat(dir + "/wal.tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("wal.tmp left behind: %v", err)
	}
	ms, err := st.MemoryStorage()
	if err != nil {
		t.Fatal(err)
	}
	if last, _ := ms.LastIndex(); last != 0 {
		t.Fatalf("memory storage last index %d", last)
	}
	mustClose(t, l)

	// Metadata is written once: a later Open returns the original.
	opts.Metadata = []byte("ignored")
	_, st = mustOpen(t, dir, opts)
	if string(st.Metadata) != "member=1 cluster=7" {
		t.Fatalf("metadata after reopen %q", st.Metadata)
	}
}

func TestSaveReopenRoundTrip(t *testing.T) {
	dir := t.TempDir()
	l, _ := mustOpen(t, dir, testOptions(t))

	// 600 entries of 300 B in batches of varying size: ~200 KB, several 32 KiB segments.
	var want []*raftpb.Entry
	var hs *raftpb.HardState
	next := uint64(1)
	for batch := 1; next <= 600; batch = batch%37 + 1 {
		ents := entries(next, min(next+uint64(batch)-1, 600), 2)
		next += uint64(len(ents))
		hs = hardState(2, 1, next-1)
		mustSave(t, l, hs, ents)
		want = append(want, ents...)
	}
	// A commit-only hard state change (no entries) is saved too.
	hs = hardState(2, 1, 600)
	mustSave(t, l, hs, nil)
	mustClose(t, l)
	if n := len(files(t, filepath.Join(dir, walDirName), walSuffix)); n < 4 {
		t.Fatalf("only %d segments: the test wants several", n)
	}

	l, st := mustOpen(t, dir, testOptions(t))
	if st.Snapshot != nil {
		t.Fatalf("unexpected snapshot %v", st.Snapshot.GetMetadata())
	}
	checkHardState(t, st.HardState, hs)
	checkEntries(t, st.Entries, want)

	ms, err := st.MemoryStorage()
	if err != nil {
		t.Fatal(err)
	}
	first, _ := ms.FirstIndex()
	last, _ := ms.LastIndex()
	if first != 1 || last != 600 {
		t.Fatalf("memory storage [%d, %d]", first, last)
	}
	mhs, _, _ := ms.InitialState()
	checkHardState(t, mhs, hs)
	got, err := ms.Entries(1, 601, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, got, want)

	// The reopened log takes new writes, and they survive the next reopen.
	more := entries(601, 650, 3)
	hs = hardState(3, 2, 650)
	mustSave(t, l, hs, more)
	mustClose(t, l)
	_, st = mustOpen(t, dir, testOptions(t))
	checkHardState(t, st.HardState, hs)
	checkEntries(t, st.Entries, append(want, more...))
}

func TestSaveOverwritesEntries(t *testing.T) {
	cases := []struct {
		name              string
		first, last       uint64 // entries first written, term 1
		rewriteFrom, upTo uint64 // then rewritten, term 2
	}{
		{"within the last segment", 1, 10, 6, 8},
		{"across segments", 1, 400, 50, 60}, // index 50 is in the first segment, 400 several later
		{"the whole log", 1, 20, 1, 3},
		{"append right after", 1, 10, 11, 12},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l, _ := mustOpen(t, dir, testOptions(t))
			for i := tc.first; i <= tc.last; i += 50 {
				mustSave(t, l, hardState(1, 1, 0), entries(i, min(i+49, tc.last), 1))
			}
			mustSave(t, l, hardState(2, 2, 0), entries(tc.rewriteFrom, tc.upTo, 2))
			want := append(entries(tc.first, tc.rewriteFrom-1, 1), entries(tc.rewriteFrom, tc.upTo, 2)...)

			// Saving after a truncation continues from the new last index.
			mustSave(t, l, nil, entries(tc.upTo+1, tc.upTo+1, 2))
			want = append(want, entry(tc.upTo+1, 2))
			mustClose(t, l)

			_, st := mustOpen(t, dir, testOptions(t))
			checkEntries(t, st.Entries, want)
			checkHardState(t, st.HardState, hardState(2, 2, 0))
		})
	}
}

func TestArgumentErrors(t *testing.T) {
	dir := t.TempDir()
	l, _ := mustOpen(t, dir, testOptions(t))
	mustSave(t, l, hardState(1, 1, 5), entries(1, 5, 1))

	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"gap after the last index", l.Save(nil, entries(7, 8, 1)), ErrBadEntries},
		{"index zero", l.Save(nil, []*raftpb.Entry{entry(0, 1)}), ErrBadEntries},
		{"not contiguous", l.Save(nil, []*raftpb.Entry{entry(6, 1), entry(8, 1)}), ErrBadEntries},
		{"empty snapshot", l.SaveSnapshot(&raftpb.Snapshot{}), ErrBadSnapshot},
		{"nil snapshot", l.SaveSnapshot(nil), ErrBadSnapshot},
		{"snapshot without ConfState", l.SaveSnapshot(&raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{Index: new(uint64(3)), Term: new(uint64(1))}}), ErrBadSnapshot},
		{"release without a snapshot", l.Release(1), ErrBadRelease},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.err, tc.want)
		}
	}

	if err := l.SaveSnapshot(snapshot(4, 1, "four")); err != nil {
		t.Fatal(err)
	}
	if err := l.SaveSnapshot(snapshot(4, 1, "again")); !errors.Is(err, ErrBadSnapshot) {
		t.Errorf("same snapshot twice: %v", err)
	}
	if err := l.SaveSnapshot(snapshot(3, 1, "older")); !errors.Is(err, ErrBadSnapshot) {
		t.Errorf("older snapshot: %v", err)
	}
	if err := l.Save(nil, entries(4, 6, 2)); !errors.Is(err, ErrBadEntries) {
		t.Errorf("entries at the snapshot's index: %v", err)
	}
	if err := l.Release(5); !errors.Is(err, ErrBadRelease) {
		t.Errorf("release past the snapshot: %v", err)
	}
	// None of the refused calls broke the log.
	mustSave(t, l, hardState(1, 1, 6), entries(6, 6, 1))
	if err := l.Release(4); err != nil {
		t.Fatal(err)
	}

	mustClose(t, l)
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for name, err := range map[string]error{
		"Save":         l.Save(nil, entries(7, 7, 1)),
		"SaveSnapshot": l.SaveSnapshot(snapshot(6, 1, "")),
		"Release":      l.Release(4),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	l, _ := mustOpen(t, dir, testOptions(t))
	if _, _, err := Open(dir, testOptions(t)); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open of an open log: %v, want ErrLocked", err)
	}
	mustClose(t, l)
	mustOpen(t, dir, testOptions(t))
}

func TestSegmentSizeIsProcessWide(t *testing.T) {
	a, _ := mustOpen(t, t.TempDir(), testOptions(t))
	other := testOptions(t)
	other.SegmentSize = 2 * testSegmentSize
	if _, _, err := Open(t.TempDir(), other); !errors.Is(err, ErrSegmentSize) {
		t.Fatalf("Open with another segment size while one is open: %v", err)
	}
	b, _ := mustOpen(t, t.TempDir(), testOptions(t)) // same size: fine
	mustClose(t, a)
	mustClose(t, b)

	// With no Log open the size may change; the segments are then cut at it.
	dir := t.TempDir()
	c, _ := mustOpen(t, dir, other)
	if wal.SegmentSizeBytes != other.SegmentSize {
		t.Fatalf("wal.SegmentSizeBytes = %d", wal.SegmentSizeBytes)
	}
	mustSave(t, c, hardState(1, 1, 0), entries(1, 400, 1)) // ~130 KB
	mustClose(t, c)
	segs := files(t, filepath.Join(dir, walDirName), walSuffix)
	for _, s := range segs[:len(segs)-1] {
		fi, err := os.Stat(filepath.Join(dir, walDirName, s))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() < other.SegmentSize {
			t.Errorf("segment %s: %d bytes, want at least %d", s, fi.Size(), other.SegmentSize)
		}
	}
}

// writeLogWithSnapshots saves entries 1..last (term 1) in batches of 10 and a snapshot at
// every index in snapAt, in the order the raft loop would (entries up to the snapshot
// saved and committed first). release says whether to call Release after each snapshot.
func writeLogWithSnapshots(t *testing.T, l *Log, last uint64, snapAt []uint64, release bool) {
	t.Helper()
	for i := uint64(1); i <= last; i += 10 {
		hi := min(i+9, last)
		mustSave(t, l, hardState(1, 1, hi), entries(i, hi, 1))
		for _, s := range snapAt {
			if s >= i && s <= hi {
				if err := l.SaveSnapshot(snapshot(s, 1, fmt.Sprintf("state at %d", s))); err != nil {
					t.Fatal(err)
				}
				if release {
					if err := l.Release(s); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
}

func TestSnapshotReleaseReopen(t *testing.T) {
	dir := t.TempDir()
	walDir, snapDir := filepath.Join(dir, walDirName), filepath.Join(dir, snapDirName)
	opts := testOptions(t)
	opts.KeepSnapshots = 2
	l, _ := mustOpen(t, dir, opts)

	// ~100 entries per segment: 1000 entries make ~10 segments.
	writeLogWithSnapshots(t, l, 1000, nil, false)
	before := files(t, walDir, walSuffix)
	snapAt := []uint64{300, 550, 800}
	for _, s := range snapAt {
		if err := l.SaveSnapshot(snapshot(s, 1, fmt.Sprintf("state at %d", s))); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Release(800); err != nil {
		t.Fatal(err)
	}

	// Snapshot files: the two newest.
	if got, want := files(t, snapDir, snapSuffix), []string{
		fmt.Sprintf("%016x-%016x.snap", 1, 550), fmt.Sprintf("%016x-%016x.snap", 1, 800),
	}; !slices.Equal(got, want) {
		t.Fatalf("snap files %v, want %v", got, want)
	}
	// WAL segments: from the one holding index 550 (the oldest kept snapshot) on.
	after := files(t, walDir, walSuffix)
	if len(after) == 0 || segStart(t, after[0]) >= 550 || (len(after) > 1 && segStart(t, after[1]) < 550) {
		t.Fatalf("segments after release %v: the first one must be the one holding index 550", after)
	}
	if !slices.Equal(after, before[len(before)-len(after):]) {
		t.Fatalf("release removed segments other than the oldest: before %v after %v", before, after)
	}
	if len(after) >= len(before)-3 {
		t.Fatalf("release removed only %d of %d segments", len(before)-len(after), len(before))
	}
	t.Logf("segments: %d before release, %d after", len(before), len(after))

	// More entries and a later snapshot, released, then reopen.
	mustSave(t, l, hardState(1, 1, 1100), entries(1001, 1100, 1))
	if err := l.SaveSnapshot(snapshot(1050, 1, "state at 1050")); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(1050); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)
	if got := files(t, snapDir, snapSuffix); len(got) != 2 || snapIndexOf(t, got[0]) != 800 {
		t.Fatalf("snap files %v", got)
	}

	l, st := mustOpen(t, dir, opts)
	if st.Snapshot == nil || st.Snapshot.GetMetadata().GetIndex() != 1050 || string(st.Snapshot.GetData()) != "state at 1050" {
		t.Fatalf("snapshot %v", st.Snapshot.GetMetadata())
	}
	if got := st.Snapshot.GetMetadata().GetConfState().GetVoters(); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("snapshot voters %v", got)
	}
	checkEntries(t, st.Entries, entries(1051, 1100, 1))
	checkHardState(t, st.HardState, hardState(1, 1, 1100))
	ms, err := st.MemoryStorage()
	if err != nil {
		t.Fatal(err)
	}
	if first, _ := ms.FirstIndex(); first != 1051 {
		t.Fatalf("memory storage first index %d", first)
	}
	if term, err := ms.Term(1050); err != nil || term != 1 {
		t.Fatalf("memory storage term(1050) = %d, %v", term, err)
	}

	// Release after a reopen: the segments before the reopened snapshot were never locked
	// by this WAL, and go as well.
	mustSave(t, l, hardState(1, 1, 1400), entries(1101, 1400, 1))
	if err := l.SaveSnapshot(snapshot(1350, 1, "state at 1350")); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(1350); err != nil {
		t.Fatal(err)
	}
	segs := files(t, walDir, walSuffix)
	if segStart(t, segs[0]) >= 1050 || (len(segs) > 1 && segStart(t, segs[1]) < 1050) {
		t.Fatalf("segments %v: the first one must hold index 1050", segs)
	}
}

func TestSnapshotFileWithoutWALRecordIsIgnored(t *testing.T) {
	dir := t.TempDir()
	l, _ := mustOpen(t, dir, testOptions(t))
	writeLogWithSnapshots(t, l, 200, []uint64{100}, true)

	// A crash between the snapshot file and its WAL record: the file of a snapshot at 150
	// is on disk (written by etcd's snapshotter as SaveSnapshot does), the record is not.
	orphan := snapshot(150, 1, "state at 150")
	if err := snap.New(zap.NewNop(), filepath.Join(dir, snapDirName)).SaveSnap(orphan); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)

	l, st := mustOpen(t, dir, testOptions(t))
	if got := st.Snapshot.GetMetadata().GetIndex(); got != 100 {
		t.Fatalf("snapshot %d, want 100 (the one the WAL records)", got)
	}
	checkEntries(t, st.Entries, entries(101, 200, 1))

	// Raft takes that snapshot again after the restart: it replaces the orphan file.
	if err := l.SaveSnapshot(orphan); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)
	_, st = mustOpen(t, dir, testOptions(t))
	if got := st.Snapshot.GetMetadata().GetIndex(); got != 150 {
		t.Fatalf("snapshot %d, want 150", got)
	}
	checkEntries(t, st.Entries, entries(151, 200, 1))
}

func TestSnapshotRecordBeyondCommitIsIgnored(t *testing.T) {
	// A follower gets a snapshot from the leader: the snapshot and its WAL record are
	// saved, then the crash comes before the hard state that commits it. The record is
	// not trusted (wal.ValidSnapshotEntries), the old state comes back.
	dir := t.TempDir()
	l, _ := mustOpen(t, dir, testOptions(t))
	mustSave(t, l, hardState(1, 1, 10), entries(1, 10, 1))
	if err := l.SaveSnapshot(snapshot(500, 3, "from the leader")); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)
	_, st := mustOpen(t, dir, testOptions(t))
	if st.Snapshot != nil {
		t.Fatalf("snapshot %v used before a hard state committed it", st.Snapshot.GetMetadata())
	}
	checkEntries(t, st.Entries, entries(1, 10, 1))
}

func TestCorruptNewestSnapshotFallsBack(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, path string)
	}{
		{"flipped byte", func(t *testing.T, path string) {
			b, _ := os.ReadFile(path)
			b[len(b)/2] ^= 0x40
			writeAt(t, path, 0, b)
		}},
		{"truncated", func(t *testing.T, path string) {
			fi, _ := os.Stat(path)
			if err := os.Truncate(path, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"empty", func(t *testing.T, path string) {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			snapDir := filepath.Join(dir, snapDirName)
			l, _ := mustOpen(t, dir, testOptions(t))
			writeLogWithSnapshots(t, l, 300, []uint64{100, 200}, true)
			mustClose(t, l)

			newest := filepath.Join(snapDir, fmt.Sprintf("%016x-%016x.snap", 1, 200))
			tc.corrupt(t, newest)

			_, st := mustOpen(t, dir, testOptions(t))
			if got := st.Snapshot.GetMetadata().GetIndex(); got != 100 {
				t.Fatalf("snapshot %d, want 100 (the newest readable one)", got)
			}
			checkEntries(t, st.Entries, entries(101, 300, 1))
			// etcd's snapshotter renames the unreadable file.
			if _, err := os.Stat(newest + ".broken"); err != nil {
				t.Fatalf("corrupt snapshot not renamed to .broken: %v", err)
			}
		})
	}
}

func TestNoReadableSnapshotAfterReleaseIsCorrupt(t *testing.T) {
	// With one snapshot kept and the WAL before it released, a corrupt snapshot file
	// leaves nothing to start from: Open must fail, not come back empty.
	dir := t.TempDir()
	opts := testOptions(t)
	opts.KeepSnapshots = 1
	l, _ := mustOpen(t, dir, opts)
	writeLogWithSnapshots(t, l, 600, []uint64{500}, true)
	mustClose(t, l)
	path := filepath.Join(dir, snapDirName, fmt.Sprintf("%016x-%016x.snap", 1, 500))
	if err := os.Truncate(path, 10); err != nil {
		t.Fatal(err)
	}
	_, _, err := Open(dir, opts)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open: %v, want ErrCorrupt", err)
	}
	t.Logf("Open: %v", err)
}

func TestSnapshotFilesWithoutWALIsCorrupt(t *testing.T) {
	dir := t.TempDir()
	l, _ := mustOpen(t, dir, testOptions(t))
	writeLogWithSnapshots(t, l, 20, []uint64{10}, false)
	mustClose(t, l)
	if err := os.RemoveAll(filepath.Join(dir, walDirName)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(dir, testOptions(t)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open without a WAL but with snapshots: %v, want ErrCorrupt", err)
	}
}

// writeTornTailLog writes entries 1..n (term 1), the last batch (n-2..n) without a hard
// state so that the last record of the WAL is entry n, closes, and returns the last
// segment with its record frames.
func writeTornTailLog(t *testing.T, dir string, n uint64) (string, []frame) {
	t.Helper()
	l, _ := mustOpen(t, dir, testOptions(t))
	for i := uint64(1); i <= n-3; i += 20 {
		hi := min(i+19, n-3)
		mustSave(t, l, hardState(1, 1, hi), entries(i, hi, 1))
	}
	mustSave(t, l, nil, entries(n-2, n, 1))
	mustClose(t, l)
	seg := lastSegment(t, dir)
	fr := frames(t, seg)
	if len(fr) < 2 {
		t.Fatalf("last segment has %d records", len(fr))
	}
	return seg, fr
}

func TestTornTailIsRepaired(t *testing.T) {
	const n = 250
	for _, tc := range []struct {
		name string
		tear func(t *testing.T, seg string, last frame)
	}{
		{"file ends inside the last record", func(t *testing.T, seg string, last frame) {
			if err := os.Truncate(seg, last.off+8+last.size/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"file ends inside the length field", func(t *testing.T, seg string, last frame) {
			if err := os.Truncate(seg, last.off+3); err != nil {
				t.Fatal(err)
			}
		}},
		{"last record's sectors never written", func(t *testing.T, seg string, last frame) {
			writeAt(t, seg, last.off+8, make([]byte, last.size))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			seg, fr := writeTornTailLog(t, dir, n)
			tc.tear(t, seg, fr[len(fr)-1])

			var recs []slog.Record
			opts := testOptions(t)
			opts.Logger = slog.New(captureHandler{recs: &recs})
			l, st := mustOpen(t, dir, opts)
			checkEntries(t, st.Entries, entries(1, n-1, 1))
			checkHardState(t, st.HardState, hardState(1, 1, n-3))
			if !slices.ContainsFunc(recs, func(r slog.Record) bool { return strings.Contains(r.Message, "repair") }) {
				t.Errorf("no repair logged")
			}

			// The repaired log takes writes; they and everything before survive a reopen.
			mustSave(t, l, hardState(2, 1, n+5), entries(n, n+5, 2))
			mustClose(t, l)
			_, st = mustOpen(t, dir, testOptions(t))
			checkEntries(t, st.Entries, append(entries(1, n-1, 1), entries(n, n+5, 2)...))
			checkHardState(t, st.HardState, hardState(2, 1, n+5))
		})
	}
}

func TestGarbageTailIsCorrupt(t *testing.T) {
	// Non-zero garbage over the last record fails its CRC without looking torn: etcd's
	// wal calls that corruption, not a torn write, and refuses to repair it.
	dir := t.TempDir()
	seg, fr := writeTornTailLog(t, dir, 100)
	last := fr[len(fr)-1]
	garbage := make([]byte, last.size)
	for i := range garbage {
		garbage[i] = byte(i*7 + 1)
	}
	writeAt(t, seg, last.off+8, garbage)
	_, _, err := Open(dir, testOptions(t))
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open: %v, want ErrCorrupt", err)
	}
	t.Logf("Open: %v", err)
}

func TestUndecodableRecordIsCorrupt(t *testing.T) {
	// A record whose CRC is right but whose payload is not protobuf makes etcd's wal
	// panic (pbutil.MustUnmarshalMessage). Open turns that panic, and only that one, into
	// ErrCorrupt.
	for _, typ := range []int64{wal.EntryType, wal.StateType, wal.SnapshotType} {
		t.Run(fmt.Sprint("type ", typ), func(t *testing.T) {
			dir := t.TempDir()
			l, _ := mustOpen(t, dir, testOptions(t))
			mustSave(t, l, hardState(1, 1, 10), entries(1, 10, 1))
			mustClose(t, l)
			seg := lastSegment(t, dir)
			fr := frames(t, seg)
			end := fr[len(fr)-1].off + 8 + fr[len(fr)-1].size
			prev := chainCRC(t, filepath.Join(dir, walDirName))
			writeAt(t, seg, end, encodeRecord(t, prev, typ, []byte{0xff, 0xff, 0xff}))

			_, _, err := Open(dir, testOptions(t))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "undecodable") {
				t.Fatalf("Open: %v, want ErrCorrupt (undecodable)", err)
			}
		})
	}
}

func TestRecoverUndecodableRepanicsOthers(t *testing.T) {
	defer func() {
		if r := recover(); r != "something else" {
			t.Fatalf("recovered %v, want the original panic", r)
		}
	}()
	func() (err error) {
		defer recoverUndecodable(&err)
		panic("something else")
	}()
	t.Fatal("not reached")
}

func TestZapBridge(t *testing.T) {
	var recs []slog.Record
	h := captureHandler{recs: &recs}
	zl := zapToSlog(slog.New(h))
	zl.With(zap.String("dir", "/x")).Warn("failed to do", zap.Int64("n", 3), zap.Error(errors.New("boom")))
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	r := recs[0]
	if r.Level != slog.LevelWarn || r.Message != "failed to do" {
		t.Fatalf("record %v %q", r.Level, r.Message)
	}
	attrs := map[string]string{}
	r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
	if attrs["n"] != "3" || attrs["error"] != "boom" || attrs["dir"] != "/x" {
		t.Fatalf("attrs %v", attrs)
	}

	// Levels below the handler's are not even formatted.
	zl = zapToSlog(slog.New(slog.NewTextHandler(nil, &slog.HandlerOptions{Level: slog.LevelError})))
	if zl.Core().Enabled(zap.InfoLevel) || !zl.Core().Enabled(zap.ErrorLevel) {
		t.Fatal("level filtering")
	}
}

func TestWriteFailures(t *testing.T) {
	dir := t.TempDir()
	l, _ := mustOpen(t, dir, testOptions(t))
	mustSave(t, l, hardState(1, 1, 10), entries(1, 10, 1))

	// A snapshot file that cannot be written is not sticky: nothing refers to it.
	snapDir := filepath.Join(dir, snapDirName)
	if err := os.Rename(snapDir, snapDir+".away"); err != nil {
		t.Fatal(err)
	}
	if err := l.SaveSnapshot(snapshot(5, 1, "five")); err == nil || errors.Is(err, ErrFailed) {
		t.Fatalf("SaveSnapshot without a snap dir: %v", err)
	}
	if err := os.Rename(snapDir+".away", snapDir); err != nil {
		t.Fatal(err)
	}
	if err := l.SaveSnapshot(snapshot(5, 1, "five")); err != nil {
		t.Fatalf("SaveSnapshot once the dir is back: %v", err)
	}

	// A failed WAL write is: every later call but Close reports it.
	_ = l.fail("save", errors.New("injected"))
	for name, err := range map[string]error{
		"Save":         l.Save(nil, entries(11, 11, 1)),
		"SaveSnapshot": l.SaveSnapshot(snapshot(8, 1, "")),
		"Release":      l.Release(5),
	} {
		if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "injected") {
			t.Errorf("%s after a failure: %v", name, err)
		}
	}
	mustClose(t, l)
	_, st := mustOpen(t, dir, testOptions(t))
	if st.Snapshot.GetMetadata().GetIndex() != 5 {
		t.Fatalf("snapshot %v", st.Snapshot.GetMetadata())
	}
	checkEntries(t, st.Entries, entries(6, 10, 1))
}
