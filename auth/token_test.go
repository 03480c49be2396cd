package auth

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"etcq.dev/etcq/rbac"
)

func authenticate(t *testing.T, s *State, user, password string) string {
	t.Helper()
	tok, err := s.View().Authenticate(user, password, t0, tokenTTL)
	if err != nil {
		t.Fatalf("Authenticate(%q): %v", user, err)
	}
	return tok
}

func TestTokenVerifies(t *testing.T) {
	s := enabled(t)
	v := s.View()
	tok := authenticate(t, s, "alice", "alicepw")
	user, rev, err := v.VerifyToken(tok, t0)
	if err != nil || user != "alice" || rev != v.Revision() {
		t.Fatalf("VerifyToken = %q, %d, %v; want alice, %d", user, rev, err, v.Revision())
	}
	// Another member, at the same state, with the same key, accepts it.
	other, err := Decode(s.Encode())
	must(t, err)
	if user, _, err := other.View().VerifyToken(tok, t0); err != nil || user != "alice" {
		t.Fatalf("another member: %q, %v", user, err)
	}
	// Users whose names need escaping in other formats.
	for _, name := range []string{"a|b", "with space", "\x00\xff", strings.Repeat("long", 1000)} {
		must(t, s.UserAdd(name, hashOf(t, "pw"), false))
		tok := authenticate(t, s, name, "pw")
		if user, _, err := s.View().VerifyToken(tok, t0); err != nil || user != name {
			t.Errorf("user %q: VerifyToken = %q, %v", name, user, err)
		}
	}
}

func TestTokenExpiry(t *testing.T) {
	s := enabled(t)
	v := s.View()
	tok, err := v.IssueToken("alice", t0, time.Minute)
	must(t, err)
	for _, c := range []struct {
		at time.Time
		ok bool
	}{
		{t0, true},
		{t0.Add(-time.Hour), true}, // a member whose clock is behind
		{t0.Add(time.Minute - time.Nanosecond), true},
		{t0.Add(time.Minute), false},
		{t0.Add(24 * time.Hour), false},
	} {
		_, _, err := v.VerifyToken(tok, c.at)
		if c.ok {
			wantErr(t, "VerifyToken at "+c.at.String(), err, nil)
		} else {
			wantErr(t, "VerifyToken at "+c.at.String(), err, ErrInvalidToken)
		}
	}
	// Expiry is a service-side matter: the identity still holds at apply.
	_, rev, _ := v.VerifyToken(tok, t0)
	wantErr(t, "CheckIdentity", v.CheckIdentity(Identity{User: "alice", TokenRev: rev}), nil)
}

func TestTokenForgery(t *testing.T) {
	s := enabled(t)
	v := s.View()
	tok := authenticate(t, s, "alice", "alicepw")
	raw, err := tokenEncoding.DecodeString(tok)
	must(t, err)

	forged := map[string]string{
		"empty":        "",
		"garbage":      "not a token",
		"base64 junk":  tokenEncoding.EncodeToString([]byte("hello")),
		"std base64":   strings.ReplaceAll(strings.ReplaceAll(tok, "-", "+"), "_", "/") + "==",
		"truncated":    tok[:len(tok)-2],
		"extended":     tok + "AA",
		"too long":     strings.Repeat("A", maxTokenChars+1),
		"other key":    signToken(bytes.Repeat([]byte{1}, TokenKeySize), "alice", v.Revision(), t0.Add(time.Hour)),
		"no key":       signToken(nil, "alice", v.Revision(), t0.Add(time.Hour)),
		"root by hand": signToken(bytes.Repeat([]byte{1}, TokenKeySize), "root", v.Revision(), t0.Add(time.Hour)),
		"mac only":     tokenEncoding.EncodeToString(raw[len(raw)-tokenMACSize:]),
	}
	// Every single-bit change anywhere: the version, the revision, the expiry, the user,
	// the MAC.
	for i := range raw {
		for bit := range 8 {
			b := bytes.Clone(raw)
			b[i] ^= 1 << bit
			forged[fmt.Sprintf("bit %d of byte %d", bit, i)] = tokenEncoding.EncodeToString(b)
		}
	}
	// A well-formed token from a newer format version, signed with the right key.
	b := bytes.Clone(raw[:len(raw)-tokenMACSize])
	b[0] = tokenVersion + 1
	forged["next version"] = tokenEncoding.EncodeToString(append(b, tokenMAC(testKey, b)...))

	for name, f := range forged {
		user, _, err := v.VerifyToken(f, t0)
		wantErr(t, name, err, ErrInvalidToken)
		if user != "" {
			t.Errorf("%s: user %q from a bad token", name, user)
		}
		if _, err := v.Resolve("bob", f, t0); err == nil && f != "" { // no token: the CN
			t.Errorf("%s: Resolve accepted it", name)
		}
	}
}

