package node

import (
	"context"
	"errors"
	"slices"
	"time"

	"etcq.dev/etcq/auth"
	"etcq.dev/etcq/rbac"
	"etcq.dev/etcq/storage"
	"etcq.dev/etcq/wire"
)

// The client service's side of auth (see auth.go for the model): who each request runs
// as, whether it may do what it asks, and the auth operations themselves.
//
// Who may do what, when auth is enabled (when it is not, everyone may do everything):
//
//	Range, Watch create              read on the range
//	Put, DeleteRange                 write on the key or range (and read with prev_kv)
//	Txn                              read on every compare; every operation of both branches
//	LeaseRevoke                      write on every key attached to the lease (at apply)
//	LeaseGrant, KeepAlive, TimeToLive, Leases, MemberList
//	                                 any user (TimeToLive with keys: read on each key)
//	Status, AuthStatus, Authenticate anyone with a certificate of the cluster CA
//	UserGet, RoleGet                 root, or the user itself / a holder of the role
//	everything else                  root: Compact, membership changes, Alarm, Defragment,
//	                                 Hash, HashKV, MoveLeader, Snapshot, auth changes
//
// Status stays open (as in etcd): clients probe it, without a token, to choose a member.

// svcCaller is a request's caller as the service resolved it, and the View it resolved
// it against.
type svcCaller struct {
	access
	id auth.Identity
}

// resolve finds who a request of c with token runs as, against the current auth state:
// the token's user if there is a token (an invalid one is an error, never a fallback to
// the certificate), the certificate's CN otherwise.
func (s *Service) resolve(c *clientConn, token string) (svcCaller, error) {
	v := s.m.auth.View()
	id, err := v.Resolve(c.identity, token, time.Now())
	if err != nil {
		return svcCaller{}, err
	}
	return svcCaller{access: access{v: v, user: id.User}, id: id}, nil
}

// stamp is what the caller's proposals carry for apply to check again.
func (w svcCaller) stamp() *caller {
	return &caller{User: w.id.User, TokenRev: w.id.TokenRev, AuthRev: w.v.Revision()}
}

// propose checks a request for its caller and proposes it with the caller stamped on it.
// Every request is stamped, even while auth is disabled: it may be enabled before the
// request is applied.
func (s *Service) propose(ctx context.Context, c *clientConn, token string, r *request) (any, error) {
	who, err := s.resolve(c, token)
	if err != nil {
		return nil, err
	}
	if err := who.request(r); err != nil {
		return nil, err
	}
	r.Caller = who.stamp()
	return s.m.submit(ctx, r)
}

// kvRange serves a Range. A linearizable one is checked after its wait, against an auth
// state that includes every change completed before the read began.
func (s *Service) kvRange(ctx context.Context, c *clientConn, token string, body *wire.RangeRequest) (*storage.RangeResponse, error) {
	if !body.Serializable {
		if err := s.m.linearizableWait(ctx); err != nil {
			return nil, err
		}
	}
	who, err := s.resolve(c, token)
	if err != nil {
		return nil, err
	}
	rr := rangeFromWire(body)
	if err := who.rangeReq("range", &rr); err != nil {
		return nil, err
	}
	return s.m.Range(ctx, rr, true)
}

// checkAuthenticated refuses a caller the auth state does not know.
func (s *Service) checkAuthenticated(c *clientConn, token, op string) error {
	who, err := s.resolve(c, token)
	if err != nil {
		return err
	}
	return who.authenticated(op)
}

// checkAdmin refuses a caller that is not root.
func (s *Service) checkAdmin(c *clientConn, token, op string) error {
	who, err := s.resolve(c, token)
	if err != nil {
		return err
	}
	return who.admin(op)
}

// leaseTimeToLive serves TimeToLive: any user may ask, but the keys of the lease only
// with read on each (etcd's fix for CVE-2023-32082).
func (s *Service) leaseTimeToLive(ctx context.Context, c *clientConn, token string, body *wire.LeaseTimeToLiveRequest) (*wire.LeaseTimeToLiveResponse, error) {
	info, err := s.m.LeaseTimeToLive(ctx, body.ID, body.Keys)
	if err != nil {
		return nil, err
	}
	who, err := s.resolve(c, token)
	if err != nil {
		return nil, err
	}
	if err := who.authenticated("lease time to live"); err != nil {
		return nil, err
	}
	for _, k := range info.Keys {
		if err := who.need("lease time to live with keys: lease holds", rbac.Read, k, nil); err != nil {
			return nil, err
		}
	}
	return &wire.LeaseTimeToLiveResponse{ID: info.ID, TTL: info.TTL, GrantedTTL: info.GrantedTTL, Keys: info.Keys}, nil
}

