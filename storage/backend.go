package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket names. Every bucket lives under one schema version (metaSchema in the meta bucket);
// a database written by a newer schema is refused at open.
var (
	bucketKV   = []byte("kv")   // revision key -> record (see record.go and revision.go)
	bucketMeta = []byte("meta") // metaXxx keys -> fixed-width big-endian integers
	bucketAux  = []byte("aux")  // the node's replicated metadata (members, ...): opaque values
)

const schemaVersion = 1

var (
	metaSchema           = []byte("schema")            // u64
	metaConsistentIndex  = []byte("consistent_index")  // u64 index | u64 term
	metaCompactScheduled = []byte("compact_scheduled") // u64 main revision
	metaCompactFinished  = []byte("compact_finished")  // u64 main revision
)

// kvFillPercent packs the append-only revision keys tightly (etcd's setting); it halves the
// file for sequential keys compared with bbolt's default of 0.5.
const kvFillPercent = 0.9

// backend owns the bbolt file and the batch of writes not yet committed to it.
//
// Writes (puts of revision records, deletes of compacted ones, meta updates) go into the
// pending batch; commit swaps it out and writes it in one bbolt transaction. Readers see
// pending writes through a view that pairs a bbolt read transaction with the batches that
// were not committed when the transaction began. Revision records are written once and
// never changed, and every record in a batch has a higher revision than every committed
// one, so a view is consistent without copying anything.
type backend struct {
	db *bolt.DB

	// commitMu serializes commits.
	commitMu sync.Mutex

	// mu guards the two fields below and the moment a view begins.
	mu sync.RWMutex
	// pending receives new writes; its puts are in revision order.
	pending *batch
	// committing is the batch being written by commit, or nil. Readers keep seeing it
	// until the bbolt transaction holding it has committed.
	committing *batch
}

// batch is a set of writes committed together.
type batch struct {
	puts    []kvPair // revision order; append-only until swapped out
	deletes [][]byte // revision keys removed by compaction
	meta    map[string][]byte
	aux     map[string][]byte // nil value: delete
}

type kvPair struct{ key, val []byte }

func newBatch() *batch { return &batch{meta: make(map[string][]byte), aux: make(map[string][]byte)} }

func (b *batch) empty() bool {
	return len(b.puts) == 0 && len(b.deletes) == 0 && len(b.meta) == 0 && len(b.aux) == 0
}

func (b *batch) size() int { return len(b.puts) + len(b.deletes) }

// backendOptions are the bbolt settings of DESIGN.md §4.
type backendOptions struct {
	InitialMmapSize int
	Timeout         time.Duration
}

func openBackend(path string, o backendOptions) (*backend, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         o.Timeout,
		NoFreelistSync:  true,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: o.InitialMmapSize,
		MmapFlags:       syscall.MAP_POPULATE,
	})
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketKV); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketAux); err != nil {
			return err
		}
		if v := meta.Get(metaSchema); v != nil {
			if len(v) != 8 {
				return fmt.Errorf("%w: schema value of %d bytes", ErrCorrupt, len(v))
			}
			if got := binary.BigEndian.Uint64(v); got != schemaVersion {
				return fmt.Errorf("%w: database schema %d, this build knows %d", ErrSchema, got, schemaVersion)
			}
			return nil
		}
		return meta.Put(metaSchema, u64(schemaVersion))
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("storage: prepare %s: %w", path, err)
	}
	return &backend{db: db, pending: newBatch()}, nil
}

// put adds a revision record to the pending batch. key and val are retained.
func (be *backend) put(key, val []byte) {
	be.mu.Lock()
	be.pending.puts = append(be.pending.puts, kvPair{key, val})
	be.mu.Unlock()
}

// deleteKeys schedules the removal of revision keys (compaction).
func (be *backend) deleteKeys(keys [][]byte) {
	be.mu.Lock()
	be.pending.deletes = append(be.pending.deletes, keys...)
	be.mu.Unlock()
}

// setMeta schedules a meta bucket write.
func (be *backend) setMeta(key, val []byte) {
	be.mu.Lock()
	be.pending.meta[string(key)] = val
	be.mu.Unlock()
}

// pendingSize returns the number of writes waiting for a commit.
func (be *backend) pendingSize() int {
	be.mu.RLock()
	defer be.mu.RUnlock()
	return be.pending.size()
}

// swap detaches the pending batch for commit. The caller must hold the store's write
// lock, so that a batch never ends in the middle of a write session, and commitMu.
func (be *backend) swap() *batch {
	be.mu.Lock()
	defer be.mu.Unlock()
	if be.pending.empty() {
		return nil
	}
	b := be.pending
	be.committing = b
	be.pending = newBatch()
	return b
}

