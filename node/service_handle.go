package node

import (
	"context"
	"fmt"

	"etcq.dev/etcq/storage"
	"etcq.dev/etcq/wire"
)

// Version is the version of etcq a member reports.
const Version = "0.1.0"

// handle serves one request of a request stream.
func (s *Service) handle(parent context.Context, c *clientConn, req *wire.Request) *wire.Response {
	s.stats.requests.Add(1)
	ctx, cancel := context.WithTimeout(parent, s.cfg.RequestTimeout)
	defer cancel()
	body, rev, err := s.do(ctx, c, req)
	resp := &wire.Response{ID: req.ID, Op: req.Op, Header: s.header(rev)}
	if err != nil {
		we := toWireError(err)
		resp.Code, resp.Message = we.Code, we.Message
		if resp.Code == wire.CodeInternal {
			c.log.Warn("request failed", "op", req.Op.String(), "err", err)
		}
		return resp
	}
	resp.Body = body
	return resp
}

// header describes this member; rev 0 stands for the store's current revision.
func (s *Service) header(rev int64) wire.Header {
	if rev == 0 {
		rev = s.m.store.Rev()
	}
	return wire.Header{ClusterID: s.m.ClusterID(), MemberID: s.m.ID(), Revision: rev, RaftTerm: s.m.Term()}
}

// do runs one request of c and returns its response body and the revision it was served
// at (0: the current one). Every operation is checked for its caller (service_auth.go).
func (s *Service) do(ctx context.Context, c *clientConn, req *wire.Request) (any, int64, error) {
	m := s.m
	switch body := req.Body.(type) {
	case *wire.RangeRequest:
		r, err := s.kvRange(ctx, c, req.Token, body)
		if err != nil {
			return nil, 0, err
		}
		return rangeToWire(r), r.Revision, nil
	case *wire.PutRequest:
		p := putFromWire(body)
		resp, err := s.propose(ctx, c, req.Token, &request{Op: opPut, Put: &p})
		if err != nil {
			return nil, 0, err
		}
		r := resp.(*storage.PutResponse)
		return putToWire(r), r.Revision, nil
	case *wire.DeleteRangeRequest:
		d := deleteFromWire(body)
		resp, err := s.propose(ctx, c, req.Token, &request{Op: opDeleteRange, DeleteRange: &d})
		if err != nil {
			return nil, 0, err
		}
		r := resp.(*storage.DeleteRangeResponse)
		return deleteToWire(r), r.Revision, nil
	case *wire.TxnRequest:
		if n := body.Ops(); n > s.cfg.Limits.MaxTxnOps {
			return nil, 0, wire.Errorf(wire.CodeTooManyOps, "txn has %d operations; the limit is %d", n, s.cfg.Limits.MaxTxnOps)
		}
		if !validOps(body) {
			return nil, 0, wire.Errorf(wire.CodeBadRequest, "every txn operation must set exactly one of range, put, delete range, txn")
		}
		t := txnFromWire(body)
		resp, err := s.propose(ctx, c, req.Token, &request{Op: opTxn, Txn: &t})
		if err != nil {
			return nil, 0, err
		}
		r := resp.(*storage.TxnResponse)
		return txnToWire(r), r.Revision, nil
	case *wire.CompactRequest:
		return s.compact(ctx, c, req.Token, body)
	case *wire.LeaseGrantRequest:
		if err := s.checkAuthenticated(c, req.Token, "lease grant"); err != nil {
			return nil, 0, err
		}
		r, err := m.LeaseGrant(ctx, body.ID, body.TTL)
		if err != nil {
			return nil, 0, err
		}
		return &wire.LeaseGrantResponse{ID: r.ID, TTL: r.TTL}, r.Revision, nil
	case *wire.LeaseRevokeRequest:
		// The keys the lease deletes are checked at apply, where they are known.
		resp, err := s.propose(ctx, c, req.Token, &request{Op: opLeaseRevoke, Lease: &leaseRequest{ID: body.ID}})
		if err != nil {
			return nil, 0, err
		}
		return &wire.Empty{}, resp.(*LeaseRevokeResult).Revision, nil
	case *wire.LeaseKeepAliveRequest:
		if err := s.checkAuthenticated(c, req.Token, "lease keep alive"); err != nil {
			return nil, 0, err
		}
		r, err := m.LeaseRenew(ctx, body.ID)
		if err != nil {
			return nil, 0, err
		}
		return &wire.LeaseKeepAliveResponse{ID: r.ID, TTL: r.TTL}, r.Revision, nil
	case *wire.LeaseTimeToLiveRequest:
		r, err := s.leaseTimeToLive(ctx, c, req.Token, body)
		if err != nil {
			return nil, 0, err
		}
		return r, 0, nil
	}
	if req.Op == wire.OpLeaseLeases {
		if err := s.checkAuthenticated(c, req.Token, "lease list"); err != nil {
			return nil, 0, err
		}
		ids, err := m.Leases(ctx)
		if err != nil {
			return nil, 0, err
		}
		resp := &wire.LeaseLeasesResponse{Leases: make([]wire.LeaseStatus, len(ids))}
		for i, id := range ids {
			resp.Leases[i].ID = id
		}
		return resp, 0, nil
	}
	switch req.Op {
	case wire.OpMemberList, wire.OpMemberAdd, wire.OpMemberRemove, wire.OpMemberUpdate, wire.OpMemberPromote:
		return s.cluster(ctx, c, req)
	case wire.OpStatus, wire.OpAlarm, wire.OpDefragment, wire.OpHash, wire.OpHashKV, wire.OpMoveLeader:
		return s.maintenance(ctx, c, req)
	case wire.OpAuthEnable, wire.OpAuthDisable, wire.OpAuthStatus, wire.OpAuthenticate,
		wire.OpUserAdd, wire.OpUserGet, wire.OpUserList, wire.OpUserDelete, wire.OpUserChangePassword,
		wire.OpUserGrantRole, wire.OpUserRevokeRole, wire.OpRoleAdd, wire.OpRoleGet, wire.OpRoleList,
		wire.OpRoleDelete, wire.OpRoleGrantPermission, wire.OpRoleRevokePermission:
		return s.authOp(ctx, c, req)
	case wire.OpWatchCreate, wire.OpWatchCancel, wire.OpWatchProgress, wire.OpWatch, wire.OpSnapshot:
		return nil, 0, wire.Errorf(wire.CodeBadStream, "%v belongs on its own kind of stream", req.Op)
	}
	return nil, 0, wire.Errorf(wire.CodeUnimplemented, "%v is not implemented by this member", req.Op)
}

