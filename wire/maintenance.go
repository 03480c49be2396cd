package wire

// StatusResponse describes the member that answered.
type StatusResponse struct {
	Version          string
	DBSize           int64
	Leader           uint64
	RaftIndex        uint64
	RaftTerm         uint64
	RaftAppliedIndex uint64
	Errors           []string
	DBSizeInUse      int64
	IsLearner        bool
}

// AlarmAction is what an alarm request does.
type AlarmAction int32

// The alarm actions.
const (
	AlarmGet AlarmAction = iota
	AlarmActivate
	AlarmDeactivate
)

// AlarmType is a kind of alarm.
type AlarmType int32

// The alarm types.
const (
	AlarmNone AlarmType = iota
	AlarmNoSpace
	AlarmCorrupt
)

// AlarmRequest lists, raises or clears alarms; MemberID 0 and AlarmNone match every member
// and every alarm.
type AlarmRequest struct {
	Action   AlarmAction
	MemberID uint64
	Alarm    AlarmType
}

// AlarmMember is one raised alarm.
type AlarmMember struct {
	MemberID uint64
	Alarm    AlarmType
}

// AlarmResponse lists the alarms the request matched.
type AlarmResponse struct {
	Alarms []AlarmMember
}

// HashResponse is the hash of the member's whole store file.
type HashResponse struct {
	Hash uint32
}

// HashKVRequest asks for the hash of the key history up to Revision (0: the current one).
type HashKVRequest struct {
	Revision int64
}

// HashKVResponse is the hash of the key history between CompactRevision and HashRevision.
type HashKVResponse struct {
	Hash            uint32
	CompactRevision int64
	HashRevision    int64
}

// SnapshotResponse is one chunk of a snapshot download; RemainingBytes 0 ends it.
type SnapshotResponse struct {
	RemainingBytes uint64
	Blob           []byte
	Version        string
}

// MoveLeaderRequest hands leadership to another member.
type MoveLeaderRequest struct {
	TargetID uint64
}
