package quicclient

import (
	"context"

	"etcq.dev/etcq/wire"
)

// Auth, as etcd's: users with roles, roles with read, write or readwrite permissions on a
// key, a range [key, rangeEnd) or a prefix, and a root user with the root role who alone
// may change them once auth is enabled. A client runs as the CN of its certificate, or as
// the user of the token Authenticate obtained (which takes precedence). A refused request
// fails with an error matching wire.ErrPermissionDenied; a token that expired or was
// revoked (its user's password changed, say) with wire.ErrInvalidToken, after which the
// client must Authenticate again or SetToken("") to fall back to its certificate. A client
// given Config.Username and Password does the former itself and resends the request.

// Permission types and permissions, as RoleGet shows them.
type (
	PermissionType = wire.PermType
	Permission     = wire.Permission
)

// The permission types.
const (
	PermRead      = wire.PermRead
	PermWrite     = wire.PermWrite
	PermReadWrite = wire.PermReadWrite
)

// AuthResponse answers an auth change with the header of the member that made it.
type AuthResponse struct {
	Header Header
}

// AuthStatusResponse says whether auth is enabled, and the auth revision (which rises
// with every change of users, roles or permissions).
type AuthStatusResponse struct {
	Header       Header
	Enabled      bool
	AuthRevision uint64
}

// AuthenticateResponse carries the token Authenticate set on the client.
type AuthenticateResponse struct {
	Header Header
	Token  string
}

// UserGetResponse lists a user's roles.
type UserGetResponse struct {
	Header Header
	Roles  []string
}

// UserListResponse lists the users.
type UserListResponse struct {
	Header Header
	Users  []string
}

// RoleGetResponse lists a role's permissions.
type RoleGetResponse struct {
	Header Header
	Perm   []Permission
}

// RoleListResponse lists the roles.
type RoleListResponse struct {
	Header Header
	Roles  []string
}

// UserAddOptions are the options of UserAddWithOptions.
type UserAddOptions struct {
	// NoPassword makes a user that can only be the CN of a client certificate; it can
	// never Authenticate.
	NoPassword bool
}

// AuthEnable enables auth. It is refused unless the user root exists and holds the role
// root (wire.ErrRootUserMissing, wire.ErrRootRoleMissing).
func (c *Client) AuthEnable(ctx context.Context) (*AuthResponse, error) {
	return c.authChange(ctx, wire.OpAuthEnable, &wire.Empty{})
}

// AuthDisable disables auth (root only); every token stops working.
func (c *Client) AuthDisable(ctx context.Context) (*AuthResponse, error) {
	return c.authChange(ctx, wire.OpAuthDisable, &wire.Empty{})
}

// AuthStatus reports whether auth is enabled, as of a linearizable read.
func (c *Client) AuthStatus(ctx context.Context) (*AuthStatusResponse, error) {
	resp, err := c.do(ctx, wire.OpAuthStatus, &wire.Empty{}, idempotent)
	if err != nil {
		return nil, err
	}
	r := resp.Body.(*wire.AuthStatusResponse)
	return &AuthStatusResponse{Header: resp.Header, Enabled: r.Enabled, AuthRevision: r.AuthRevision}, nil
}

// Authenticate checks a user's password and makes the client send the token it gets with
// every later request (SetToken), so that they run as that user. Tokens expire (five
// minutes by default) and are revoked by a password change, a deletion of the user or a
// disable: authenticate again when a request fails with wire.ErrInvalidToken.
// Wrong credentials fail with wire.ErrAuthFailed, a user without a password with
// wire.ErrNoPasswordUser, a cluster without auth with wire.ErrAuthNotEnabled.
func (c *Client) Authenticate(ctx context.Context, name, password string) (*AuthenticateResponse, error) {
	resp, err := c.do(ctx, wire.OpAuthenticate, &wire.AuthenticateRequest{Name: name, Password: password}, idempotent)
	if err != nil {
		return nil, err
	}
	token := resp.Body.(*wire.AuthenticateResponse).Token
	c.SetToken(token)
	return &AuthenticateResponse{Header: resp.Header, Token: token}, nil
}

// UserAdd adds a user with a password.
func (c *Client) UserAdd(ctx context.Context, name, password string) (*AuthResponse, error) {
	return c.UserAddWithOptions(ctx, name, password, nil)
}

// UserAddWithOptions adds a user; with opts.NoPassword, password is ignored and the user
// exists only for client certificates whose CN is its name.
func (c *Client) UserAddWithOptions(ctx context.Context, name, password string, opts *UserAddOptions) (*AuthResponse, error) {
	req := &wire.UserAddRequest{Name: name, Password: password}
	if opts != nil && opts.NoPassword {
		req.Password, req.NoPassword = "", true
	}
	return c.authChange(ctx, wire.OpUserAdd, req)
}

// UserDelete deletes a user (not root while auth is enabled).
func (c *Client) UserDelete(ctx context.Context, name string) (*AuthResponse, error) {
	return c.authChange(ctx, wire.OpUserDelete, &wire.UserRequest{Name: name})
}

