package auth

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestPasswords(t *testing.T) {
	h, err := HashPassword("s3cret")
	must(t, err)
	if cost, err := bcrypt.Cost(h); err != nil || cost != DefaultBcryptCost {
		t.Errorf("HashPassword: cost %d, %v; want %d", cost, err, DefaultBcryptCost)
	}
	must(t, validHash(h))
	h2, err := HashPassword("s3cret")
	must(t, err)
	if string(h) == string(h2) {
		t.Error("two hashes of one password are equal: no salt")
	}
	wantErr(t, "right password", CheckPassword(h, "s3cret"), nil)
	wantErr(t, "right password, other hash", CheckPassword(h2, "s3cret"), nil)
	wantErr(t, "wrong password", CheckPassword(h, "s3cret "), ErrAuthFailed)
	wantErr(t, "empty password", CheckPassword(h, ""), ErrAuthFailed)
	wantErr(t, "no hash", CheckPassword(nil, "s3cret"), ErrNoPasswordUser)
	wantErr(t, "not a hash", CheckPassword([]byte("s3cret"), "s3cret"), ErrAuthFailed)

	empty, err := HashPasswordCost("", bcrypt.MinCost) // etcd allows an empty password
	must(t, err)
	wantErr(t, "empty password", CheckPassword(empty, ""), nil)

	_, err = HashPasswordCost(strings.Repeat("x", 73), bcrypt.MinCost)
	wantErr(t, "73 bytes", err, ErrInvalidAuthMgmt)
	_, err = HashPasswordCost("x", bcrypt.MaxCost+1)
	wantErr(t, "cost 32", err, ErrInvalidAuthMgmt)
}
