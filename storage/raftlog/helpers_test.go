package raftlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"go.etcd.io/etcd/client/pkg/v3/fileutil"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// testSegmentSize makes segments small enough that a few hundred 300-byte entries cut
// several of them. Every test in the package uses it (the benchmark uses the default,
// after the tests have closed their logs).
const testSegmentSize = 32 << 10

// payloadSize is the size of an entry's data in tests and the benchmark.
const payloadSize = 300

func testOptions(t testing.TB) Options {
	return Options{SegmentSize: testSegmentSize, Logger: testLogger(t, slog.LevelWarn)}
}

// testLogger sends records at or above level to t.Log.
func testLogger(t testing.TB, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// captureHandler records every slog record, for tests that look at what was logged.
type captureHandler struct {
	recs  *[]slog.Record
	attrs []slog.Attr
}

func (h captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h captureHandler) Handle(_ context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.attrs...)
	*h.recs = append(*h.recs, r)
	return nil
}
func (h captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return captureHandler{h.recs, append(slices.Clip(h.attrs), as...)}
}
func (h captureHandler) WithGroup(string) slog.Handler { return h }

// payload is the deterministic data of the entry at index i in term term.
func payload(i, term uint64) []byte {
	b := make([]byte, payloadSize)
	for j := 0; j+16 <= len(b); j += 16 {
		binary.LittleEndian.PutUint64(b[j:], i)
		binary.LittleEndian.PutUint64(b[j+8:], term)
	}
	return b
}

func entry(i, term uint64) *raftpb.Entry {
	return &raftpb.Entry{Index: new(i), Term: new(term), Type: raftpb.EntryNormal.Enum(), Data: payload(i, term)}
}

// entries returns entries lo..hi inclusive, in term.
func entries(lo, hi, term uint64) []*raftpb.Entry {
	var out []*raftpb.Entry
	for i := lo; i <= hi; i++ {
		out = append(out, entry(i, term))
	}
	return out
}

func hardState(term, vote, commit uint64) *raftpb.HardState {
	return &raftpb.HardState{Term: new(term), Vote: new(vote), Commit: new(commit)}
}

func confState(voters ...uint64) *raftpb.ConfState {
	return &raftpb.ConfState{Voters: voters}
}

func snapshot(index, term uint64, data string) *raftpb.Snapshot {
	return &raftpb.Snapshot{
		Data: []byte(data),
		Metadata: &raftpb.SnapshotMetadata{
			Index: new(index), Term: new(term), ConfState: confState(1, 2, 3),
		},
	}
}

func mustOpen(t testing.TB, dir string, opts Options) (*Log, *State) {
	t.Helper()
	l, st, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l, st
}

func mustSave(t testing.TB, l *Log, hs *raftpb.HardState, ents []*raftpb.Entry) {
	t.Helper()
	if err := l.Save(hs, ents); err != nil {
		t.Fatalf("Save: %v", err)
	}
}

func mustClose(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// checkEntries fails unless got equals want, entry by entry.
func checkEntries(t testing.TB, got, want []*raftpb.Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d entries %s, want %d %s", len(got), span(got), len(want), span(want))
	}
	for i := range got {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("entry %d: got index %d term %d, want index %d term %d (data equal: %v)", i,
				got[i].GetIndex(), got[i].GetTerm(), want[i].GetIndex(), want[i].GetTerm(),
				bytes.Equal(got[i].GetData(), want[i].GetData()))
		}
	}
}

func span(ents []*raftpb.Entry) string {
	if len(ents) == 0 {
		return "[]"
	}
	return fmt.Sprintf("[%d..%d]", ents[0].GetIndex(), ents[len(ents)-1].GetIndex())
}

func checkHardState(t testing.TB, got, want *raftpb.HardState) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Fatalf("hard state: got %v, want %v", got, want)
	}
}

// files returns the base names in dir ending in suffix, sorted.
func files(t testing.TB, dir, suffix string) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range matches {
		matches[i] = filepath.Base(m)
	}
	sort.Strings(matches)
	return matches
}

