package main

import (
	"encoding/json"
	"fmt"
	"io"

	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/wire"
)

// jsonPrinter prints each result as one line of JSON shaped like the gRPC response etcdctl
// -w json prints: etcd's field names, integers as numbers, bytes in base64, zero values
// left out where protobuf leaves them out.
type jsonPrinter struct {
	unsupported
	w     io.Writer
	isHex bool // member and cluster IDs as hex strings (member commands only)
}

func (p *jsonPrinter) print(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fail(exitError, fmt.Errorf("encode json: %w", err))
	}
	fmt.Fprintln(p.w, string(b))
	return nil
}

// JSONHeader is etcd's ResponseHeader.
type JSONHeader struct {
	ClusterID uint64 `json:"cluster_id,omitempty"`
	MemberID  uint64 `json:"member_id,omitempty"`
	Revision  int64  `json:"revision,omitempty"`
	RaftTerm  uint64 `json:"raft_term,omitempty"`
}

func jsonHeader(h wire.Header) *JSONHeader {
	return &JSONHeader{ClusterID: h.ClusterID, MemberID: h.MemberID, Revision: h.Revision, RaftTerm: h.RaftTerm}
}

// jsonHexHeader is a header with IDs in hex (-w json --hex).
type jsonHexHeader struct {
	ClusterID string `json:"cluster_id"`
	MemberID  string `json:"member_id"`
	Revision  int64  `json:"revision,omitempty"`
	RaftTerm  uint64 `json:"raft_term,omitempty"`
}

// jsonKV is etcd's mvccpb.KeyValue.
type jsonKV struct {
	Key            []byte `json:"key,omitempty"`
	CreateRevision int64  `json:"create_revision,omitempty"`
	ModRevision    int64  `json:"mod_revision,omitempty"`
	Version        int64  `json:"version,omitempty"`
	Value          []byte `json:"value,omitempty"`
	Lease          int64  `json:"lease,omitempty"`
}

func toJSONKV(kv *wire.KeyValue) *jsonKV {
	if kv == nil {
		return nil
	}
	return &jsonKV{Key: kv.Key, CreateRevision: kv.CreateRevision, ModRevision: kv.ModRevision,
		Version: kv.Version, Value: kv.Value, Lease: kv.Lease}
}

func toJSONKVs(kvs []wire.KeyValue) []*jsonKV {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]*jsonKV, len(kvs))
	for i := range kvs {
		out[i] = toJSONKV(&kvs[i])
	}
	return out
}

type jsonRange struct {
	Header *JSONHeader `json:"header,omitempty"`
	KVs    []*jsonKV   `json:"kvs,omitempty"`
	More   bool        `json:"more,omitempty"`
	Count  int64       `json:"count,omitempty"`
}

type jsonPut struct {
	Header *JSONHeader `json:"header,omitempty"`
	PrevKV *jsonKV     `json:"prev_kv,omitempty"`
}

type jsonDelete struct {
	Header  *JSONHeader `json:"header,omitempty"`
	Deleted int64       `json:"deleted,omitempty"`
	PrevKVs []*jsonKV   `json:"prev_kvs,omitempty"`
}

type jsonTxn struct {
	Header    *JSONHeader       `json:"header,omitempty"`
	Succeeded bool              `json:"succeeded,omitempty"`
	Responses []*jsonResponseOp `json:"responses,omitempty"`
}

// jsonResponseOp is etcd's ResponseOp: its oneof appears as a field named Response
// holding the one set member.
type jsonResponseOp struct {
	Response any
}

type jsonResponseRange struct {
	ResponseRange *jsonRange `json:"response_range,omitempty"`
}

type jsonResponsePut struct {
	ResponsePut *jsonPut `json:"response_put,omitempty"`
}

type jsonResponseDelete struct {
	ResponseDeleteRange *jsonDelete `json:"response_delete_range,omitempty"`
}

type jsonResponseTxn struct {
	ResponseTxn *jsonTxn `json:"response_txn,omitempty"`
}

