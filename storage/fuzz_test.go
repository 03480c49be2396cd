package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

// Fuzz targets for every decoder of bytes read from disk or from a snapshot stream. Run
// one with: go test -run='^$' -fuzz='^FuzzDecodeRecord$' -fuzztime=30s ./storage

// fuzzSeedRecords are records of every shape the store writes: puts with and without
// values and leases, tombstones (key and ModRevision only), and extreme field values.
func fuzzSeedRecords() []KeyValue {
	return []KeyValue{
		{Key: []byte("a"), CreateRevision: 2, ModRevision: 2, Version: 1, Value: []byte("1")},
		{Key: []byte("foo/bar"), CreateRevision: 7, ModRevision: 300, Version: 12, Value: bytes.Repeat([]byte("v"), 300), Lease: 0x1234},
		{Key: []byte("k"), ModRevision: 9}, // tombstone
		{Key: []byte{0}, CreateRevision: 1, ModRevision: 1, Version: 1},
		{Key: bytes.Repeat([]byte{0xff}, 200), CreateRevision: math.MaxInt64, ModRevision: math.MaxInt64, Version: math.MaxInt64, Lease: math.MinInt64, Value: []byte{0}},
		{Key: []byte("neg"), CreateRevision: -1, ModRevision: -64, Version: -65, Lease: -1},
	}
}

// FuzzDecodeRecord checks that decodeRecord never panics, fails only with ErrCorrupt, and
// that the encoding is canonical: whatever decodes re-encodes to the very same bytes.
// Each input is tried as is and sealed with a valid CRC-32C, so that the fuzzer reaches
// the field decoding behind the checksum.
func FuzzDecodeRecord(f *testing.F) {
	for _, kv := range fuzzSeedRecords() {
		rec := appendRecord(nil, &kv)
		f.Add(rec)
		f.Add(rec[:len(rec)-4]) // the body: sealed by the target
	}
	f.Add([]byte{})
	f.Add([]byte{recordFormat1})
	f.Add([]byte{2, 1, 'a', 4, 4, 2, 0, 1, 'x'})     // unknown format
	f.Add([]byte{recordFormat1, 1, 'a', 4, 4, 2, 0}) // missing value length
	f.Add([]byte{recordFormat1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02})
	f.Add([]byte{recordFormat1, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a'}) // huge key length
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzCheckRecord(t, data)
		sealed := binary.BigEndian.AppendUint32(bytes.Clone(data), crc32.Checksum(data, castagnoli))
		fuzzCheckRecord(t, sealed)
	})
}

func fuzzCheckRecord(t *testing.T, b []byte) {
	t.Helper()
	orig := bytes.Clone(b)
	var kv KeyValue
	err := decodeRecord(b, &kv, false)
	if !bytes.Equal(b, orig) {
		t.Fatalf("decodeRecord modified its input")
	}
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decodeRecord(%x): error %v is not ErrCorrupt", b, err)
		}
		return
	}
	if re := appendRecord(nil, &kv); !bytes.Equal(re, b) {
		t.Fatalf("record encoding is not canonical:\n input      %x\n decodes to %+v\n re-encodes %x", b, kv, re)
	}
	if cap(kv.Key) != len(kv.Key) || cap(kv.Value) != len(kv.Value) {
		t.Fatalf("aliased key/value slices are not capped: an append would overwrite the record")
	}
	if k, v := recordKeyValue(b, len(kv.Key), len(kv.Value)); !bytes.Equal(k, kv.Key) || !bytes.Equal(v, kv.Value) {
		t.Fatalf("recordKeyValue gives %q=%q, decodeRecord %q=%q", k, v, kv.Key, kv.Value)
	}
	var cp KeyValue
	if err := decodeRecord(b, &cp, true); err != nil {
		t.Fatalf("decode with copy failed: %v", err)
	}
	if !fuzzSameKV(&kv, &cp) {
		t.Fatalf("copying decode differs: %+v vs %+v", cp, kv)
	}
	if len(b) > 0 && len(cp.Key) > 0 {
		cp.Key[0] ^= 0xff // a copy must not alias the record
		if !bytes.Equal(b, orig) {
			t.Fatalf("decodeRecord with copyBytes returned a key aliasing the record")
		}
	}
}

func fuzzSameKV(a, b *KeyValue) bool {
	return bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value) && a.CreateRevision == b.CreateRevision &&
		a.ModRevision == b.ModRevision && a.Version == b.Version && a.Lease == b.Lease
}

