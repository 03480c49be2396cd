package node

import (
	"etcq.dev/etcq/wire"
)

// The gateway's JSON messages: etcd's etcdserverpb and authpb messages under the names
// etcd's grpc-gateway uses (see gateway_json.go for the rules), and their conversions from
// and to the wire messages the client service serves.

// Requests.

type jRangeRequest struct {
	Key               jBytes                 `json:"key"`
	RangeEnd          jBytes                 `json:"rangeEnd"`
	Limit             jInt                   `json:"limit"`
	Revision          jInt                   `json:"revision"`
	SortOrder         jEnum[sortOrderNames]  `json:"sortOrder"`
	SortTarget        jEnum[sortTargetNames] `json:"sortTarget"`
	Serializable      bool                   `json:"serializable"`
	KeysOnly          bool                   `json:"keysOnly"`
	CountOnly         bool                   `json:"countOnly"`
	MinModRevision    jInt                   `json:"minModRevision"`
	MaxModRevision    jInt                   `json:"maxModRevision"`
	MinCreateRevision jInt                   `json:"minCreateRevision"`
	MaxCreateRevision jInt                   `json:"maxCreateRevision"`
}

func (r *jRangeRequest) wire() *wire.RangeRequest {
	return &wire.RangeRequest{
		Key: r.Key, RangeEnd: r.RangeEnd, Limit: int64(r.Limit), Revision: int64(r.Revision),
		SortOrder: wire.SortOrder(r.SortOrder), SortTarget: wire.SortTarget(r.SortTarget),
		Serializable: r.Serializable, KeysOnly: r.KeysOnly, CountOnly: r.CountOnly,
		MinModRevision: int64(r.MinModRevision), MaxModRevision: int64(r.MaxModRevision),
		MinCreateRevision: int64(r.MinCreateRevision), MaxCreateRevision: int64(r.MaxCreateRevision),
	}
}

type jPutRequest struct {
	Key         jBytes `json:"key"`
	Value       jBytes `json:"value"`
	Lease       jInt   `json:"lease"`
	PrevKV      bool   `json:"prevKv"`
	IgnoreValue bool   `json:"ignoreValue"`
	IgnoreLease bool   `json:"ignoreLease"`
}

func (r *jPutRequest) wire() *wire.PutRequest {
	return &wire.PutRequest{Key: r.Key, Value: r.Value, Lease: int64(r.Lease), PrevKV: r.PrevKV,
		IgnoreValue: r.IgnoreValue, IgnoreLease: r.IgnoreLease}
}

type jDeleteRangeRequest struct {
	Key      jBytes `json:"key"`
	RangeEnd jBytes `json:"rangeEnd"`
	PrevKV   bool   `json:"prevKv"`
}

func (r *jDeleteRangeRequest) wire() *wire.DeleteRangeRequest {
	return &wire.DeleteRangeRequest{Key: r.Key, RangeEnd: r.RangeEnd, PrevKV: r.PrevKV}
}

type jCompare struct {
	Result         jEnum[compareResultNames] `json:"result"`
	Target         jEnum[compareTargetNames] `json:"target"`
	Key            jBytes                    `json:"key"`
	Version        jInt                      `json:"version"`
	CreateRevision jInt                      `json:"createRevision"`
	ModRevision    jInt                      `json:"modRevision"`
	Value          jBytes                    `json:"value"`
	Lease          jInt                      `json:"lease"`
	RangeEnd       jBytes                    `json:"rangeEnd"`
}

type jRequestOp struct {
	RequestRange       *jRangeRequest       `json:"requestRange"`
	RequestPut         *jPutRequest         `json:"requestPut"`
	RequestDeleteRange *jDeleteRangeRequest `json:"requestDeleteRange"`
	RequestTxn         *jTxnRequest         `json:"requestTxn"`
}

type jTxnRequest struct {
	Compare []jCompare   `json:"compare"`
	Success []jRequestOp `json:"success"`
	Failure []jRequestOp `json:"failure"`
}

