package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// snapSeed returns a seed for a randomized test and logs it: $ETCQ_TEST_SEED when set
// (to replay a failure), else a fresh one.
func snapSeed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if env := os.Getenv("ETCQ_TEST_SEED"); env != "" {
		var err error
		if seed, err = strconv.ParseUint(env, 10, 64); err != nil {
			t.Fatalf("ETCQ_TEST_SEED: %v", err)
		}
	}
	t.Logf("seed %d (replay with ETCQ_TEST_SEED=%d)", seed, seed)
	return seed
}

// snapStream returns the snapshot stream of s, checking that WriteTo writes exactly Size
// bytes.
func snapStream(tb testing.TB, s *Store) []byte {
	tb.Helper()
	sn, err := s.Snapshot()
	if err != nil {
		tb.Fatalf("snapshot: %v", err)
	}
	defer sn.Close()
	var buf bytes.Buffer
	n, err := sn.WriteTo(&buf)
	if err != nil {
		tb.Fatalf("snapshot write: %v", err)
	}
	if n != sn.Size() || int64(buf.Len()) != n {
		tb.Fatalf("snapshot WriteTo returned %d, wrote %d bytes, Size says %d", n, buf.Len(), sn.Size())
	}
	return buf.Bytes()
}

// snapImage returns the database image inside a well-formed stream.
func snapImage(stream []byte) []byte { return stream[snapHeaderLen : len(stream)-sha256.Size] }

// snapMakeStream frames image as a snapshot stream with a valid hash.
func snapMakeStream(image []byte) []byte {
	b := append([]byte(nil), snapMagic[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(image)))
	b = append(b, image...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// snapForeignImage returns the image of a bbolt database that is not a usable store:
// "nobuckets" has none of the store's buckets, "schema2" a newer schema, "badschema" a
// schema value of the wrong width.
func snapForeignImage(tb testing.TB, kind string) []byte {
	tb.Helper()
	db, err := bolt.Open(filepath.Join(tb.TempDir(), "foreign.db"), 0o600, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		if kind == "nobuckets" {
			b, err := tx.CreateBucket([]byte("other"))
			if err != nil {
				return err
			}
			return b.Put([]byte("k"), []byte("v"))
		}
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketKV); err != nil {
			return err
		}
		if kind == "badschema" {
			return meta.Put(metaSchema, []byte{1, 2, 3})
		}
		return meta.Put(metaSchema, u64(schemaVersion+1))
	})
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := db.View(func(tx *bolt.Tx) error { _, err := tx.WriteTo(&buf); return err }); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// snapCorruptRecordImage returns the image of stream with every copy of the value marker
// damaged: bbolt still opens it (its pages carry no checksums), but the record's CRC fails.
func snapCorruptRecordImage(tb testing.TB, stream []byte, marker []byte) []byte {
	tb.Helper()
	img := bytes.Clone(snapImage(stream))
	n := 0
	for i := 0; ; {
		j := bytes.Index(img[i:], marker)
		if j < 0 {
			break
		}
		img[i+j+len(marker)/2] ^= 0x01
		i += j + len(marker)
		n++
	}
	if n == 0 {
		tb.Fatalf("marker %q not in the image", marker)
	}
	return img
}

func snapKey(rng *rand.Rand) []byte { return fmt.Appendf(nil, "key/%02d", rng.IntN(40)) }

// snapValue returns a value that is, with overwhelming probability, unlike any other.
func snapValue(rng *rand.Rand) []byte {
	v := make([]byte, 8+rng.IntN(120))
	for i := range v {
		v[i] = byte(rng.Uint32())
	}
	return v
}

// snapFill applies n random sessions (puts, deletes, range deletes, txns) to s, each
// recording the next consistent index with term 2.
func snapFill(tb testing.TB, s *Store, rng *rand.Rand, n int) {
	tb.Helper()
	for range n {
		ci := s.ConsistentIndex().Index + 1
		w := s.Write()
		var err error
		switch r := rng.IntN(20); {
		case r < 12:
			_, err = w.Put(PutRequest{Key: snapKey(rng), Value: snapValue(rng), Lease: int64(rng.IntN(3))})
		case r < 14:
			_, err = w.DeleteRange(DeleteRangeRequest{Key: snapKey(rng)})
		case r < 15:
			a, b := snapKey(rng), snapKey(rng)
			if bytes.Compare(a, b) > 0 {
				a, b = b, a
			}
			_, err = w.DeleteRange(DeleteRangeRequest{Key: a, RangeEnd: b})
		case r < 18:
			_, err = w.Txn(TxnRequest{
				Compare: []Compare{{Target: TargetVersion, Result: CompareGreater, Key: snapKey(rng), Version: int64(rng.IntN(3))}},
				Success: []RequestOp{{Put: &PutRequest{Key: snapKey(rng), Value: snapValue(rng)}}},
				Failure: []RequestOp{{DeleteRange: &DeleteRangeRequest{Key: snapKey(rng)}}, {Range: &RangeRequest{Key: []byte("key/"), RangeEnd: []byte("key0")}}},
			})
		default: // several operations in one session
			for range 1 + rng.IntN(4) {
				if _, err = w.Put(PutRequest{Key: snapKey(rng), Value: snapValue(rng)}); err != nil {
					break
				}
			}
		}
		if err != nil {
			w.End()
			tb.Fatalf("fill: %v", err)
		}
		w.SetConsistentIndex(ci, 2)
		w.End()
	}
}

func snapAll(rev int64) RangeRequest {
	return RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: rev}
}

