package node

import (
	"io"
	"net/http"
	"time"

	"etcq.dev/etcq/wire"
)

// etcd's gateway paths (its rpc.proto's google.api.http options): POST with the request
// as JSON, the response as JSON. Each maps to one operation of the client service.

// v3Route is one unary path: its operation, how its JSON request becomes the wire
// request body, and how the wire response body becomes its JSON response.
type v3Route struct {
	op     wire.Op
	decode func(io.Reader) (any, error)
	encode func(h *jHeader, body any) any
}

// in reads a request of JSON type J and converts it.
func in[J any](conv func(*J) (any, error)) func(io.Reader) (any, error) {
	return func(r io.Reader) (any, error) {
		var j J
		if err := decodeOne(r, &j); err != nil {
			return nil, err
		}
		return conv(&j)
	}
}

// none reads a request that carries nothing (any JSON object will do).
func none(r io.Reader) (any, error) {
	var j struct{}
	if err := decodeOne(r, &j); err != nil {
		return nil, err
	}
	return &wire.Empty{}, nil
}

func headerOnly(h *jHeader, _ any) any { return &jHeaderOnly{Header: h} }

func memberList(h *jHeader, body any) any {
	return &jMemberListResponse{Header: h, Members: membersOut(body.(*wire.MemberListResponse).Members)}
}

var v3Routes map[string]v3Route