// TestDecodeRecordDetectsCorruption flips every bit and cuts every prefix of encoded
// records: each must be reported as ErrCorrupt (CRC-32C detects every single-bit error).
func TestDecodeRecordDetectsCorruption(t *testing.T) {
	for _, want := range fuzzSeedRecords() {
		rec := appendRecord(nil, &want)
		var kv KeyValue
		if err := decodeRecord(rec, &kv, true); err != nil || !fuzzSameKV(&kv, &want) {
			t.Fatalf("intact record: %+v, %v; want %+v", kv, err, want)
		}
		for bit := range len(rec) * 8 {
			bad := bytes.Clone(rec)
			bad[bit/8] ^= 1 << (bit % 8)
			if err := decodeRecord(bad, &kv, false); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("record %q with bit %d flipped: err %v, want ErrCorrupt", want.Key, bit, err)
			}
		}
		for n := range len(rec) {
			if err := decodeRecord(rec[:n], &kv, false); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("record %q cut to %d of %d bytes: err %v, want ErrCorrupt", want.Key, n, len(rec), err)
			}
		}
		if err := decodeRecord(append(bytes.Clone(rec), 0), &kv, false); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("record %q with a trailing byte: err %v, want ErrCorrupt", want.Key, err)
		}
	}
}

// TestDecodeRecordRefusesNonMinimalVarint writes each varint field of a record with one
// redundant continuation byte (the same value in one byte more) and a valid CRC. The
// encoding is meant to be canonical, so decodeRecord must refuse these: otherwise two
// different byte strings hold the same record, and hashes over the raw bytes (Hash,
// HashKV) can differ between members that hold equal data.
func TestDecodeRecordRefusesNonMinimalVarint(t *testing.T) {
	kv := KeyValue{Key: []byte("a"), CreateRevision: 2, ModRevision: 3, Version: 1, Lease: 0, Value: []byte("x")}
	fields := []string{"key length", "create revision", "mod revision", "version", "lease", "value length"}
	for pad, field := range fields {
		body := []byte{recordFormat1}
		for f, v := range []uint64{
			uint64(len(kv.Key)), zigzag(kv.CreateRevision), zigzag(kv.ModRevision), zigzag(kv.Version), zigzag(kv.Lease), uint64(len(kv.Value)),
		} {
			body = binary.AppendUvarint(body, v)
			if f == pad {
				body[len(body)-1] |= 0x80
				body = append(body, 0x00)
			}
			switch f {
			case 0:
				body = append(body, kv.Key...)
			case 5:
				body = append(body, kv.Value...)
			}
		}
		rec := binary.BigEndian.AppendUint32(body, crc32.Checksum(body, castagnoli))
		var got KeyValue
		err := decodeRecord(rec, &got, false)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s in two bytes: decodeRecord(%x) = %+v, %v; it re-encodes to %x, so the encoding is not canonical",
				field, rec, got, err, appendRecord(nil, &got))
		}
	}
}

func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

// FuzzParseRevKey checks parseRevKey on arbitrary bytes: it fails with ErrCorrupt or gives
// a revision whose key re-encodes to the input, and which sorts where scans seek for it.
func FuzzParseRevKey(f *testing.F) {
	f.Add(appendRevKey(nil, Revision{Main: 2}, false))
	f.Add(appendRevKey(nil, Revision{Main: 1 << 40, Sub: 3}, true))
	f.Add(appendRevKey(nil, Revision{Main: math.MaxInt64, Sub: math.MaxInt64}, true))
	f.Add(revKeyPrefix(5))
	f.Add(append(appendRevKey(nil, Revision{Main: 5}, false), 0))
	f.Add(append(revKeyPrefix(5), 2))                      // unknown kind
	f.Add(append(bytes.Repeat([]byte{0xff}, 16), kindPut)) // negative main and sub
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		rev, tomb, err := parseRevKey(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("parseRevKey(%x): error %v is not ErrCorrupt", b, err)
			}
			return
		}
		if rev.Main < 0 || rev.Sub < 0 {
			t.Fatalf("parseRevKey(%x) = negative revision %v", b, rev)
		}
		if re := appendRevKey(nil, rev, tomb); !bytes.Equal(re, b) {
			t.Fatalf("parseRevKey(%x) = %v tomb=%v, which encodes to %x", b, rev, tomb, re)
		}
		if bytes.Compare(revKeyPrefix(rev.Main), b) > 0 {
			t.Fatalf("key %x sorts before the seek prefix of its main revision", b)
		}
		if rev.Main < math.MaxInt64 && bytes.Compare(b, revKeyPrefix(rev.Main+1)) >= 0 {
			t.Fatalf("key %x does not sort before the seek prefix of the next main revision", b)
		}
	})
}

