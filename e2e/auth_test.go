package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"etcq.dev/etcq/certs"
	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/wire"
)

// clientAs connects to every member with a client certificate for cn, issued by the
// cluster's own CA (the auto-TLS PKI directory).
func (c *cluster) clientAs(cn string) *quicclient.Client {
	c.t.Helper()
	ca, err := certs.Dir(c.pki).LoadCA()
	if err != nil {
		c.t.Fatal(err)
	}
	kp, err := ca.Issue(certs.IssueRequest{Profile: certs.ProfileClient, CommonName: cn})
	if err != nil {
		c.t.Fatal(err)
	}
	cert, err := kp.TLSCertificate()
	if err != nil {
		c.t.Fatal(err)
	}
	conf := c.tlsConfig()
	conf.Certificates = []tls.Certificate{cert}
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.clientURL())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := quicclient.New(ctx, quicclient.Config{Endpoints: eps, TLS: conf})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

// TestAuthTwoCertificates: with auth enabled by root (the auto-TLS operator certificate),
// alice may read and write /app/a/ only and bob may only read /app/, each identified by
// the CN of a certificate of its own; checked for get, put, del, txn and watch against
// three member processes.
func TestAuthTwoCertificates(t *testing.T) {
	c := newCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	root := c.client()
	alice, bob := c.clientAs("alice"), c.clientAs("bob")

	step := func(what string, _ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	noPassword := &quicclient.UserAddOptions{NoPassword: true}
	r1, err := root.UserAddWithOptions(ctx, "root", "", noPassword)
	step("user add root", r1, err)
	r1, err = root.UserGrantRole(ctx, "root", "root")
	step("grant root", r1, err)
	for _, g := range []struct {
		user, role, prefix string
		perm               quicclient.PermissionType
	}{{"alice", "app-a", "/app/a/", quicclient.PermReadWrite}, {"bob", "app-reader", "/app/", quicclient.PermRead}} {
		r1, err = root.RoleAdd(ctx, g.role)
		step("role add", r1, err)
		r1, err = root.RoleGrantPermission(ctx, g.role, g.prefix, quicclient.GetPrefixRangeEnd(g.prefix), g.perm)
		step("grant permission", r1, err)
		r1, err = root.UserAddWithOptions(ctx, g.user, "", noPassword)
		step("user add", r1, err)
		r1, err = root.UserGrantRole(ctx, g.user, g.role)
		step("grant role", r1, err)
	}
	r1, err = root.AuthEnable(ctx)
	step("auth enable", r1, err)
	for _, k := range []string{"/app/a/1", "/app/b/1", "/other"} {
		r2, err := root.Put(ctx, k, "v")
		step("root put", r2, err)
	}

	// want checks that err is nil (allowed) or a permission denial (denied).
	want := func(what string, allowed bool, err error) {
		t.Helper()
		switch {
		case allowed && err != nil:
			t.Errorf("%s: want allowed, got %v", what, err)
		case !allowed && !errors.Is(err, wire.ErrPermissionDenied):
			t.Errorf("%s: want permission denied, got %v", what, err)
		}
	}
	get := func(c *quicclient.Client, key string, opts ...quicclient.OpOption) error {
		_, err := c.Get(ctx, key, opts...)
		return err
	}
	prefix := quicclient.WithPrefix()

	// get
	want("alice get /app/a/1", true, get(alice, "/app/a/1"))
	want("alice get prefix /app/a/", true, get(alice, "/app/a/", prefix))
	want("alice get /app/b/1", false, get(alice, "/app/b/1"))
	want("alice get prefix /app/", false, get(alice, "/app/", prefix))
	want("bob get prefix /app/", true, get(bob, "/app/", prefix))
	want("bob get /app/a/1", true, get(bob, "/app/a/1"))
	want("bob get /other", false, get(bob, "/other"))

	// put
	_, err = alice.Put(ctx, "/app/a/2", "v")
	want("alice put /app/a/2", true, err)
	_, err = alice.Put(ctx, "/app/b/2", "v")
	want("alice put /app/b/2", false, err)
	if err != nil && err.Error() != `permission denied: put "/app/b/2" needs write (user "alice")` {
		t.Errorf("denial message: %q", err)
	}
	_, err = bob.Put(ctx, "/app/a/3", "v")
	want("bob put /app/a/3", false, err)

	// del
	_, err = bob.Delete(ctx, "/app/a/2")
	want("bob del /app/a/2", false, err)
	_, err = alice.Delete(ctx, "/app/", prefix)
	want("alice del prefix /app/", false, err)
	_, err = alice.Delete(ctx, "/app/a/2")
	want("alice del /app/a/2", true, err)

	// txn: every key of both branches, whichever runs; nothing of a denied txn applies.
	_, err = alice.Txn(ctx).If(quicclient.Compare(quicclient.Value("/app/a/1"), "=", "v")).
		Then(quicclient.OpPut("/app/a/t", "1")).Else(quicclient.OpPut("/app/b/t", "1")).Commit()
	want("alice txn with /app/b/ in else", false, err)
	if got, err := root.Get(ctx, "/app/a/t"); err != nil || got.Count != 0 {
		t.Errorf("the denied txn applied its then branch: %+v %v", got, err)
	}
	_, err = alice.Txn(ctx).If(quicclient.Compare(quicclient.Value("/app/a/1"), "=", "v")).
		Then(quicclient.OpPut("/app/a/t", "1")).Else(quicclient.OpGet("/app/a/1")).Commit()
	want("alice txn within /app/a/", true, err)
	_, err = bob.Txn(ctx).If(quicclient.Compare(quicclient.Value("/app/b/1"), "=", "v")).
		Then(quicclient.OpGet("/app/", prefix)).Commit()
	want("bob read-only txn", true, err)
	_, err = bob.Txn(ctx).Then(quicclient.OpGet("/app/", prefix), quicclient.OpPut("/app/a/1", "x")).Commit()
	want("bob txn with a put", false, err)

	// watch
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	deniedW := alice.Watch(wctx, "/app/", prefix)
	select {
	case wr := <-deniedW:
		if !wr.Canceled || wr.Err() == nil || !strings.Contains(wr.Err().Error(), "permission denied") {
			t.Errorf("alice watch prefix /app/: %+v %v", wr, wr.Err())
		}
	case <-ctx.Done():
		t.Fatal("alice's denied watch was never answered")
	}
	aliceW := alice.Watch(wctx, "/app/a/", prefix, quicclient.WithCreatedNotify())
	bobW := bob.Watch(wctx, "/app/", prefix, quicclient.WithCreatedNotify())
	for name, ch := range map[string]quicclient.WatchChan{"alice": aliceW, "bob": bobW} {
		if wr := <-ch; !wr.Created || wr.Canceled {
			t.Fatalf("%s's watch: %+v %v", name, wr, wr.Err())
		}
	}
	put, err := root.Put(ctx, "/app/a/w", "1")
	step("root put /app/a/w", put, err)
	for name, ch := range map[string]quicclient.WatchChan{"alice": aliceW, "bob": bobW} {
		select {
		case wr := <-ch:
			if len(wr.Events) != 1 || string(wr.Events[0].KV.Key) != "/app/a/w" || wr.Events[0].KV.ModRevision != put.Header.Revision {
				t.Errorf("%s's watch event: %+v %v", name, wr, wr.Err())
			}
		case <-ctx.Done():
			t.Fatalf("%s's watch saw no event", name)
		}
	}

	// Root-only operations stay root's.
	_, err = alice.Compact(ctx, 1)
	want("alice compact", false, err)
	_, err = bob.RoleAdd(ctx, "x")
	want("bob role add", false, err)
}
