package auth

import (
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// DefaultBcryptCost is etcd's default --bcrypt-cost.
const DefaultBcryptCost = bcrypt.DefaultCost

// HashPassword hashes a password with bcrypt at DefaultBcryptCost. bcrypt is slow (tens of
// milliseconds) and salted at random, so it never runs in apply: the member that receives
// UserAdd or UserChangePassword hashes, and the hash travels in the replicated operation.
// Passwords longer than 72 bytes are refused (bcrypt reads no further).
func HashPassword(password string) ([]byte, error) {
	return HashPasswordCost(password, DefaultBcryptCost)
}

// HashPasswordCost is HashPassword at the given bcrypt cost (etcd's --bcrypt-cost;
// bcrypt.MinCost makes tests fast). A cost below bcrypt.MinCost means DefaultBcryptCost.
func HashPasswordCost(password string, cost int) ([]byte, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return nil, fmt.Errorf("%w: hashing the password: %w", ErrInvalidAuthMgmt, err)
	}
	return hash, nil
}

// CheckPassword reports whether password matches hash: nil if it does, ErrAuthFailed if it
// does not (or hash is no bcrypt hash), ErrNoPasswordUser for an empty hash. As slow as
// HashPassword: call it without holding anything others wait for.
func CheckPassword(hash []byte, password string) error {
	if len(hash) == 0 {
		return ErrNoPasswordUser
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte(password)); err != nil {
		return ErrAuthFailed
	}
	return nil
}

// bcryptHashSize is the size of the hashes bcrypt.GenerateFromPassword makes.
const bcryptHashSize = 60

// validHash checks that hash is a bcrypt hash as HashPassword makes them (deterministic:
// it only parses).
func validHash(hash []byte) error {
	if len(hash) != bcryptHashSize {
		return fmt.Errorf("%w: a password hash of %d bytes, want a bcrypt hash of %d",
			ErrInvalidAuthMgmt, len(hash), bcryptHashSize)
	}
	if _, err := bcrypt.Cost(hash); err != nil {
		return fmt.Errorf("%w: not a bcrypt password hash: %w", ErrInvalidAuthMgmt, err)
	}
	return nil
}