func snapSameKVs(t testing.TB, what string, got, want []KeyValue) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d keys, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !fuzzSameKV(&got[i], &want[i]) {
			t.Fatalf("%s: key %d is %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

// snapSameStore checks that got holds exactly what want holds: counters, consistent index,
// every key at every uncompacted revision, and HashKV.
func snapSameStore(t testing.TB, want, got *Store) {
	t.Helper()
	if got.Rev() != want.Rev() || got.CompactRev() != want.CompactRev() || got.ConsistentIndex() != want.ConsistentIndex() {
		t.Fatalf("rev %d, compacted %d, ci %+v; want %d, %d, %+v", got.Rev(), got.CompactRev(), got.ConsistentIndex(),
			want.Rev(), want.CompactRev(), want.ConsistentIndex())
	}
	for rev := max(want.CompactRev(), 1); rev <= want.Rev(); rev++ {
		w, err := want.Range(snapAll(rev))
		if err != nil {
			t.Fatalf("range at %d on the original: %v", rev, err)
		}
		g, err := got.Range(snapAll(rev))
		if err != nil {
			t.Fatalf("range at %d: %v", rev, err)
		}
		if g.Count != w.Count {
			t.Fatalf("count at %d: %d, want %d", rev, g.Count, w.Count)
		}
		snapSameKVs(t, fmt.Sprintf("range at %d", rev), g.KVs, w.KVs)
	}
	if c := want.CompactRev(); c > 1 {
		if _, err := got.Range(snapAll(c - 1)); !errors.Is(err, ErrCompacted) {
			t.Fatalf("range below the compaction: %v, want ErrCompacted", err)
		}
	}
	wh, err := want.HashKV(0)
	if err != nil {
		t.Fatal(err)
	}
	gh, err := got.HashKV(0)
	if err != nil {
		t.Fatal(err)
	}
	if gh != wh {
		t.Fatalf("HashKV %+v, want %+v", gh, wh)
	}
}

// snapGuard runs fn with memory faults turned into panics (debug.SetPanicOnFault), and
// recovers a panic into fault. A bbolt file shorter than its meta page claims makes bbolt
// read past the end of its memory map: SIGBUS, which otherwise kills the test binary.
func snapGuard(fn func() error) (fault any, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			fault = r
			if e, ok := r.(interface{ Addr() uintptr }); ok {
				fault = fmt.Sprintf("%v (fault address %#x)", r, e.Addr())
			}
		}
	}()
	return nil, fn()
}

// snapHash returns s.HashKV(rev), failing the test on error.
func snapHash(t testing.TB, s *Store, rev int64) HashKVResult {
	t.Helper()
	h, err := s.HashKV(rev)
	if err != nil {
		t.Fatalf("HashKV(%d): %v", rev, err)
	}
	return h
}

