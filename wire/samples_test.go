package wire

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// The sample messages: one value of every body type, with every field set and set apart
// from its neighbours (distinct numbers, distinct strings), so that reordering two fields
// changes the bytes. They feed the golden files, the compatibility tests, the fuzz seeds and
// the benchmarks. Booleans can only be true, so two adjacent booleans swapping places is the
// one reordering the golden files cannot show.

func sampleKV(n int64) KeyValue {
	return KeyValue{
		Key:            fmt.Appendf(nil, "key-%d", n),
		CreateRevision: 100*n + 1,
		ModRevision:    100*n + 2,
		Version:        100*n + 3,
		Value:          fmt.Appendf(nil, "value-%d", n),
		Lease:          100*n + 5,
	}
}

func sampleMember(n uint64) Member {
	return Member{
		ID:         1<<40 + n,
		Name:       fmt.Sprintf("member-%d", n),
		PeerURLs:   []string{fmt.Sprintf("https://10.0.0.%d:2380", n), fmt.Sprintf("https://10.0.1.%d:2380", n)},
		ClientURLs: []string{fmt.Sprintf("https://10.0.0.%d:2379", n)},
		IsLearner:  true,
	}
}

// sampleBodies returns one sample of every body type, by type (a pointer type, as
// NewRequestBody and NewResponseBody return).
func sampleBodies() map[reflect.Type]any {
	kv := sampleKV
	rangeReq := &RangeRequest{
		Key: []byte("range-key"), RangeEnd: []byte("range-end"), Limit: 11, Revision: 1 << 33,
		SortOrder: SortDescend, SortTarget: SortByValue, Serializable: true, KeysOnly: true,
		CountOnly: true, MinModRevision: 13, MaxModRevision: 300, MinCreateRevision: 15,
		MaxCreateRevision: 70000,
	}
	rangeResp := &RangeResponse{KVs: []KeyValue{kv(1), kv(2)}, More: true, Count: 1 << 33}
	putReq := &PutRequest{Key: []byte("put-key"), Value: []byte("put-value"), Lease: 21, PrevKV: true, IgnoreValue: true, IgnoreLease: true}
	putResp := &PutResponse{PrevKV: new(kv(3))}
	delReq := &DeleteRangeRequest{Key: []byte("delete-key"), RangeEnd: []byte("delete-end"), PrevKV: true}
	delResp := &DeleteRangeResponse{Deleted: 2, PrevKVs: []KeyValue{kv(4), kv(5)}}
	compares := []Compare{
		{Result: CompareNotEqual, Target: TargetValue, Key: []byte("cmp-key"), RangeEnd: []byte("cmp-end"),
			Version: 31, CreateRevision: 32, ModRevision: 33, Value: []byte("cmp-value"), Lease: 34},
		{Result: CompareLess, Target: TargetLease, Key: []byte("cmp-key-2"), Lease: -35},
	}
	all := []any{
		// KV
		rangeReq, rangeResp, putReq, putResp, delReq, delResp,
		&TxnRequest{
			Compare: compares,
			Success: []RequestOp{{Range: rangeReq}, {Put: putReq}},
			Failure: []RequestOp{{DeleteRange: delReq}, {Txn: &TxnRequest{
				Compare: compares[1:],
				Success: []RequestOp{{Put: putReq}},
				Failure: []RequestOp{{Range: rangeReq}},
			}}},
		},
		&TxnResponse{Succeeded: true, Responses: []ResponseOp{
			{Range: rangeResp}, {Put: putResp}, {DeleteRange: delResp},
			{Txn: &TxnResponse{Succeeded: true, Responses: []ResponseOp{{Put: putResp}}}},
		}},
		&CompactRequest{Revision: 41, Physical: true},
		&CompactResponse{},

		// Watch
		&WatchCreateRequest{Key: []byte("watch-key"), RangeEnd: []byte("watch-end"), StartRevision: 51,
			ProgressNotify: true, Filters: []FilterType{FilterNoDelete, FilterNoPut}, PrevKV: true,
			WatchID: 52, Fragment: true},
		&WatchCancelRequest{WatchID: 53},
		&WatchProgressRequest{},
		&WatchResponse{WatchID: -1, Created: true, Canceled: true, CompactRevision: 55,
			CancelReason: "cancel-reason", Fragment: true, Events: []Event{
				{Type: EventDelete, KV: kv(6), PrevKV: new(kv(7))},
				{Type: EventPut, KV: kv(8)},
			}},
		&Empty{},

		// Lease
		&LeaseGrantRequest{TTL: 61, ID: 62},
		&LeaseGrantResponse{ID: 63, TTL: 64},
		&LeaseRevokeRequest{ID: 65},
		&LeaseKeepAliveRequest{ID: 66},
		&LeaseKeepAliveResponse{ID: 67, TTL: -1},
		&LeaseTimeToLiveRequest{ID: 69, Keys: true},
		&LeaseTimeToLiveResponse{ID: 70, TTL: 71, GrantedTTL: 72, Keys: [][]byte{[]byte("lease-key-1"), []byte("lease-key-2")}},
		&LeaseLeasesResponse{Leases: []LeaseStatus{{ID: 73}, {ID: 1 << 50}}},

		// Cluster
		&MemberListRequest{Linearizable: true},
		&MemberListResponse{Members: []Member{sampleMember(1), sampleMember(2)}},
		&MemberAddRequest{PeerURLs: []string{"https://10.0.0.3:2380"}, IsLearner: true, Name: "member-3"},
		&MemberAddResponse{Member: sampleMember(3), Members: []Member{sampleMember(1), sampleMember(3)}},
		&MemberRemoveRequest{ID: 82},
		&MemberUpdateRequest{ID: 83, PeerURLs: []string{"https://10.0.0.4:2380"}},
		&MemberPromoteRequest{ID: 84},

		// Maintenance
		&StatusResponse{Version: "3.6.0-etcq", DBSize: 91 << 20, Leader: 92, RaftIndex: 93 << 10,
			RaftTerm: 94, RaftAppliedIndex: 95 << 20, Errors: []string{"status-error-1", "status-error-2"},
			DBSizeInUse: 96 << 10, IsLearner: true},
		&AlarmRequest{Action: AlarmDeactivate, MemberID: 97, Alarm: AlarmCorrupt},
		&AlarmResponse{Alarms: []AlarmMember{{MemberID: 98, Alarm: AlarmNoSpace}, {MemberID: 99, Alarm: AlarmCorrupt}}},
		&HashResponse{Hash: 0xdeadbeef},
		&HashKVRequest{Revision: 101},
		&HashKVResponse{Hash: 0xfeedface, CompactRevision: 102, HashRevision: 103},
		&SnapshotResponse{RemainingBytes: 1 << 20, Blob: []byte("snapshot-blob\x00\x01\x02"), Version: "3.6.0"},
		&MoveLeaderRequest{TargetID: 104},

		// Auth
		&AuthStatusResponse{Enabled: true, AuthRevision: 111},
		&AuthenticateRequest{Name: "user-1", Password: "password-1"},
		&AuthenticateResponse{Token: "auth-token-1"},
		&UserAddRequest{Name: "user-2", Password: "password-2", NoPassword: true},
		&UserRequest{Name: "user-3"},
		&UserGetResponse{Roles: []string{"role-1", "role-2"}},
		&UserChangePasswordRequest{Name: "user-4", Password: "password-4"},
		&UserRoleRequest{User: "user-5", Role: "role-5"},
		&RoleRequest{Role: "role-6"},
		&RoleGetResponse{Perm: []Permission{
			{PermType: PermReadWrite, Key: []byte("perm-key-1"), RangeEnd: []byte("perm-end-1")},
			{PermType: PermRead, Key: []byte("perm-key-2")},
		}},
		&NameListResponse{Names: []string{"name-1", "name-2"}},
		&RoleGrantPermissionRequest{Name: "role-7", Perm: Permission{PermType: PermWrite, Key: []byte("perm-key-3"), RangeEnd: []byte("perm-end-3")}},
		&RoleRevokePermissionRequest{Role: "role-8", Key: []byte("perm-key-4"), RangeEnd: []byte("perm-end-4")},
	}
	m := make(map[reflect.Type]any, len(all))
	for _, v := range all {
		m[reflect.TypeOf(v)] = v
	}
	return m
}