func TestTokenRevocation(t *testing.T) {
	type step struct {
		name  string
		apply func(t *testing.T, s *State) // after alice's token was issued
		valid bool
	}
	for _, c := range []step{
		{"nothing", func(*testing.T, *State) {}, true},
		{"alice's roles change", func(t *testing.T, s *State) { must(t, s.UserGrantRole("alice", "reader")) }, true},
		{"a role changes", func(t *testing.T, s *State) { must(t, s.RoleRevokePermission("app", []byte("/app/"), []byte("/app0"))) }, true},
		{"another user changes password", func(t *testing.T, s *State) { must(t, s.UserChangePassword("root", hashOf(t, "x"))) }, true},
		{"password change", func(t *testing.T, s *State) { must(t, s.UserChangePassword("alice", hashOf(t, "new"))) }, false},
		{"password set to the same", func(t *testing.T, s *State) { must(t, s.UserChangePassword("alice", hashOf(t, "alicepw"))) }, false},
		{"user delete", func(t *testing.T, s *State) { must(t, s.UserDelete("alice")) }, false},
		{"user delete and re-add", func(t *testing.T, s *State) {
			must(t, s.UserDelete("alice"))
			must(t, s.UserAdd("alice", hashOf(t, "alicepw"), false))
		}, false},
		{"disable", func(t *testing.T, s *State) { s.Disable() }, false},
		{"disable and enable with the same key", func(t *testing.T, s *State) {
			s.Disable()
			must(t, s.Enable(testKey))
		}, false},
		{"disable and enable with a new key", func(t *testing.T, s *State) {
			s.Disable()
			must(t, s.Enable(NewTokenKey()))
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := enabled(t)
			tok := authenticate(t, s, "alice", "alicepw")
			_, rev, err := s.View().VerifyToken(tok, t0)
			must(t, err)
			id := Identity{User: "alice", TokenRev: rev}

			c.apply(t, s)
			v := s.View()
			_, _, verr := v.VerifyToken(tok, t0)
			ierr := v.CheckIdentity(id)
			if c.valid {
				wantErr(t, "VerifyToken", verr, nil)
				wantErr(t, "CheckIdentity", ierr, nil)
				return
			}
			if verr == nil {
				t.Error("VerifyToken accepts the revoked token")
			}
			if v.Enabled() {
				wantErr(t, "VerifyToken", verr, ErrInvalidToken)
				wantErr(t, "CheckIdentity", ierr, ErrInvalidToken)
			} else {
				wantErr(t, "VerifyToken", verr, ErrAuthNotEnabled)
				wantErr(t, "CheckIdentity while disabled", ierr, nil) // everything is allowed
			}
		})
	}
}

