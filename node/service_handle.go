package node

import (
	"context"
	"fmt"

	"etcq.dev/etcq/wire"
)

// Version is the version of etcq a member reports.
const Version = "0.1.0"

// handle serves one request of a request stream.
func (s *Service) handle(c *clientConn, req *wire.Request) *wire.Response {
	s.stats.requests.Add(1)
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.RequestTimeout)
	defer cancel()
	body, rev, err := s.do(ctx, req)
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

// do runs one request and returns its response body and the revision it was served at
// (0: the current one).
func (s *Service) do(ctx context.Context, req *wire.Request) (any, int64, error) {
	m := s.m
	switch body := req.Body.(type) {
	case *wire.RangeRequest:
		r, err := m.Range(ctx, rangeFromWire(body), body.Serializable)
		if err != nil {
			return nil, 0, err
		}
		return rangeToWire(r), r.Revision, nil
	case *wire.PutRequest:
		r, err := m.Put(ctx, putFromWire(body))
		if err != nil {
			return nil, 0, err
		}
		return putToWire(r), r.Revision, nil
	case *wire.DeleteRangeRequest:
		r, err := m.DeleteRange(ctx, deleteFromWire(body))
		if err != nil {
			return nil, 0, err
		}
		return deleteToWire(r), r.Revision, nil
	case *wire.TxnRequest:
		if n := body.Ops(); n > s.cfg.Limits.MaxTxnOps {
			return nil, 0, wire.Errorf(wire.CodeTooManyOps, "txn has %d operations; the limit is %d", n, s.cfg.Limits.MaxTxnOps)
		}
		if !validOps(body) {
			return nil, 0, wire.Errorf(wire.CodeBadRequest, "every txn operation must set exactly one of range, put, delete range, txn")
		}
		r, err := m.Txn(ctx, txnFromWire(body))
		if err != nil {
			return nil, 0, err
		}
		return txnToWire(r), r.Revision, nil
	case *wire.CompactRequest:
		return s.compact(ctx, body)
	case *wire.LeaseGrantRequest:
		r, err := m.LeaseGrant(ctx, body.ID, body.TTL)
		if err != nil {
			return nil, 0, err
		}
		return &wire.LeaseGrantResponse{ID: r.ID, TTL: r.TTL}, r.Revision, nil
	case *wire.LeaseRevokeRequest:
		r, err := m.LeaseRevoke(ctx, body.ID)
		if err != nil {
			return nil, 0, err
		}
		return &wire.Empty{}, r.Revision, nil
	case *wire.LeaseKeepAliveRequest:
		r, err := m.LeaseRenew(ctx, body.ID)
		if err != nil {
			return nil, 0, err
		}
		return &wire.LeaseKeepAliveResponse{ID: r.ID, TTL: r.TTL}, r.Revision, nil
	case *wire.LeaseTimeToLiveRequest:
		info, err := m.LeaseTimeToLive(ctx, body.ID, body.Keys)
		if err != nil {
			return nil, 0, err
		}
		return &wire.LeaseTimeToLiveResponse{ID: info.ID, TTL: info.TTL, GrantedTTL: info.GrantedTTL, Keys: info.Keys}, 0, nil
	}
	if req.Op == wire.OpLeaseLeases {
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
		return s.cluster(ctx, req)
	case wire.OpStatus, wire.OpAlarm, wire.OpDefragment, wire.OpHash, wire.OpHashKV, wire.OpMoveLeader:
		return s.maintenance(ctx, req)
	case wire.OpWatchCreate, wire.OpWatchCancel, wire.OpWatchProgress, wire.OpWatch, wire.OpSnapshot:
		return nil, 0, wire.Errorf(wire.CodeBadStream, "%v belongs on its own kind of stream", req.Op)
	}
	return nil, 0, wire.Errorf(wire.CodeUnimplemented, "%v is not implemented by this member", req.Op)
}

func (s *Service) compact(ctx context.Context, req *wire.CompactRequest) (any, int64, error) {
	r, err := s.m.Compact(ctx, req.Revision)
	if err != nil {
		return nil, 0, err
	}
	if req.Physical {
		select {
		case <-r.Done:
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("node: waiting for the compaction to reach the disk: %w", ctx.Err())
		}
	}
	return &wire.CompactResponse{}, r.Revision, nil
}

func (s *Service) cluster(ctx context.Context, req *wire.Request) (any, int64, error) {
	m := s.m
	var (
		members []MemberInfo
		err     error
	)
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

func (s *Service) maintenance(ctx context.Context, req *wire.Request) (any, int64, error) {
	m := s.m
	switch body := req.Body.(type) {
	case *wire.AlarmRequest:
		if body.Action != wire.AlarmGet {
			return nil, 0, wire.Errorf(wire.CodeUnimplemented, "raising and clearing alarms is not implemented by this member")
		}
		return &wire.AlarmResponse{}, 0, nil
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
	case wire.OpHash:
		h, err := m.store.Hash()
		if err != nil {
			return nil, 0, err
		}
		return &wire.HashResponse{Hash: h}, 0, nil
	}
	return nil, 0, wire.Errorf(wire.CodeUnimplemented, "%v is not implemented by this member", req.Op)
}
