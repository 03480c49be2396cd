package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"etcq.dev/etcq/auth"
	"etcq.dev/etcq/rbac"
	"etcq.dev/etcq/storage"
	"etcq.dev/etcq/wire"
)

// authMember starts a single member in dir with auth enabled: root (the root role),
// alice (role app: readwrite on /app/), admin (the root role too) and carol (password
// "pw", role app).
func authMember(t *testing.T, dir string) *Member {
	t.Helper()
	m, err := New(singleConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	m.bcryptCost = bcrypt.MinCost
	waitLeader(t, m)
	hash, err := auth.HashPasswordCost("pw", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	changeAuth(t, m, nil,
		&authOp{Kind: authUserAdd, Name: "root", NoPassword: true},
		&authOp{Kind: authUserGrantRole, Name: "root", Role: "root"},
		&authOp{Kind: authUserAdd, Name: "admin", NoPassword: true},
		&authOp{Kind: authUserGrantRole, Name: "admin", Role: "root"},
		&authOp{Kind: authRoleAdd, Name: "app"},
		&authOp{Kind: authRoleGrantPermission, Name: "app", PermType: uint8(rbac.ReadWrite), Key: []byte("/app/"), RangeEnd: []byte("/app0")},
		&authOp{Kind: authUserAdd, Name: "alice", NoPassword: true},
		&authOp{Kind: authUserGrantRole, Name: "alice", Role: "app"},
		&authOp{Kind: authUserAdd, Name: "carol", Hash: hash},
		&authOp{Kind: authUserGrantRole, Name: "carol", Role: "app"},
		&authOp{Kind: authEnable, TokenKey: auth.NewTokenKey()},
	)
	return m
}

// changeAuth applies auth operations through raft, as who (nil: the member's own).
func changeAuth(t *testing.T, m *Member, who *caller, ops ...*authOp) {
	t.Helper()
	for _, op := range ops {
		if _, err := m.submit(testContext(t), &request{Op: opAuth, Auth: op, Caller: who}); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// checked is what the client service does with a request of user before proposing it:
// check it against the current View and stamp it.
func checked(t *testing.T, m *Member, id auth.Identity, r *request) *request {
	t.Helper()
	v := m.auth.View()
	if err := (access{v: v, user: id.User}).request(r); err != nil {
		t.Fatalf("the service would refuse it: %v", err)
	}
	r.Caller = &caller{User: id.User, TokenRev: id.TokenRev, AuthRev: v.Revision()}
	return r
}

// TestAuthRecheckAtApply: a request checked at the service and applied after a change
// that revokes what it needs is refused at apply, and applies nothing: the service's
// decision is never the last word (etcd issues #11651, #14571).
func TestAuthRecheckAtApply(t *testing.T) {
	m := authMember(t, t.TempDir())
	ctx := testContext(t)
	alice := auth.Identity{User: "alice"}
	put := checked(t, m, alice, &request{Op: opPut, Put: &storage.PutRequest{Key: []byte("/app/x"), Value: []byte("v")}})
	txn := checked(t, m, alice, &request{Op: opTxn, Txn: &storage.TxnRequest{
		Success: []storage.RequestOp{{Put: &storage.PutRequest{Key: []byte("/app/y")}}},
		Failure: []storage.RequestOp{{Txn: &storage.TxnRequest{Success: []storage.RequestOp{{Range: &storage.RangeRequest{Key: []byte("/app/z")}}}}}},
	}})
	roleAdd := checked(t, m, auth.Identity{User: "admin"}, &request{Op: opAuth, Auth: &authOp{Kind: authRoleAdd, Name: "late"}})

	// The revokes commit before the requests are applied.
	changeAuth(t, m, nil,
		&authOp{Kind: authRoleRevokePermission, Name: "app", Key: []byte("/app/"), RangeEnd: []byte("/app0")},
		&authOp{Kind: authUserRevokeRole, Name: "admin", Role: "root"},
	)
	rev := m.store.Rev()
	for _, r := range []*request{put, txn, roleAdd} {
		_, err := m.submit(ctx, r)
		if !errors.Is(err, auth.ErrPermissionDenied) || !strings.Contains(err.Error(), "auth changed after the request was checked") {
			t.Errorf("op %d checked before a revoke: %v", r.Op, err)
		}
	}
	if got := m.store.Rev(); got != rev {
		t.Fatalf("refused requests changed the store: revision %d -> %d", rev, got)
	}
	if roles := m.auth.RoleList(); strings.Join(roles, " ") != "app" {
		t.Fatalf("roles %v", roles)
	}
	// The Member API speaks for the process, not for a client: it is not checked.
	if _, err := m.Put(ctx, storage.PutRequest{Key: []byte("/app/x")}); err != nil {
		t.Fatal(err)
	}
}

// TestAuthRecheckConfChangeAtApply: a membership change checked at the service for a root
// user, applied after that user lost the root role, is refused at apply, changes nothing,
// and stays refused when the log is replayed after a restart; a change for a user who is
// still root, and the member's own changes, go through.
func TestAuthRecheckConfChangeAtApply(t *testing.T) {
	dir := t.TempDir()
	m := authMember(t, dir)
	ctx := testContext(t)
	stamp := func(user string) context.Context {
		return withCaller(ctx, &caller{User: user, AuthRev: m.auth.View().Revision()})
	}
	asAdmin, asRoot := stamp("admin"), stamp("root")
	changeAuth(t, m, nil, &authOp{Kind: authUserRevokeRole, Name: "admin", Role: "root"})

	before := m.Members()
	if _, _, err := m.AddMember(asAdmin, "late", []string{"https://127.0.0.1:3380"}, true); !errors.Is(err, auth.ErrPermissionDenied) ||
		!strings.Contains(err.Error(), "auth changed after the request was checked") {
		t.Fatalf("a change checked before its user lost root: %v", err)
	}
	if got := m.Members(); len(got) != len(before) {
		t.Fatalf("the refused change altered the members: %+v", got)
	}
	added, _, err := m.AddMember(asRoot, "ok", []string{"https://127.0.0.1:4380"}, true)
	if err != nil {
		t.Fatalf("a change for root: %v", err)
	}
	if _, err := m.RemoveMember(ctx, added.ID); err != nil { // the process's own: unchecked
		t.Fatalf("the member's own change: %v", err)
	}

	m.Stop()
	m2, err := New(singleConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Stop()
	if got := m2.Members(); len(got) != len(before) || got[0].ID != before[0].ID {
		t.Fatalf("members after the log was replayed: %+v, want %+v", got, before)
	}
}

// TestAuthTokenRevokedBeforeApply: a request with a token that was valid at the service
// and revoked (the user's password changed) before apply is refused at apply.
func TestAuthTokenRevokedBeforeApply(t *testing.T) {
	m := authMember(t, t.TempDir())
	ctx := testContext(t)
	v := m.auth.View()
	tok, err := v.Authenticate("carol", "pw", time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Resolve("some-cn", tok, time.Now())
	if err != nil || id.User != "carol" || id.TokenRev == 0 {
		t.Fatalf("resolve: %+v %v", id, err)
	}
	put := checked(t, m, id, &request{Op: opPut, Put: &storage.PutRequest{Key: []byte("/app/c")}})
	hash, err := auth.HashPasswordCost("new", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	changeAuth(t, m, nil, &authOp{Kind: authUserChangePassword, Name: "carol", Hash: hash})
	if _, err := m.submit(ctx, put); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("a request with a revoked token: %v", err)
	}
	if r, _ := m.store.Range(storage.RangeRequest{Key: []byte("/app/c")}); len(r.KVs) != 0 {
		t.Fatal("the refused put was applied")
	}
}

// TestAuthApplyRefusesNonRootChanges: an auth change stamped by a user without the root
// role is refused at apply (whatever the service said), and so are requests that name no
// user once auth is enabled.
func TestAuthApplyRefusesNonRootChanges(t *testing.T) {
	m := authMember(t, t.TempDir())
	before := m.auth.Encode()
	for _, who := range []*caller{{User: "alice", AuthRev: 1}, {User: "", AuthRev: 1}, {User: "stranger", AuthRev: 1}} {
		_, err := m.submit(testContext(t), &request{Op: opAuth, Auth: &authOp{Kind: authDisable}, Caller: who})
		if !errors.Is(err, auth.ErrPermissionDenied) && !errors.Is(err, auth.ErrUserEmpty) {
			t.Errorf("disable as %q: %v", who.User, err)
		}
	}
	if !m.auth.Status().Enabled || string(m.auth.Encode()) != string(before) {
		t.Fatal("a refused change changed the auth state")
	}
	changeAuth(t, m, &caller{User: "root", AuthRev: 1}, &authOp{Kind: authRoleAdd, Name: "ok"})
}

// TestAuthSurvivesRestart: the auth state is stored with the entries that change it, and
// loaded at start (after raft snapshots, with SnapshotCount 50).
func TestAuthSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	m := authMember(t, dir)
	ctx := testContext(t)
	for i := range 60 {
		if _, err := m.Put(ctx, storage.PutRequest{Key: []byte("/k"), Value: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	want := m.auth.Encode()
	m.Stop()
	m2, err := New(singleConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Stop()
	if got := m2.auth.Encode(); string(got) != string(want) || !m2.auth.Status().Enabled {
		t.Fatalf("auth state after a restart differs (enabled %v)", m2.auth.Status().Enabled)
	}
}

// TestDescribeKeys: how denials name keys and ranges.
func TestDescribeKeys(t *testing.T) {
	for _, c := range []struct{ key, end, want string }{
		{"/a", "", `"/a"`},
		{"/a/", "/a0", `prefix "/a/"`},
		{"/a", "/c", `["/a", "/c")`},
		{"/a", "\x00", `every key from "/a"`},
		{"\x00", "\x00", `every key`},
	} {
		if got := describeKeys([]byte(c.key), []byte(c.end)); got != c.want {
			t.Errorf("describeKeys(%q, %q) = %s, want %s", c.key, c.end, got, c.want)
		}
	}
}

// TestAuthErrorsToWire: auth's sentinels reach clients as their wire codes (the table of
// auth/errors_test.go), wrapped or not.
func TestAuthErrorsToWire(t *testing.T) {
	for _, c := range []struct {
		err  error
		code wire.Code
	}{
		{auth.ErrPermissionDenied, wire.CodePermissionDenied},
		{auth.ErrAuthNotEnabled, wire.CodeAuthNotEnabled},
		{auth.ErrAuthFailed, wire.CodeAuthFailed},
		{auth.ErrInvalidToken, wire.CodeInvalidToken},
		{auth.ErrUserExists, wire.CodeUserExists},
		{auth.ErrUserNotFound, wire.CodeUserNotFound},
		{auth.ErrRoleExists, wire.CodeRoleExists},
		{auth.ErrRoleNotFound, wire.CodeRoleNotFound},
		{auth.ErrRoleNotGranted, wire.CodeRoleNotGranted},
		{auth.ErrPermNotGranted, wire.CodePermNotGranted},
		{auth.ErrRootUserMissing, wire.CodeRootUserMissing},
		{auth.ErrRootRoleMissing, wire.CodeRootRoleMissing},
		{auth.ErrUserEmpty, wire.CodeUserEmpty},
		{auth.ErrAuthOldRevision, wire.CodeAuthOldRevision},
		{auth.ErrNoPasswordUser, wire.CodeNoPasswordUser},
		{auth.ErrInvalidAuthMgmt, wire.CodeBadRequest},
		{auth.ErrCorrupt, wire.CodeCorrupt},
		{&deniedError{msg: "permission denied: put \"k\" needs write"}, wire.CodePermissionDenied},
	} {
		wrapped := fmt.Errorf("context: %w", c.err)
		if got := toWireError(wrapped); got.Code != c.code || got.Message != wrapped.Error() {
			t.Errorf("%v: code %v, message %q; want %v", c.err, got.Code, got.Message, c.code)
		}
	}
}

// TestAuthConfigKnobs: Config.BcryptCost is the cost new passwords are hashed at, out of
// bcrypt's range is refused, and Config.AuthTokenTTL is how long issued tokens live.
func TestAuthConfigKnobs(t *testing.T) {
	cfg := singleConfig(t.TempDir())
	cfg.BcryptCost = 40
	if _, err := New(cfg); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("bcrypt cost 40: %v", err)
	}
	cfg.BcryptCost, cfg.AuthTokenTTL = 5, 3*time.Second
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	waitLeader(t, m)
	hash, err := m.hashPassword(testContext(t), "pw")
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost(hash); err != nil || cost != 5 {
		t.Fatalf("a new password is hashed at cost %d (%v), want 5", cost, err)
	}
	changeAuth(t, m, nil,
		&authOp{Kind: authUserAdd, Name: "root", NoPassword: true},
		&authOp{Kind: authUserGrantRole, Name: "root", Role: "root"},
		&authOp{Kind: authUserAdd, Name: "carol", Hash: hash},
		&authOp{Kind: authEnable, TokenKey: auth.NewTokenKey()},
	)
	// As the service's authenticate issues them: for the member's token TTL.
	v := m.auth.View()
	issued := time.Now()
	token, err := v.Authenticate("carol", "pw", issued, m.tokenTTL)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.VerifyToken(token, issued.Add(2*time.Second)); err != nil {
		t.Fatalf("the token within its 3 s: %v", err)
	}
	if _, _, err := v.VerifyToken(token, issued.Add(3*time.Second+time.Millisecond)); err == nil {
		t.Fatal("the token was still valid 3 s after it was issued")
	}
}
