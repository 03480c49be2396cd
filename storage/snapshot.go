package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Snapshot stream format (a raft snapshot's payload, and a backup file):
//
//	8 bytes   magic "ETCQSNP1"
//	8 bytes   big-endian length N of the database image
//	N bytes   the bbolt database image (a consistent copy of the whole file)
//	32 bytes  SHA-256 of everything before it
//
// The image carries the consistent index, so a member restoring it knows which raft entries
// it covers.
var snapMagic = [8]byte{'E', 'T', 'C', 'Q', 'S', 'N', 'P', '1'}

const snapHeaderLen = 16

// Snapshot is a consistent point-in-time image of the store. It holds a bbolt read
// transaction: stream it, then Close it promptly.
type Snapshot struct {
	tx *bolt.Tx
	// ConsistentIndex is the raft position the image covers.
	ConsistentIndex ConsistentIndex
	// Revision and CompactRevision are the store's at the moment of the image.
	Revision, CompactRevision int64
}

// Snapshot commits what is pending and captures the store between write sessions.
func (s *Store) Snapshot() (*Snapshot, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	s.swapMu.RLock()
	defer s.swapMu.RUnlock()
	s.be.commitMu.Lock()
	defer s.be.commitMu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if b := s.be.swap(); b != nil {
		if err := s.be.write(b); err != nil {
			s.commitErr.Store(&err)
			return nil, err
		}
	}
	tx, err := s.be.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("storage: snapshot: %w", err)
	}
	return &Snapshot{
		tx:              tx,
		ConsistentIndex: s.ConsistentIndex(),
		Revision:        s.rev.Load(),
		CompactRevision: s.compactRev.Load(),
	}, nil
}

// Size returns the length of the stream WriteTo writes.
func (sn *Snapshot) Size() int64 { return snapHeaderLen + sn.tx.Size() + sha256.Size }

// WriteTo writes the snapshot stream to w.
func (sn *Snapshot) WriteTo(w io.Writer) (int64, error) {
	h := sha256.New()
	mw := io.MultiWriter(w, h)
	var hdr [snapHeaderLen]byte
	copy(hdr[:8], snapMagic[:])
	binary.BigEndian.PutUint64(hdr[8:], uint64(sn.tx.Size()))
	n, err := mw.Write(hdr[:])
	total := int64(n)
	if err != nil {
		return total, fmt.Errorf("storage: write snapshot: %w", err)
	}
	m, err := sn.tx.WriteTo(mw)
	total += m
	if err != nil {
		return total, fmt.Errorf("storage: write snapshot: %w", err)
	}
	n, err = w.Write(h.Sum(nil))
	total += int64(n)
	if err != nil {
		return total, fmt.Errorf("storage: write snapshot: %w", err)
	}
	return total, nil
}

// Close releases the snapshot's read transaction.
func (sn *Snapshot) Close() error { return sn.tx.Rollback() }

// maxSnapshotImage bounds the image length a stream may announce (1 TiB): a corrupt header
// must not send a reader into an endless copy.
const maxSnapshotImage = 1 << 40

// ReadSnapshot reads a snapshot stream from r, copies the database image to dst, and
// verifies the stream's integrity hash. It returns the image length. dst has received
// unverified bytes when an error is returned: write to a temporary file and discard it on
// error.
func ReadSnapshot(r io.Reader, dst io.Writer) (int64, error) {
	h := sha256.New()
	var hdr [snapHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, fmt.Errorf("%w: snapshot header: %w", ErrCorrupt, err)
	}
	if !bytes.Equal(hdr[:8], snapMagic[:]) {
		return 0, fmt.Errorf("%w: not a snapshot stream (magic %q)", ErrCorrupt, hdr[:8])
	}
	size := binary.BigEndian.Uint64(hdr[8:])
	if size > maxSnapshotImage {
		return 0, fmt.Errorf("%w: snapshot image of %d bytes", ErrCorrupt, size)
	}
	h.Write(hdr[:])
	n, err := io.CopyN(io.MultiWriter(dst, h), r, int64(size))
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return n, fmt.Errorf("%w: snapshot image truncated at %d of %d bytes: %w", ErrCorrupt, n, size, err)
	}
	return n, checkTrailer(r, h)
}

func checkTrailer(r io.Reader, h hash.Hash) error {
	var sum [sha256.Size]byte
	if _, err := io.ReadFull(r, sum[:]); err != nil {
		return fmt.Errorf("%w: snapshot hash: %w", ErrCorrupt, err)
	}
	if !bytes.Equal(sum[:], h.Sum(nil)) {
		return ErrSnapshotHash
	}
	return nil
}

// RestoreFile writes the database image of a snapshot stream to a new file at path, after
// verifying the stream's hash and every record of the image (checkImage). An existing file
// at path is refused. Nothing is left at path on error.
func RestoreFile(r io.Reader, path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("storage: restore: %s already exists", path)
	}
	tmp, err := writeImage(r, filepath.Dir(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	// A link, unlike a rename, fails if path appeared meanwhile.
	if err := os.Link(tmp, path); err != nil {
		return fmt.Errorf("storage: restore: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// writeImage verifies a snapshot stream into a temporary file in dir, fsyncs it and checks
// the image (checkImage). It returns the file's path.
func writeImage(r io.Reader, dir string) (string, error) {
	f, err := os.CreateTemp(dir, ".restore-*.db")
	if err != nil {
		return "", fmt.Errorf("storage: restore: %w", err)
	}
	tmp := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(tmp)
		return "", fmt.Errorf("storage: restore: %w", err)
	}
	if _, err := ReadSnapshot(r, f); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := checkImage(tmp); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("storage: restore: %w", err)
	}
	return tmp, nil
}

// checkImage verifies a database image before it replaces anything: its page structure
// is sound (checkPages, before bbolt reads a page of it), the schema is known, and every
// record and meta value decodes, so Open cannot fail on it later. A damaged image must
// never take the process down; as a second line, the decode runs with memory faults
// turned into panics and panics turned into ErrCorrupt.
func checkImage(path string) (err error) {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err == nil {
		err = checkPages(f, fi.Size())
	}
	f.Close()
	if err != nil {
		return err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("%w: image does not open: %w", ErrCorrupt, err)
	}
	defer db.Close()
	tx, err := db.Begin(false)
	if err != nil {
		return fmt.Errorf("%w: image: %w", ErrCorrupt, err)
	}
	defer tx.Rollback()
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: image is damaged: %v", ErrCorrupt, r)
		}
	}()
	return checkContents(tx)
}

// checkContents decodes everything load would: the schema, the meta values, every record.
func checkContents(tx *bolt.Tx) error {
	meta, kv := tx.Bucket(bucketMeta), tx.Bucket(bucketKV)
	if meta == nil || kv == nil {
		return fmt.Errorf("%w: image lacks the store's buckets", ErrCorrupt)
	}
	v, err := decodeU64(meta.Get(metaSchema))
	if err != nil {
		return err
	}
	if v != schemaVersion {
		return fmt.Errorf("%w: image schema %d", ErrSchema, v)
	}
	if _, _, err := decodeIndexTerm(meta.Get(metaConsistentIndex)); err != nil {
		return err
	}
	for _, k := range [][]byte{metaCompactScheduled, metaCompactFinished} {
		if _, err := decodeU64(meta.Get(k)); err != nil {
			return err
		}
	}
	var rec KeyValue
	return kv.ForEach(func(k, val []byte) error {
		if _, _, err := parseRevKey(k); err != nil {
			return err
		}
		return decodeRecord(val, &rec, false)
	})
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
