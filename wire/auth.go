package wire

// AuthStatusResponse says whether auth is enabled.
type AuthStatusResponse struct {
	Enabled      bool
	AuthRevision uint64
}

// AuthenticateRequest exchanges a user's password for a token.
type AuthenticateRequest struct {
	Name, Password string
}

// AuthenticateResponse carries the token for the Request envelope.
type AuthenticateResponse struct {
	Token string
}

// UserAddRequest creates a user; NoPassword makes one that can only use certificates.
type UserAddRequest struct {
	Name, Password string
	NoPassword     bool
}

// UserRequest names a user (get, delete).
type UserRequest struct {
	Name string
}

// UserGetResponse lists a user's roles.
type UserGetResponse struct {
	Roles []string
}

// UserChangePasswordRequest sets a user's password.
type UserChangePasswordRequest struct {
	Name, Password string
}

// UserRoleRequest grants a role to a user or revokes it.
type UserRoleRequest struct {
	User, Role string
}

// RoleRequest names a role (add, get, delete).
type RoleRequest struct {
	Role string
}

// PermType is what a permission allows.
type PermType int32

// The permission types.
const (
	PermRead PermType = iota
	PermWrite
	PermReadWrite
)

// Permission allows PermType on the key Key or the range [Key, RangeEnd).
type Permission struct {
	PermType PermType
	Key      []byte
	RangeEnd []byte
}

// RoleGetResponse lists a role's permissions.
type RoleGetResponse struct {
	Perm []Permission
}

// NameListResponse lists users or roles.
type NameListResponse struct {
	Names []string
}

// RoleGrantPermissionRequest adds a permission to a role.
type RoleGrantPermissionRequest struct {
	Name string
	Perm Permission
}

// RoleRevokePermissionRequest removes a role's permission on [Key, RangeEnd).
type RoleRevokePermissionRequest struct {
	Role          string
	Key, RangeEnd []byte
}
