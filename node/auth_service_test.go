package node_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"etcq.dev/etcq/node"
	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/wire"
)

// authServed is a served member with auth enabled and these users, each with a client
// whose certificate has the user's name as CN:
//
//	root    the root role
//	alice   app-a:  readwrite on the prefix /app/a/
//	bob     reader: read on the prefix /app/
//	dave    writer: write (only) on the prefix /w/
//	carol   app-a, with a password and no certificate of her own: she authenticates
//	        through tool, whose CN is no user
//	mallory no user at all
type authServed struct {
	*served
	root, alice, bob, dave, tool, mallory *quicclient.Client
}

// must(f())(t) is f's result, or the end of the test if f failed.
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func serveWithAuth(t *testing.T) *authServed {
	t.Helper()
	s := serveSingle(t, nil)
	node.FastPasswords(s.m)
	a := &authServed{served: s}
	ep := s.endpoint()
	a.root = connect(t, s.pki, "root", ep)
	a.alice = connect(t, s.pki, "alice", ep)
	a.bob = connect(t, s.pki, "bob", ep)
	a.dave = connect(t, s.pki, "dave", ep)
	a.tool = connect(t, s.pki, "tool", ep)
	a.mallory = connect(t, s.pki, "mallory", ep)
	ctx := testCtx(t, 30*time.Second)
	r := a.root
	noPassword := &quicclient.UserAddOptions{NoPassword: true}

	// Enable is refused until root exists with the root role.
	if _, err := r.AuthEnable(ctx); !errors.Is(err, wire.ErrRootUserMissing) {
		t.Fatalf("enable without a root user: %v", err)
	}
	must(r.UserAddWithOptions(ctx, "root", "", noPassword))(t)
	if _, err := r.AuthEnable(ctx); !errors.Is(err, wire.ErrRootRoleMissing) {
		t.Fatalf("enable without the root role: %v", err)
	}
	must(r.UserGrantRole(ctx, "root", "root"))(t)
	for _, g := range []struct {
		role, key string
		perm      quicclient.PermissionType
	}{{"app-a", "/app/a/", quicclient.PermReadWrite}, {"reader", "/app/", quicclient.PermRead}, {"writer", "/w/", quicclient.PermWrite}} {
		must(r.RoleAdd(ctx, g.role))(t)
		must(r.RoleGrantPermission(ctx, g.role, g.key, quicclient.GetPrefixRangeEnd(g.key), g.perm))(t)
	}
	for _, u := range []struct{ user, role string }{{"alice", "app-a"}, {"bob", "reader"}, {"dave", "writer"}} {
		must(r.UserAddWithOptions(ctx, u.user, "", noPassword))(t)
		must(r.UserGrantRole(ctx, u.user, u.role))(t)
	}
	must(r.UserAdd(ctx, "carol", "carol-pw"))(t)
	must(r.UserGrantRole(ctx, "carol", "app-a"))(t)
	must(r.AuthEnable(ctx))(t)
	if st := must(r.AuthStatus(ctx))(t); !st.Enabled || st.AuthRevision < 2 {
		t.Fatalf("auth status %+v", st)
	}
	return a
}

// allowed reports whether err is nil (allowed) or a permission denial; anything else
// fails the test.
func allowed(t *testing.T, what string, err error) bool {
	t.Helper()
	switch {
	case err == nil:
		return true
	case errors.Is(err, wire.ErrPermissionDenied):
		if !strings.HasPrefix(err.Error(), "permission denied: ") {
			t.Errorf("%s: denial %q does not say so first", what, err)
		}
		return false
	}
	t.Fatalf("%s: %v", what, err)
	return false
}

