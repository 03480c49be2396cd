// Package node is one member of an etcq cluster: a raft node (go.etcd.io/raft/v3) with its
// log (storage/raftlog) and its MVCC store (storage), proposal batching, the apply loop,
// linearizable reads, raft snapshots, and membership.
//
// # Where it sits
//
// cmd/etcq builds a Member from flags; the client service (and, in tests, node/nodetest
// and e2e) calls its methods. It reaches peers only through the PeerTransport it is given
// (quicpeer over QUIC, nodetest over a fake network), and peers reach it through Handler.
// Only cmd/, node/nodetest and e2e import node.
//
// # Paths
//
//   - Write: Put/DeleteRange/Txn/Compact register a waiter and queue the request; the
//     proposer packs the queued requests into one raft entry; the raft goroutine persists
//     and replicates it; once committed, the apply goroutine applies the entry's requests
//     to the store in one write session that also records the entry's index (the
//     consistent index), then answers each waiter.
//   - Linearizable read: readers that arrive together share one ReadIndex; when this
//     member has applied up to the index the leader named, they read the local store.
//     A member that cannot reach a leader fails the read rather than serve stale data.
//   - Snapshots: every SnapshotCount applied entries (or SnapshotBytes of them) the store
//     is committed and a raft snapshot recorded; the log before it (less a catch-up tail
//     bounded in entries and bytes) is released. A follower too far behind receives a
//     MsgSnap together with an image of the leader's store. RestoreDataDir turns a client
//     snapshot into the data dir of a member of a new cluster.
//   - Membership: ConfChangeV2 entries; new members join as learners and are promoted once
//     caught up; the member list is replicated state in the store.
//
// # Concurrency
//
// One goroutine owns the raft node's Ready loop and the raft log (run); the apply,
// proposal and read loops are goroutines of their own and talk to it over channels. A
// Member's methods are safe for concurrent use.
//
// # Durability
//
// A write is acknowledged only after its entry is committed (fsynced on a quorum of raft
// logs) and applied. The store commits in batches; after a crash, the raft log replays
// what the store lacks, and entries at or below the store's consistent index are skipped,
// so none is applied twice.
//
// # Errors
//
// ErrStoppedOutcome, ErrTimeout, ErrLeaderChanged and ErrSnapshotApplied leave a write's
// outcome unknown; ErrStopped, ErrNoLeader, ErrDropped, ErrTooManyRequests and
// ErrRequestTooLarge mean it was not applied. Store errors (storage.ErrCompacted, ...) come
// back as they are. Leases: ErrLeaseNotFound, ErrLeaseExists, ErrLeaseTTLTooLong.
// Membership: ErrMemberNotFound, ErrIDRemoved, ErrPeerURLExists, ErrNotLearner,
// ErrLearnerBehind, ErrUnhealthy, ErrNotLeader. Setup: ErrBadConfig, ErrDataDir. The client
// service answers with the wire code of each (errcode.go), so a client can tell "not
// applied" from "outcome unknown" without reading messages.
package node
