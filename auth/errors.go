package auth

import "errors"

// Sentinel errors. Operations return them wrapped with detail (the user, role or key
// concerned); match them with errors.Is. The first fifteen are one-to-one with wire's auth
// codes, in code order (CodePermissionDenied = 60 ... CodeNoPasswordUser = 74), so the node
// maps them with one table; the last two have no auth code of their own.
var (
	// ErrPermissionDenied: the user may not do this (the node wraps it with the operation
	// and key; auth itself only answers yes or no).
	ErrPermissionDenied = errors.New("auth: permission denied")
	// ErrAuthNotEnabled: Authenticate, or a token verified, while auth is disabled.
	ErrAuthNotEnabled = errors.New("auth: authentication is not enabled")
	// ErrAuthFailed: an unknown user or a wrong password.
	ErrAuthFailed = errors.New("auth: authentication failed, invalid user ID or password")
	// ErrInvalidToken: a token that is malformed, forged, expired or revoked (its user was
	// deleted or changed password, or auth was disabled and enabled again since).
	ErrInvalidToken = errors.New("auth: invalid auth token")
	// ErrUserExists: UserAdd of an existing user.
	ErrUserExists = errors.New("auth: user name already exists")
	// ErrUserNotFound: the named user does not exist.
	ErrUserNotFound = errors.New("auth: user name not found")
	// ErrRoleExists: RoleAdd of an existing role.
	ErrRoleExists = errors.New("auth: role name already exists")
	// ErrRoleNotFound: the named role does not exist.
	ErrRoleNotFound = errors.New("auth: role name not found")
	// ErrRoleNotGranted: UserRevokeRole of a role the user does not hold.
	ErrRoleNotGranted = errors.New("auth: role is not granted to the user")
	// ErrPermNotGranted: RoleRevokePermission of a key range the role has no permission on.
	ErrPermNotGranted = errors.New("auth: permission is not granted to the role")
	// ErrRootUserMissing: Enable without a user named root (etcd's ErrRootUserNotExist).
	ErrRootUserMissing = errors.New("auth: root user does not exist")
	// ErrRootRoleMissing: Enable while the root user lacks the root role (etcd's
	// ErrRootRoleNotExist).
	ErrRootRoleMissing = errors.New("auth: root user does not have root role")
	// ErrUserEmpty: an empty user name, for UserAdd or as a request's identity.
	ErrUserEmpty = errors.New("auth: user name is empty")
	// ErrAuthOldRevision: a request checked against an older auth revision. auth never
	// returns it; it is here for a node that refuses such requests at apply as etcd does.
	ErrAuthOldRevision = errors.New("auth: revision of auth store is old")
	// ErrNoPasswordUser: Authenticate as a user created without a password.
	ErrNoPasswordUser = errors.New("auth: user has no password")

	// ErrInvalidAuthMgmt: an operation that is malformed or would break the auth state
	// (etcd's ErrInvalidAuthMgmt): an empty role name, an invalid permission or password
	// hash or token key, deleting the root user or the root role or revoking root from root
	// while auth is enabled. The node answers it as a bad request.
	ErrInvalidAuthMgmt = errors.New("auth: invalid auth management")
	// ErrCorrupt: serialized state that does not decode.
	ErrCorrupt = errors.New("auth: corrupt state")
)
