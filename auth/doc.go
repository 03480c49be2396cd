// Package auth is etcq's replicated auth state machine: users (with a bcrypt password hash
// or none), roles with key-range permissions, the enabled flag, the token key and the auth
// revision, with etcd's operations on them; plus who a request runs as (the client
// certificate's CN, or the user of a signed token) and what it may do (rbac).
//
// # Who calls it
//
// The node, in two places. Its apply goroutine calls State's operations (Enable, Disable,
// UserAdd, ..., RoleRevokePermission) for committed raft entries, in log order, on every
// member. Its client service calls State.View for each request, resolves the identity
// (View.Resolve), checks each key (View.Allowed, View.IsAdmin), and carries the identity
// and View.Revision into the proposal; apply checks them again against the View of that
// moment (View.CheckIdentity, View.Allowed), so a permission revoked a moment ago is never
// honoured afterwards. auth imports only rbac.
//
// # Determinism
//
// Operations read no clock and no randomness, and iterate no map in an order that shows:
// every member applying the same operations reaches the same State, and Encode gives the
// same bytes. What is slow or random happens before the proposal, on the member that
// receives the request: HashPassword (bcrypt) for UserAdd and UserChangePassword, and
// NewTokenKey for Enable. The clock is read only where tokens are issued and checked
// (Authenticate, IssueToken, VerifyToken, Resolve take now); CheckIdentity, used at apply,
// needs none.
//
// # Revisions and tokens
//
// The auth revision starts at 1 and rises by one with every operation that changes
// something (an operation that changes nothing, such as granting a role a user already
// holds, leaves it). Tokens are stateless: HMAC-SHA256, under the replicated token key, of
// the user, the auth revision they were issued at and their expiry (token.go). A token is
// revoked by comparing that revision with replicated state, not by remembering tokens:
// every user carries the revision at which it was added or its password last set, and auth
// the revision at which it was last enabled; a token issued before either no longer
// verifies. So a password change or a user deletion revokes the user's tokens, a disable
// revokes them all (Enable also takes a fresh key), and role or permission changes revoke
// none (permissions are checked against the current policy anyway). Expiry is checked at
// the service only: a token that expires while its request is in the raft log is honoured.
//
// # Concurrency
//
// A State is safe for concurrent use; its operations are serialized by a mutex. A View is
// immutable: it is built on first use after a change, cached until the next, and shared by
// every request of that revision, so the request path takes no lock. Nothing here starts a
// goroutine or blocks except on the State's mutex; bcrypt (Authenticate, CheckPassword,
// HashPassword) runs on the calling goroutine and holds no lock.
//
// # Persistence
//
// auth does no I/O. Encode serializes the whole State in a compact, canonical, checksummed
// binary form (encode.go) for the node to store with its replicated metadata and compare
// between members; Decode and Restore read it back. The token key is part of that state:
// whoever can read the data directory can mint tokens, as with etcd's JWT keys.
//
// # Errors
//
// Operations return the sentinels of errors.go, wrapped with the name or key concerned.
// ErrPermissionDenied through ErrNoPasswordUser match wire's auth codes one to one;
// ErrInvalidAuthMgmt is a bad request, ErrCorrupt a state that does not decode.
package auth
