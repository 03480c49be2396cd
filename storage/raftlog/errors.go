package raftlog

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// Errors returned by this package, always wrapped: test with errors.Is. The error from
// etcd's wal or snap package, when there is one, is wrapped as well.
var (
	// ErrClosed: the Log was closed.
	ErrClosed = errors.New("raftlog: log is closed")

	// ErrFailed: an earlier write or fsync failed, so what is on disk is unknown; every
	// later call but Close returns it. Close the Log and Open it again (in practice the node
	// stops: a member that cannot persist must not keep voting).
	ErrFailed = errors.New("raftlog: an earlier write failed")

	// ErrLocked: another Log, in this process or another one, has the directory open.
	ErrLocked = errors.New("raftlog: log directory is in use")

	// ErrCorrupt: the log on disk cannot be read back: a CRC mismatch that is not a torn
	// tail, a missing or out-of-sequence WAL segment, a gap in the entries, an undecodable
	// record, a torn tail that Repair could not fix, or snapshot files without a WAL.
	// Nothing is modified; an operator has to look (or the member is replaced).
	ErrCorrupt = errors.New("raftlog: log is corrupt")

	// ErrSegmentSize: Options.SegmentSize differs from the segment size of another Log
	// open in this process (etcd's wal keeps the size in a process-wide variable).
	ErrSegmentSize = errors.New("raftlog: conflicting WAL segment size")

	// ErrBadEntries: Save got entries that cannot be the log's: not contiguous, starting
	// at or below the last snapshot (or at 0), or after the last index + 1.
	ErrBadEntries = errors.New("raftlog: entries are not contiguous with the log")

	// ErrBadSnapshot: SaveSnapshot got a nil or empty snapshot, one without a ConfState, or
	// one not newer than the last snapshot saved.
	ErrBadSnapshot = errors.New("raftlog: invalid snapshot")

	// ErrBadRelease: Release was asked to release past the newest saved snapshot.
	ErrBadRelease = errors.New("raftlog: release index is past the newest snapshot")
)

// isIOError reports whether err comes from the operating system (a failed open, read,
// rename...), as opposed to the wal or snap package judging the content of the files.
func isIOError(err error) bool {
	var pe *fs.PathError
	var le *os.LinkError
	var errno syscall.Errno
	return errors.As(err, &pe) || errors.As(err, &le) || errors.As(err, &errno)
}
