package node

import "errors"

// Sentinel errors. A write that fails with ErrTimeout, ErrLeaderChanged, ErrSnapshotApplied
// or ErrStoppedOutcome may or may not have been applied: never retry it blindly. ErrStopped
// means the member stopped before it took the request.
var (
	ErrStopped         = errors.New("node: member stopped")
	ErrStoppedOutcome  = errors.New("node: member stopped with the request under way; its outcome is unknown")
	ErrTimeout         = errors.New("node: request timed out; its outcome is unknown")
	ErrLeaderChanged   = errors.New("node: leader changed; the request's outcome is unknown")
	ErrSnapshotApplied = errors.New("node: member caught up from a snapshot; the request's outcome is unknown")
	ErrNoLeader        = errors.New("node: no leader")
	ErrNotLeader       = errors.New("node: this member is not the leader")
	ErrTooManyRequests = errors.New("node: too many requests")
	ErrDropped         = errors.New("node: proposal dropped by raft (leadership transfer or overload); it was not applied")
	ErrRequestTooLarge = errors.New("node: request is too large")
	ErrMemberNotFound  = errors.New("node: member not found")
	ErrIDRemoved       = errors.New("node: member ID was removed and cannot be reused")
	ErrPeerURLExists   = errors.New("node: peer URL already in use by a member")
	ErrNotLearner      = errors.New("node: member is not a learner")
	ErrLearnerBehind   = errors.New("node: learner is not caught up with the leader")
	ErrUnhealthy       = errors.New("node: the change would leave the cluster without a working quorum")
	ErrBadConfig       = errors.New("node: invalid configuration")
	ErrNoSpace         = errors.New("node: database space exceeded")
	ErrLeaseNotFound   = errors.New("node: requested lease not found")
	ErrLeaseExists     = errors.New("node: lease already exists")
	ErrLeaseTTLTooLong = errors.New("node: lease TTL is too long")
	ErrDataDir         = errors.New("node: data directory belongs to another member or cluster")
)