// snapDirNames lists the names in dir.
func snapDirNames(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestSnapshotRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(snapSeed(t), 1))
	dir := t.TempDir()
	src, err := Open(filepath.Join(dir, "src"), Options{CompactionBatchLimit: 7, BatchInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	snapFill(t, src, rng, 300)
	done, err := src.Compact(src.Rev() - 120)
	if err != nil {
		t.Fatal(err)
	}
	<-done
	snapFill(t, src, rng, 100)
	// A second compaction whose removal may still be running when the image is taken,
	// and writes that are still pending: Snapshot must commit them.
	if _, err := src.Compact(src.Rev() - 40); err != nil {
		t.Fatal(err)
	}
	snapFill(t, src, rng, 20)

	sn, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if sn.Revision != src.Rev() || sn.CompactRevision != src.CompactRev() || sn.ConsistentIndex != src.ConsistentIndex() {
		t.Fatalf("snapshot says rev %d compacted %d ci %+v; store %d %d %+v", sn.Revision, sn.CompactRevision,
			sn.ConsistentIndex, src.Rev(), src.CompactRev(), src.ConsistentIndex())
	}
	var buf bytes.Buffer
	n, err := sn.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != sn.Size() || int64(buf.Len()) != sn.Size() {
		t.Fatalf("WriteTo returned %d and wrote %d bytes; Size is %d", n, buf.Len(), sn.Size())
	}
	if err := sn.Close(); err != nil {
		t.Fatal(err)
	}
	stream := buf.Bytes()

	var img bytes.Buffer
	m, err := ReadSnapshot(bytes.NewReader(stream), &img)
	if err != nil {
		t.Fatal(err)
	}
	if m != int64(len(stream)-snapHeaderLen-sha256.Size) || int64(img.Len()) != m {
		t.Fatalf("ReadSnapshot: image of %d bytes, copied %d, stream %d", m, img.Len(), len(stream))
	}

	path := filepath.Join(dir, "restored")
	if err := RestoreFile(bytes.NewReader(stream), path); err != nil {
		t.Fatal(err)
	}
	if names := snapDirNames(t, dir); !slices.Equal(names, []string{"restored", "src"}) {
		t.Fatalf("directory after restore: %v", names)
	}
	dst := mustOpen(t, path)
	defer dst.Close()
	snapSameStore(t, src, dst)

	// Both go on identically.
	snapFill(t, src, rand.New(rand.NewPCG(7, 7)), 30)
	snapFill(t, dst, rand.New(rand.NewPCG(7, 7)), 30)
	snapSameStore(t, src, dst)
}

func TestSnapshotStreamCorruption(t *testing.T) {
	rng := rand.New(rand.NewPCG(snapSeed(t), 2))
	s := mustOpen(t, filepath.Join(t.TempDir(), "db"))
	defer s.Close()
	snapFill(t, s, rng, 100)
	stream := snapStream(t, s)
	if _, err := ReadSnapshot(bytes.NewReader(stream), io.Discard); err != nil {
		t.Fatalf("intact stream: %v", err)
	}

	positions := []int{}
	for i := range snapHeaderLen {
		positions = append(positions, i)
	}
	for i := len(stream) - sha256.Size; i < len(stream); i++ {
		positions = append(positions, i)
	}
	for range 300 {
		positions = append(positions, snapHeaderLen+rng.IntN(len(stream)-snapHeaderLen-sha256.Size))
	}
	for _, pos := range positions {
		bad := bytes.Clone(stream)
		bad[pos] ^= 1 << rng.IntN(8)
		_, err := ReadSnapshot(bytes.NewReader(bad), io.Discard)
		switch {
		case pos < 8 && !errors.Is(err, ErrCorrupt): // magic
			t.Fatalf("flip in the magic at %d: %v, want ErrCorrupt", pos, err)
		case pos >= snapHeaderLen && !errors.Is(err, ErrSnapshotHash): // image or trailer
			t.Fatalf("flip at %d of %d: %v, want ErrSnapshotHash", pos, len(stream), err)
		case !errors.Is(err, ErrSnapshotHash) && !errors.Is(err, ErrCorrupt): // length
			t.Fatalf("flip in the length at %d: %v, want ErrCorrupt or ErrSnapshotHash", pos, err)
		}
	}

	cuts := []int{0, 1, 7, 8, 15, snapHeaderLen, snapHeaderLen + 1, len(stream) - sha256.Size, len(stream) - 1}
	for range 50 {
		cuts = append(cuts, rng.IntN(len(stream)))
	}
	for _, n := range cuts {
		if _, err := ReadSnapshot(bytes.NewReader(stream[:n]), io.Discard); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("stream cut to %d of %d bytes: %v, want ErrCorrupt", n, len(stream), err)
		}
	}

	// RestoreFile refuses the same streams and leaves nothing behind.
	dir := t.TempDir()
	for i := range 10 {
		bad := bytes.Clone(stream)
		bad[positions[rng.IntN(len(positions))]] ^= 0x80
		if i%2 == 1 {
			bad = stream[:cuts[rng.IntN(len(cuts))]]
		}
		err := RestoreFile(bytes.NewReader(bad), filepath.Join(dir, "db"))
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrSnapshotHash) {
			t.Fatalf("RestoreFile of a damaged stream: %v", err)
		}
		if names := snapDirNames(t, dir); len(names) != 0 {
			t.Fatalf("failed RestoreFile left %v", names)
		}
	}
}

