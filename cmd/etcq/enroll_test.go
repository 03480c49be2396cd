package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"go.etcd.io/raft/v3/raftpb"

	"etcq.dev/etcq/certs"
	"etcq.dev/etcq/node"
)

// patience bounds every wait of these tests; it only turns a hang into a failure.
const patience = 30 * time.Second

// loneTransport serves a single-member cluster, which has no one to talk to.
type loneTransport struct{}

func (loneTransport) Send([]*raftpb.Message) {}
func (loneTransport) SendSnapshot(_ *raftpb.Message, image io.ReadCloser, _ int64) {
	image.Close()
}
func (loneTransport) AddPeer(uint64, []string) {}
func (loneTransport) RemovePeer(uint64)        {}

// enrollFixture is a one-member cluster whose client service serves enrollment from a PKI
// directory, as an auto-TLS first member does.
type enrollFixture struct {
	dir    certs.Dir
	ca     *certs.CA
	m      *node.Member
	url    string       // https://127.0.0.1:port
	hooked atomic.Int64 // enrollment connections that reached the enroller
	log    *slog.Logger
}

func newEnrollFixture(t *testing.T) *enrollFixture {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	d, ca, err := certs.InitDir(filepath.Join(t.TempDir(), "pki"), certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.Issue(certs.IssueRequest{Profile: certs.ProfileServer, CommonName: "m1", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SaveKeyPair("m1", kp); err != nil {
		t.Fatal(err)
	}
	r, err := certs.NewReloader(certs.ReloaderOptions{Files: d.Files("m1"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	const token = "test-cluster"
	peer := []string{"https://127.0.0.1:2380"}
	m, err := node.New(node.Config{
		ID: node.MemberIDFor("m1", peer, token), Name: "m1", DataDir: t.TempDir(), ClusterToken: token,
		InitialCluster: []node.MemberInfo{{ID: node.MemberIDFor("m1", peer, token), Name: "m1", PeerURLs: peer}},
		Transport:      loneTransport{}, TickInterval: 10 * time.Millisecond, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	f := &enrollFixture{dir: d, ca: ca, m: m, log: log}
	e := &enroller{dir: d, member: m, clusterToken: token, log: log}
	svc, err := node.NewService(m, node.ServiceConfig{
		Addr: "127.0.0.1:0", TLS: r.ServerConfig(&tls.Config{}), Logger: log,
		Enroll: func(ctx context.Context, conn *quic.Conn) {
			f.hooked.Add(1)
			e.serve(ctx, conn)
		},
		EnrollTLS: r.JoinServerConfig(&tls.Config{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
	f.url = "https://" + svc.Addr().String()
	ctx := testCtx(t)
	for !m.IsLeader() {
		select {
		case <-m.LeaderChanged():
		case <-ctx.Done():
			t.Fatal("no leader")
		}
	}
	return f
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

func (f *enrollFixture) token(t *testing.T, opts certs.JoinTokenOptions) certs.JoinToken {
	t.Helper()
	if opts.TTL == 0 {
		opts.TTL = time.Hour
	}
	tok, _, err := f.dir.CreateJoinToken(opts)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// joinReq is a request for a member named name on 127.0.0.1 with the given peer port,
// and the keys of its CSRs.
func joinReq(t *testing.T, name, peerPort string) (req *joinRequest, serverKey, peerKey []byte) {
	t.Helper()
	serverCSR, serverKey, err := certs.NewCSR(name, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	peerCSR, peerKey, err := certs.NewCSR(name, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return &joinRequest{
		Version: joinProtoVersion, Name: name,
		PeerURLs: []string{"https://127.0.0.1:" + peerPort}, ClientURLs: []string{"https://127.0.0.1:1" + peerPort},
		ServerCSR: serverCSR, PeerCSR: peerCSR,
	}, serverKey, peerKey
}

func TestEnrollment(t *testing.T) {
	f := newEnrollFixture(t)
	tok := f.token(t, certs.JoinTokenOptions{})
	ctx := testCtx(t)
	req, serverKey, peerKey := joinReq(t, "m2", "2381")
	resp, err := enrollOnce(ctx, f.url, tok, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ClusterToken != "test-cluster" || resp.ClusterID != f.m.ClusterID() {
		t.Fatalf("cluster %q %x, want test-cluster %x", resp.ClusterToken, resp.ClusterID, f.m.ClusterID())
	}
	if want := node.MemberIDFor("m2", req.PeerURLs, "test-cluster"); resp.MemberID != want {
		t.Fatalf("member ID %x, want %x", resp.MemberID, want)
	}
	var names []string
	for _, m := range resp.Members {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"m1", "m2"}) {
		t.Fatalf("members %v", names)
	}
	if !slices.ContainsFunc(f.m.Members(), func(m node.MemberInfo) bool { return m.ID == resp.MemberID && m.IsLearner }) {
		t.Fatalf("m2 is not a learner of the cluster: %+v", f.m.Members())
	}
	// What the member sent passes the joining machine's checks.
	d := certs.Dir(filepath.Join(t.TempDir(), "pki"))
	err = d.SaveEnrollment(&certs.Enrollment{
		Name: "m2", Server: certs.KeyPair{CertPEM: resp.ServerCert, KeyPEM: serverKey}, Peer: certs.KeyPair{CertPEM: resp.PeerCert, KeyPEM: peerKey},
		ServerHosts: []string{"127.0.0.1", "localhost"}, PeerHosts: []string{"127.0.0.1"},
		BundlePEM: resp.CABundle, CRLPEM: resp.CRL,
	}, tok.CAPin)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := d.LoadKeyPair("m2-peer")
	if err != nil {
		t.Fatal(err)
	}
	info, err := certs.Inspect(kp.CertPEM)
	if err != nil || info[0].CommonName != "m2" || info[0].Profile != certs.ProfilePeer {
		t.Fatalf("peer certificate %+v %v", info, err)
	}

	// A retry (the answer was lost) gets fresh certificates, not a second member; the
	// token serves again (multi-use).
	again, _, _ := joinReq(t, "m2", "2381")
	resp2, err := enrollOnce(ctx, f.url, tok, again)
	if err != nil || resp2.MemberID != resp.MemberID {
		t.Fatalf("retry: %+v %v", resp2, err)
	}
	if n := len(f.m.Members()); n != 2 {
		t.Fatalf("%d members after a retry", n)
	}
	// Another machine with the same token.
	req3, _, _ := joinReq(t, "m3", "2382")
	if _, err := enrollOnce(ctx, f.url, tok, req3); err != nil {
		t.Fatalf("second machine with the same token: %v", err)
	}
	if n := len(f.m.Members()); n != 3 {
		t.Fatalf("%d members, want 3", n)
	}
}

func TestEnrollmentRefusals(t *testing.T) {
	f := newEnrollFixture(t)
	ctx := testCtx(t)
	good := f.token(t, certs.JoinTokenOptions{})
	expired := f.token(t, certs.JoinTokenOptions{TTL: time.Hour, Now: time.Now().Add(-2 * time.Hour)})
	revoked := f.token(t, certs.JoinTokenOptions{})
	if _, err := f.dir.RevokeJoinToken(revoked.ID); err != nil {
		t.Fatal(err)
	}
	wrongSecret := good
	wrongSecret.Secret = make([]byte, 32)
	unknown, err := certs.ParseJoinToken(good.String())
	if err != nil {
		t.Fatal(err)
	}
	unknown.ID = "00000000000000aa"

	for name, c := range map[string]struct {
		tok  certs.JoinToken
		want error
	}{
		"expired":      {expired, certs.ErrJoinTokenExpired},
		"revoked":      {revoked, certs.ErrJoinTokenRevoked},
		"wrong secret": {wrongSecret, certs.ErrJoinTokenInvalid},
		"unknown":      {unknown, certs.ErrJoinTokenInvalid},
	} {
		req, _, _ := joinReq(t, "x-"+name[:3], "2390")
		_, err := enrollOnce(ctx, f.url, c.tok, req)
		if !errors.Is(err, c.want) || errors.Is(err, errJoinTransient) {
			t.Errorf("%s: %v, want %v (not transient)", name, err, c.want)
		}
	}

	// Name and peer URL conflicts.
	req, _, _ := joinReq(t, "m2", "2381")
	if _, err := enrollOnce(ctx, f.url, good, req); err != nil {
		t.Fatal(err)
	}
	taken, _, _ := joinReq(t, "m2", "2399")
	var refusal *joinRefusal
	if _, err := enrollOnce(ctx, f.url, good, taken); !errors.As(err, &refusal) || refusal.code != joinRefused {
		t.Errorf("taken name: %v", err)
	}
	sameURL, _, _ := joinReq(t, "m9", "2381")
	if _, err := enrollOnce(ctx, f.url, good, sameURL); !errors.As(err, &refusal) || refusal.code != joinRefused {
		t.Errorf("taken peer URL: %v", err)
	}
	// Malformed requests.
	for name, change := range map[string]func(*joinRequest){
		"bad name":        func(r *joinRequest) { r.Name = "../m" },
		"reserved name":   func(r *joinRequest) { r.Name = "ca" },
		"key-like name":   func(r *joinRequest) { r.Name = "m-key" },
		"http URL":        func(r *joinRequest) { r.PeerURLs = []string{"http://127.0.0.1:2391"} },
		"no port":         func(r *joinRequest) { r.ClientURLs = []string{"https://127.0.0.1"} },
		"not a CSR":       func(r *joinRequest) { r.ServerCSR = []byte("junk") },
		"version":         func(r *joinRequest) { r.Version = 2 },
		"no client URLs":  func(r *joinRequest) { r.ClientURLs = nil },
		"a CA CSR at all": func(r *joinRequest) { r.PeerCSR = f.ca.CertPEM },
	} {
		req, _, _ := joinReq(t, "m5", "2392")
		change(req)
		if _, err := enrollOnce(ctx, f.url, good, req); !errors.As(err, &refusal) || refusal.code != joinBadRequest {
			t.Errorf("%s: %v, want a bad-request refusal", name, err)
		}
	}
	if n := len(f.m.Members()); n != 2 {
		t.Fatalf("%d members after refusals, want 2", n)
	}
}

// TestEnrollmentWrongPinSendsNothing: against a pin that is not the member's CA, the joining
// machine stops in the handshake: the member's enrollment never sees the connection.
func TestEnrollmentWrongPinSendsNothing(t *testing.T) {
	f := newEnrollFixture(t)
	ctx := testCtx(t)
	tok := f.token(t, certs.JoinTokenOptions{})
	tok.CAPin[0] ^= 1
	req, _, _ := joinReq(t, "m2", "2381")
	_, err := enrollOnce(ctx, f.url, tok, req)
	if !errors.Is(err, certs.ErrPinMismatch) || errors.Is(err, errJoinTransient) {
		t.Fatalf("wrong pin: %v", err)
	}
	if n := f.hooked.Load(); n != 0 {
		t.Fatalf("%d enrollment connections reached the member", n)
	}
	if n := len(f.m.Members()); n != 1 {
		t.Fatalf("%d members", n)
	}
}

// TestEnrollmentNotServed: a member without the CA key serves no enrollment; the joining
// machine says so instead of retrying.
func TestEnrollmentNotServed(t *testing.T) {
	d, ca, err := certs.InitDir(filepath.Join(t.TempDir(), "pki"), certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := ca.Issue(certs.IssueRequest{Profile: certs.ProfileServer, CommonName: "m1", Hosts: []string{"127.0.0.1"}})
	if err := d.SaveKeyPair("m1", kp); err != nil {
		t.Fatal(err)
	}
	r, err := certs.NewReloader(certs.ReloaderOptions{Files: d.Files("m1"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := node.New(node.Config{
		ID: 1, Name: "m1", DataDir: t.TempDir(),
		InitialCluster: []node.MemberInfo{{ID: 1, Name: "m1", PeerURLs: []string{"https://127.0.0.1:2380"}}},
		Transport:      loneTransport{}, TickInterval: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	svc, err := node.NewService(m, node.ServiceConfig{Addr: "127.0.0.1:0", TLS: r.ServerConfig(&tls.Config{}), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
	tok, _, err := d.CreateJoinToken(certs.JoinTokenOptions{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	req, _, _ := joinReq(t, "m2", "2381")
	_, err = enrollOnce(testCtx(t), "https://"+svc.Addr().String(), tok, req)
	if err == nil || errors.Is(err, errJoinTransient) {
		t.Fatalf("a member without enrollment: %v", err)
	}
	t.Log(err)
}

func TestJoinClusterUsage(t *testing.T) {
	base := func(t *testing.T) *config {
		c := defaultConfig()
		c.Name, c.DataDir = "m2", t.TempDir()
		c.Join = "https://127.0.0.1:2379"
		c.JoinToken = "etcq1.0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA." + "00000000000000000000000000000000000000000000000000000000000000ab"
		return &c
	}
	peer, client := []string{"https://127.0.0.1:2380"}, []string{"https://127.0.0.1:2379"}
	log := slog.New(slog.DiscardHandler)
	for name, change := range map[string]func(*config){
		"cert flags":      func(c *config) { c.CertFile = "x.pem" },
		"initial cluster": func(c *config) { c.InitialCluster = "m1=https://127.0.0.1:2380" },
		"no token":        func(c *config) { c.JoinToken = "" },
		"bad token":       func(c *config) { c.JoinToken = "etcq1.x.y.z" },
		"http":            func(c *config) { c.Join = "http://127.0.0.1:2379" },
		"reserved name":   func(c *config) { c.Name = "ca-bundle" },
	} {
		c := base(t)
		change(c)
		if _, err := joinCluster(c, peer, client, log); !errors.Is(err, errUsage) {
			t.Errorf("%s: %v, want a usage error", name, err)
		}
	}
	// A data dir that has a CA of its own, or a member already, does not join.
	c := base(t)
	if _, _, err := certs.InitDir(pkiDirOf(c), certs.CAOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := joinCluster(c, peer, client, log); !errors.Is(err, errUsage) {
		t.Errorf("data dir with a CA: %v", err)
	}
}

func TestJoinStateRestart(t *testing.T) {
	c := defaultConfig()
	c.Name, c.DataDir = "m2", t.TempDir()
	peer := []string{"https://127.0.0.1:2381"}
	dir := pkiDirOf(&c)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := certs.Dir(dir).SaveBundle(mustCA(t).Cert); err != nil {
		t.Fatal(err)
	}
	st := &joinState{Version: 1, Name: "m2", PeerURLs: peer, MemberID: 7, ClusterID: 9, ClusterToken: "tok",
		Members: []joinMember{{ID: 3, Name: "m1", PeerURLs: []string{"https://127.0.0.1:2380"}}, {ID: 7, Name: "m2", PeerURLs: peer, IsLearner: true}}}
	if err := writeJoinState(dir, st); err != nil {
		t.Fatal(err)
	}
	if !wantsJoin(&c) {
		t.Fatal("an enrolled data dir does not restart as enrolled")
	}
	got, err := joinCluster(&c, peer, []string{"https://127.0.0.1:2379"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	initial, self := got.initial()
	if got.fresh || self.ID != 7 || len(initial) != 2 || got.ClusterToken != "tok" {
		t.Fatalf("state %+v, self %+v", got, self)
	}
	c.Name = "other"
	if _, err := joinCluster(&c, peer, nil, slog.New(slog.DiscardHandler)); !errors.Is(err, errUsage) {
		t.Fatalf("restart under another name: %v", err)
	}
}

func mustCA(t *testing.T) *certs.CA {
	t.Helper()
	ca, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}
