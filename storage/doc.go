// Package storage is etcq's MVCC key-value store: etcd's data model (revisions, versions,
// leases on keys, history, compaction, transactions, watch) on one bbolt file.
//
// # Where it sits
//
// The node applies committed raft entries to a Store, one write session per entry, and
// serves reads and watches from it. storage knows nothing of raft or the network: it never
// imports raft, quic-go, or any etcq package but the standard library, bbolt and btree.
//
// # Model
//
// The store has one revision counter. Every modifying operation (a put, a delete that
// removes at least one key, a txn whose chosen branch writes) raises it by one; the changes
// inside one operation are told apart by a sub-revision. Every version of every key is kept
// until a compaction removes the versions no read at or after the compaction revision can
// see. Reads may name any revision between the compacted and the current one.
//
// # Concurrency
//
// A Store is safe for concurrent use. Writes happen in sessions (Write ... End) that hold
// the store's write lock, so one runs at a time; reads (Range, HashKV, watch catch-up) run
// concurrently with them and with each other, and see exactly the sessions that ended
// before they began. A WatchStream is safe for concurrent use; each has one goroutine.
//
// # Durability and format
//
// Writes are batched in memory and committed to bbolt every Options.BatchInterval or
// Options.BatchLimit writes, or on Commit; reads see them at once. The store is not the
// durable record of a write: the raft log is. What makes replay safe is the consistent
// index (Write.SetConsistentIndex), committed in the same bbolt transaction as the session
// it belongs to, so after a crash the store holds exactly the entries up to it.
//
// The file holds two buckets under a schema version: "kv" maps 17-byte revision keys
// (revision.go) to checksummed records (record.go), and "meta" holds the schema version,
// the consistent index and the compaction revisions. An in-memory index from key to
// revisions is rebuilt from the file at Open. Snapshot streams (snapshot.go) carry the
// whole file with a SHA-256 trailer. These formats are stable: a change bumps the schema
// or format version, and old data keeps decoding.
//
// # Errors
//
// Operations return the sentinels in errors.go, wrapped with detail: ErrCompacted,
// ErrFutureRev, ErrKeyNotFound, ErrValueProvided, ErrLeaseProvided, ErrDuplicateKey,
// ErrEmptyKey, ErrClosed, ErrCorrupt, ErrSnapshotHash, ErrSchema, ErrWatchNotFound,
// ErrWatchIDExists. A failed commit (a full disk) keeps its writes in memory and retries;
// Err reports it meanwhile.
package storage
