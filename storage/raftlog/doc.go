// Package raftlog persists a raft log: the hard state, the entries and the snapshots of
// one member. It is etcd's write-ahead log (go.etcd.io/etcd/server/v3/storage/wal) and
// snapshot files (go.etcd.io/etcd/server/v3/etcdserver/api/snap), v3.7.3, behind a small
// API; the raft types are go.etcd.io/raft/v3's.
//
// # Who calls it
//
// The node package. On start it calls Open, builds raft's MemoryStorage with
// State.MemoryStorage and restarts raft from it (a State with no entries, no snapshot and
// an empty hard state is a new member). In the raft loop, for each Ready:
// SaveSnapshot(rd.Snapshot) if there is one, then Save(rd.HardState, rd.Entries), before a
// follower sends rd.Messages (a leader may send first); after a snapshot (received, or
// taken locally and saved with SaveSnapshot), Release(its index) to free the disk. Close
// on shutdown.
//
// # Concurrency
//
// A Log is not safe for concurrent use: the raft goroutine owns it. Distinct Logs (in
// distinct directories) may be used from distinct goroutines, with one process-wide
// constraint: they must use the same Options.SegmentSize (see there; nothing else in the
// process may set wal.SegmentSizeBytes). Local snapshots taken elsewhere (the apply
// goroutine) are handed to the raft goroutine for SaveSnapshot and Release. A directory is
// locked by the Log that has it open (file locks on the WAL segments), also against
// other processes: a second Open fails with ErrLocked.
//
// # What is persisted, and when it is fsynced
//
//   - Save writes the entries, then the hard state, as WAL records, and fsyncs (fdatasync)
//     when raft.MustSync says so: there are entries, or the term or the vote changed. A
//     hard state whose only change is the commit index is written but not synced; raft
//     does not need it to be durable. When Save returns, everything it was asked to make
//     durable is.
//   - SaveSnapshot writes the snapshot file and fsyncs it and the snap directory, then
//     appends a snapshot record (index, term, ConfState) to the WAL and fsyncs. That order
//     makes a crash at any point safe: Open uses only snapshots that have both a readable
//     file and a WAL record, and only records at or below the last saved commit index.
//   - Release deletes files (and fsyncs the directories); it never rewrites data.
//   - Close flushes and fsyncs.
//
// Options.NoFsync turns all of that off, for tests and benchmarks.
//
// # On disk
//
//	dir/wal/%016x-%016x.wal    WAL segments: sequence number, index of the first entry.
//	                           Preallocated to Options.SegmentSize (64 MB); a new one is
//	                           cut when the current one is full. Each record is
//	                           length-prefixed, 8-byte aligned, protobuf, and carries a CRC
//	                           chained over all records before it.
//	dir/wal/0.tmp, 1.tmp       the next segment, being preallocated in the background.
//	dir/wal/*.wal.broken       a copy of a segment taken before Open cut a torn tail off.
//	dir/snap/%016x-%016x.snap  snapshot files: term, index. One raftpb.Snapshot each,
//	                           Data included, with a CRC.
//	dir/snap/*.snap.broken     a snapshot file that failed its CRC, renamed by Open.
//
// Release keeps Options.KeepSnapshots snapshot files (5) and the WAL segments from the
// one holding the oldest kept snapshot on; the .broken files are left for an operator.
//
// # Recovery
//
// Open picks the newest snapshot that has a WAL record and a readable file (an unreadable
// newer file is renamed *.broken and an older snapshot is used), then reads the WAL from
// that snapshot on; entries written again at a lower index (raft log truncation) replace
// the old ones. A torn last record, from a crash in the middle of a write, is detected by
// the wal (a short record, or zeroed sectors in a record that fails its CRC), cut off with
// wal.Repair, and the WAL read again; only fully written records come back, and they
// include everything a Save that returned made durable. Any other damage is ErrCorrupt
// and nothing is modified.
//
// # Errors
//
// Errors are wrapped; test them with errors.Is against ErrClosed, ErrFailed, ErrLocked,
// ErrCorrupt, ErrSegmentSize, ErrBadEntries, ErrBadSnapshot, ErrBadRelease. The
// underlying wal, snap or os error is wrapped too. After a failed write the Log returns
// ErrFailed for everything but Close: what reached the disk is unknown, and the member
// must restart from what Open finds.
package raftlog