func toJSONTxn(h *JSONHeader, succeeded bool, ops []wire.ResponseOp) *jsonTxn {
	t := &jsonTxn{Header: h, Succeeded: succeeded}
	// The operations of a txn carry the txn's revision in their headers.
	inner := &JSONHeader{}
	if h != nil {
		inner.Revision = h.Revision
	}
	for _, op := range ops {
		var r any
		switch {
		case op.Range != nil:
			r = &jsonResponseRange{&jsonRange{Header: inner, KVs: toJSONKVs(op.Range.KVs), More: op.Range.More, Count: op.Range.Count}}
		case op.Put != nil:
			r = &jsonResponsePut{&jsonPut{Header: inner, PrevKV: toJSONKV(op.Put.PrevKV)}}
		case op.DeleteRange != nil:
			r = &jsonResponseDelete{&jsonDelete{Header: inner, Deleted: op.DeleteRange.Deleted, PrevKVs: toJSONKVs(op.DeleteRange.PrevKVs)}}
		case op.Txn != nil:
			r = &jsonResponseTxn{toJSONTxn(inner, op.Txn.Succeeded, op.Txn.Responses)}
		}
		t.Responses = append(t.Responses, &jsonResponseOp{Response: r})
	}
	return t
}

// jsonEvent is etcd's mvccpb.Event.
type jsonEvent struct {
	Type   int32   `json:"type,omitempty"`
	KV     *jsonKV `json:"kv,omitempty"`
	PrevKV *jsonKV `json:"prev_kv,omitempty"`
}

// jsonWatch is clientv3's WatchResponse, which etcdctl prints as it is.
type jsonWatch struct {
	Header          JSONHeader
	Events          []*jsonEvent
	CompactRevision int64
	Canceled        bool
	Created         bool
}

// The lease results are clientv3's structs, whose embedded header's fields appear at the
// top level.
type jsonLeaseGrant struct {
	*JSONHeader
	ID    int64
	TTL   int64
	Error string
}

type jsonLeaseKeepAlive struct {
	*JSONHeader
	ID  int64
	TTL int64
}

type jsonLeaseTimeToLive struct {
	*JSONHeader
	ID         int64    `json:"id"`
	TTL        int64    `json:"ttl"`
	GrantedTTL int64    `json:"granted-ttl"`
	Keys       [][]byte `json:"keys"`
}

type jsonLeaseStatus struct {
	ID int64 `json:"id"`
}

type jsonLeases struct {
	*JSONHeader
	Leases []jsonLeaseStatus `json:"leases"`
}

type jsonHeaderOnly struct {
	Header *JSONHeader `json:"header,omitempty"`
}

// jsonMember is etcd's Member.
type jsonMember struct {
	ID         uint64   `json:"ID,omitempty"`
	Name       string   `json:"name,omitempty"`
	PeerURLs   []string `json:"peerURLs,omitempty"`
	ClientURLs []string `json:"clientURLs,omitempty"`
	IsLearner  bool     `json:"isLearner,omitempty"`
}

// jsonHexMember is a member with its ID in hex (-w json --hex).
type jsonHexMember struct {
	ID         string   `json:"ID"`
	Name       string   `json:"name,omitempty"`
	PeerURLs   []string `json:"peerURLs,omitempty"`
	ClientURLs []string `json:"clientURLs,omitempty"`
	IsLearner  bool     `json:"isLearner,omitempty"`
}

type jsonMembers struct {
	Header  any   `json:"header,omitempty"`
	Member  any   `json:"member,omitempty"`
	Members []any `json:"members,omitempty"`
}

func (p *jsonPrinter) member(m *wire.Member) any {
	if p.isHex {
		return &jsonHexMember{ID: fmt.Sprintf("%x", m.ID), Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs, IsLearner: m.IsLearner}
	}
	return &jsonMember{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs, IsLearner: m.IsLearner}
}

