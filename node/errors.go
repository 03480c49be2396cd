package node

import "errors"

// Sentinel errors. A write that fails with ErrTimeout, ErrLeaderChanged or ErrStopped after
// it was proposed may or may not have been applied: never retry it blindly.
var (
	ErrStopped         = errors.New("node: member stopped")
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
	ErrDataDir         = errors.New("node: data directory belongs to another member or cluster")
)