func (s *Service) compact(ctx context.Context, c *clientConn, token string, req *wire.CompactRequest) (any, int64, error) {
	resp, err := s.propose(ctx, c, token, &request{Op: opCompact, Compact: req.Revision})
	if err != nil {
		return nil, 0, err
	}
	r := resp.(*CompactResponse)
	if req.Physical {
		select {
		case <-r.Done:
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("node: waiting for the compaction to reach the disk: %w", ctx.Err())
		}
	}
	return &wire.CompactResponse{}, r.Revision, nil
}

func (s *Service) cluster(ctx context.Context, c *clientConn, req *wire.Request) (any, int64, error) {
	m := s.m
	// Any user may list the members (as in etcd, and clients discover endpoints so);
	// changing them is for root.
	who, err := s.resolve(c, req.Token)
	if err != nil {
		return nil, 0, err
	}
	if req.Op == wire.OpMemberList {
		err = who.authenticated(req.Op.String())
	} else {
		err = who.admin(req.Op.String())
		// The change carries its caller, and apply checks it again (applyConfChange).
		ctx = withCaller(ctx, who.stamp())
	}
	if err != nil {
		return nil, 0, err
	}
	var members []MemberInfo
	switch body := req.Body.(type) {
	case *wire.MemberListRequest:
		if body.Linearizable {
			if err := m.linearizableWait(ctx); err != nil {
				return nil, 0, err
			}
		}
		members = m.Members()
	case *wire.MemberAddRequest:
		added, list, err := m.AddMember(ctx, body.Name, body.PeerURLs, body.IsLearner)
		if err != nil {
			return nil, 0, err
		}
		return &wire.MemberAddResponse{Member: memberToWire(added), Members: membersToWire(list)}, 0, nil
	case *wire.MemberRemoveRequest:
		members, err = m.RemoveMember(ctx, body.ID)
	case *wire.MemberUpdateRequest:
		members, err = m.UpdateMember(ctx, body.ID, body.PeerURLs)
	case *wire.MemberPromoteRequest:
		members, err = m.PromoteMember(ctx, body.ID)
	}
	if err != nil {
		return nil, 0, err
	}
	return &wire.MemberListResponse{Members: membersToWire(members)}, 0, nil
}