// UserGet lists a user's roles (root may ask about anyone, a user about itself).
func (c *Client) UserGet(ctx context.Context, name string) (*UserGetResponse, error) {
	resp, err := c.do(ctx, wire.OpUserGet, &wire.UserRequest{Name: name}, idempotent)
	if err != nil {
		return nil, err
	}
	return &UserGetResponse{Header: resp.Header, Roles: resp.Body.(*wire.UserGetResponse).Roles}, nil
}

// UserList lists the users, sorted.
func (c *Client) UserList(ctx context.Context) (*UserListResponse, error) {
	resp, err := c.do(ctx, wire.OpUserList, &wire.Empty{}, idempotent)
	if err != nil {
		return nil, err
	}
	return &UserListResponse{Header: resp.Header, Users: resp.Body.(*wire.NameListResponse).Names}, nil
}

// UserChangePassword sets a user's password; the user's tokens stop working.
func (c *Client) UserChangePassword(ctx context.Context, name, password string) (*AuthResponse, error) {
	return c.authChange(ctx, wire.OpUserChangePassword, &wire.UserChangePasswordRequest{Name: name, Password: password})
}

// UserGrantRole grants a role to a user.
func (c *Client) UserGrantRole(ctx context.Context, user, role string) (*AuthResponse, error) {
	return c.authChange(ctx, wire.OpUserGrantRole, &wire.UserRoleRequest{User: user, Role: role})
}

// UserRevokeRole revokes a role from a user.
func (c *Client) UserRevokeRole(ctx context.Context, user, role string) (*AuthResponse, error) {
	return c.authChange(ctx, wire.OpUserRevokeRole, &wire.UserRoleRequest{User: user, Role: role})
}

// RoleAdd adds a role without permissions.
func (c *Client) RoleAdd(ctx context.Context, name string) (*AuthResponse, error) {
	return c.authChange(ctx, wire.OpRoleAdd, &wire.RoleRequest{Role: name})
}

// RoleDelete deletes a role, and revokes it from every user holding it.
func (c *Client) RoleDelete(ctx context.Context, name string) (*AuthResponse, error) {
	return c.authChange(ctx, wire.OpRoleDelete, &wire.RoleRequest{Role: name})
}

// RoleGet lists a role's permissions (root may ask about any role, a user about the roles
// it holds).
func (c *Client) RoleGet(ctx context.Context, name string) (*RoleGetResponse, error) {
	resp, err := c.do(ctx, wire.OpRoleGet, &wire.RoleRequest{Role: name}, idempotent)
	if err != nil {
		return nil, err
	}
	return &RoleGetResponse{Header: resp.Header, Perm: resp.Body.(*wire.RoleGetResponse).Perm}, nil
}

// RoleList lists the roles, sorted.
func (c *Client) RoleList(ctx context.Context) (*RoleListResponse, error) {
	resp, err := c.do(ctx, wire.OpRoleList, &wire.Empty{}, idempotent)
	if err != nil {
		return nil, err
	}
	return &RoleListResponse{Header: resp.Header, Roles: resp.Body.(*wire.NameListResponse).Names}, nil
}

// RoleGrantPermission gives a role permType on key (rangeEnd ""), on [key, rangeEnd), or
// on every key from key on (rangeEnd "\x00"); a prefix P is [P, GetPrefixRangeEnd(P)).
// Granting on a range the role already has replaces that permission's type.
func (c *Client) RoleGrantPermission(ctx context.Context, role, key, rangeEnd string, permType PermissionType) (*AuthResponse, error) {
	return c.authChange(ctx, wire.OpRoleGrantPermission, &wire.RoleGrantPermissionRequest{
		Name: role, Perm: wire.Permission{PermType: permType, Key: []byte(key), RangeEnd: bytesOrNil(rangeEnd)},
	})
}

// RoleRevokePermission removes a role's permission on exactly key and rangeEnd.
func (c *Client) RoleRevokePermission(ctx context.Context, role, key, rangeEnd string) (*AuthResponse, error) {
	return c.authChange(ctx, wire.OpRoleRevokePermission, &wire.RoleRevokePermissionRequest{
		Role: role, Key: []byte(key), RangeEnd: bytesOrNil(rangeEnd),
	})
}

// GetPrefixRangeEnd is the range end that makes [prefix, end) every key starting with
// prefix, for RoleGrantPermission (etcd's clientv3.GetPrefixRangeEnd).
func GetPrefixRangeEnd(prefix string) string {
	return string(prefixEnd([]byte(prefix)))
}

// authChange sends an auth change: a mutating request, never retried once it may have
// been applied.
func (c *Client) authChange(ctx context.Context, op wire.Op, body any) (*AuthResponse, error) {
	resp, err := c.do(ctx, op, body, mutating)
	if err != nil {
		return nil, err
	}
	return &AuthResponse{Header: resp.Header}, nil
}

func bytesOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}