// authorizeWatch checks a watch creation: read on its range. While auth is enabled the
// check waits for a linearizable read first, so that a permission revoked before the
// watch was asked for is not honoured by a member that has not applied the revoke yet.
func (s *Service) authorizeWatch(c *clientConn, token string, body *wire.WatchCreateRequest) error {
	if len(body.Key) == 0 {
		return nil // refused as malformed
	}
	if s.m.auth.View().Enabled() {
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.RequestTimeout)
		defer cancel()
		if err := s.m.linearizableWait(ctx); err != nil {
			return err
		}
	}
	who, err := s.resolve(c, token)
	if err != nil {
		return err
	}
	return who.need("watch", rbac.Read, body.Key, body.RangeEnd)
}

// authOp serves the auth service's operations.
func (s *Service) authOp(ctx context.Context, c *clientConn, req *wire.Request) (any, int64, error) {
	m := s.m
	switch body := req.Body.(type) {
	case *wire.AuthenticateRequest:
		return s.authenticate(ctx, c, body)
	case *wire.UserRequest:
		if req.Op == wire.OpUserGet {
			return s.userGet(ctx, c, req.Token, body.Name)
		}
	case *wire.RoleRequest:
		if req.Op == wire.OpRoleGet {
			return s.roleGet(ctx, c, req.Token, body.Role)
		}
	}
	switch req.Op {
	case wire.OpAuthStatus:
		if err := m.linearizableWait(ctx); err != nil {
			return nil, 0, err
		}
		st := m.auth.Status()
		return &wire.AuthStatusResponse{Enabled: st.Enabled, AuthRevision: st.Revision}, 0, nil
	case wire.OpUserList, wire.OpRoleList:
		if err := m.linearizableWait(ctx); err != nil {
			return nil, 0, err
		}
		if err := s.checkAdmin(c, req.Token, req.Op.String()); err != nil {
			return nil, 0, err
		}
		names := m.auth.UserList()
		if req.Op == wire.OpRoleList {
			names = m.auth.RoleList()
		}
		return &wire.NameListResponse{Names: names}, 0, nil
	}

	// A change: root only (anyone while auth is disabled), checked before any bcrypt is
	// spent on it, proposed, and checked again at apply.
	who, err := s.resolve(c, req.Token)
	if err != nil {
		return nil, 0, err
	}
	op, err := authOpFromWire(req)
	if err != nil {
		return nil, 0, err
	}
	if err := who.admin(op.Kind.String()); err != nil {
		return nil, 0, err
	}
	switch body := req.Body.(type) {
	case *wire.UserAddRequest:
		if !body.NoPassword {
			if op.Hash, err = m.hashPassword(ctx, body.Password); err != nil {
				return nil, 0, err
			}
		}
	case *wire.UserChangePasswordRequest:
		if op.Hash, err = m.hashPassword(ctx, body.Password); err != nil {
			return nil, 0, err
		}
	}
	if _, err := m.submit(ctx, &request{Op: opAuth, Auth: op, Caller: who.stamp()}); err != nil {
		return nil, 0, err
	}
	return &wire.Empty{}, 0, nil
}

