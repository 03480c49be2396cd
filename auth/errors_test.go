package auth

import (
	"strings"
	"testing"

	"etcq.dev/etcq/wire"
)

// wireCodes is the table the node needs to answer auth's errors: one auth code per
// sentinel, in wire's code order, and a bad request for malformed operations. (Only this
// test imports wire; auth itself may not.)
var wireCodes = []struct {
	err  error
	code wire.Code
}{
	{ErrPermissionDenied, wire.CodePermissionDenied},
	{ErrAuthNotEnabled, wire.CodeAuthNotEnabled},
	{ErrAuthFailed, wire.CodeAuthFailed},
	{ErrInvalidToken, wire.CodeInvalidToken},
	{ErrUserExists, wire.CodeUserExists},
	{ErrUserNotFound, wire.CodeUserNotFound},
	{ErrRoleExists, wire.CodeRoleExists},
	{ErrRoleNotFound, wire.CodeRoleNotFound},
	{ErrRoleNotGranted, wire.CodeRoleNotGranted},
	{ErrPermNotGranted, wire.CodePermNotGranted},
	{ErrRootUserMissing, wire.CodeRootUserMissing},
	{ErrRootRoleMissing, wire.CodeRootRoleMissing},
	{ErrUserEmpty, wire.CodeUserEmpty},
	{ErrAuthOldRevision, wire.CodeAuthOldRevision},
	{ErrNoPasswordUser, wire.CodeNoPasswordUser},
	{ErrInvalidAuthMgmt, wire.CodeBadRequest},
	{ErrCorrupt, wire.CodeCorrupt},
}

func TestErrorsMatchWire(t *testing.T) {
	seen := map[string]bool{}
	for i, c := range wireCodes {
		msg := c.err.Error()
		if !strings.HasPrefix(msg, "auth: ") || seen[msg] {
			t.Errorf("%q: not prefixed auth:, or not unique", msg)
		}
		seen[msg] = true
		if c.code < wire.CodePermissionDenied || c.code > wire.CodeNoPasswordUser {
			continue
		}
		// One to one, in code order, with the same text.
		if want := wire.CodePermissionDenied + wire.Code(i); c.code != want {
			t.Errorf("%q is entry %d, for code %d; want %d", msg, i, c.code, want)
		}
		if got, want := strings.TrimPrefix(msg, "auth: "), strings.TrimPrefix(c.code.Err().Error(), "wire: "); got != want {
			t.Errorf("auth says %q, wire %q", got, want)
		}
	}
	if n := int(wire.CodeNoPasswordUser-wire.CodePermissionDenied) + 1; len(wireCodes) != n+2 {
		t.Errorf("%d entries for %d auth codes and two more", len(wireCodes), n)
	}
}