func (r *jTxnRequest) wire() *wire.TxnRequest {
	t := &wire.TxnRequest{Success: opsToWire(r.Success), Failure: opsToWire(r.Failure)}
	for _, c := range r.Compare {
		t.Compare = append(t.Compare, wire.Compare{
			Result: wire.CompareResult(c.Result), Target: wire.CompareTarget(c.Target),
			Key: c.Key, RangeEnd: c.RangeEnd, Version: int64(c.Version),
			CreateRevision: int64(c.CreateRevision), ModRevision: int64(c.ModRevision),
			Value: c.Value, Lease: int64(c.Lease),
		})
	}
	return t
}

// opsToWire converts a txn branch. An op that sets no request stays empty, and the
// service refuses it as malformed.
func opsToWire(ops []jRequestOp) []wire.RequestOp {
	if ops == nil {
		return nil
	}
	out := make([]wire.RequestOp, len(ops))
	for i, op := range ops {
		if op.RequestRange != nil {
			out[i].Range = op.RequestRange.wire()
		}
		if op.RequestPut != nil {
			out[i].Put = op.RequestPut.wire()
		}
		if op.RequestDeleteRange != nil {
			out[i].DeleteRange = op.RequestDeleteRange.wire()
		}
		if op.RequestTxn != nil {
			out[i].Txn = op.RequestTxn.wire()
		}
	}
	return out
}

type jCompactionRequest struct {
	Revision jInt `json:"revision"`
	Physical bool `json:"physical"`
}

type jWatchCreateRequest struct {
	Key            jBytes                   `json:"key"`
	RangeEnd       jBytes                   `json:"rangeEnd"`
	StartRevision  jInt                     `json:"startRevision"`
	ProgressNotify bool                     `json:"progressNotify"`
	Filters        []jEnum[filterTypeNames] `json:"filters"`
	PrevKV         bool                     `json:"prevKv"`
	WatchID        jInt                     `json:"watchId"`
	Fragment       bool                     `json:"fragment"`
}

type jWatchRequest struct {
	CreateRequest *jWatchCreateRequest `json:"createRequest"`
	CancelRequest *struct {
		WatchID jInt `json:"watchId"`
	} `json:"cancelRequest"`
	ProgressRequest *struct{} `json:"progressRequest"`
}

// wire turns a watch stream request into the request the watch session serves; nil if
// it asks for nothing.
func (r *jWatchRequest) wire() *wire.Request {
	switch {
	case r.CreateRequest != nil:
		c := r.CreateRequest
		w := &wire.WatchCreateRequest{
			Key: c.Key, RangeEnd: c.RangeEnd, StartRevision: int64(c.StartRevision),
			ProgressNotify: c.ProgressNotify, PrevKV: c.PrevKV, WatchID: int64(c.WatchID), Fragment: c.Fragment,
		}
		for _, f := range c.Filters {
			w.Filters = append(w.Filters, wire.FilterType(f))
		}
		return &wire.Request{Op: wire.OpWatchCreate, Body: w}
	case r.CancelRequest != nil:
		return &wire.Request{Op: wire.OpWatchCancel, Body: &wire.WatchCancelRequest{WatchID: int64(r.CancelRequest.WatchID)}}
	case r.ProgressRequest != nil:
		return &wire.Request{Op: wire.OpWatchProgress, Body: &wire.WatchProgressRequest{}}
	}
	return nil
}

// jIDRequest is every request that names a lease or a member by its ID.
type jIDRequest struct {
	ID jInt `json:"ID"`
}

type jLeaseGrantRequest struct {
	TTL jInt `json:"TTL"`
	ID  jInt `json:"ID"`
}

type jLeaseTimeToLiveRequest struct {
	ID   jInt `json:"ID"`
	Keys bool `json:"keys"`
}

type jMemberAddRequest struct {
	PeerURLs  []string `json:"peerURLs"`
	IsLearner bool     `json:"isLearner"`
	// Name is etcq's addition: the new member's name.
	Name string `json:"name"`
}

type jMemberUpdateRequest struct {
	ID       jUint    `json:"ID"`
	PeerURLs []string `json:"peerURLs"`
}

type jMemberIDRequest struct {
	ID jUint `json:"ID"`
}