func (p *jsonPrinter) memberHeader(h wire.Header) any {
	if p.isHex {
		return &jsonHexHeader{ClusterID: fmt.Sprintf("%x", h.ClusterID), MemberID: fmt.Sprintf("%x", h.MemberID), Revision: h.Revision, RaftTerm: h.RaftTerm}
	}
	return jsonHeader(h)
}

func (p *jsonPrinter) members(h wire.Header, added *wire.Member, ms []wire.Member) error {
	out := jsonMembers{Header: p.memberHeader(h)}
	if added != nil {
		out.Member = p.member(added)
	}
	for i := range ms {
		out.Members = append(out.Members, p.member(&ms[i]))
	}
	return p.print(out)
}

// jsonStatus is etcd's StatusResponse.
type jsonStatus struct {
	Header           *JSONHeader `json:"header,omitempty"`
	Version          string      `json:"version,omitempty"`
	DBSize           int64       `json:"dbSize,omitempty"`
	Leader           uint64      `json:"leader,omitempty"`
	RaftIndex        uint64      `json:"raftIndex,omitempty"`
	RaftTerm         uint64      `json:"raftTerm,omitempty"`
	RaftAppliedIndex uint64      `json:"raftAppliedIndex,omitempty"`
	Errors           []string    `json:"errors,omitempty"`
	DBSizeInUse      int64       `json:"dbSizeInUse,omitempty"`
	IsLearner        bool        `json:"isLearner,omitempty"`
}

type jsonEpStatus struct {
	Endpoint string      `json:"Endpoint"`
	Status   *jsonStatus `json:"Status"`
}

// jsonHashKV is etcd's HashKVResponse.
type jsonHashKV struct {
	Header          *JSONHeader `json:"header,omitempty"`
	Hash            uint32      `json:"hash,omitempty"`
	CompactRevision int64       `json:"compact_revision,omitempty"`
	HashRevision    int64       `json:"hash_revision,omitempty"`
}

type jsonEpHashKV struct {
	Endpoint string      `json:"Endpoint"`
	HashKV   *jsonHashKV `json:"HashKV"`
}

type jsonAlarmMember struct {
	MemberID uint64 `json:"memberID,omitempty"`
	Alarm    int32  `json:"alarm,omitempty"`
}

type jsonAlarms struct {
	Header *JSONHeader        `json:"header,omitempty"`
	Alarms []*jsonAlarmMember `json:"alarms,omitempty"`
}

func (p *jsonPrinter) Get(r *quicclient.GetResponse) error {
	return p.print(&jsonRange{Header: jsonHeader(r.Header), KVs: toJSONKVs(r.KVs), More: r.More, Count: r.Count})
}

func (p *jsonPrinter) Put(r *quicclient.PutResponse) error {
	return p.print(&jsonPut{Header: jsonHeader(r.Header), PrevKV: toJSONKV(r.PrevKV)})
}

func (p *jsonPrinter) Del(r *quicclient.DeleteResponse) error {
	return p.print(&jsonDelete{Header: jsonHeader(r.Header), Deleted: r.Deleted, PrevKVs: toJSONKVs(r.PrevKVs)})
}

func (p *jsonPrinter) Txn(r *quicclient.TxnResponse) error {
	return p.print(toJSONTxn(jsonHeader(r.Header), r.Succeeded, r.Responses))
}

func (p *jsonPrinter) Watch(r *quicclient.WatchResponse) error {
	out := jsonWatch{Header: *jsonHeader(r.Header), CompactRevision: r.CompactRevision, Canceled: r.Canceled, Created: r.Created}
	for i := range r.Events {
		ev := &r.Events[i]
		out.Events = append(out.Events, &jsonEvent{Type: int32(ev.Type), KV: toJSONKV(&ev.KV), PrevKV: toJSONKV(ev.PrevKV)})
	}
	return p.print(&out)
}

func (p *jsonPrinter) Grant(r *quicclient.LeaseGrantResponse) error {
	return p.print(&jsonLeaseGrant{JSONHeader: jsonHeader(r.Header), ID: r.ID, TTL: r.TTL})
}

