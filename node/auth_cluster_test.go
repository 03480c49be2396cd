package node_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"etcq.dev/etcq/certs/certstest"
	"etcq.dev/etcq/node"
	"etcq.dev/etcq/node/nodetest"
	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/storage"
	"etcq.dev/etcq/wire"
)

// serveMember starts a client service for m and returns its endpoint.
func serveMember(t *testing.T, pki *certstest.PKI, m *node.Member, name string) string {
	t.Helper()
	node.FastPasswords(m)
	svc, err := node.NewService(m, node.ServiceConfig{Addr: "127.0.0.1:0", TLS: serverTLS(t, pki, name)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
	return "https://" + svc.Addr().String()
}

// enableAuth makes root (the root role) and alice (role app: readwrite on /app/) and
// enables auth, through root's client.
func enableAuth(t *testing.T, ctx context.Context, root *quicclient.Client) {
	t.Helper()
	noPassword := &quicclient.UserAddOptions{NoPassword: true}
	must(root.UserAddWithOptions(ctx, "root", "", noPassword))(t)
	must(root.UserGrantRole(ctx, "root", "root"))(t)
	must(root.RoleAdd(ctx, "app"))(t)
	must(root.RoleGrantPermission(ctx, "app", "/app/", quicclient.GetPrefixRangeEnd("/app/"), quicclient.PermReadWrite))(t)
	must(root.UserAddWithOptions(ctx, "alice", "", noPassword))(t)
	must(root.UserGrantRole(ctx, "alice", "app"))(t)
	must(root.AuthEnable(ctx))(t)
}

// TestAuthRevokeWhileProposalInFlight: alice's put is checked (and allowed) by a
// follower's service and forwarded to the leader; the network holds it while root revokes
// alice's permission through the leader. When the put reaches the log it is after the
// revoke, and every member refuses it at apply: a revoked permission is never honoured,
// even for a request that was checked before the revoke.
func TestAuthRevokeWhileProposalInFlight(t *testing.T) {
	c := nodetest.NewCluster(t, nodetest.Options{Size: 3})
	pki := certstest.New(t)
	ctx := testCtx(t, 60*time.Second)
	lead := c.WaitLeader()
	var follower uint64
	for _, id := range c.Running() {
		if id != lead {
			follower = id
			break
		}
	}
	root := connect(t, pki, "root", serveMember(t, pki, c.Member(lead), "lead"))
	alice := connect(t, pki, "alice", serveMember(t, pki, c.Member(follower), "follower"))
	enableAuth(t, ctx, root)
	if err := c.Member(follower).WaitApplied(ctx, c.Member(lead).AppliedIndex()); err != nil {
		t.Fatal(err)
	}
	must(alice.Put(ctx, "/app/before", "v"))(t)

	var holding atomic.Bool
	held, release := make(chan struct{}), make(chan struct{})
	var heldOnce sync.Once
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce)
	c.Net.SetHook(func(m *raftpb.Message) bool {
		if m.GetType() == raftpb.MessageType_MsgProp && m.GetFrom() == follower && holding.Load() {
			heldOnce.Do(func() { close(held) })
			<-release
		}
		return true
	})
	holding.Store(true)
	errC := make(chan error, 1)
	go func() {
		_, err := alice.Put(ctx, "/app/x", "v")
		errC <- err
	}()
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatal("alice's proposal never left the follower")
	}
	holding.Store(false)
	must(root.RoleRevokePermission(ctx, "app", "/app/", quicclient.GetPrefixRangeEnd("/app/")))(t)
	releaseOnce()
	err := <-errC
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodePermissionDenied || !strings.Contains(we.Message, "auth changed after the request was checked") {
		t.Fatalf("alice's put, checked before the revoke and applied after: %v", err)
	}
	for _, id := range c.Running() {
		if err := c.Member(id).WaitApplied(ctx, c.Member(lead).AppliedIndex()); err != nil {
			t.Fatal(err)
		}
		if r, err := c.Member(id).Range(ctx, storage.RangeRequest{Key: []byte("/app/x")}, true); err != nil || len(r.KVs) != 0 {
			t.Fatalf("member %x holds the refused put: %+v %v", id, r, err)
		}
	}
	if _, err := alice.Put(ctx, "/app/y", "v"); !errors.Is(err, wire.ErrPermissionDenied) {
		t.Fatalf("a put after the revoke: %v", err)
	}
}

// TestAuthSnapshotCatchUp: a member that was down while auth was set up catches up from
// a snapshot and has the same auth state (and the cluster's EnsureSame compares it byte
// for byte with the others').
func TestAuthSnapshotCatchUp(t *testing.T) {
	c := nodetest.NewCluster(t, nodetest.Options{Size: 3, SnapshotCount: 20, SnapshotCatchUpEntries: 5})
	pki := certstest.New(t)
	ctx := testCtx(t, 60*time.Second)
	lead := c.WaitLeader()
	var down uint64
	for _, id := range c.Running() {
		if id != lead {
			down = id
			break
		}
	}
	var snapshots atomic.Int64
	c.Net.SetHook(func(m *raftpb.Message) bool {
		if m.GetType() == raftpb.MessageType_MsgSnap && m.GetTo() == down {
			snapshots.Add(1)
		}
		return true
	})
	c.Stop(down)
	root := connect(t, pki, "root", serveMember(t, pki, c.Member(lead), "lead"))
	enableAuth(t, ctx, root)
	for range 50 {
		must(root.Put(ctx, "/app/k", "v"))(t)
	}
	m := c.Restart(down)
	if err := m.WaitApplied(ctx, c.Member(lead).AppliedIndex()); err != nil {
		t.Fatal(err)
	}
	if snapshots.Load() == 0 {
		t.Fatal("the member caught up without a snapshot; the test needs one")
	}
	if !node.AuthStatus(m).Enabled || string(node.AuthState(m)) != string(node.AuthState(c.Member(lead))) {
		t.Fatalf("auth state after a snapshot: %+v, leader %+v", node.AuthStatus(m), node.AuthStatus(c.Member(lead)))
	}
}