func init() {
	leaseRevoke := v3Route{wire.OpLeaseRevoke, in(func(j *jIDRequest) (any, error) {
		return &wire.LeaseRevokeRequest{ID: int64(j.ID)}, nil
	}), headerOnly}
	leaseTimeToLive := v3Route{wire.OpLeaseTimeToLive, in(func(j *jLeaseTimeToLiveRequest) (any, error) {
		return &wire.LeaseTimeToLiveRequest{ID: int64(j.ID), Keys: j.Keys}, nil
	}), func(h *jHeader, body any) any {
		r := body.(*wire.LeaseTimeToLiveResponse)
		return &jLeaseTimeToLiveResponse{Header: h, ID: r.ID, TTL: r.TTL, GrantedTTL: r.GrantedTTL, Keys: r.Keys}
	}}
	leaseLeases := v3Route{wire.OpLeaseLeases, none, func(h *jHeader, body any) any {
		out := &jLeaseLeasesResponse{Header: h}
		for _, l := range body.(*wire.LeaseLeasesResponse).Leases {
			out.Leases = append(out.Leases, jLeaseStatus(l))
		}
		return out
	}}
	v3Routes = map[string]v3Route{
		"kv/range": {wire.OpRange, in(func(j *jRangeRequest) (any, error) { return j.wire(), nil }),
			func(h *jHeader, body any) any { return rangeOut(h, body.(*wire.RangeResponse)) }},
		"kv/put": {wire.OpPut, in(func(j *jPutRequest) (any, error) { return j.wire(), nil }),
			func(h *jHeader, body any) any {
				return &jPutResponse{Header: h, PrevKV: kvOut(body.(*wire.PutResponse).PrevKV)}
			}},
		"kv/deleterange": {wire.OpDeleteRange, in(func(j *jDeleteRangeRequest) (any, error) { return j.wire(), nil }),
			func(h *jHeader, body any) any {
				r := body.(*wire.DeleteRangeResponse)
				return &jDeleteRangeResponse{Header: h, Deleted: r.Deleted, PrevKVs: kvsOut(r.PrevKVs)}
			}},
		"kv/txn": {wire.OpTxn, in(func(j *jTxnRequest) (any, error) { return j.wire(), nil }),
			func(h *jHeader, body any) any { return txnOut(h, body.(*wire.TxnResponse)) }},
		"kv/compaction": {wire.OpCompact, in(func(j *jCompactionRequest) (any, error) {
			return &wire.CompactRequest{Revision: int64(j.Revision), Physical: j.Physical}, nil
		}), headerOnly},

		"lease/grant": {wire.OpLeaseGrant, in(func(j *jLeaseGrantRequest) (any, error) {
			return &wire.LeaseGrantRequest{TTL: int64(j.TTL), ID: int64(j.ID)}, nil
		}), func(h *jHeader, body any) any {
			r := body.(*wire.LeaseGrantResponse)
			return &jLeaseGrantResponse{Header: h, ID: r.ID, TTL: r.TTL}
		}},
		"lease/revoke":        leaseRevoke,
		"kv/lease/revoke":     leaseRevoke,
		"lease/timetolive":    leaseTimeToLive,
		"kv/lease/timetolive": leaseTimeToLive,
		"lease/leases":        leaseLeases,
		"kv/lease/leases":     leaseLeases,

		"cluster/member/list": {wire.OpMemberList, in(func(j *jMemberListRequest) (any, error) {
			return &wire.MemberListRequest{Linearizable: j.Linearizable}, nil
		}), memberList},
		"cluster/member/add": {wire.OpMemberAdd, in(func(j *jMemberAddRequest) (any, error) {
			return &wire.MemberAddRequest{PeerURLs: j.PeerURLs, IsLearner: j.IsLearner, Name: j.Name}, nil
		}), func(h *jHeader, body any) any {
			r := body.(*wire.MemberAddResponse)
			m := memberOut(r.Member)
			return &jMemberAddResponse{Header: h, Member: &m, Members: membersOut(r.Members)}
		}},
		"cluster/member/remove": {wire.OpMemberRemove, in(func(j *jMemberIDRequest) (any, error) {
			return &wire.MemberRemoveRequest{ID: uint64(j.ID)}, nil
		}), memberList},
		"cluster/member/update": {wire.OpMemberUpdate, in(func(j *jMemberUpdateRequest) (any, error) {
			return &wire.MemberUpdateRequest{ID: uint64(j.ID), PeerURLs: j.PeerURLs}, nil
		}), memberList},
		"cluster/member/promote": {wire.OpMemberPromote, in(func(j *jMemberIDRequest) (any, error) {
			return &wire.MemberPromoteRequest{ID: uint64(j.ID)}, nil
		}), memberList},

		"maintenance/status": {wire.OpStatus, none, func(h *jHeader, body any) any {
			r := body.(*wire.StatusResponse)
			return &jStatusResponse{Header: h, Version: r.Version, DBSize: r.DBSize, Leader: r.Leader,
				RaftIndex: r.RaftIndex, RaftTerm: r.RaftTerm, RaftAppliedIndex: r.RaftAppliedIndex,
				Errors: r.Errors, DBSizeInUse: r.DBSizeInUse, IsLearner: r.IsLearner}
		}},
		"maintenance/alarm": {wire.OpAlarm, in(func(j *jAlarmRequest) (any, error) {
			return &wire.AlarmRequest{Action: wire.AlarmAction(j.Action), MemberID: uint64(j.MemberID), Alarm: wire.AlarmType(j.Alarm)}, nil
		}), func(h *jHeader, body any) any {
			out := &jAlarmResponse{Header: h}
			for _, a := range body.(*wire.AlarmResponse).Alarms {
				out.Alarms = append(out.Alarms, jAlarmMember{MemberID: a.MemberID, Alarm: jEnum[alarmTypeNames](a.Alarm)})
			}
			return out
		}},
		"maintenance/defragment": {wire.OpDefragment, none, headerOnly},
		"maintenance/hash": {wire.OpHash, none, func(h *jHeader, body any) any {
			return &jHashResponse{Header: h, Hash: body.(*wire.HashResponse).Hash}
		}},
		"maintenance/hashkv": {wire.OpHashKV, in(func(j *jHashKVRequest) (any, error) {
			return &wire.HashKVRequest{Revision: int64(j.Revision)}, nil
		}), func(h *jHeader, body any) any {
			r := body.(*wire.HashKVResponse)
			return &jHashKVResponse{Header: h, Hash: r.Hash, CompactRevision: r.CompactRevision, HashRevision: r.HashRevision}
		}},
		"maintenance/transfer-leadership": {wire.OpMoveLeader, in(func(j *jMoveLeaderRequest) (any, error) {
			return &wire.MoveLeaderRequest{TargetID: uint64(j.TargetID)}, nil
		}), headerOnly},

		"auth/enable":  {wire.OpAuthEnable, none, headerOnly},
		"auth/disable": {wire.OpAuthDisable, none, headerOnly},
		"auth/status": {wire.OpAuthStatus, none, func(h *jHeader, body any) any {
			r := body.(*wire.AuthStatusResponse)
			return &jAuthStatusResponse{Header: h, Enabled: r.Enabled, AuthRevision: r.AuthRevision}
		}},
		"auth/authenticate": {wire.OpAuthenticate, in(func(j *jAuthenticateRequest) (any, error) {
			return &wire.AuthenticateRequest{Name: j.Name, Password: j.Password}, nil
		}), func(h *jHeader, body any) any {
			return &jAuthenticateResponse{Header: h, Token: body.(*wire.AuthenticateResponse).Token}
		}},
		"auth/user/add": {wire.OpUserAdd, in(func(j *jUserAddRequest) (any, error) {
			if j.HashedPassword != "" {
				return nil, wire.Errorf(wire.CodeUnimplemented, "user add %q: hashed passwords are not accepted; give the password", j.Name)
			}
			return &wire.UserAddRequest{Name: j.Name, Password: j.Password, NoPassword: j.Options != nil && j.Options.NoPassword}, nil
		}), headerOnly},
		"auth/user/get": {wire.OpUserGet, in(func(j *jNameRequest) (any, error) {
			return &wire.UserRequest{Name: j.Name}, nil
		}), func(h *jHeader, body any) any {
			return &jRolesResponse{Header: h, Roles: body.(*wire.UserGetResponse).Roles}
		}},
		"auth/user/list": {wire.OpUserList, none, func(h *jHeader, body any) any {
			return &jUsersResponse{Header: h, Users: body.(*wire.NameListResponse).Names}
		}},
		"auth/user/delete": {wire.OpUserDelete, in(func(j *jNameRequest) (any, error) {
			return &wire.UserRequest{Name: j.Name}, nil
		}), headerOnly},
		"auth/user/changepw": {wire.OpUserChangePassword, in(func(j *jUserChangePasswordRequest) (any, error) {
			if j.HashedPassword != "" {
				return nil, wire.Errorf(wire.CodeUnimplemented, "user change password %q: hashed passwords are not accepted; give the password", j.Name)
			}
			return &wire.UserChangePasswordRequest{Name: j.Name, Password: j.Password}, nil
		}), headerOnly},
		"auth/user/grant": {wire.OpUserGrantRole, in(func(j *jUserGrantRoleRequest) (any, error) {
			return &wire.UserRoleRequest{User: j.User, Role: j.Role}, nil
		}), headerOnly},
		"auth/user/revoke": {wire.OpUserRevokeRole, in(func(j *jUserRevokeRoleRequest) (any, error) {
			return &wire.UserRoleRequest{User: j.Name, Role: j.Role}, nil
		}), headerOnly},
		"auth/role/add": {wire.OpRoleAdd, in(func(j *jNameRequest) (any, error) {
			return &wire.RoleRequest{Role: j.Name}, nil
		}), headerOnly},
		"auth/role/get": {wire.OpRoleGet, in(func(j *jRoleRequest) (any, error) {
			return &wire.RoleRequest{Role: j.Role}, nil
		}), func(h *jHeader, body any) any {
			out := &jRoleGetResponse{Header: h}
			for _, p := range body.(*wire.RoleGetResponse).Perm {
				out.Perm = append(out.Perm, jPermission{PermType: jEnum[permTypeNames](p.PermType), Key: p.Key, RangeEnd: p.RangeEnd})
			}
			return out
		}},
		"auth/role/list": {wire.OpRoleList, none, func(h *jHeader, body any) any {
			return &jRolesResponse{Header: h, Roles: body.(*wire.NameListResponse).Names}
		}},
		"auth/role/delete": {wire.OpRoleDelete, in(func(j *jRoleRequest) (any, error) {
			return &wire.RoleRequest{Role: j.Role}, nil
		}), headerOnly},
		"auth/role/grant": {wire.OpRoleGrantPermission, in(func(j *jRoleGrantPermissionRequest) (any, error) {
			r := &wire.RoleGrantPermissionRequest{Name: j.Name}
			if j.Perm != nil {
				r.Perm = wire.Permission{PermType: wire.PermType(j.Perm.PermType), Key: j.Perm.Key, RangeEnd: j.Perm.RangeEnd}
			}
			return r, nil
		}), headerOnly},
		"auth/role/revoke": {wire.OpRoleRevokePermission, in(func(j *jRoleRevokePermissionRequest) (any, error) {
			return &wire.RoleRevokePermissionRequest{Role: j.Role, Key: j.Key, RangeEnd: j.RangeEnd}, nil
		}), headerOnly},
	}
}