func TestReadSnapshotHugeLength(t *testing.T) {
	hdr := append([]byte(nil), snapMagic[:]...)
	hdr = binary.BigEndian.AppendUint64(hdr, maxSnapshotImage+1)
	if _, err := ReadSnapshot(bytes.NewReader(append(hdr, make([]byte, 100)...)), io.Discard); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("image length beyond the bound: %v, want ErrCorrupt", err)
	}
	hdr = binary.BigEndian.AppendUint64(hdr[:8], maxSnapshotImage)
	var dst bytes.Buffer
	n, err := ReadSnapshot(bytes.NewReader(append(hdr, make([]byte, 100)...)), &dst)
	if !errors.Is(err, ErrCorrupt) || n != 100 || dst.Len() != 100 {
		t.Fatalf("1 TiB announced, 100 bytes sent: %d, %v (copied %d), want ErrCorrupt after 100", n, err, dst.Len())
	}
}

func TestRestoreFileRefusesExistingPath(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "db"))
	defer s.Close()
	snapFill(t, s, rand.New(rand.NewPCG(1, 2)), 10)
	stream := snapStream(t, s)

	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := RestoreFile(bytes.NewReader(stream), path); err == nil {
		t.Fatal("RestoreFile overwrote an existing file")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
		t.Fatalf("existing file now holds %q (%v)", b, err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := RestoreFile(bytes.NewReader(stream), sub); err == nil {
		t.Fatal("RestoreFile replaced an existing directory")
	}
	if names := snapDirNames(t, dir); !slices.Equal(names, []string{"db", "sub"}) {
		t.Fatalf("directory holds %v", names)
	}
	if names := snapDirNames(t, sub); len(names) != 0 {
		t.Fatalf("directory target holds %v", names)
	}
}

// snapBadImages are images that pass the stream hash but are no usable store.
func snapBadImages(t *testing.T) map[string][]byte {
	s := mustOpen(t, filepath.Join(t.TempDir(), "db"))
	defer s.Close()
	snapFill(t, s, rand.New(rand.NewPCG(3, 4)), 50)
	img := snapImage(snapStream(t, s))
	random := make([]byte, len(img))
	r := rand.New(rand.NewPCG(5, 6))
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	return map[string][]byte{
		"empty":     {},
		"zeros":     make([]byte, len(img)),
		"random":    random,
		"truncated": img[:len(img)/2],
		"metaonly":  img[:2*4096],
		"nobuckets": snapForeignImage(t, "nobuckets"),
		"schema2":   snapForeignImage(t, "schema2"),
		"badschema": snapForeignImage(t, "badschema"),
	}
}

func TestRestoreFileRefusesGarbageImage(t *testing.T) {
	for name, img := range snapBadImages(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			fault, err := snapGuard(func() error {
				return RestoreFile(bytes.NewReader(snapMakeStream(img)), filepath.Join(dir, "db"))
			})
			if fault != nil {
				t.Fatalf("RestoreFile of a %d-byte image crashed: %v (a panic, or a memory fault that kills the process without the test's SetPanicOnFault)", len(img), fault)
			}
			if err == nil {
				t.Fatal("RestoreFile accepted a garbage image")
			}
			if name == "schema2" && !errors.Is(err, ErrSchema) {
				t.Fatalf("newer schema: %v, want ErrSchema", err)
			}
			if names := snapDirNames(t, dir); len(names) != 0 {
				t.Fatalf("failed RestoreFile (%v) left %v", err, names)
			}
		})
	}
}

