package wire

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// Op names an operation. The numbers are part of the protocol: never renumber, only append.
type Op uint8

// KV.
const (
	OpRange       Op = 1
	OpPut         Op = 2
	OpDeleteRange Op = 3
	OpTxn         Op = 4
	OpCompact     Op = 5
)

// Watch (on a StreamWatch stream only).
const (
	OpWatchCreate   Op = 10
	OpWatchCancel   Op = 11
	OpWatchProgress Op = 12
	OpWatch         Op = 13 // the op of every response on a watch stream
)

// Lease.
const (
	OpLeaseGrant      Op = 20
	OpLeaseRevoke     Op = 21
	OpLeaseKeepAlive  Op = 22
	OpLeaseTimeToLive Op = 23
	OpLeaseLeases     Op = 24
)

// Cluster.
const (
	OpMemberList    Op = 30
	OpMemberAdd     Op = 31
	OpMemberRemove  Op = 32
	OpMemberUpdate  Op = 33
	OpMemberPromote Op = 34
)

// Maintenance.
const (
	OpStatus     Op = 40
	OpAlarm      Op = 41
	OpDefragment Op = 42
	OpHash       Op = 43
	OpHashKV     Op = 44
	OpSnapshot   Op = 45 // on a StreamSnapshot stream only
	OpMoveLeader Op = 46
)

// Auth.
const (
	OpAuthEnable           Op = 50
	OpAuthDisable          Op = 51
	OpAuthStatus           Op = 52
	OpAuthenticate         Op = 53
	OpUserAdd              Op = 54
	OpUserGet              Op = 55
	OpUserList             Op = 56
	OpUserDelete           Op = 57
	OpUserChangePassword   Op = 58
	OpUserGrantRole        Op = 59
	OpUserRevokeRole       Op = 60
	OpRoleAdd              Op = 61
	OpRoleGet              Op = 62
	OpRoleList             Op = 63
	OpRoleDelete           Op = 64
	OpRoleGrantPermission  Op = 65
	OpRoleRevokePermission Op = 66
)

// opInfo describes an op: its name and constructors for its request and response bodies.
type opInfo struct {
	name      string
	req, resp func() any
}

func newOf[T any]() func() any { return func() any { return new(T) } }

