package node

import (
	"time"

	"golang.org/x/crypto/bcrypt"

	"etcq.dev/etcq/auth"
)

// Hooks for the external tests of auth (package node_test).

// FastPasswords makes m hash passwords at bcrypt's minimum cost, so that tests (under the
// race detector especially) do not spend seconds in bcrypt.
func FastPasswords(m *Member) { m.bcryptCost = bcrypt.MinCost }

// SetTokenTTL sets how long the tokens m issues live.
func SetTokenTTL(m *Member, ttl time.Duration) { m.tokenTTL = ttl }

// AuthStatus is m's applied auth state: enabled, and the auth revision.
func AuthStatus(m *Member) auth.Status { return m.auth.Status() }

// AuthState is m's applied auth state, encoded.
func AuthState(m *Member) []byte { return m.auth.Encode() }