type jMemberListRequest struct {
	Linearizable bool `json:"linearizable"`
}

type jAlarmRequest struct {
	Action   jEnum[alarmActionNames] `json:"action"`
	MemberID jUint                   `json:"memberID"`
	Alarm    jEnum[alarmTypeNames]   `json:"alarm"`
}

type jHashKVRequest struct {
	Revision jInt `json:"revision"`
}

type jMoveLeaderRequest struct {
	TargetID jUint `json:"targetID"`
}

type jAuthenticateRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

type jUserAddRequest struct {
	Name           string `json:"name"`
	Password       string `json:"password"`
	HashedPassword string `json:"hashedPassword"`
	Options        *struct {
		NoPassword bool `json:"noPassword"`
	} `json:"options"`
}

type jUserChangePasswordRequest struct {
	Name           string `json:"name"`
	Password       string `json:"password"`
	HashedPassword string `json:"hashedPassword"`
}

// jNameRequest is a request that names a user (get, delete) or a role (add).
type jNameRequest struct {
	Name string `json:"name"`
}

// jRoleRequest names a role (get, delete).
type jRoleRequest struct {
	Role string `json:"role"`
}

type jUserGrantRoleRequest struct {
	User string `json:"user"`
	Role string `json:"role"`
}

type jUserRevokeRoleRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

type jPermissionIn struct {
	PermType jEnum[permTypeNames] `json:"permType"`
	Key      jBytes               `json:"key"`
	RangeEnd jBytes               `json:"rangeEnd"`
}

type jRoleGrantPermissionRequest struct {
	Name string         `json:"name"`
	Perm *jPermissionIn `json:"perm"`
}

type jRoleRevokePermissionRequest struct {
	Role     string `json:"role"`
	Key      jBytes `json:"key"`
	RangeEnd jBytes `json:"rangeEnd"`
}

// Responses.

type jHeader struct {
	ClusterID uint64 `json:"cluster_id,omitempty,string"`
	MemberID  uint64 `json:"member_id,omitempty,string"`
	Revision  int64  `json:"revision,omitempty,string"`
	RaftTerm  uint64 `json:"raft_term,omitempty,string"`
}

func headerOut(h wire.Header) *jHeader {
	return &jHeader{ClusterID: h.ClusterID, MemberID: h.MemberID, Revision: h.Revision, RaftTerm: h.RaftTerm}
}

type jKeyValue struct {
	Key            []byte `json:"key,omitempty"`
	CreateRevision int64  `json:"create_revision,omitempty,string"`
	ModRevision    int64  `json:"mod_revision,omitempty,string"`
	Version        int64  `json:"version,omitempty,string"`
	Value          []byte `json:"value,omitempty"`
	Lease          int64  `json:"lease,omitempty,string"`
}

func kvOut(kv *wire.KeyValue) *jKeyValue {
	if kv == nil {
		return nil
	}
	return &jKeyValue{Key: kv.Key, CreateRevision: kv.CreateRevision, ModRevision: kv.ModRevision,
		Version: kv.Version, Value: kv.Value, Lease: kv.Lease}
}

func kvsOut(kvs []wire.KeyValue) []*jKeyValue {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]*jKeyValue, len(kvs))
	for i := range kvs {
		out[i] = kvOut(&kvs[i])
	}
	return out
}

// jHeaderOnly is every response that carries nothing but the header.
type jHeaderOnly struct {
	Header *jHeader `json:"header,omitempty"`
}

type jRangeResponse struct {
	Header *jHeader     `json:"header,omitempty"`
	KVs    []*jKeyValue `json:"kvs,omitempty"`
	More   bool         `json:"more,omitempty"`
	Count  int64        `json:"count,omitempty,string"`
}

func rangeOut(h *jHeader, r *wire.RangeResponse) *jRangeResponse {
	return &jRangeResponse{Header: h, KVs: kvsOut(r.KVs), More: r.More, Count: r.Count}
}

type jPutResponse struct {
	Header *jHeader   `json:"header,omitempty"`
	PrevKV *jKeyValue `json:"prev_kv,omitempty"`
}