// TestAuthDecisionTable runs every kind of operation as every kind of user and checks
// what is allowed and what is denied.
func TestAuthDecisionTable(t *testing.T) {
	a := serveWithAuth(t)
	ctx := testCtx(t, 60*time.Second)
	for _, k := range []string{"/app/a/x", "/app/b/x", "/w/x", "/other"} {
		must(a.root.Put(ctx, k, "v"))(t)
	}
	lease := must(a.root.Grant(ctx, 600))(t)
	type client = *quicclient.Client
	ops := []struct {
		name string
		do   func(c client) error
		// who may: the users for whom the op must be allowed; it must be denied for the
		// others (root may do everything and is checked too).
		who string
	}{
		{"get key", func(c client) error { _, err := c.Get(ctx, "/app/a/x"); return err }, "alice bob"},
		{"get serializable", func(c client) error { _, err := c.Get(ctx, "/app/a/x", quicclient.WithSerializable()); return err }, "alice bob"},
		{"get prefix /app/", func(c client) error { _, err := c.Get(ctx, "/app/", quicclient.WithPrefix()); return err }, "bob"},
		{"get prefix /app/a/", func(c client) error { _, err := c.Get(ctx, "/app/a/", quicclient.WithPrefix()); return err }, "alice bob"},
		{"get from key", func(c client) error { _, err := c.Get(ctx, "/app/", quicclient.WithFromKey()); return err }, ""},
		{"get other", func(c client) error { _, err := c.Get(ctx, "/other"); return err }, ""},
		{"put /app/a/", func(c client) error { _, err := c.Put(ctx, "/app/a/y", "v"); return err }, "alice"},
		{"put /app/b/", func(c client) error { _, err := c.Put(ctx, "/app/b/y", "v"); return err }, ""},
		{"put /w/", func(c client) error { _, err := c.Put(ctx, "/w/y", "v"); return err }, "dave"},
		{"put /w/ prev kv", func(c client) error { _, err := c.Put(ctx, "/w/y", "v", quicclient.WithPrevKV()); return err }, ""},
		{"put /app/a/ prev kv", func(c client) error {
			_, err := c.Put(ctx, "/app/a/y", "v", quicclient.WithPrevKV())
			return err
		}, "alice"},
		{"delete /app/a/y", func(c client) error { _, err := c.Delete(ctx, "/app/a/y"); return err }, "alice"},
		{"delete prefix /app/a/z", func(c client) error { _, err := c.Delete(ctx, "/app/a/z", quicclient.WithPrefix()); return err }, "alice"},
		{"delete /w/ prev kv", func(c client) error { _, err := c.Delete(ctx, "/w/none", quicclient.WithPrevKV()); return err }, ""},
		{"delete /w/", func(c client) error { _, err := c.Delete(ctx, "/w/none"); return err }, "dave"},
		{"txn read compare, write then", func(c client) error {
			_, err := c.Txn(ctx).If(quicclient.Compare(quicclient.Value("/app/a/x"), "=", "v")).
				Then(quicclient.OpPut("/app/a/t", "1")).Commit()
			return err
		}, "alice"},
		{"txn compare outside", func(c client) error {
			_, err := c.Txn(ctx).If(quicclient.Compare(quicclient.Value("/app/b/x"), "=", "v")).
				Then(quicclient.OpPut("/app/a/t", "1")).Commit()
			return err
		}, ""},
		{"txn denied op in the branch that does not run", func(c client) error {
			_, err := c.Txn(ctx).If(quicclient.Compare(quicclient.Value("/app/a/x"), "=", "v")).
				Then(quicclient.OpGet("/app/a/x")).Else(quicclient.OpPut("/app/b/x", "no")).Commit()
			return err
		}, ""},
		{"txn nested", func(c client) error {
			_, err := c.Txn(ctx).Then(quicclient.OpTxn(nil, []quicclient.Op{quicclient.OpGet("/app/a/x")},
				[]quicclient.Op{quicclient.OpDelete("/app/a/", quicclient.WithPrefix())})).Commit()
			return err
		}, "alice"},
		{"txn nested denied", func(c client) error {
			_, err := c.Txn(ctx).Then(quicclient.OpTxn(nil, nil,
				[]quicclient.Op{quicclient.OpGet("/other")})).Commit()
			return err
		}, ""},
		{"txn read only", func(c client) error {
			_, err := c.Txn(ctx).Then(quicclient.OpGet("/app/", quicclient.WithPrefix())).Commit()
			return err
		}, "bob"},
		{"compact", func(c client) error { _, err := c.Compact(ctx, 1); return err }, ""},
		{"lease grant", func(c client) error { _, err := c.Grant(ctx, 60); return err }, "alice bob dave"},
		{"lease keep alive", func(c client) error { _, err := c.KeepAliveOnce(ctx, lease.ID); return err }, "alice bob dave"},
		{"lease time to live", func(c client) error { _, err := c.TimeToLive(ctx, lease.ID); return err }, "alice bob dave"},
		{"lease list", func(c client) error { _, err := c.Leases(ctx); return err }, "alice bob dave"},
		{"member list", func(c client) error { _, err := c.MemberList(ctx); return err }, "alice bob dave"},
		{"member update", func(c client) error {
			_, err := c.MemberUpdate(ctx, 1, []string{"https://127.0.0.1:2380"})
			return err
		}, ""},
		{"status", func(c client) error { _, err := c.Status(ctx, a.endpoint()); return err }, "alice bob dave mallory"},
		{"hash kv", func(c client) error { _, err := c.HashKV(ctx, a.endpoint(), 0); return err }, ""},
		{"hash", func(c client) error { _, err := c.Hash(ctx, a.endpoint()); return err }, ""},
		{"alarm list", func(c client) error { _, err := c.AlarmList(ctx); return err }, ""},
		{"move leader", func(c client) error { return c.MoveLeader(ctx, 1) }, ""},
		{"snapshot", func(c client) error {
			rc, err := c.Snapshot(ctx)
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			return err
		}, ""},
		{"auth status", func(c client) error { _, err := c.AuthStatus(ctx); return err }, "alice bob dave mallory"},
		{"user list", func(c client) error { _, err := c.UserList(ctx); return err }, ""},
		{"role list", func(c client) error { _, err := c.RoleList(ctx); return err }, ""},
		{"user get alice", func(c client) error { _, err := c.UserGet(ctx, "alice"); return err }, "alice"},
		{"role get app-a", func(c client) error { _, err := c.RoleGet(ctx, "app-a"); return err }, "alice"},
		{"role add", func(c client) error { _, err := c.RoleAdd(ctx, "x"); return err }, ""},
		{"user add", func(c client) error { _, err := c.UserAdd(ctx, "x", "pw"); return err }, ""},
		{"user grant role", func(c client) error { _, err := c.UserGrantRole(ctx, "alice", "reader"); return err }, ""},
		{"role grant permission", func(c client) error {
			_, err := c.RoleGrantPermission(ctx, "app-a", "/other", "", quicclient.PermReadWrite)
			return err
		}, ""},
		{"auth disable", func(c client) error { _, err := c.AuthDisable(ctx); return err }, ""},
	}
	users := []struct {
		name string
		c    client
	}{{"alice", a.alice}, {"bob", a.bob}, {"dave", a.dave}, {"mallory", a.mallory}}
	for _, op := range ops {
		for _, u := range users {
			want := strings.Contains(" "+op.who+" ", " "+u.name+" ")
			if got := allowed(t, op.name+" as "+u.name, op.do(u.c)); got != want {
				t.Errorf("%s as %s: allowed %v, want %v", op.name, u.name, got, want)
			}
		}
	}
	// Root may do all of it but turn auth off (last, not to change the others' answers).
	for _, op := range ops[:len(ops)-1] {
		if op.name == "move leader" {
			continue // a single member: moving to itself is not a permission question
		}
		if err := op.do(a.root); err != nil && !errors.Is(err, wire.ErrUserExists) && !errors.Is(err, wire.ErrRoleExists) &&
			!errors.Is(err, wire.ErrUnimplemented) {
			t.Errorf("%s as root: %v", op.name, err)
		}
	}
}

