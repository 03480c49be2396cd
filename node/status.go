package node

import (
	"go.etcd.io/raft/v3"
)

// Status is what an operator sees of a member (etcd's endpoint status, plus raft progress).
type Status struct {
	ID, ClusterID        uint64
	Leader, Term         uint64
	CommitIndex, Applied uint64
	RaftState            string
	IsLearner            bool
	Revision, CompactRev int64
	DBSize, DBSizeInUse  int64
	// Progress of every follower, as the leader tracks it (leader only).
	Progress map[uint64]Progress
}

// Progress is the leader's view of one follower's log.
type Progress struct {
	Match, Next  uint64
	State        string
	RecentActive bool
	IsLearner    bool
}

// Status reports the member's state.
func (m *Member) Status() Status {
	rs := m.raft.Status()
	size, inUse := m.store.Size()
	st := Status{
		ID:          m.id,
		ClusterID:   m.clusterID,
		Leader:      rs.Lead,
		Term:        rs.HardState.GetTerm(),
		CommitIndex: rs.HardState.GetCommit(),
		Applied:     m.applied.get(),
		RaftState:   rs.RaftState.String(),
		Revision:    m.store.Rev(),
		CompactRev:  m.store.CompactRev(),
		DBSize:      size,
		DBSizeInUse: inUse,
	}
	if mi, ok := m.member(m.id); ok {
		st.IsLearner = mi.IsLearner
	}
	if rs.RaftState == raft.StateLeader {
		st.Progress = make(map[uint64]Progress, len(rs.Progress))
		for id, pr := range rs.Progress {
			st.Progress[id] = Progress{Match: pr.Match, Next: pr.Next, State: pr.State.String(), RecentActive: pr.RecentActive, IsLearner: pr.IsLearner}
		}
	}
	return st
}
