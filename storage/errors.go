package storage

import "errors"

// Sentinel errors. Callers match them with errors.Is; the node maps them to wire codes.
var (
	// ErrCompacted: the requested revision is older than the compacted revision.
	ErrCompacted = errors.New("storage: required revision has been compacted")
	// ErrFutureRev: the requested revision is newer than the current revision.
	ErrFutureRev = errors.New("storage: required revision is a future revision")
	// ErrKeyNotFound: a put with ignore_value or ignore_lease names a key that does not exist.
	ErrKeyNotFound = errors.New("storage: key not found")
	// ErrValueProvided: ignore_value was set together with a value.
	ErrValueProvided = errors.New("storage: value is provided")
	// ErrLeaseProvided: ignore_lease was set together with a lease.
	ErrLeaseProvided = errors.New("storage: lease is provided")
	// ErrLeaseNotFound: a put names a lease that does not exist (Options.LeaseExists).
	ErrLeaseNotFound = errors.New("storage: lease not found")
	// ErrDuplicateKey: a txn branch puts the same key twice, or puts a key it also deletes.
	ErrDuplicateKey = errors.New("storage: duplicate key given in txn request")
	// ErrEmptyKey: a key is required.
	ErrEmptyKey = errors.New("storage: key is not provided")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("storage: store is closed")
	// ErrCorrupt: bytes read from disk or from a snapshot stream do not decode.
	ErrCorrupt = errors.New("storage: corrupt data")
	// ErrSnapshotHash: a snapshot stream's integrity hash does not match its contents.
	ErrSnapshotHash = errors.New("storage: snapshot integrity hash mismatch")
	// ErrSchema: the database was written by an unknown (newer) schema version.
	ErrSchema = errors.New("storage: unsupported schema version")
	// ErrWatchNotFound: a watch ID does not name a watcher of the stream.
	ErrWatchNotFound = errors.New("storage: watcher not found")
	// ErrWatchIDExists: a caller-chosen watch ID is already in use on the stream.
	ErrWatchIDExists = errors.New("storage: watch ID already exists")
)