// FuzzRevKeyOrder checks the revision key encoding from the other side: valid revisions
// round-trip, negative ones are refused, and byte order is history order (a put before a
// tombstone of the same revision, which never happens but must still be well ordered).
func FuzzRevKeyOrder(f *testing.F) {
	f.Add(int64(2), int64(0), false, int64(2), int64(1), false)
	f.Add(int64(255), int64(0), true, int64(256), int64(0), false)
	f.Add(int64(7), int64(3), false, int64(7), int64(3), true)
	f.Add(int64(-1), int64(0), false, int64(1), int64(-5), true)
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64), true, int64(0), int64(0), false)
	f.Fuzz(func(t *testing.T, m1, s1 int64, t1 bool, m2, s2 int64, t2 bool) {
		r1, r2 := Revision{Main: m1, Sub: s1}, Revision{Main: m2, Sub: s2}
		k1, k2 := appendRevKey(nil, r1, t1), appendRevKey(nil, r2, t2)
		for _, c := range []struct {
			r    Revision
			tomb bool
			k    []byte
		}{{r1, t1, k1}, {r2, t2, k2}} {
			got, tomb, err := parseRevKey(c.k)
			if c.r.Main < 0 || c.r.Sub < 0 {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("key of negative revision %v parsed: %v, %v", c.r, got, err)
				}
				continue
			}
			if err != nil || got != c.r || tomb != c.tomb {
				t.Fatalf("round trip of %v tomb=%v: %v tomb=%v err=%v", c.r, c.tomb, got, tomb, err)
			}
		}
		if m1 < 0 || s1 < 0 || m2 < 0 || s2 < 0 {
			return
		}
		want := 0
		switch {
		case r1.Less(r2):
			want = -1
		case r2.Less(r1):
			want = 1
		case t1 != t2 && !t1:
			want = -1
		case t1 != t2:
			want = 1
		}
		if got := bytes.Compare(k1, k2); got != want {
			t.Fatalf("keys of %v/%v and %v/%v compare %d, want %d", r1, t1, r2, t2, got, want)
		}
	})
}

// FuzzDecodeIndexTerm checks the meta value decoders (consistent index, and the u64 of the
// schema and compaction revisions): nil means zero, exact widths round-trip, anything else
// is ErrCorrupt.
func FuzzDecodeIndexTerm(f *testing.F) {
	f.Add([]byte(nil))
	f.Add([]byte{})
	f.Add(encodeIndexTerm(7, 3))
	f.Add(encodeIndexTerm(math.MaxUint64, 0))
	f.Add(u64(42))
	f.Add(u64(math.MaxUint64))
	f.Add(make([]byte, 15))
	f.Add(make([]byte, 17))
	f.Fuzz(func(t *testing.T, b []byte) {
		index, term, err := decodeIndexTerm(b)
		switch {
		case b == nil:
			if err != nil || index != 0 || term != 0 {
				t.Fatalf("decodeIndexTerm(nil) = %d, %d, %v; want 0, 0, nil", index, term, err)
			}
		case len(b) == 16:
			if err != nil || !bytes.Equal(encodeIndexTerm(index, term), b) {
				t.Fatalf("decodeIndexTerm(%x) = %d, %d, %v: no round trip", b, index, term, err)
			}
		default:
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeIndexTerm(%d bytes) = %d, %d, %v; want ErrCorrupt", len(b), index, term, err)
			}
		}
		v, err := decodeU64(b)
		switch {
		case b == nil:
			if err != nil || v != 0 {
				t.Fatalf("decodeU64(nil) = %d, %v; want 0, nil", v, err)
			}
		case len(b) == 8:
			if err != nil || !bytes.Equal(u64(v), b) {
				t.Fatalf("decodeU64(%x) = %d, %v: no round trip", b, v, err)
			}
		default:
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeU64(%d bytes) = %d, %v; want ErrCorrupt", len(b), v, err)
			}
		}
	})
}