func (s *Service) maintenance(ctx context.Context, c *clientConn, req *wire.Request) (any, int64, error) {
	m := s.m
	if req.Op != wire.OpStatus { // Status is open: clients probe it to choose a member
		if err := s.checkAdmin(c, req.Token, req.Op.String()); err != nil {
			return nil, 0, err
		}
	}
	switch body := req.Body.(type) {
	case *wire.AlarmRequest:
		return s.alarm(ctx, body)
	case *wire.HashKVRequest:
		h, err := m.store.HashKV(body.Revision)
		if err != nil {
			return nil, 0, err
		}
		return &wire.HashKVResponse{Hash: h.Hash, CompactRevision: h.CompactRevision, HashRevision: h.Revision}, h.Revision, nil
	case *wire.MoveLeaderRequest:
		if err := m.MoveLeader(ctx, body.TargetID); err != nil {
			return nil, 0, err
		}
		return &wire.Empty{}, 0, nil
	}
	switch req.Op {
	case wire.OpStatus:
		st := m.Status()
		resp := &wire.StatusResponse{
			Version: Version, DBSize: st.DBSize, DBSizeInUse: st.DBSizeInUse, Leader: st.Leader,
			RaftIndex: st.CommitIndex, RaftTerm: st.Term, RaftAppliedIndex: st.Applied, IsLearner: st.IsLearner,
		}
		if err := m.store.Err(); err != nil {
			resp.Errors = append(resp.Errors, err.Error())
		}
		return resp, st.Revision, nil
	case wire.OpDefragment:
		if err := m.store.Defrag(); err != nil {
			return nil, 0, err
		}
		return &wire.Empty{}, 0, nil
	case wire.OpHash:
		h, err := m.store.Hash()
		if err != nil {
			return nil, 0, err
		}
		return &wire.HashResponse{Hash: h}, 0, nil
	}
	return nil, 0, wire.Errorf(wire.CodeUnimplemented, "%v is not implemented by this member", req.Op)
}

// alarm lists, raises or clears alarms.
func (s *Service) alarm(ctx context.Context, req *wire.AlarmRequest) (any, int64, error) {
	var list []Alarm
	var err error
	switch req.Action {
	case wire.AlarmGet:
		list, err = s.m.Alarms(ctx)
		if err == nil && (req.MemberID != 0 || req.Alarm != wire.AlarmNone) {
			kept := list[:0]
			for _, a := range list {
				if (req.MemberID == 0 || a.Member == req.MemberID) && (req.Alarm == wire.AlarmNone || a.Type == AlarmType(req.Alarm)) {
					kept = append(kept, a)
				}
			}
			list = kept
		}
	case wire.AlarmActivate:
		if req.MemberID == 0 || req.Alarm == wire.AlarmNone {
			return nil, 0, wire.Errorf(wire.CodeBadRequest, "alarm activate needs a member and an alarm type")
		}
		list, err = s.m.SetAlarm(ctx, true, req.MemberID, AlarmType(req.Alarm))
	case wire.AlarmDeactivate:
		list, err = s.m.SetAlarm(ctx, false, req.MemberID, AlarmType(req.Alarm))
	default:
		return nil, 0, wire.Errorf(wire.CodeBadRequest, "unknown alarm action %d", req.Action)
	}
	if err != nil {
		return nil, 0, err
	}
	resp := &wire.AlarmResponse{Alarms: make([]wire.AlarmMember, len(list))}
	for i, a := range list {
		resp.Alarms[i] = wire.AlarmMember{MemberID: a.Member, Alarm: wire.AlarmType(a.Type)}
	}
	return resp, 0, nil
}