var ops = map[Op]opInfo{
	OpRange:       {"Range", newOf[RangeRequest](), newOf[RangeResponse]()},
	OpPut:         {"Put", newOf[PutRequest](), newOf[PutResponse]()},
	OpDeleteRange: {"DeleteRange", newOf[DeleteRangeRequest](), newOf[DeleteRangeResponse]()},
	OpTxn:         {"Txn", newOf[TxnRequest](), newOf[TxnResponse]()},
	OpCompact:     {"Compact", newOf[CompactRequest](), newOf[CompactResponse]()},

	OpWatchCreate:   {"WatchCreate", newOf[WatchCreateRequest](), newOf[WatchResponse]()},
	OpWatchCancel:   {"WatchCancel", newOf[WatchCancelRequest](), newOf[WatchResponse]()},
	OpWatchProgress: {"WatchProgress", newOf[WatchProgressRequest](), newOf[WatchResponse]()},
	OpWatch:         {"Watch", newOf[Empty](), newOf[WatchResponse]()},

	OpLeaseGrant:      {"LeaseGrant", newOf[LeaseGrantRequest](), newOf[LeaseGrantResponse]()},
	OpLeaseRevoke:     {"LeaseRevoke", newOf[LeaseRevokeRequest](), newOf[Empty]()},
	OpLeaseKeepAlive:  {"LeaseKeepAlive", newOf[LeaseKeepAliveRequest](), newOf[LeaseKeepAliveResponse]()},
	OpLeaseTimeToLive: {"LeaseTimeToLive", newOf[LeaseTimeToLiveRequest](), newOf[LeaseTimeToLiveResponse]()},
	OpLeaseLeases:     {"LeaseLeases", newOf[Empty](), newOf[LeaseLeasesResponse]()},

	OpMemberList:    {"MemberList", newOf[MemberListRequest](), newOf[MemberListResponse]()},
	OpMemberAdd:     {"MemberAdd", newOf[MemberAddRequest](), newOf[MemberAddResponse]()},
	OpMemberRemove:  {"MemberRemove", newOf[MemberRemoveRequest](), newOf[MemberListResponse]()},
	OpMemberUpdate:  {"MemberUpdate", newOf[MemberUpdateRequest](), newOf[MemberListResponse]()},
	OpMemberPromote: {"MemberPromote", newOf[MemberPromoteRequest](), newOf[MemberListResponse]()},

	OpStatus:     {"Status", newOf[Empty](), newOf[StatusResponse]()},
	OpAlarm:      {"Alarm", newOf[AlarmRequest](), newOf[AlarmResponse]()},
	OpDefragment: {"Defragment", newOf[Empty](), newOf[Empty]()},
	OpHash:       {"Hash", newOf[Empty](), newOf[HashResponse]()},
	OpHashKV:     {"HashKV", newOf[HashKVRequest](), newOf[HashKVResponse]()},
	OpSnapshot:   {"Snapshot", newOf[Empty](), newOf[SnapshotResponse]()},
	OpMoveLeader: {"MoveLeader", newOf[MoveLeaderRequest](), newOf[Empty]()},

	OpAuthEnable:           {"AuthEnable", newOf[Empty](), newOf[Empty]()},
	OpAuthDisable:          {"AuthDisable", newOf[Empty](), newOf[Empty]()},
	OpAuthStatus:           {"AuthStatus", newOf[Empty](), newOf[AuthStatusResponse]()},
	OpAuthenticate:         {"Authenticate", newOf[AuthenticateRequest](), newOf[AuthenticateResponse]()},
	OpUserAdd:              {"UserAdd", newOf[UserAddRequest](), newOf[Empty]()},
	OpUserGet:              {"UserGet", newOf[UserRequest](), newOf[UserGetResponse]()},
	OpUserList:             {"UserList", newOf[Empty](), newOf[NameListResponse]()},
	OpUserDelete:           {"UserDelete", newOf[UserRequest](), newOf[Empty]()},
	OpUserChangePassword:   {"UserChangePassword", newOf[UserChangePasswordRequest](), newOf[Empty]()},
	OpUserGrantRole:        {"UserGrantRole", newOf[UserRoleRequest](), newOf[Empty]()},
	OpUserRevokeRole:       {"UserRevokeRole", newOf[UserRoleRequest](), newOf[Empty]()},
	OpRoleAdd:              {"RoleAdd", newOf[RoleRequest](), newOf[Empty]()},
	OpRoleGet:              {"RoleGet", newOf[RoleRequest](), newOf[RoleGetResponse]()},
	OpRoleList:             {"RoleList", newOf[Empty](), newOf[NameListResponse]()},
	OpRoleDelete:           {"RoleDelete", newOf[RoleRequest](), newOf[Empty]()},
	OpRoleGrantPermission:  {"RoleGrantPermission", newOf[RoleGrantPermissionRequest](), newOf[Empty]()},
	OpRoleRevokePermission: {"RoleRevokePermission", newOf[RoleRevokePermissionRequest](), newOf[Empty]()},
}

func (o Op) String() string {
	if info, ok := ops[o]; ok {
		return info.name
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Known reports whether this build knows o.
func (o Op) Known() bool { _, ok := ops[o]; return ok }

// NewRequestBody returns a new, zero request body for op (a pointer), or nil if op is unknown.
func NewRequestBody(o Op) any {
	if info, ok := ops[o]; ok {
		return info.req()
	}
	return nil
}

// NewResponseBody returns a new, zero response body for op (a pointer), or nil if op is
// unknown.
func NewResponseBody(o Op) any {
	if info, ok := ops[o]; ok {
		return info.resp()
	}
	return nil
}

// Empty is the body of a request or response that carries nothing.
type Empty struct{}

// EncodeMsgpack implements msgpack.CustomEncoder: an empty array.
func (Empty) EncodeMsgpack(e *msgpack.Encoder) error { return e.EncodeArrayLen(0) }

// DecodeMsgpack implements msgpack.CustomDecoder: whatever a newer encoder put there is
// skipped.
func (*Empty) DecodeMsgpack(d *msgpack.Decoder) error { return d.Skip() }

// EncodeMsgpack implements msgpack.CustomEncoder (as Empty: reflection would encode a
// struct without fields as a map).
func (CompactResponse) EncodeMsgpack(e *msgpack.Encoder) error { return e.EncodeArrayLen(0) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (*CompactResponse) DecodeMsgpack(d *msgpack.Decoder) error { return d.Skip() }

// EncodeMsgpack implements msgpack.CustomEncoder (as Empty).
func (WatchProgressRequest) EncodeMsgpack(e *msgpack.Encoder) error { return e.EncodeArrayLen(0) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (*WatchProgressRequest) DecodeMsgpack(d *msgpack.Decoder) error { return d.Skip() }