// fuzzSnapshotSeeds returns a real snapshot stream of a small store, and damaged copies.
func fuzzSnapshotSeeds(f *testing.F) (stream []byte, seeds [][]byte) {
	f.Helper()
	s, err := Open(filepath.Join(f.TempDir(), "db"), Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	for i := range 20 {
		if _, err := s.Put(PutRequest{Key: []byte{'k', byte('a' + i%7)}, Value: bytes.Repeat([]byte{byte(i)}, i)}); err != nil {
			f.Fatal(err)
		}
	}
	if _, err := s.DeleteRange(DeleteRangeRequest{Key: []byte("kb")}); err != nil {
		f.Fatal(err)
	}
	stream = snapStream(f, s)
	seeds = append(seeds, stream, stream[:snapHeaderLen], stream[:len(stream)/2], stream[:len(stream)-1])
	for _, pos := range []int{0, 9, 15, snapHeaderLen, snapHeaderLen + 4096 + 20, len(stream) / 2, len(stream) - 1} {
		bad := bytes.Clone(stream)
		bad[pos] ^= 0x10
		seeds = append(seeds, bad)
	}
	return stream, seeds
}

// FuzzReadSnapshot checks ReadSnapshot on arbitrary streams: it never panics, fails only
// with ErrCorrupt or ErrSnapshotHash, and succeeds only when the stream is well framed and
// its SHA-256 trailer matches; then it has copied exactly the image. The result must not
// depend on how the reader splits the stream.
func FuzzReadSnapshot(f *testing.F) {
	_, seeds := fuzzSnapshotSeeds(f)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add([]byte{})
	huge := append(snapMagic[:], 0xff, 0, 0, 0, 0, 0, 0, 0) // announces far more than 1 TiB
	f.Add(huge)
	f.Add(snapMakeStream([]byte("not a database, but hashed right")))
	f.Fuzz(func(t *testing.T, data []byte) {
		var dst bytes.Buffer
		n, err := ReadSnapshot(bytes.NewReader(data), &dst)
		var dst2 bytes.Buffer
		n2, err2 := ReadSnapshot(iotest.DataErrReader(iotest.HalfReader(bytes.NewReader(data))), &dst2)
		if (err == nil) != (err2 == nil) || n != n2 || !bytes.Equal(dst.Bytes(), dst2.Bytes()) {
			t.Fatalf("reader splitting changes the result: (%d, %v) vs (%d, %v)", n, err, n2, err2)
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrSnapshotHash) {
				t.Fatalf("error %v is neither ErrCorrupt nor ErrSnapshotHash", err)
			}
			if n != int64(dst.Len()) {
				t.Fatalf("reported %d bytes, wrote %d", n, dst.Len())
			}
			return
		}
		if len(data) < snapHeaderLen+sha256.Size || !bytes.Equal(data[:8], snapMagic[:]) {
			t.Fatalf("accepted a stream of %d bytes without the frame", len(data))
		}
		size := binary.BigEndian.Uint64(data[8:16])
		if size > uint64(len(data)-snapHeaderLen-sha256.Size) {
			t.Fatalf("accepted a stream shorter than its announced image of %d bytes", size)
		}
		end := snapHeaderLen + int(size)
		sum := sha256.Sum256(data[:end])
		if !bytes.Equal(sum[:], data[end:end+sha256.Size]) {
			t.Fatalf("accepted a stream whose SHA-256 trailer does not match")
		}
		if n != int64(size) || !bytes.Equal(dst.Bytes(), data[snapHeaderLen:end]) {
			t.Fatalf("returned %d bytes / copied %d, want the %d image bytes", n, dst.Len(), size)
		}
	})
}

// FuzzRestoreFile feeds RestoreFile streams that pass the hash check but carry arbitrary
// images (a real one, damaged copies, garbage). It must never panic; on error nothing may
// be left in the directory (neither the target nor a temporary file); on success the target
// holds exactly the image and nothing else was left behind.
func FuzzRestoreFile(f *testing.F) {
	stream, _ := fuzzSnapshotSeeds(f)
	img := snapImage(stream)
	// Truncated images are left to the fuzzer: TestRestoreFileRefusesGarbageImage has them.
	f.Add(img)
	for _, pos := range []int{16, 4096 + 16, 2*4096 + 40, 3*4096 + 40, len(img) - 100} {
		bad := bytes.Clone(img)
		bad[pos] ^= 0x5a
		f.Add(bad)
	}
	f.Add([]byte{})
	f.Add(make([]byte, 4*4096))
	f.Add(snapForeignImage(f, "nobuckets"))
	f.Add(snapForeignImage(f, "schema2"))
	f.Fuzz(func(t *testing.T, image []byte) {
		dir := t.TempDir()
		target := filepath.Join(dir, "db")
		fault, err := snapGuard(func() error { return RestoreFile(bytes.NewReader(snapMakeStream(image)), target) })
		if fault != nil {
			t.Fatalf("RestoreFile of a %d-byte image crashed: %v (a panic, or a memory fault that kills the process without the test's SetPanicOnFault)", len(image), fault)
		}
		ents, rerr := os.ReadDir(dir)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if err != nil {
			if len(ents) != 0 {
				t.Fatalf("RestoreFile failed (%v) but left %s behind", err, ents[0].Name())
			}
			return
		}
		if len(ents) != 1 || ents[0].Name() != "db" {
			t.Fatalf("RestoreFile succeeded, directory holds %v", ents)
		}
		got, err := os.ReadFile(target)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, image) {
			t.Fatalf("restored file of %d bytes differs from the %d-byte image", len(got), len(image))
		}
	})
}