// write commits a swapped batch to bbolt (fsync). On failure the batch goes back in front
// of the pending one, so nothing is lost and the next commit retries it. The caller holds
// commitMu.
func (be *backend) write(b *batch) error {
	err := be.db.Update(func(tx *bolt.Tx) error {
		kv := tx.Bucket(bucketKV)
		kv.FillPercent = kvFillPercent
		for _, p := range b.puts {
			if err := kv.Put(p.key, p.val); err != nil {
				return err
			}
		}
		for _, k := range b.deletes {
			if err := kv.Delete(k); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		for k, v := range b.meta {
			if err := meta.Put([]byte(k), v); err != nil {
				return err
			}
		}
		aux := tx.Bucket(bucketAux)
		for k, v := range b.aux {
			var err error
			if v == nil {
				err = aux.Delete([]byte(k))
			} else {
				err = aux.Put([]byte(k), v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	be.mu.Lock()
	defer be.mu.Unlock()
	be.committing = nil
	if err != nil {
		merged := &batch{
			puts:    append(b.puts[:len(b.puts):len(b.puts)], be.pending.puts...),
			deletes: append(b.deletes[:len(b.deletes):len(b.deletes)], be.pending.deletes...),
			meta:    b.meta,
		}
		for k, v := range be.pending.meta {
			merged.meta[k] = v
		}
		merged.aux = b.aux
		for k, v := range be.pending.aux {
			merged.aux[k] = v
		}
		be.pending = merged
		return fmt.Errorf("storage: commit batch: %w", err)
	}
	return nil
}

// view is a consistent read snapshot: a bbolt read transaction plus the batches that were
// not yet committed when it began. It is not safe for concurrent use; Close it promptly
// (an open read transaction delays bbolt's remapping when the file grows).
type view struct {
	tx   *bolt.Tx
	kv   *bolt.Bucket
	bufs [2][]kvPair // committing, pending: both in revision order, committing first
}

// view begins a read snapshot.
func (be *backend) view() (*view, error) {
	be.mu.RLock()
	tx, err := be.db.Begin(false)
	if err != nil {
		be.mu.RUnlock()
		return nil, fmt.Errorf("storage: begin read: %w", err)
	}
	v := &view{tx: tx, kv: tx.Bucket(bucketKV)}
	if be.committing != nil {
		v.bufs[0] = be.committing.puts
	}
	v.bufs[1] = be.pending.puts
	be.mu.RUnlock()
	return v, nil
}

func (v *view) Close() { _ = v.tx.Rollback() }

// get returns the record stored under a revision key, or nil. The bytes are valid until
// the view is closed.
func (v *view) get(key []byte) []byte {
	for i := len(v.bufs) - 1; i >= 0; i-- {
		buf := v.bufs[i]
		j := sort.Search(len(buf), func(j int) bool { return bytes.Compare(buf[j].key, key) >= 0 })
		if j < len(buf) && bytes.Equal(buf[j].key, key) {
			return buf[j].val
		}
	}
	return v.kv.Get(key)
}

// firstBuffered returns the smallest buffered revision key, or nil.
func (v *view) firstBuffered() []byte {
	for _, buf := range v.bufs {
		if len(buf) > 0 {
			return buf[0].key
		}
	}
	return nil
}

// scan calls fn for every record whose revision key is in [from, to) (to nil: no upper
// bound), in revision order, until fn returns false.
func (v *view) scan(from, to []byte, fn func(k, val []byte) bool) {
	// The committed part ends where the buffers begin: a buffered batch may also be
	// committed already (a commit in flight), and must not be seen twice.
	limit := to
	if fb := v.firstBuffered(); fb != nil && (limit == nil || bytes.Compare(fb, limit) < 0) {
		limit = fb
	}
	c := v.kv.Cursor()
	for k, val := c.Seek(from); k != nil && (limit == nil || bytes.Compare(k, limit) < 0); k, val = c.Next() {
		if !fn(k, val) {
			return
		}
	}
	for _, buf := range v.bufs {
		j := sort.Search(len(buf), func(j int) bool { return bytes.Compare(buf[j].key, from) >= 0 })
		for ; j < len(buf); j++ {
			if to != nil && bytes.Compare(buf[j].key, to) >= 0 {
				return
			}
			if !fn(buf[j].key, buf[j].val) {
				return
			}
		}
	}
}

// setAux schedules an aux bucket write (nil val: delete).
func (be *backend) setAux(key string, val []byte) {
	be.mu.Lock()
	be.pending.aux[key] = val
	be.mu.Unlock()
}

// readAux returns the committed aux bucket.
func (be *backend) readAux() (map[string][]byte, error) {
	out := make(map[string][]byte)
	err := be.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAux)
		if b == nil {
			return nil // an image from before the bucket existed: empty
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = append([]byte(nil), v...)
			return nil
		})
	})
	return out, err
}

// readMeta reads the committed meta bucket.
func (be *backend) readMeta(key []byte) ([]byte, error) {
	var out []byte
	err := be.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(key); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}

// sizes returns the file size and the bytes in use (file size minus free pages).
func (be *backend) sizes() (size, inUse int64) {
	_ = be.db.View(func(tx *bolt.Tx) error {
		size = tx.Size()
		st := be.db.Stats()
		inUse = size - int64(st.FreePageN+st.PendingPageN)*int64(be.db.Info().PageSize)
		return nil
	})
	return size, inUse
}

func (be *backend) close() error {
	if err := be.db.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("storage: close: %w", err)
	}
	return nil
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v) }

// decodeU64 decodes a fixed-width meta integer; missing (nil) decodes as 0.
func decodeU64(b []byte) (uint64, error) {
	if b == nil {
		return 0, nil
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: integer of %d bytes", ErrCorrupt, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// encodeIndexTerm and decodeIndexTerm code the consistent index value.
func encodeIndexTerm(index, term uint64) []byte {
	b := make([]byte, 0, 16)
	b = binary.BigEndian.AppendUint64(b, index)
	return binary.BigEndian.AppendUint64(b, term)
}

func decodeIndexTerm(b []byte) (index, term uint64, err error) {
	if b == nil {
		return 0, 0, nil
	}
	if len(b) != 16 {
		return 0, 0, fmt.Errorf("%w: consistent index of %d bytes", ErrCorrupt, len(b))
	}
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]), nil
}