// v3 serves a path of etcd's gateway (name is the part after /v3/).
func (g *Gateway) v3(w http.ResponseWriter, r *http.Request, name string) {
	rt, unary := v3Routes[name]
	switch name {
	case "watch", "lease/keepalive", "maintenance/snapshot":
	default:
		if !unary {
			g.writeJSONError(w, grpcNotFound, "Not Found")
			return
		}
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		g.stats.failed.Add(1)
		writeJSON(w, http.StatusMethodNotAllowed, &jError{Error: "Method Not Allowed", Code: grpcUnimplemented, Message: "Method Not Allowed"})
		return
	}
	switch name {
	case "watch":
		g.watch(w, r)
		return
	case "lease/keepalive":
		g.keepAlive(w, r)
		return
	case "maintenance/snapshot":
		g.snapshot(w, r)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(g.s.cfg.RequestTimeout + g.cfg.WriteTimeout))
	body, err := rt.decode(http.MaxBytesReader(w, r.Body, g.jsonLimit()))
	if err != nil {
		g.fail(w, err)
		return
	}
	c, token := g.caller(r)
	resp, rev, err := g.do(r.Context(), c, &wire.Request{Op: rt.op, Token: token, Body: body})
	if err != nil {
		g.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rt.encode(headerOut(g.s.header(rev)), resp))
}