// sampleHeader has every field set.
var sampleHeader = Header{ClusterID: 0x1122334455667788, MemberID: 0x99aabbcc, Revision: 1<<40 + 7, RaftTerm: 9}

// sortedOps is every op of the table, in numeric order.
func sortedOps() []Op {
	var out []Op
	for op := range ops {
		out = append(out, op)
	}
	slices.Sort(out)
	return out
}

// sampleID gives the ops ids of every width: op << 8*(op%8) spans fixint to uint64.
func sampleID(op Op) uint64 { return uint64(op) << (8 * (uint(op) % 8)) }

type sample struct {
	name string // the golden file's name, without extension
	msg  any    // a Request or a Response
}

// sampleMessages returns a request and a response of every op, and the envelope variants.
func sampleMessages(tb testing.TB) []sample {
	tb.Helper()
	bodies := sampleBodies()
	body := func(op Op, v any) any {
		s, ok := bodies[reflect.TypeOf(v)]
		if !ok {
			tb.Fatalf("no sample body of type %T for op %v: add one to sampleBodies in samples_test.go", v, op)
		}
		return s
	}
	var out []sample
	for _, op := range sortedOps() {
		out = append(out,
			sample{op.String() + ".request", Request{ID: sampleID(op), Op: op, Token: "token-" + op.String(), Body: body(op, NewRequestBody(op))}},
			sample{op.String() + ".response", Response{ID: sampleID(op), Op: op, Code: CodeOK, Message: "message-" + op.String(), Header: sampleHeader, Body: body(op, NewResponseBody(op))}},
		)
	}
	return append(out,
		// A failed response: a code, a message, and a nil body.
		sample{"envelope.error-response", Response{ID: 1<<63 + 1, Op: OpPut, Code: CodeLeaseNotFound, Message: "lease 7 not found", Header: sampleHeader}},
		// A request without a token, and a body with every optional field absent.
		sample{"envelope.request-no-token", Request{ID: 42, Op: OpPut, Body: &PutRequest{Key: []byte("k")}}},
	)
}