func (p *jsonPrinter) Revoke(_ int64, h quicclient.Header) error {
	return p.print(&jsonHeaderOnly{Header: jsonHeader(h)})
}

func (p *jsonPrinter) KeepAlive(r *quicclient.LeaseKeepAliveResponse) error {
	return p.print(&jsonLeaseKeepAlive{JSONHeader: jsonHeader(r.Header), ID: r.ID, TTL: r.TTL})
}

func (p *jsonPrinter) TimeToLive(r *quicclient.LeaseTimeToLiveResponse, _ bool) error {
	return p.print(&jsonLeaseTimeToLive{JSONHeader: jsonHeader(r.Header), ID: r.ID, TTL: r.TTL, GrantedTTL: r.GrantedTTL, Keys: r.Keys})
}

func (p *jsonPrinter) Leases(r *quicclient.LeaseListResponse) error {
	out := &jsonLeases{JSONHeader: jsonHeader(r.Header), Leases: []jsonLeaseStatus{}}
	for _, id := range r.IDs {
		out.Leases = append(out.Leases, jsonLeaseStatus{ID: id})
	}
	return p.print(out)
}

func (p *jsonPrinter) MemberAdd(r *quicclient.MemberAddResponse) error {
	return p.members(r.Header, &r.Member, r.Members)
}

func (p *jsonPrinter) MemberRemove(_ uint64, r *quicclient.MemberListResponse) error {
	return p.members(r.Header, nil, r.Members)
}

func (p *jsonPrinter) MemberUpdate(_ uint64, r *quicclient.MemberListResponse) error {
	return p.members(r.Header, nil, r.Members)
}

func (p *jsonPrinter) MemberPromote(_ uint64, r *quicclient.MemberListResponse) error {
	return p.members(r.Header, nil, r.Members)
}

func (p *jsonPrinter) MemberList(r *quicclient.MemberListResponse) error {
	return p.members(r.Header, nil, r.Members)
}

func (p *jsonPrinter) EndpointHealth(hs []epHealth) error {
	if hs == nil {
		hs = []epHealth{}
	}
	return p.print(hs)
}

func (p *jsonPrinter) EndpointStatus(ss []epStatus) error {
	out := []jsonEpStatus{}
	for _, s := range ss {
		r := s.Resp
		out = append(out, jsonEpStatus{Endpoint: s.Ep, Status: &jsonStatus{
			Header: jsonHeader(r.Header), Version: r.Version, DBSize: r.DBSize, Leader: r.Leader,
			RaftIndex: r.RaftIndex, RaftTerm: r.RaftTerm, RaftAppliedIndex: r.RaftAppliedIndex,
			Errors: r.Errors, DBSizeInUse: r.DBSizeInUse, IsLearner: r.IsLearner,
		}})
	}
	return p.print(out)
}

func (p *jsonPrinter) EndpointHashKV(hs []epHashKV) error {
	out := []jsonEpHashKV{}
	for _, h := range hs {
		r := h.Resp
		out = append(out, jsonEpHashKV{Endpoint: h.Ep, HashKV: &jsonHashKV{
			Header: jsonHeader(r.Header), Hash: r.Hash, CompactRevision: r.CompactRevision, HashRevision: r.HashRevision,
		}})
	}
	return p.print(out)
}

func (p *jsonPrinter) MoveLeader(_, _ uint64, h quicclient.Header) error {
	return p.print(&jsonHeaderOnly{Header: jsonHeader(h)})
}

func (p *jsonPrinter) Alarm(r *quicclient.AlarmResponse) error {
	out := &jsonAlarms{Header: jsonHeader(r.Header)}
	for _, a := range r.Alarms {
		out.Alarms = append(out.Alarms, &jsonAlarmMember{MemberID: a.MemberID, Alarm: int32(a.Alarm)})
	}
	return p.print(out)
}

func (p *jsonPrinter) DBStatus(s dbStatus) error { return p.print(s) }
