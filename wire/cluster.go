package wire

// Member describes one member of the cluster.
type Member struct {
	ID         uint64
	Name       string
	PeerURLs   []string
	ClientURLs []string
	IsLearner  bool
}

// MemberListRequest lists the members; Linearizable reads the list through consensus.
type MemberListRequest struct {
	Linearizable bool
}

// MemberListResponse is the member list (also the answer to remove, update and promote).
type MemberListResponse struct {
	Members []Member
}

// MemberAddRequest adds a member (as a learner when IsLearner). Name is etcq's addition:
// the new member's name, known before it starts.
type MemberAddRequest struct {
	PeerURLs  []string
	IsLearner bool
	Name      string
}

// MemberAddResponse carries the new member and the new list.
type MemberAddResponse struct {
	Member  Member
	Members []Member
}

// MemberRemoveRequest removes a member.
type MemberRemoveRequest struct {
	ID uint64
}

// MemberUpdateRequest changes a member's peer URLs.
type MemberUpdateRequest struct {
	ID       uint64
	PeerURLs []string
}

// MemberPromoteRequest promotes a learner to a voting member.
type MemberPromoteRequest struct {
	ID uint64
}
