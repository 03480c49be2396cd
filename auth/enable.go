package auth

import (
	"crypto/rand"
	"fmt"
	"slices"

	"etcq.dev/etcq/rbac"
)

// TokenKeySize is the size of the key that signs tokens (HMAC-SHA256), in bytes; Enable
// refuses keys of any other size.
const TokenKeySize = 32

// NewTokenKey returns a fresh random token key. The member that receives `auth enable`
// calls it and puts the key in the replicated Enable operation; Enable itself must stay
// deterministic.
func NewTokenKey() []byte {
	key := make([]byte, TokenKeySize)
	rand.Read(key) // never fails (crypto/rand, Go 1.24 and later)
	return key
}

// Enable turns auth on, with tokenKey (from NewTokenKey) signing tokens from now on. It is
// refused unless the user root exists (ErrRootUserMissing) and holds the role root
// (ErrRootRoleMissing), and a key of the wrong size is refused first (ErrInvalidAuthMgmt).
// Enabling while enabled changes nothing, not even the key. A new key, and the enabled
// revision that tokens are checked against, make every token issued before an earlier
// Disable invalid.
func (s *State) Enable(tokenKey []byte) error {
	if len(tokenKey) != TokenKeySize {
		return fmt.Errorf("%w: token key of %d bytes, want %d", ErrInvalidAuthMgmt, len(tokenKey), TokenKeySize)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.d.enabled {
		return nil
	}
	root := s.d.users[rbac.RootUser]
	if root == nil {
		return ErrRootUserMissing
	}
	if !slices.Contains(root.roles, rbac.RootRole) {
		return ErrRootRoleMissing
	}
	s.d.enabled = true
	s.d.tokenKey = slices.Clone(tokenKey)
	s.changed()
	s.d.enabledRev = s.d.revision
	return nil
}

// Disable turns auth off: every request is allowed and tokens are no longer accepted; the
// token key is forgotten. Disabling while disabled changes nothing. Only root may ask for
// it (the node checks).
func (s *State) Disable() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.d.enabled {
		return
	}
	s.d.enabled = false
	s.d.tokenKey = nil
	s.changed()
}