// TestRestoreFileRefusesCorruptRecord restores an image whose bbolt structure is intact
// but one of whose records fails its checksum: Open refuses such a file, so RestoreFile
// must refuse it too instead of installing a store that cannot be opened.
func TestRestoreFileRefusesCorruptRecord(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "db"))
	defer s.Close()
	snapFill(t, s, rand.New(rand.NewPCG(8, 9)), 20)
	marker := []byte("MARKER-value-0123456789")
	if _, err := s.Put(PutRequest{Key: []byte("marked"), Value: marker}); err != nil {
		t.Fatal(err)
	}
	img := snapCorruptRecordImage(t, snapStream(t, s), marker)
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	err := RestoreFile(bytes.NewReader(snapMakeStream(img)), path)
	if err == nil {
		_, oerr := Open(path, Options{})
		t.Fatalf("RestoreFile accepted an image with a corrupt record; Open of the result says: %v", oerr)
	}
	if names := snapDirNames(t, dir); len(names) != 0 {
		t.Fatalf("failed RestoreFile (%v) left %v", err, names)
	}
}

func TestStoreRestoreReplacesContent(t *testing.T) {
	seed := snapSeed(t)
	dir := t.TempDir()
	src, err := Open(filepath.Join(dir, "src"), Options{CompactionBatchLimit: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	snapFill(t, src, rand.New(rand.NewPCG(seed, 1)), 150)
	done, err := src.Compact(src.Rev() - 60)
	if err != nil {
		t.Fatal(err)
	}
	<-done
	snapFill(t, src, rand.New(rand.NewPCG(seed, 2)), 30)
	stream := snapStream(t, src)

	// The target has other data, a longer history, its own compaction, and writes that
	// are still pending (the batch interval is long).
	dpath := filepath.Join(dir, "dst")
	dst, err := Open(dpath, Options{BatchInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { dst.Close() }()
	snapFill(t, dst, rand.New(rand.NewPCG(seed, 3)), 400)
	if _, err := dst.Compact(dst.Rev() - 10); err != nil {
		t.Fatal(err)
	}
	if err := dst.Commit(); err != nil {
		t.Fatal(err)
	}
	w := dst.Write()
	if _, err := w.Put(PutRequest{Key: []byte("pending"), Value: []byte("lost")}); err != nil {
		t.Fatal(err)
	}
	w.SetConsistentIndex(1_000_000, 9)
	w.End()

	if err := dst.Restore(bytes.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	if err := dst.Err(); err != nil {
		t.Fatal(err)
	}
	if r, err := dst.Range(RangeRequest{Key: []byte("pending")}); err != nil || len(r.KVs) != 0 {
		t.Fatalf("pending write survived the restore: %+v, %v", r, err)
	}
	snapSameStore(t, src, dst)
	if names := snapDirNames(t, dir); !slices.Equal(names, []string{"dst", "src"}) {
		t.Fatalf("directory after restore: %v", names)
	}

	// The restored store takes writes, and survives a reopen.
	snapFill(t, src, rand.New(rand.NewPCG(seed, 4)), 20)
	snapFill(t, dst, rand.New(rand.NewPCG(seed, 4)), 20)
	snapSameStore(t, src, dst)
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	dst = mustOpen(t, dpath)
	snapSameStore(t, src, dst)
}

// snapState captures what a store holds, to check it is unchanged.
type snapState struct {
	rev, compacted int64
	ci             ConsistentIndex
	hash           HashKVResult
	kvs            []KeyValue
}

func snapCapture(t testing.TB, s *Store) snapState {
	t.Helper()
	h, err := s.HashKV(0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Range(snapAll(0))
	if err != nil {
		t.Fatal(err)
	}
	return snapState{rev: s.Rev(), compacted: s.CompactRev(), ci: s.ConsistentIndex(), hash: h, kvs: r.KVs}
}

func snapSameState(t testing.TB, what string, got, want snapState) {
	t.Helper()
	if got.rev != want.rev || got.compacted != want.compacted || got.ci != want.ci || got.hash != want.hash {
		t.Fatalf("%s: rev %d compacted %d ci %+v hash %+v; want %d %d %+v %+v", what,
			got.rev, got.compacted, got.ci, got.hash, want.rev, want.compacted, want.ci, want.hash)
	}
	snapSameKVs(t, what, got.kvs, want.kvs)
}

func TestStoreRestoreBadStreamLeavesStoreUntouched(t *testing.T) {
	seed := snapSeed(t)
	src := mustOpen(t, filepath.Join(t.TempDir(), "src"))
	defer src.Close()
	snapFill(t, src, rand.New(rand.NewPCG(seed, 1)), 60)
	stream := snapStream(t, src)

	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	dst, err := Open(path, Options{BatchInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { dst.Close() }()
	snapFill(t, dst, rand.New(rand.NewPCG(seed, 2)), 80)
	if err := dst.Commit(); err != nil {
		t.Fatal(err)
	}
	snapFill(t, dst, rand.New(rand.NewPCG(seed, 3)), 5) // pending: must survive too

	flipped := bytes.Clone(stream)
	flipped[len(flipped)/2] ^= 0x04
	bad := []struct {
		name   string
		stream []byte
	}{
		{"flipped", flipped},
		{"truncated", stream[:len(stream)-100]},
		{"headeronly", stream[:snapHeaderLen]},
		{"empty", nil},
		{"wrongmagic", append([]byte("ETCQSNP2"), stream[8:]...)},
	}
	for name, img := range snapBadImages(t) {
		bad = append(bad, struct {
			name   string
			stream []byte
		}{"image-" + name, snapMakeStream(img)})
	}
	slices.SortFunc(bad, func(a, b struct {
		name   string
		stream []byte
	}) int {
		return strings.Compare(a.name, b.name)
	})
	rng := rand.New(rand.NewPCG(seed, 5))
	for _, b := range bad {
		before := snapCapture(t, dst)
		fault, err := snapGuard(func() error { return dst.Restore(bytes.NewReader(b.stream)) })
		if fault != nil {
			// Restore faulted while verifying the image, before touching the store:
			// report it, drop the temporary file it left, and go on with the others.
			t.Errorf("%s: Restore crashed: %v (a panic, or a memory fault that kills the process without the test's SetPanicOnFault)", b.name, fault)
			for _, n := range snapDirNames(t, dir) {
				if strings.HasPrefix(n, ".restore-") {
					os.Remove(filepath.Join(dir, n))
				}
			}
		} else if err == nil {
			t.Fatalf("%s: Restore accepted a bad stream", b.name)
		}
		snapSameState(t, b.name, snapCapture(t, dst), before)
		if names := snapDirNames(t, dir); !slices.Equal(names, []string{"db"}) {
			t.Fatalf("%s: directory holds %v", b.name, names)
		}
		snapFill(t, dst, rng, 3) // still usable
	}
	want := snapCapture(t, dst)
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	dst = mustOpen(t, path)
	snapSameState(t, "after reopen", snapCapture(t, dst), want)
}

// TestStoreRestoreCorruptRecordLeavesStoreUntouched gives a live store a stream whose hash
// is right but whose image holds a record that fails its checksum. The store must refuse
// it and stay as it was, like for any other bad stream.
func TestStoreRestoreCorruptRecordLeavesStoreUntouched(t *testing.T) {
	src := mustOpen(t, filepath.Join(t.TempDir(), "src"))
	defer src.Close()
	snapFill(t, src, rand.New(rand.NewPCG(10, 11)), 30)
	marker := []byte("MARKER-value-0123456789")
	if _, err := src.Put(PutRequest{Key: []byte("marked"), Value: marker}); err != nil {
		t.Fatal(err)
	}
	img := snapCorruptRecordImage(t, snapStream(t, src), marker)

	path := filepath.Join(t.TempDir(), "db")
	dst := mustOpen(t, path)
	defer func() { dst.Close() }()
	snapFill(t, dst, rand.New(rand.NewPCG(12, 13)), 40)
	before := snapCapture(t, dst)
	err := dst.Restore(bytes.NewReader(snapMakeStream(img)))
	if err == nil {
		t.Fatal("Restore accepted an image with a corrupt record")
	}
	if _, perr := dst.Put(PutRequest{Key: []byte("after"), Value: []byte("x")}); perr != nil {
		t.Fatalf("store unusable after a refused restore (%v): put: %v", err, perr)
	}
	if _, derr := dst.DeleteRange(DeleteRangeRequest{Key: []byte("after")}); derr != nil {
		t.Fatal(derr)
	}
	after := snapCapture(t, dst)
	before.rev, before.hash, after.rev, after.hash = 0, HashKVResult{}, 0, HashKVResult{}
	snapSameState(t, "after refused restore", after, before)
}

func TestSnapshotDuringWrites(t *testing.T) {
	seed := snapSeed(t)
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "src"), Options{BatchInterval: time.Millisecond, BatchLimit: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	stop := make(chan struct{})
	wrote := make(chan struct{}, 1)
	writerDone := make(chan struct{})
	var werr error
	go func() {
		defer close(writerDone)
		rng := rand.New(rand.NewPCG(seed, 1))
		for i := uint64(1); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			w := s.Write()
			for range 1 + rng.IntN(3) {
				if _, werr = w.Put(PutRequest{Key: snapKey(rng), Value: snapValue(rng)}); werr != nil {
					break
				}
			}
			if werr == nil && i%7 == 0 {
				_, werr = w.DeleteRange(DeleteRangeRequest{Key: snapKey(rng)})
			}
			w.SetConsistentIndex(i, 3)
			w.End()
			if werr != nil {
				return
			}
			select {
			case wrote <- struct{}{}:
			default:
			}
		}
	}()
	defer func() {
		close(stop)
		<-writerDone
		if werr != nil {
			t.Errorf("writer: %v", werr)
		}
	}()

	for round := range 6 {
		select {
		case <-wrote: // at least one session since the last snapshot
		case <-writerDone:
			t.Fatalf("writer stopped: %v", werr)
		}
		sn, err := s.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := sn.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		sn.Close()
		want, err := s.HashKV(sn.Revision)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("restored%d", round))
		if err := RestoreFile(&buf, path); err != nil {
			t.Fatal(err)
		}
		r := mustOpen(t, path)
		got, err := r.HashKV(0)
		rev, ci := r.Rev(), r.ConsistentIndex()
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if rev != sn.Revision || ci != sn.ConsistentIndex || got != want {
			t.Fatalf("round %d: restored rev %d ci %+v hash %+v; snapshot rev %d ci %+v, source hash %+v",
				round, rev, ci, got, sn.Revision, sn.ConsistentIndex, want)
		}
	}
}

func TestHashKVSameOperations(t *testing.T) {
	seed := snapSeed(t)
	dir := t.TempDir()
	// Different batching: the hash must not depend on commit boundaries.
	a, err := Open(filepath.Join(dir, "a"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(filepath.Join(dir, "b"), Options{BatchLimit: 3, BatchInterval: time.Millisecond, CompactionBatchLimit: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	snapFill(t, a, rand.New(rand.NewPCG(seed, 1)), 200)
	snapFill(t, b, rand.New(rand.NewPCG(seed, 1)), 200)
	if a.Rev() != b.Rev() {
		t.Fatalf("revisions %d and %d", a.Rev(), b.Rev())
	}
	for rev := int64(1); rev <= a.Rev(); rev++ {
		ha, err := a.HashKV(rev)
		if err != nil {
			t.Fatal(err)
		}
		hb, err := b.HashKV(rev)
		if err != nil {
			t.Fatal(err)
		}
		if ha != hb {
			t.Fatalf("HashKV(%d): %+v vs %+v", rev, ha, hb)
		}
	}
	c := a.Rev() - 50
	for _, s := range []*Store{a, b} {
		done, err := s.Compact(c)
		if err != nil {
			t.Fatal(err)
		}
		<-done
	}
	for rev := c; rev <= a.Rev(); rev++ {
		ha, err := a.HashKV(rev)
		if err != nil {
			t.Fatal(err)
		}
		hb, err := b.HashKV(rev)
		if err != nil {
			t.Fatal(err)
		}
		if ha != hb || ha.CompactRevision != c || ha.Revision != rev {
			t.Fatalf("after compaction at %d, HashKV(%d): %+v vs %+v", c, rev, ha, hb)
		}
	}
	if _, err := a.HashKV(c - 1); !errors.Is(err, ErrCompacted) {
		t.Fatalf("HashKV below the compaction: %v", err)
	}
	if _, err := a.HashKV(a.Rev() + 1); !errors.Is(err, ErrFutureRev) {
		t.Fatalf("HashKV of a future revision: %v", err)
	}

	// Same revisions, different data: different hashes.
	if _, err := a.Put(PutRequest{Key: []byte("x"), Value: []byte("one")}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(PutRequest{Key: []byte("x"), Value: []byte("two")}); err != nil {
		t.Fatal(err)
	}
	ha, hb := snapHash(t, a, 0), snapHash(t, b, 0)
	if ha.Revision != hb.Revision || ha.Hash == hb.Hash {
		t.Fatalf("different values, HashKV %+v vs %+v", ha, hb)
	}
	// And the previous revision still agrees.
	ha, hb = snapHash(t, a, a.Rev()-1), snapHash(t, b, b.Rev()-1)
	if ha != hb {
		t.Fatalf("HashKV before the divergence: %+v vs %+v", ha, hb)
	}
}

// TestHashKVIndependentOfCompactionProgress hashes a store while its compaction removes
// history in small steps: every hash equals the one taken right after Compact returned,
// the one after the removal finished, and the one of a twin whose compaction finished
// before it hashed. Hash (the physical one) does change.
func TestHashKVIndependentOfCompactionProgress(t *testing.T) {
	seed := snapSeed(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "s")
	s, err := Open(path, Options{CompactionBatchLimit: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	twin := mustOpen(t, filepath.Join(dir, "twin"))
	defer twin.Close()
	snapFill(t, s, rand.New(rand.NewPCG(seed, 1)), 500)
	snapFill(t, twin, rand.New(rand.NewPCG(seed, 1)), 500)
	physBefore, err := s.Hash()
	if err != nil {
		t.Fatal(err)
	}

	c := s.Rev() - 40
	done, err := s.Compact(c)
	if err != nil {
		t.Fatal(err)
	}
	h0, err := s.HashKV(0)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := s.HashKV(c)
	if err != nil {
		t.Fatal(err)
	}
	during := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			h, err := s.HashKV(0)
			if err != nil {
				t.Fatal(err)
			}
			if h != h0 {
				t.Fatalf("HashKV changed during the compaction's removal: %+v, first %+v", h, h0)
			}
			during++
		}
	}
	t.Logf("%d hashes while the removal ran", during)
	if h := snapHash(t, s, 0); h != h0 {
		t.Fatalf("HashKV after the removal %+v, right after Compact %+v", h, h0)
	}
	if h := snapHash(t, s, c); h != hc {
		t.Fatalf("HashKV(%d) after the removal %+v, right after Compact %+v", c, h, hc)
	}
	tdone, err := twin.Compact(c)
	if err != nil {
		t.Fatal(err)
	}
	<-tdone
	if h := snapHash(t, twin, 0); h != h0 {
		t.Fatalf("twin HashKV %+v, store %+v", h, h0)
	}
	if phys, err := s.Hash(); err != nil || phys == physBefore {
		t.Fatalf("physical Hash %x (%v) unchanged by the compaction: nothing was removed?", phys, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, path)
	if h := snapHash(t, s, 0); h != h0 {
		t.Fatalf("HashKV after reopen %+v, before %+v", h, h0)
	}
}