// TestAuthDenialMessage: a denial names the operation, the key and what it needed.
func TestAuthDenialMessage(t *testing.T) {
	a := serveWithAuth(t)
	ctx := testCtx(t, 30*time.Second)
	for _, c := range []struct {
		err  error
		want string
	}{
		{second(a.alice.Put(ctx, "/app/b/x", "v")), `permission denied: put "/app/b/x" needs write (user "alice")`},
		{second(a.bob.Get(ctx, "/", quicclient.WithPrefix())), `permission denied: range prefix "/" needs read (user "bob")`},
		{second(a.dave.Delete(ctx, "/w/", quicclient.WithPrefix(), quicclient.WithPrevKV())), `permission denied: delete with prev_kv prefix "/w/" needs read (user "dave")`},
		{second(a.alice.Compact(ctx, 1)), `permission denied: compact needs the root role (user "alice")`},
		{second(a.mallory.Grant(ctx, 10)), `permission denied: lease grant needs a user; "mallory" is none`},
	} {
		var we *wire.Error
		if !errors.As(c.err, &we) || we.Code != wire.CodePermissionDenied || we.Message != c.want {
			t.Errorf("got %v, want %q", c.err, c.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// TestAuthDeniedTxnAppliesNothing: a txn with one denied operation applies none of its
// operations, and takes no revision.
func TestAuthDeniedTxnAppliesNothing(t *testing.T) {
	a := serveWithAuth(t)
	ctx := testCtx(t, 30*time.Second)
	before := must(a.root.Get(ctx, "/", quicclient.WithFromKey()))(t)
	_, err := a.alice.Txn(ctx).Then(
		quicclient.OpPut("/app/a/ok", "1"), quicclient.OpDelete("/app/a/", quicclient.WithPrefix()),
		quicclient.OpPut("/app/b/no", "1"),
	).Commit()
	if allowed(t, "txn", err) {
		t.Fatal("a txn writing outside alice's range was allowed")
	}
	after := must(a.root.Get(ctx, "/", quicclient.WithFromKey()))(t)
	if after.Header.Revision != before.Header.Revision || after.Count != before.Count {
		t.Fatalf("the denied txn changed the store: revision %d -> %d, keys %d -> %d",
			before.Header.Revision, after.Header.Revision, before.Count, after.Count)
	}
}

// TestAuthWatch: a watch is created only on a range the user may read.
func TestAuthWatch(t *testing.T) {
	a := serveWithAuth(t)
	ctx := testCtx(t, 30*time.Second)
	denied := a.alice.Watch(ctx, "/app/", quicclient.WithPrefix())
	select {
	case wr, ok := <-denied:
		if !ok || !wr.Canceled || wr.Err() == nil || !strings.Contains(wr.Err().Error(), `permission denied: watch prefix "/app/" needs read`) {
			t.Fatalf("watch of /app/ as alice: %+v (open %v) %v", wr, ok, wr.Err())
		}
	case <-ctx.Done():
		t.Fatal("the denied watch was never answered")
	}
	for _, c := range []*quicclient.Client{a.alice, a.bob} {
		wch := c.Watch(ctx, "/app/a/", quicclient.WithPrefix(), quicclient.WithCreatedNotify())
		if wr := <-wch; !wr.Created || wr.Canceled {
			t.Fatalf("watch of /app/a/: %+v %v", wr, wr.Err())
		}
		put := must(a.root.Put(ctx, "/app/a/w", "1"))(t)
		wr := <-wch
		if len(wr.Events) != 1 || wr.Events[0].KV.ModRevision != put.Header.Revision {
			t.Fatalf("watch event: %+v %v", wr, wr.Err())
		}
	}
}

// TestAuthLeaseRevoke: revoking a lease deletes its keys, so it needs write on every key
// attached, which only apply knows; and attaching a key to a lease needs write on the
// keys it already holds (as etcd).
func TestAuthLeaseRevoke(t *testing.T) {
	a := serveWithAuth(t)
	ctx := testCtx(t, 30*time.Second)
	l := must(a.alice.Grant(ctx, 600))(t)
	must(a.alice.Put(ctx, "/app/a/l", "v", quicclient.WithLease(l.ID)))(t)
	must(a.root.Put(ctx, "/app/b/l", "v", quicclient.WithLease(l.ID)))(t)
	if _, err := a.alice.Put(ctx, "/app/a/m", "v", quicclient.WithLease(l.ID)); allowed(t, "put with lease", err) {
		t.Fatal("alice attached a key to a lease holding a key she may not write")
	}
	if _, err := a.alice.Revoke(ctx, l.ID); allowed(t, "revoke", err) {
		t.Fatal("alice revoked a lease holding a key she may not write")
	} else if !strings.Contains(err.Error(), `deletes "/app/b/l"`) {
		t.Errorf("denial: %v", err)
	}
	ttl := must(a.root.TimeToLive(ctx, l.ID, quicclient.WithAttachedKeys()))(t)
	if ttl.TTL <= 0 || len(ttl.Keys) != 2 {
		t.Fatalf("after the denied revoke: %+v", ttl)
	}
	// Listing the keys needs read on each (etcd's CVE-2023-32082).
	if _, err := a.alice.TimeToLive(ctx, l.ID, quicclient.WithAttachedKeys()); allowed(t, "time to live with keys", err) {
		t.Fatal("alice listed a key she may not read")
	}
	must(a.root.Delete(ctx, "/app/b/l"))(t)
	must(a.alice.Revoke(ctx, l.ID))(t)
	if got := must(a.root.Get(ctx, "/app/a/l"))(t); got.Count != 0 {
		t.Fatalf("the revoke left its key: %+v", got)
	}
}

// TestAuthTokens: a password user authenticates for a token, which takes precedence
// over the certificate's CN; a password change revokes it; an invalid token is an error,
// never a fallback to the CN.
func TestAuthTokens(t *testing.T) {
	a := serveWithAuth(t)
	ctx := testCtx(t, 30*time.Second)
	tool := a.tool
	if _, err := tool.Put(ctx, "/app/a/c", "v"); allowed(t, "put as tool", err) {
		t.Fatal("a CN that is no user wrote")
	}
	if _, err := tool.Authenticate(ctx, "carol", "wrong"); !errors.Is(err, wire.ErrAuthFailed) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := tool.Authenticate(ctx, "nobody", "pw"); !errors.Is(err, wire.ErrAuthFailed) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := tool.Authenticate(ctx, "alice", ""); !errors.Is(err, wire.ErrNoPasswordUser) {
		t.Fatalf("no-password user: %v", err)
	}
	tok := must(tool.Authenticate(ctx, "carol", "carol-pw"))(t)
	if tok.Token == "" {
		t.Fatal("no token")
	}
	must(tool.Put(ctx, "/app/a/c", "v"))(t)
	if _, err := tool.Put(ctx, "/app/b/c", "v"); allowed(t, "put as carol", err) {
		t.Fatal("carol wrote outside her range")
	}
	if got := must(tool.UserGet(ctx, "carol"))(t); len(got.Roles) != 1 || got.Roles[0] != "app-a" {
		t.Fatalf("carol's roles: %+v", got)
	}
	// Watches carry the token too.
	wch := tool.Watch(ctx, "/app/a/", quicclient.WithPrefix(), quicclient.WithCreatedNotify())
	if wr := <-wch; !wr.Created || wr.Canceled {
		t.Fatalf("carol's watch: %+v %v", wr, wr.Err())
	}

	must(a.root.UserChangePassword(ctx, "carol", "new-pw"))(t)
	if _, err := tool.Get(ctx, "/app/a/c"); !errors.Is(err, wire.ErrInvalidToken) {
		t.Fatalf("a token from before a password change: %v", err)
	}
	if _, err := tool.Authenticate(ctx, "carol", "carol-pw"); !errors.Is(err, wire.ErrAuthFailed) {
		t.Fatalf("the old password: %v", err)
	}
	must(tool.Authenticate(ctx, "carol", "new-pw"))(t)
	must(tool.Get(ctx, "/app/a/c"))(t)

	// A forged token is refused, even though the certificate's CN might do.
	a.alice.SetToken(tok.Token[:len(tok.Token)-2] + "AA")
	if _, err := a.alice.Get(ctx, "/app/a/c"); !errors.Is(err, wire.ErrInvalidToken) {
		t.Fatalf("a forged token: %v", err)
	}
	a.alice.SetToken("")
	must(a.alice.Get(ctx, "/app/a/c"))(t)

	// Deleting the user revokes its tokens; disabling auth revokes every token.
	must(a.root.UserDelete(ctx, "carol"))(t)
	if _, err := tool.Get(ctx, "/app/a/c"); !errors.Is(err, wire.ErrInvalidToken) {
		t.Fatalf("a token of a deleted user: %v", err)
	}
}

// TestAuthReauthenticate: a client given credentials authenticates when it connects, and
// when a member refuses its token (here revoked by a password change to the same
// password) it authenticates again and resends the request, which is applied once.
func TestAuthReauthenticate(t *testing.T) {
	a := serveWithAuth(t)
	ctx := testCtx(t, 30*time.Second)
	cfg := quicclient.Config{Endpoints: []string{a.endpoint()}, TLS: clientTLS(a.pki, a.pki.Client(t, "tool")),
		Username: "carol", Password: "wrong"}
	if _, err := quicclient.New(ctx, cfg); !errors.Is(err, wire.ErrAuthFailed) {
		t.Fatalf("New with a wrong password: %v", err)
	}
	cfg.Password = "carol-pw"
	carol, err := quicclient.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer carol.Close()
	first := must(carol.Put(ctx, "/app/a/re", "1"))(t)

	must(a.root.UserChangePassword(ctx, "carol", "carol-pw"))(t) // revokes carol's tokens
	put := must(carol.Put(ctx, "/app/a/re", "2"))(t)
	got := must(a.root.Get(ctx, "/app/a/re"))(t)
	if len(got.KVs) != 1 || string(got.KVs[0].Value) != "2" || got.KVs[0].Version != 2 || got.KVs[0].ModRevision != put.Header.Revision {
		t.Fatalf("after the token was revoked, /app/a/re is %+v (first put at %d): want version 2, written once by the resent put", got.KVs, first.Header.Revision)
	}
	if _, err := carol.Put(ctx, "/app/b/re", "x"); !errors.Is(err, wire.ErrPermissionDenied) {
		t.Fatalf("carol, authenticated again, outside her range: %v", err)
	}
}

// TestAuthRootOnlyAndDisable: root manages users and roles; deleting root or its role is
// refused while auth is on; after a disable everyone may do everything.
func TestAuthRootOnlyAndDisable(t *testing.T) {
	a := serveWithAuth(t)
	ctx := testCtx(t, 30*time.Second)
	r := a.root
	if _, err := r.UserDelete(ctx, "root"); !errors.Is(err, wire.ErrBadRequest) {
		t.Fatalf("delete root: %v", err)
	}
	if _, err := r.UserRevokeRole(ctx, "root", "root"); !errors.Is(err, wire.ErrBadRequest) {
		t.Fatalf("revoke root's role: %v", err)
	}
	if _, err := r.UserAdd(ctx, "eve", ""); !errors.Is(err, wire.ErrBadRequest) {
		t.Fatalf("a user with an empty password: %v", err)
	}
	if _, err := r.UserGrantRole(ctx, "alice", "nope"); !errors.Is(err, wire.ErrRoleNotFound) {
		t.Fatalf("grant of a missing role: %v", err)
	}
	if got := must(r.UserList(ctx))(t); strings.Join(got.Users, " ") != "alice bob carol dave root" {
		t.Fatalf("users: %v", got.Users)
	}
	if got := must(r.RoleList(ctx))(t); strings.Join(got.Roles, " ") != "app-a reader writer" {
		t.Fatalf("roles: %v", got.Roles)
	}
	got := must(r.RoleGet(ctx, "app-a"))(t)
	if len(got.Perm) != 1 || got.Perm[0].PermType != quicclient.PermReadWrite || string(got.Perm[0].Key) != "/app/a/" ||
		string(got.Perm[0].RangeEnd) != "/app/a0" {
		t.Fatalf("app-a: %+v", got.Perm)
	}
	// Granting bob write on /app/b/ lets him write there at once.
	must(r.RoleAdd(ctx, "b-writer"))(t)
	must(r.RoleGrantPermission(ctx, "b-writer", "/app/b/", quicclient.GetPrefixRangeEnd("/app/b/"), quicclient.PermWrite))(t)
	must(r.UserGrantRole(ctx, "bob", "b-writer"))(t)
	must(a.bob.Put(ctx, "/app/b/x", "v"))(t)
	must(r.RoleRevokePermission(ctx, "b-writer", "/app/b/", quicclient.GetPrefixRangeEnd("/app/b/")))(t)
	if _, err := a.bob.Put(ctx, "/app/b/x", "v"); allowed(t, "put after revoke", err) {
		t.Fatal("a revoked permission was honoured")
	}

	must(r.AuthDisable(ctx))(t)
	if st := must(a.mallory.AuthStatus(ctx))(t); st.Enabled {
		t.Fatal("still enabled")
	}
	must(a.mallory.Put(ctx, "/anything", "v"))(t)
	must(a.mallory.UserList(ctx))(t)
	if _, err := a.tool.Authenticate(ctx, "root", "x"); !errors.Is(err, wire.ErrAuthNotEnabled) {
		t.Fatalf("authenticate with auth disabled: %v", err)
	}
}