type jDeleteRangeResponse struct {
	Header  *jHeader     `json:"header,omitempty"`
	Deleted int64        `json:"deleted,omitempty,string"`
	PrevKVs []*jKeyValue `json:"prev_kvs,omitempty"`
}

type jResponseOp struct {
	ResponseRange       *jRangeResponse       `json:"response_range,omitempty"`
	ResponsePut         *jPutResponse         `json:"response_put,omitempty"`
	ResponseDeleteRange *jDeleteRangeResponse `json:"response_delete_range,omitempty"`
	ResponseTxn         *jTxnResponse         `json:"response_txn,omitempty"`
}

type jTxnResponse struct {
	Header    *jHeader      `json:"header,omitempty"`
	Succeeded bool          `json:"succeeded,omitempty"`
	Responses []jResponseOp `json:"responses,omitempty"`
}

// txnOut converts a txn's response. As etcd, each operation's response carries a header
// with the txn's revision alone.
func txnOut(h *jHeader, r *wire.TxnResponse) *jTxnResponse {
	out := &jTxnResponse{Header: h, Succeeded: r.Succeeded}
	sub := func() *jHeader { return &jHeader{Revision: h.Revision} }
	for _, op := range r.Responses {
		var o jResponseOp
		switch {
		case op.Range != nil:
			o.ResponseRange = rangeOut(sub(), op.Range)
		case op.Put != nil:
			o.ResponsePut = &jPutResponse{Header: sub(), PrevKV: kvOut(op.Put.PrevKV)}
		case op.DeleteRange != nil:
			o.ResponseDeleteRange = &jDeleteRangeResponse{Header: sub(), Deleted: op.DeleteRange.Deleted, PrevKVs: kvsOut(op.DeleteRange.PrevKVs)}
		case op.Txn != nil:
			o.ResponseTxn = txnOut(sub(), op.Txn)
		}
		out.Responses = append(out.Responses, o)
	}
	return out
}

type jEvent struct {
	Type   jEnum[eventTypeNames] `json:"type,omitempty"`
	KV     *jKeyValue            `json:"kv,omitempty"`
	PrevKV *jKeyValue            `json:"prev_kv,omitempty"`
}

type jWatchResponse struct {
	Header          *jHeader `json:"header,omitempty"`
	WatchID         int64    `json:"watch_id,omitempty,string"`
	Created         bool     `json:"created,omitempty"`
	Canceled        bool     `json:"canceled,omitempty"`
	CompactRevision int64    `json:"compact_revision,omitempty,string"`
	CancelReason    string   `json:"cancel_reason,omitempty"`
	Fragment        bool     `json:"fragment,omitempty"`
	Events          []jEvent `json:"events,omitempty"`
}

func watchOut(h *jHeader, r *wire.WatchResponse) *jWatchResponse {
	out := &jWatchResponse{Header: h, WatchID: r.WatchID, Created: r.Created, Canceled: r.Canceled,
		CompactRevision: r.CompactRevision, CancelReason: r.CancelReason, Fragment: r.Fragment}
	for i := range r.Events {
		ev := &r.Events[i]
		out.Events = append(out.Events, jEvent{Type: jEnum[eventTypeNames](ev.Type), KV: kvOut(&ev.KV), PrevKV: kvOut(ev.PrevKV)})
	}
	return out
}

type jLeaseGrantResponse struct {
	Header *jHeader `json:"header,omitempty"`
	ID     int64    `json:"ID,omitempty,string"`
	TTL    int64    `json:"TTL,omitempty,string"`
}

type jLeaseKeepAliveResponse struct {
	Header *jHeader `json:"header,omitempty"`
	ID     int64    `json:"ID,omitempty,string"`
	TTL    int64    `json:"TTL,omitempty,string"`
}

type jLeaseTimeToLiveResponse struct {
	Header     *jHeader `json:"header,omitempty"`
	ID         int64    `json:"ID,omitempty,string"`
	TTL        int64    `json:"TTL,omitempty,string"`
	GrantedTTL int64    `json:"grantedTTL,omitempty,string"`
	Keys       [][]byte `json:"keys,omitempty"`
}

