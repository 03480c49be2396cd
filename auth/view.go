package auth

import (
	"fmt"
	"time"

	"etcq.dev/etcq/rbac"
)

// View is an immutable snapshot of the auth state at one revision: what every request
// needs to learn who it runs as and what it may do. Get one from State.View; use it from
// any goroutine, for as long as you like (it never changes; a later View reflects later
// changes). Checking a request and proposing it with v.Revision() keeps the two consistent.
type View struct {
	enabled    bool
	revision   uint64
	enabledRev uint64
	tokenKey   []byte
	creds      map[string]cred
	policy     *rbac.Policy
}

// cred is what token checks need of a user.
type cred struct {
	hash    []byte // nil: no password
	credRev uint64
}

// Enabled reports whether auth is enabled. When it is not, every request is allowed.
func (v *View) Enabled() bool { return v.enabled }

// Revision is the auth revision the view shows.
func (v *View) Revision() uint64 { return v.revision }

// Policy is the compiled policy of the view's users and roles (compiled whether or not
// auth is enabled; Allowed and IsAdmin take the enabled flag into account, Policy does not).
func (v *View) Policy() *rbac.Policy { return v.policy }

// Allowed reports whether user may do want on the key or range (rbac's conventions):
// always when auth is disabled, otherwise as the policy says.
func (v *View) Allowed(user string, want rbac.PermType, key, rangeEnd []byte) bool {
	return !v.enabled || v.policy.Allowed(user, want, key, rangeEnd)
}

// IsAdmin reports whether user may do what only root may (maintenance, membership,
// compaction, auth changes): always when auth is disabled, otherwise if it holds the root
// role.
func (v *View) IsAdmin(user string) bool {
	return !v.enabled || v.policy.IsRoot(user)
}

// Identity is who a request runs as: the CN of the client certificate, or the user of a
// token. It travels with the request into the raft log, where CheckIdentity sees it again.
type Identity struct {
	User string
	// TokenRev is the auth revision the request's token was issued at, 0 when the identity
	// is the certificate's CN (tokens are only issued at revisions >= 2).
	TokenRev uint64
}

// Resolve finds who a request runs as, from the verified client certificate's CN and the
// request's token (may be empty). When auth is disabled the token is ignored and the CN
// is the identity. Otherwise a token, if present, must be valid (ErrInvalidToken, so that
// a client learns to authenticate again rather than silently running as its CN, as etcd
// does) and names the user; without one the CN does, and an empty CN is ErrUserEmpty.
// now is the only clock read: token expiry is decided here, at the service, never at apply.
func (v *View) Resolve(cn, token string, now time.Time) (Identity, error) {
	if !v.enabled {
		return Identity{User: cn}, nil
	}
	if token != "" {
		user, rev, err := v.VerifyToken(token, now)
		if err != nil {
			return Identity{}, err
		}
		return Identity{User: user, TokenRev: rev}, nil
	}
	if cn == "" {
		return Identity{}, fmt.Errorf("%w: no token and no certificate CN", ErrUserEmpty)
	}
	return Identity{User: cn}, nil
}

// CheckIdentity re-checks, at apply, an identity Resolve accepted at the service, without
// the clock: nil when auth is disabled; ErrUserEmpty for no user; for a token identity,
// ErrInvalidToken if the token has been revoked since (its user deleted or its password
// changed, auth disabled and enabled again). Every member reaches the same answer. A
// certificate identity needs no user record: the permission checks decide.
func (v *View) CheckIdentity(id Identity) error {
	if !v.enabled {
		return nil
	}
	if id.User == "" {
		return ErrUserEmpty
	}
	if id.TokenRev == 0 {
		return nil
	}
	if id.TokenRev > v.revision {
		// Impossible for a token issued by a member: a request is applied after every
		// change that member had applied when it issued the token.
		return fmt.Errorf("%w: issued at auth revision %d, after %d", ErrInvalidToken, id.TokenRev, v.revision)
	}
	return v.tokenCurrent(id.User, id.TokenRev)
}

// tokenCurrent checks that a token of user issued at authRev has not been revoked since.
func (v *View) tokenCurrent(user string, authRev uint64) error {
	c, ok := v.creds[user]
	switch {
	case !ok:
		return fmt.Errorf("%w: user %q not found", ErrInvalidToken, user)
	case c.hash == nil:
		return fmt.Errorf("%w: user %q has no password", ErrInvalidToken, user)
	case authRev < c.credRev:
		return fmt.Errorf("%w: user %q changed password or was re-created since", ErrInvalidToken, user)
	case authRev < v.enabledRev:
		return fmt.Errorf("%w: issued before auth was last enabled", ErrInvalidToken)
	}
	return nil
}

// VerifyToken checks a token at time now: its signature under the current key, its
// expiry, and that it has not been revoked (as CheckIdentity). It returns the user and
// the auth revision the token was issued at. ErrAuthNotEnabled while auth is disabled.
func (v *View) VerifyToken(token string, now time.Time) (user string, authRev uint64, err error) {
	if !v.enabled {
		return "", 0, ErrAuthNotEnabled
	}
	user, authRev, expiry, err := parseToken(v.tokenKey, token)
	if err != nil {
		return "", 0, err
	}
	if now.UnixNano() >= expiry {
		return "", 0, fmt.Errorf("%w: expired %v ago", ErrInvalidToken, time.Duration(now.UnixNano()-expiry))
	}
	// A token from a member further along (authRev > v.revision) is accepted: it was
	// signed with the current key, and apply checks it again against later state.
	if err := v.tokenCurrent(user, authRev); err != nil {
		return "", 0, err
	}
	return user, authRev, nil
}

// IssueToken makes a token for a password user, valid from now for ttl, tied to the
// view's revision. Authenticate is IssueToken after checking the password.
func (v *View) IssueToken(user string, now time.Time, ttl time.Duration) (string, error) {
	if !v.enabled {
		return "", ErrAuthNotEnabled
	}
	if ttl <= 0 {
		return "", fmt.Errorf("%w: token TTL %v", ErrInvalidAuthMgmt, ttl)
	}
	c, ok := v.creds[user]
	if !ok {
		return "", fmt.Errorf("%w: user %q not found", ErrAuthFailed, user)
	}
	if c.hash == nil {
		return "", fmt.Errorf("%w: %q", ErrNoPasswordUser, user)
	}
	return signToken(v.tokenKey, user, v.revision, now.Add(ttl)), nil
}

// Authenticate checks a user's password and returns a token for it (etcd's Authenticate):
// ErrAuthNotEnabled, ErrAuthFailed (unknown user or wrong password), ErrNoPasswordUser.
// It runs bcrypt, tens of milliseconds, on the calling goroutine and holds no lock. Ask it
// of a view no older than a linearizable read: a view from before a password change
// accepts the old password, and the token it issues is then refused everywhere else.
func (v *View) Authenticate(name, password string, now time.Time, ttl time.Duration) (string, error) {
	if !v.enabled {
		return "", ErrAuthNotEnabled
	}
	c, ok := v.creds[name]
	if !ok {
		return "", ErrAuthFailed
	}
	if c.hash == nil {
		return "", fmt.Errorf("%w: %q", ErrNoPasswordUser, name)
	}
	if err := CheckPassword(c.hash, password); err != nil {
		return "", err
	}
	return v.IssueToken(name, now, ttl)
}