// wireStructTypes returns every struct type a message can hold: the envelopes and what the
// op table reaches.
func wireStructTypes() []reflect.Type {
	seen := map[reflect.Type]bool{}
	var out []reflect.Type
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(t.Elem())
			return
		case reflect.Struct:
		default:
			return
		}
		if seen[t] {
			return
		}
		seen[t] = true
		out = append(out, t)
		for i := range t.NumField() {
			walk(t.Field(i).Type)
		}
	}
	walk(reflect.TypeFor[Request]())
	walk(reflect.TypeFor[Response]())
	for _, op := range sortedOps() {
		walk(reflect.TypeOf(NewRequestBody(op)))
		walk(reflect.TypeOf(NewResponseBody(op)))
	}
	slices.SortFunc(out, func(a, b reflect.Type) int {
		if a.Name() < b.Name() {
			return -1
		}
		if a.Name() > b.Name() {
			return 1
		}
		return 0
	})
	return out
}

// TestSamplesSetEveryField fails when a field of a wire type is zero in every sample: a new
// field needs a sample value, or the golden files would not freeze its place.
func TestSamplesSetEveryField(t *testing.T) {
	set := map[string]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Slice:
			if v.Type().Elem().Kind() != reflect.Uint8 {
				for i := range v.Len() {
					walk(v.Index(i))
				}
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if !v.Field(i).IsZero() {
					set[v.Type().Name()+"."+v.Type().Field(i).Name] = true
				}
				walk(v.Field(i))
			}
		}
	}
	for _, s := range sampleMessages(t) {
		walk(reflect.ValueOf(s.msg))
	}
	for _, typ := range wireStructTypes() {
		for i := range typ.NumField() {
			if name := typ.Name() + "." + typ.Field(i).Name; !set[name] {
				t.Errorf("%s is zero in every sample: give it a non-zero value in samples_test.go", name)
			}
		}
	}
}