// A member that is behind accepts the token of a member ahead at the service (it is
// signed with the current key), and apply sees the later state anyway.
func TestTokenFromAMemberAhead(t *testing.T) {
	s := enabled(t)
	behind, err := Decode(s.Encode())
	must(t, err)
	must(t, s.UserAdd("carol", hashOf(t, "carolpw"), false))
	must(t, s.UserChangePassword("alice", hashOf(t, "new")))

	tok := authenticate(t, s, "alice", "new")
	user, rev, err := behind.View().VerifyToken(tok, t0)
	if err != nil || user != "alice" || rev <= behind.Status().Revision {
		t.Fatalf("a member behind: %q, %d, %v", user, rev, err)
	}
	// The token of a user the member does not know yet is refused; the client retries.
	tok = authenticate(t, s, "carol", "carolpw")
	_, _, err = behind.View().VerifyToken(tok, t0)
	wantErr(t, "unknown yet", err, ErrInvalidToken)
	// At apply, a token revision beyond the state's cannot happen; it is refused.
	wantErr(t, "CheckIdentity", behind.View().CheckIdentity(Identity{User: "alice", TokenRev: rev}), ErrInvalidToken)
}

// Authenticating on a stale view (before a password change) hands out a token no
// up-to-date view accepts.
func TestAuthenticateOnAStaleView(t *testing.T) {
	s := enabled(t)
	stale := s.View()
	must(t, s.UserChangePassword("alice", hashOf(t, "new")))
	tok, err := stale.Authenticate("alice", "alicepw", t0, tokenTTL)
	must(t, err)
	_, _, err = s.View().VerifyToken(tok, t0)
	wantErr(t, "VerifyToken", err, ErrInvalidToken)
	wantErr(t, "CheckIdentity", s.View().CheckIdentity(Identity{User: "alice", TokenRev: stale.Revision()}), ErrInvalidToken)
}

func TestAuthenticate(t *testing.T) {
	s := enabled(t)
	v := s.View()
	for _, c := range []struct {
		name, user, password string
		err                  error
	}{
		{"ok", "alice", "alicepw", nil},
		{"root", "root", "rootpw", nil},
		{"wrong password", "alice", "rootpw", ErrAuthFailed},
		{"empty password", "alice", "", ErrAuthFailed},
		{"unknown user", "carol", "alicepw", ErrAuthFailed},
		{"no-password user", "bob", "", ErrNoPasswordUser},
	} {
		tok, err := v.Authenticate(c.user, c.password, t0, tokenTTL)
		wantErr(t, c.name, err, c.err)
		if (err == nil) != (tok != "") {
			t.Errorf("%s: token %q with error %v", c.name, tok, err)
		}
	}
	_, err := withRoot(t).View().Authenticate("alice", "alicepw", t0, tokenTTL)
	wantErr(t, "disabled", err, ErrAuthNotEnabled)
}

func TestIssueToken(t *testing.T) {
	v := enabled(t).View()
	for _, c := range []struct {
		name, user string
		ttl        time.Duration
		err        error
	}{
		{"ok", "alice", time.Second, nil},
		{"zero ttl", "alice", 0, ErrInvalidAuthMgmt},
		{"negative ttl", "alice", -time.Second, ErrInvalidAuthMgmt},
		{"unknown user", "carol", time.Second, ErrAuthFailed},
		{"no-password user", "bob", time.Second, ErrNoPasswordUser},
	} {
		_, err := v.IssueToken(c.user, t0, c.ttl)
		wantErr(t, c.name, err, c.err)
	}
	_, err := withRoot(t).View().IssueToken("alice", t0, time.Second)
	wantErr(t, "disabled", err, ErrAuthNotEnabled)
	_, _, err = withRoot(t).View().VerifyToken("x", t0)
	wantErr(t, "verify while disabled", err, ErrAuthNotEnabled)
}

