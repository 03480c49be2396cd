package auth

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"etcq.dev/etcq/rbac"
)

func perm(t rbac.PermType, key, end string) rbac.Permission {
	p := rbac.Permission{Type: t, Key: []byte(key)}
	if end != "" {
		p.RangeEnd = []byte(end)
	}
	return p
}

// opCase is one operation applied to a fresh state: its error, whether it changed the
// state (and so raised the revision by one), and what must hold afterwards.
type opCase struct {
	name    string
	state   func(testing.TB) *State // withRoot or enabled
	op      func(*State) error
	err     error
	changed bool
	check   func(t *testing.T, s *State)
}

func userRoles(t *testing.T, s *State, name string, want ...string) {
	t.Helper()
	got, err := s.UserGet(name)
	if err != nil {
		t.Fatalf("UserGet(%q): %v", name, err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("UserGet(%q) = %q, want %q", name, got, want)
	}
}

func rolePerms(t *testing.T, s *State, name string, want ...rbac.Permission) {
	t.Helper()
	got, err := s.RoleGet(name)
	if err != nil {
		t.Fatalf("RoleGet(%q): %v", name, err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("RoleGet(%q) = %v, want %v", name, got, want)
	}
}

func TestOperations(t *testing.T) {
	appPrefix := perm(rbac.ReadWrite, "/app/", "/app0")
	badHash := bytes.Repeat([]byte("x"), bcryptHashSize)
	cases := []opCase{
		// Enable and Disable.
		{name: "enable", state: withRoot, op: func(s *State) error { return s.Enable(testKey) }, changed: true,
			check: func(t *testing.T, s *State) {
				if st := s.Status(); !st.Enabled {
					t.Error("not enabled")
				}
			}},
		{name: "enable without root user", state: func(t testing.TB) *State { return New() },
			op: func(s *State) error { return s.Enable(testKey) }, err: ErrRootUserMissing},
		{name: "enable without root role", state: func(t testing.TB) *State {
			s := New()
			must(t, s.UserAdd("root", hashOf(t, "pw"), false))
			return s
		}, op: func(s *State) error { return s.Enable(testKey) }, err: ErrRootRoleMissing},
		{name: "enable with root role granted to another user only", state: func(t testing.TB) *State {
			s := New()
			must(t, s.UserAdd("root", nil, true))
			must(t, s.UserAdd("admin", nil, true))
			must(t, s.UserGrantRole("admin", "root"))
			return s
		}, op: func(s *State) error { return s.Enable(testKey) }, err: ErrRootRoleMissing},
		{name: "enable with a short key", state: withRoot,
			op: func(s *State) error { return s.Enable(testKey[1:]) }, err: ErrInvalidAuthMgmt},
		{name: "enable when enabled", state: enabled,
			op: func(s *State) error { return s.Enable(bytes.Repeat([]byte{1}, TokenKeySize)) },
			check: func(t *testing.T, s *State) {
				if !bytes.Equal(s.d.tokenKey, testKey) {
					t.Error("the key changed")
				}
			}},
		{name: "disable", state: enabled, op: func(s *State) error { s.Disable(); return nil }, changed: true,
			check: func(t *testing.T, s *State) {
				if s.Status().Enabled || s.d.tokenKey != nil {
					t.Error("still enabled, or the key is kept")
				}
			}},
		{name: "disable when disabled", state: withRoot, op: func(s *State) error { s.Disable(); return nil }},

		// UserAdd.
		{name: "user add", state: withRoot, op: func(s *State) error { return s.UserAdd("carol", hashOf(t, "c"), false) },
			changed: true, check: func(t *testing.T, s *State) {
				userRoles(t, s, "carol")
				if c := s.View().creds["carol"]; c.credRev != s.Status().Revision || c.hash == nil {
					t.Errorf("carol's credentials: %+v", c)
				}
			}},
		{name: "user add without password", state: withRoot, op: func(s *State) error { return s.UserAdd("carol", nil, true) },
			changed: true, check: func(t *testing.T, s *State) {
				if c := s.View().creds["carol"]; c.hash != nil {
					t.Error("a hash for a no-password user")
				}
			}},
		{name: "user add exists", state: withRoot, op: func(s *State) error { return s.UserAdd("alice", hashOf(t, "x"), false) },
			err: ErrUserExists},
		{name: "user add empty", state: withRoot, op: func(s *State) error { return s.UserAdd("", hashOf(t, "x"), false) },
			err: ErrUserEmpty},
		{name: "user add no hash", state: withRoot, op: func(s *State) error { return s.UserAdd("carol", nil, false) },
			err: ErrInvalidAuthMgmt},
		{name: "user add bad hash", state: withRoot, op: func(s *State) error { return s.UserAdd("carol", badHash, false) },
			err: ErrInvalidAuthMgmt},
		{name: "user add truncated hash", state: withRoot,
			op: func(s *State) error { return s.UserAdd("carol", hashOf(t, "c")[:59], false) }, err: ErrInvalidAuthMgmt},
		{name: "user add no password with a hash", state: withRoot,
			op: func(s *State) error { return s.UserAdd("carol", hashOf(t, "c"), true) }, err: ErrInvalidAuthMgmt},

		// UserDelete.
		{name: "user delete", state: enabled, op: func(s *State) error { return s.UserDelete("alice") }, changed: true,
			check: func(t *testing.T, s *State) {
				if slices.Contains(s.UserList(), "alice") {
					t.Error("alice is still listed")
				}
				if s.View().Allowed("alice", rbac.Read, []byte("/app/x"), nil) {
					t.Error("deleted alice may still read")
				}
			}},
		{name: "user delete missing", state: withRoot, op: func(s *State) error { return s.UserDelete("carol") }, err: ErrUserNotFound},
		{name: "user delete root while enabled", state: enabled, op: func(s *State) error { return s.UserDelete("root") },
			err: ErrInvalidAuthMgmt},
		{name: "user delete root while disabled", state: withRoot, op: func(s *State) error { return s.UserDelete("root") },
			changed: true},

		// UserChangePassword.
		{name: "change password", state: enabled, op: func(s *State) error { return s.UserChangePassword("alice", hashOf(t, "new")) },
			changed: true, check: func(t *testing.T, s *State) {
				v := s.View()
				if c := v.creds["alice"]; c.credRev != v.revision || !bytes.Equal(c.hash, hashOf(t, "new")) {
					t.Errorf("alice's credentials: %+v at %d", c, v.revision)
				}
				userRoles(t, s, "alice", "app")
			}},
		{name: "change password of a no-password user", state: enabled,
			op:      func(s *State) error { return s.UserChangePassword("bob", hashOf(t, "bobpw")) },
			changed: true, check: func(t *testing.T, s *State) {
				if _, err := s.View().Authenticate("bob", "bobpw", t0, tokenTTL); err != nil {
					t.Errorf("bob cannot use his new password: %v", err)
				}
			}},
		{name: "change password missing user", state: withRoot,
			op: func(s *State) error { return s.UserChangePassword("carol", hashOf(t, "x")) }, err: ErrUserNotFound},
		{name: "change password bad hash", state: withRoot,
			op: func(s *State) error { return s.UserChangePassword("alice", nil) }, err: ErrInvalidAuthMgmt},

		// UserGrantRole.
		{name: "grant role", state: withRoot, op: func(s *State) error { return s.UserGrantRole("bob", "app") }, changed: true,
			check: func(t *testing.T, s *State) { userRoles(t, s, "bob", "app", "reader") }},
		{name: "grant role again", state: withRoot, op: func(s *State) error { return s.UserGrantRole("alice", "app") },
			check: func(t *testing.T, s *State) { userRoles(t, s, "alice", "app") }},
		{name: "grant root role without a root Role", state: withRoot,
			op: func(s *State) error { return s.UserGrantRole("alice", "root") }, changed: true,
			check: func(t *testing.T, s *State) {
				userRoles(t, s, "alice", "app", "root")
				if !s.Policy().IsRoot("alice") {
					t.Error("alice is not root")
				}
			}},
		{name: "grant role missing user", state: withRoot, op: func(s *State) error { return s.UserGrantRole("carol", "app") },
			err: ErrUserNotFound},
		{name: "grant role missing role", state: withRoot, op: func(s *State) error { return s.UserGrantRole("alice", "nope") },
			err: ErrRoleNotFound},

		// UserRevokeRole.
		{name: "revoke role", state: enabled, op: func(s *State) error { return s.UserRevokeRole("alice", "app") }, changed: true,
			check: func(t *testing.T, s *State) {
				userRoles(t, s, "alice")
				if s.View().Allowed("alice", rbac.Read, []byte("/app/x"), nil) {
					t.Error("alice may still read")
				}
			}},
		{name: "revoke role not granted", state: withRoot, op: func(s *State) error { return s.UserRevokeRole("alice", "reader") },
			err: ErrRoleNotGranted},
		{name: "revoke role missing user", state: withRoot, op: func(s *State) error { return s.UserRevokeRole("carol", "app") },
			err: ErrUserNotFound},
		{name: "revoke root from root while enabled", state: enabled,
			op: func(s *State) error { return s.UserRevokeRole("root", "root") }, err: ErrInvalidAuthMgmt},
		{name: "revoke root from root while disabled", state: withRoot,
			op: func(s *State) error { return s.UserRevokeRole("root", "root") }, changed: true},

		// RoleAdd.
		{name: "role add", state: withRoot, op: func(s *State) error { return s.RoleAdd("ops") }, changed: true,
			check: func(t *testing.T, s *State) { rolePerms(t, s, "ops") }},
		{name: "role add exists", state: withRoot, op: func(s *State) error { return s.RoleAdd("app") }, err: ErrRoleExists},
		{name: "role add empty", state: withRoot, op: func(s *State) error { return s.RoleAdd("") }, err: ErrInvalidAuthMgmt},

		// RoleDelete.
		{name: "role delete revokes it from users", state: enabled,
			op: func(s *State) error { return s.RoleDelete("app") }, changed: true,
			check: func(t *testing.T, s *State) {
				userRoles(t, s, "alice")
				if slices.Contains(s.RoleList(), "app") {
					t.Error("app is still listed")
				}
			}},
		{name: "role delete missing", state: withRoot, op: func(s *State) error { return s.RoleDelete("nope") }, err: ErrRoleNotFound},
		{name: "role delete root while enabled", state: func(t testing.TB) *State {
			s := enabled(t)
			must(t, s.RoleAdd("root"))
			return s
		}, op: func(s *State) error { return s.RoleDelete("root") }, err: ErrInvalidAuthMgmt},
		{name: "role delete root while disabled revokes it", state: func(t testing.TB) *State {
			s := withRoot(t)
			must(t, s.RoleAdd("root"))
			return s
		}, op: func(s *State) error { return s.RoleDelete("root") }, changed: true,
			check: func(t *testing.T, s *State) {
				userRoles(t, s, "root")
				wantErr(t, "enable", s.Enable(testKey), ErrRootRoleMissing)
			}},

		// RoleGrantPermission.
		{name: "grant permission", state: withRoot,
			op: func(s *State) error { return s.RoleGrantPermission("reader", perm(rbac.Read, "/other", "")) }, changed: true,
			check: func(t *testing.T, s *State) {
				rolePerms(t, s, "reader", perm(rbac.Read, "/app/", "/app0"), perm(rbac.Read, "/other", ""))
			}},
		{name: "grant permission replaces the type on the same range", state: withRoot,
			op: func(s *State) error { return s.RoleGrantPermission("app", perm(rbac.Read, "/app/", "/app0")) }, changed: true,
			check: func(t *testing.T, s *State) { rolePerms(t, s, "app", perm(rbac.Read, "/app/", "/app0")) }},
		{name: "grant permission again", state: withRoot,
			op:    func(s *State) error { return s.RoleGrantPermission("app", appPrefix) },
			check: func(t *testing.T, s *State) { rolePerms(t, s, "app", appPrefix) }},
		{name: "grant permission keeps overlapping ranges apart", state: withRoot,
			op: func(s *State) error { return s.RoleGrantPermission("app", perm(rbac.Write, "/app/", "\x00")) }, changed: true,
			check: func(t *testing.T, s *State) {
				rolePerms(t, s, "app", perm(rbac.Write, "/app/", "\x00"), appPrefix)
			}},
		{name: "grant permission missing role", state: withRoot,
			op: func(s *State) error { return s.RoleGrantPermission("nope", appPrefix) }, err: ErrRoleNotFound},
		{name: "grant permission empty key", state: withRoot,
			op: func(s *State) error { return s.RoleGrantPermission("app", perm(rbac.Read, "", "")) }, err: ErrInvalidAuthMgmt},
		{name: "grant permission inverted range", state: withRoot,
			op: func(s *State) error { return s.RoleGrantPermission("app", perm(rbac.Read, "b", "a")) }, err: ErrInvalidAuthMgmt},
		{name: "grant permission empty range", state: withRoot,
			op: func(s *State) error { return s.RoleGrantPermission("app", perm(rbac.Read, "b", "b")) }, err: ErrInvalidAuthMgmt},
		{name: "grant permission bad type", state: withRoot,
			op: func(s *State) error { return s.RoleGrantPermission("app", perm(3, "b", "")) }, err: ErrInvalidAuthMgmt},
		{name: "grant permission every key", state: withRoot,
			op: func(s *State) error { return s.RoleGrantPermission("reader", perm(rbac.Read, "\x00", "\x00")) }, changed: true},

		// RoleRevokePermission.
		{name: "revoke permission", state: enabled,
			op: func(s *State) error { return s.RoleRevokePermission("app", []byte("/app/"), []byte("/app0")) }, changed: true,
			check: func(t *testing.T, s *State) {
				rolePerms(t, s, "app")
				if s.View().Allowed("alice", rbac.Read, []byte("/app/x"), nil) {
					t.Error("alice may still read")
				}
			}},
		{name: "revoke permission needs the exact range", state: withRoot,
			op: func(s *State) error { return s.RoleRevokePermission("app", []byte("/app/"), nil) }, err: ErrPermNotGranted},
		{name: "revoke permission missing role", state: withRoot,
			op: func(s *State) error { return s.RoleRevokePermission("nope", []byte("a"), nil) }, err: ErrRoleNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.state(t)
			before, encBefore := s.Status().Revision, s.Encode()
			err := c.op(s)
			wantErr(t, "op", err, c.err)
			if err != nil && !strings.HasPrefix(err.Error(), "auth: ") && !strings.Contains(err.Error(), ": auth: ") {
				t.Errorf("error %q does not say it comes from auth", err)
			}
			after := s.Status().Revision
			switch {
			case c.changed && after != before+1:
				t.Errorf("revision %d -> %d, want +1", before, after)
			case !c.changed && after != before:
				t.Errorf("revision %d -> %d, want unchanged", before, after)
			case !c.changed && !bytes.Equal(s.Encode(), encBefore):
				t.Error("the state changed")
			}
			if c.check != nil {
				c.check(t, s)
			}
		})
	}
}

func TestGetters(t *testing.T) {
	s := withRoot(t)
	if got, want := s.UserList(), []string{"alice", "bob", "root"}; !slices.Equal(got, want) {
		t.Errorf("UserList = %q, want %q", got, want)
	}
	if got, want := s.RoleList(), []string{"app", "reader"}; !slices.Equal(got, want) {
		t.Errorf("RoleList = %q, want %q", got, want)
	}
	userRoles(t, s, "root", "root")
	_, err := s.UserGet("nobody")
	wantErr(t, "UserGet", err, ErrUserNotFound)
	_, err = s.RoleGet("nobody")
	wantErr(t, "RoleGet", err, ErrRoleNotFound)
	_, err = s.RoleGet("root") // granted, but no Role of that name
	wantErr(t, "RoleGet(root)", err, ErrRoleNotFound)
	must(t, s.RoleAdd("root"))
	must(t, s.RoleGrantPermission("root", perm(rbac.Read, "a", "")))
	rolePerms(t, s, "root", perm(rbac.ReadWrite, "", "\x00"))
	if st := s.Status(); st.Enabled || st.Revision != 13 {
		t.Errorf("Status = %+v, want disabled at revision 13", st)
	}

	// Getters hand out copies.
	roles, _ := s.UserGet("alice")
	roles[0] = "root"
	perms, _ := s.RoleGet("app")
	perms[0].Key[0] = 'X'
	userRoles(t, s, "alice", "app")
	rolePerms(t, s, "app", perm(rbac.ReadWrite, "/app/", "/app0"))
}

// Operations keep no reference to their arguments: the node may reuse its decode buffers.
func TestOperationsCopyArguments(t *testing.T) {
	s := withRoot(t)
	key := bytes.Clone(testKey)
	must(t, s.Enable(key))
	hash := bytes.Clone(hashOf(t, "carolpw"))
	must(t, s.UserAdd("carol", hash, false))
	p := perm(rbac.Read, "/c/", "/c0")
	must(t, s.RoleGrantPermission("reader", p))
	key[0]++
	hash[len(hash)-1]++
	p.Key[0], p.RangeEnd[0] = 'X', 'Y'
	rolePerms(t, s, "reader", perm(rbac.Read, "/app/", "/app0"), perm(rbac.Read, "/c/", "/c0"))
	v := s.View()
	if _, err := v.Authenticate("carol", "carolpw", t0, tokenTTL); err != nil {
		t.Errorf("carol's hash was changed through the caller's slice: %v", err)
	}
	if !bytes.Equal(v.tokenKey, testKey) {
		t.Error("the token key was changed through the caller's slice")
	}
}