type jLeaseStatus struct {
	ID int64 `json:"ID,omitempty,string"`
}

type jLeaseLeasesResponse struct {
	Header *jHeader       `json:"header,omitempty"`
	Leases []jLeaseStatus `json:"leases,omitempty"`
}

type jMember struct {
	ID         uint64   `json:"ID,omitempty,string"`
	Name       string   `json:"name,omitempty"`
	PeerURLs   []string `json:"peerURLs,omitempty"`
	ClientURLs []string `json:"clientURLs,omitempty"`
	IsLearner  bool     `json:"isLearner,omitempty"`
}

func memberOut(m wire.Member) jMember {
	return jMember{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs, IsLearner: m.IsLearner}
}

func membersOut(ms []wire.Member) []jMember {
	var out []jMember
	for _, m := range ms {
		out = append(out, memberOut(m))
	}
	return out
}

type jMemberListResponse struct {
	Header  *jHeader  `json:"header,omitempty"`
	Members []jMember `json:"members,omitempty"`
}

type jMemberAddResponse struct {
	Header  *jHeader  `json:"header,omitempty"`
	Member  *jMember  `json:"member,omitempty"`
	Members []jMember `json:"members,omitempty"`
}

type jStatusResponse struct {
	Header           *jHeader `json:"header,omitempty"`
	Version          string   `json:"version,omitempty"`
	DBSize           int64    `json:"dbSize,omitempty,string"`
	Leader           uint64   `json:"leader,omitempty,string"`
	RaftIndex        uint64   `json:"raftIndex,omitempty,string"`
	RaftTerm         uint64   `json:"raftTerm,omitempty,string"`
	RaftAppliedIndex uint64   `json:"raftAppliedIndex,omitempty,string"`
	Errors           []string `json:"errors,omitempty"`
	DBSizeInUse      int64    `json:"dbSizeInUse,omitempty,string"`
	IsLearner        bool     `json:"isLearner,omitempty"`
}

type jAlarmMember struct {
	MemberID uint64                `json:"memberID,omitempty,string"`
	Alarm    jEnum[alarmTypeNames] `json:"alarm,omitempty"`
}

type jAlarmResponse struct {
	Header *jHeader       `json:"header,omitempty"`
	Alarms []jAlarmMember `json:"alarms,omitempty"`
}

type jHashResponse struct {
	Header *jHeader `json:"header,omitempty"`
	Hash   uint32   `json:"hash,omitempty"`
}

type jHashKVResponse struct {
	Header          *jHeader `json:"header,omitempty"`
	Hash            uint32   `json:"hash,omitempty"`
	CompactRevision int64    `json:"compact_revision,omitempty,string"`
	HashRevision    int64    `json:"hash_revision,omitempty,string"`
}

type jSnapshotResponse struct {
	Header         *jHeader `json:"header,omitempty"`
	RemainingBytes uint64   `json:"remaining_bytes,omitempty,string"`
	Blob           []byte   `json:"blob,omitempty"`
	Version        string   `json:"version,omitempty"`
}

type jAuthStatusResponse struct {
	Header       *jHeader `json:"header,omitempty"`
	Enabled      bool     `json:"enabled,omitempty"`
	AuthRevision uint64   `json:"authRevision,omitempty,string"`
}

type jAuthenticateResponse struct {
	Header *jHeader `json:"header,omitempty"`
	Token  string   `json:"token,omitempty"`
}

type jRolesResponse struct {
	Header *jHeader `json:"header,omitempty"`
	Roles  []string `json:"roles,omitempty"`
}

type jUsersResponse struct {
	Header *jHeader `json:"header,omitempty"`
	Users  []string `json:"users,omitempty"`
}

type jPermission struct {
	PermType jEnum[permTypeNames] `json:"permType,omitempty"`
	Key      []byte               `json:"key,omitempty"`
	RangeEnd []byte               `json:"range_end,omitempty"`
}

type jRoleGetResponse struct {
	Header *jHeader      `json:"header,omitempty"`
	Perm   []jPermission `json:"perm,omitempty"`
}