func TestResolve(t *testing.T) {
	on := enabled(t)
	tok := authenticate(t, on, "alice", "alicepw")
	rev := on.View().Revision()
	off := withRoot(t)
	for _, c := range []struct {
		name      string
		s         *State
		cn, token string
		want      Identity
		err       error
	}{
		{"disabled: the CN", off, "bob", "", Identity{User: "bob"}, nil},
		{"disabled: the token is ignored", off, "bob", "junk", Identity{User: "bob"}, nil},
		{"disabled: no CN", off, "", "", Identity{}, nil},
		{"a valid token wins over the CN", on, "bob", tok, Identity{User: "alice", TokenRev: rev}, nil},
		{"a token without a CN", on, "", tok, Identity{User: "alice", TokenRev: rev}, nil},
		{"an invalid token is an error, not the CN", on, "bob", tok + "x", Identity{}, ErrInvalidToken},
		{"the CN", on, "bob", "", Identity{User: "bob"}, nil},
		{"a CN with no user", on, "stranger", "", Identity{User: "stranger"}, nil},
		{"no CN, no token", on, "", "", Identity{}, ErrUserEmpty},
	} {
		id, err := c.s.View().Resolve(c.cn, c.token, t0)
		wantErr(t, c.name, err, c.err)
		if id != c.want {
			t.Errorf("%s: Resolve = %+v, want %+v", c.name, id, c.want)
		}
	}
	if on.View().Allowed("stranger", rbac.Read, []byte("/app/x"), nil) {
		t.Error("a CN with no user may read")
	}
}

func TestCheckIdentity(t *testing.T) {
	on := enabled(t).View()
	off := withRoot(t).View()
	for _, c := range []struct {
		name string
		v    *View
		id   Identity
		err  error
	}{
		{"disabled: anything", off, Identity{}, nil},
		{"disabled: any token", off, Identity{User: "x", TokenRev: 99}, nil},
		{"a CN", on, Identity{User: "bob"}, nil},
		{"a CN with no user record", on, Identity{User: "stranger"}, nil},
		{"no user", on, Identity{}, ErrUserEmpty},
		{"a current token", on, Identity{User: "alice", TokenRev: on.Revision()}, nil},
		{"a token of a no-password user", on, Identity{User: "bob", TokenRev: on.Revision()}, ErrInvalidToken},
		{"a token of an unknown user", on, Identity{User: "carol", TokenRev: on.Revision()}, ErrInvalidToken},
		{"a token from before enable", on, Identity{User: "alice", TokenRev: on.Revision() - 1}, ErrInvalidToken},
		{"a token from the future", on, Identity{User: "alice", TokenRev: on.Revision() + 1}, ErrInvalidToken},
	} {
		wantErr(t, c.name, c.v.CheckIdentity(c.id), c.err)
	}
}

func TestAllowedAndIsAdmin(t *testing.T) {
	on, off := enabled(t).View(), withRoot(t).View()
	for _, c := range []struct {
		v                  *View
		user               string
		want               rbac.PermType
		key                string
		allowed, admin     bool
		allowedWhenEnabled bool
	}{
		{on, "alice", rbac.Write, "/app/x", true, false, true},
		{on, "bob", rbac.Write, "/app/x", false, false, false},
		{on, "bob", rbac.Read, "/app/x", true, false, true},
		{on, "root", rbac.Write, "/etc", true, true, true},
		{on, "stranger", rbac.Read, "/app/x", false, false, false},
		{off, "stranger", rbac.Write, "/anything", true, true, false},
		{off, "", rbac.Write, "/anything", true, true, false},
	} {
		if got := c.v.Allowed(c.user, c.want, []byte(c.key), nil); got != c.allowed {
			t.Errorf("enabled=%v: Allowed(%q, %v, %q) = %v", c.v.Enabled(), c.user, c.want, c.key, got)
		}
		if got := c.v.IsAdmin(c.user); got != c.admin {
			t.Errorf("enabled=%v: IsAdmin(%q) = %v", c.v.Enabled(), c.user, got)
		}
		if got := c.v.Policy().Allowed(c.user, c.want, []byte(c.key), nil); got != c.allowedWhenEnabled {
			t.Errorf("enabled=%v: Policy().Allowed(%q, %v, %q) = %v", c.v.Enabled(), c.user, c.want, c.key, got)
		}
	}
}

func TestNewTokenKey(t *testing.T) {
	a, b := NewTokenKey(), NewTokenKey()
	if len(a) != TokenKeySize || bytes.Equal(a, b) {
		t.Errorf("NewTokenKey: %x, %x", a, b)
	}
}