// segStart returns the first index in a segment's name.
func segStart(t testing.TB, name string) uint64 {
	t.Helper()
	var seq, idx uint64
	if _, err := fmt.Sscanf(name, "%016x-%016x.wal", &seq, &idx); err != nil {
		t.Fatalf("segment name %q: %v", name, err)
	}
	return idx
}

// snapIndex returns the index in a snapshot file's name.
func snapIndexOf(t testing.TB, name string) uint64 {
	t.Helper()
	var term, idx uint64
	if _, err := fmt.Sscanf(name, "%016x-%016x.snap", &term, &idx); err != nil {
		t.Fatalf("snapshot name %q: %v", name, err)
	}
	return idx
}

// frame is one WAL record's place in a segment: the 8-byte length field at off, then size
// bytes of record and padding.
type frame struct{ off, size int64 }

// frames walks a segment's record framing (our reading of the format documented in the
// wal package: little-endian u64, low 56 bits the record length, the top byte 0x80|pad
// when the record is padded to 8 bytes) up to the first zero length field or the end.
func frames(t testing.TB, path string) []frame {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []frame
	for off := int64(0); off+8 <= int64(len(b)); {
		l := binary.LittleEndian.Uint64(b[off:])
		if l == 0 {
			break
		}
		n := int64(l &^ (0xff << 56))
		if l>>63 == 1 {
			n += int64((l >> 56) & 7)
		}
		if off+8+n > int64(len(b)) {
			t.Fatalf("%s: frame at %d runs past the end", path, off)
		}
		out = append(out, frame{off, n})
		off += 8 + n
	}
	return out
}

// lastSegment returns the path of the newest WAL segment in dir/wal.
func lastSegment(t testing.TB, dir string) string {
	t.Helper()
	segs := files(t, filepath.Join(dir, walDirName), walSuffix)
	if len(segs) == 0 {
		t.Fatalf("no WAL segment in %s", dir)
	}
	return filepath.Join(dir, walDirName, segs[len(segs)-1])
}

// chainCRC returns the CRC the next WAL record must carry before its own data is added:
// the CRC chained over every record, read with the wal package's own decoder.
func chainCRC(t testing.TB, walDir string) uint32 {
	t.Helper()
	var readers []fileutil.FileReader
	for _, name := range files(t, walDir, walSuffix) {
		f, err := os.Open(filepath.Join(walDir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		readers = append(readers, fileutil.NewFileReader(f))
	}
	dec := wal.NewDecoder(readers...)
	rec := &walpb.Record{}
	for {
		err := dec.Decode(rec)
		if errors.Is(err, io.EOF) {
			return dec.LastCRC()
		}
		if err != nil {
			t.Fatalf("decoding %s: %v", walDir, err)
		}
		if rec.GetType() == wal.CrcType {
			dec.UpdateCRC(rec.GetCrc())
		}
	}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeRecord frames a WAL record of type typ carrying data, whose CRC chains on prev:
// what the wal's encoder would write next.
func encodeRecord(t testing.TB, prev uint32, typ int64, data []byte) []byte {
	t.Helper()
	crc := crc32.Update(prev, castagnoli, data)
	b, err := proto.Marshal(&walpb.Record{Type: new(typ), Crc: new(crc), Data: data})
	if err != nil {
		t.Fatal(err)
	}
	pad := (8 - len(b)%8) % 8
	l := uint64(len(b))
	if pad != 0 {
		l |= uint64(0x80|pad) << 56
	}
	out := binary.LittleEndian.AppendUint64(nil, l)
	out = append(out, b...)
	return append(out, make([]byte, pad)...)
}

// writeAt overwrites path at off with b (extending the file if needed).
func writeAt(t testing.TB, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies the regular files of src (one level of subdirectories) into dst.
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// isPrefix reports whether got is want[:len(got)], comparing entries fully.
func isPrefix(got, want []*raftpb.Entry) bool {
	if len(got) > len(want) {
		return false
	}
	return slices.EqualFunc(got, want[:len(got)], func(a, b *raftpb.Entry) bool { return proto.Equal(a, b) })
}