// authOpFromWire turns a request for an auth change into its operation, without the
// password hash (made once the caller has been found to be allowed).
func authOpFromWire(req *wire.Request) (*authOp, error) {
	switch body := req.Body.(type) {
	case *wire.Empty:
		switch req.Op {
		case wire.OpAuthEnable:
			return &authOp{Kind: authEnable, TokenKey: auth.NewTokenKey()}, nil
		case wire.OpAuthDisable:
			return &authOp{Kind: authDisable}, nil
		}
	case *wire.UserAddRequest:
		if body.Password == "" && !body.NoPassword {
			return nil, wire.Errorf(wire.CodeBadRequest, "user add %q: empty password (add a certificate-only user with no-password)", body.Name)
		}
		return &authOp{Kind: authUserAdd, Name: body.Name, NoPassword: body.NoPassword}, nil
	case *wire.UserRequest:
		if req.Op == wire.OpUserDelete {
			return &authOp{Kind: authUserDelete, Name: body.Name}, nil
		}
	case *wire.UserChangePasswordRequest:
		if body.Password == "" {
			return nil, wire.Errorf(wire.CodeBadRequest, "user change password %q: empty password", body.Name)
		}
		return &authOp{Kind: authUserChangePassword, Name: body.Name}, nil
	case *wire.UserRoleRequest:
		switch req.Op {
		case wire.OpUserGrantRole:
			return &authOp{Kind: authUserGrantRole, Name: body.User, Role: body.Role}, nil
		case wire.OpUserRevokeRole:
			return &authOp{Kind: authUserRevokeRole, Name: body.User, Role: body.Role}, nil
		}
	case *wire.RoleRequest:
		switch req.Op {
		case wire.OpRoleAdd:
			return &authOp{Kind: authRoleAdd, Name: body.Role}, nil
		case wire.OpRoleDelete:
			return &authOp{Kind: authRoleDelete, Name: body.Role}, nil
		}
	case *wire.RoleGrantPermissionRequest:
		if t := rbac.PermType(body.Perm.PermType); !t.Valid() {
			return nil, wire.Errorf(wire.CodeBadRequest, "role grant permission %q: unknown permission type %d", body.Name, body.Perm.PermType)
		}
		return &authOp{Kind: authRoleGrantPermission, Name: body.Name, PermType: uint8(body.Perm.PermType),
			Key: body.Perm.Key, RangeEnd: body.Perm.RangeEnd}, nil
	case *wire.RoleRevokePermissionRequest:
		return &authOp{Kind: authRoleRevokePermission, Name: body.Role, Key: body.Key, RangeEnd: body.RangeEnd}, nil
	}
	return nil, wire.Errorf(wire.CodeUnimplemented, "%v is not implemented by this member", req.Op)
}

// authenticate exchanges a password for a token, after a linearizable wait (a password
// changed a moment ago is not accepted), with bcrypt in one of the member's slots.
func (s *Service) authenticate(ctx context.Context, c *clientConn, body *wire.AuthenticateRequest) (any, int64, error) {
	m := s.m
	if err := m.linearizableWait(ctx); err != nil {
		return nil, 0, err
	}
	v := m.auth.View()
	if !v.Enabled() {
		return nil, 0, auth.ErrAuthNotEnabled
	}
	var token string
	err := m.withBcrypt(ctx, func() error {
		var err error
		token, err = v.Authenticate(body.Name, body.Password, time.Now(), m.tokenTTL)
		return err
	})
	if err != nil {
		if errors.Is(err, auth.ErrAuthFailed) {
			c.log.Info("authentication failed", "user", body.Name)
		}
		return nil, 0, err
	}
	return &wire.AuthenticateResponse{Token: token}, 0, nil
}

// userGet lists a user's roles: for root, or for the user itself.
func (s *Service) userGet(ctx context.Context, c *clientConn, token, name string) (any, int64, error) {
	if err := s.m.linearizableWait(ctx); err != nil {
		return nil, 0, err
	}
	who, err := s.resolve(c, token)
	if err != nil {
		return nil, 0, err
	}
	if who.user != name {
		if err := who.admin("user get of another user"); err != nil {
			return nil, 0, err
		}
	}
	roles, err := s.m.auth.UserGet(name)
	if err != nil {
		return nil, 0, err
	}
	return &wire.UserGetResponse{Roles: roles}, 0, nil
}

// roleGet lists a role's permissions: for root, or for a user holding the role.
func (s *Service) roleGet(ctx context.Context, c *clientConn, token, role string) (any, int64, error) {
	if err := s.m.linearizableWait(ctx); err != nil {
		return nil, 0, err
	}
	who, err := s.resolve(c, token)
	if err != nil {
		return nil, 0, err
	}
	if held, _ := s.m.auth.UserGet(who.user); !slices.Contains(held, role) {
		if err := who.admin("role get of a role the user does not hold"); err != nil {
			return nil, 0, err
		}
	}
	perms, err := s.m.auth.RoleGet(role)
	if err != nil {
		return nil, 0, err
	}
	resp := &wire.RoleGetResponse{Perm: make([]wire.Permission, len(perms))}
	for i, p := range perms {
		resp.Perm[i] = wire.Permission{PermType: wire.PermType(p.Type), Key: p.Key, RangeEnd: p.RangeEnd}
	}
	return resp, 0, nil
}
