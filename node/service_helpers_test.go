package node_test

import (
	"context"
	"crypto/tls"
	"io"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"etcq.dev/etcq/certs/certstest"
	"etcq.dev/etcq/node"
	"etcq.dev/etcq/quicclient"
)

// loneTransport serves a single-member cluster, which has no one to talk to.
type loneTransport struct{}

func (loneTransport) Send([]*raftpb.Message) {}
func (loneTransport) SendSnapshot(_ *raftpb.Message, image io.ReadCloser, _ int64) {
	image.Close()
}
func (loneTransport) AddPeer(uint64, []string) {}
func (loneTransport) RemovePeer(uint64)        {}

// served is a single member with its client service on 127.0.0.1, and the PKI its clients
// get certificates from.
type served struct {
	pki *certstest.PKI
	m   *node.Member
	svc *node.Service
}

func (s *served) endpoint() string { return "https://" + s.svc.Addr().String() }

// serveSingle starts a one-member cluster and its client service.
func serveSingle(t *testing.T, tweak func(*node.ServiceConfig)) *served {
	t.Helper()
	return serveSingleWith(t, nil, tweak)
}

// serveSingleWith is serveSingle with the member's config adjusted by tweakMember.
func serveSingleWith(t *testing.T, tweakMember func(*node.Config), tweak func(*node.ServiceConfig)) *served {
	t.Helper()
	pki := certstest.New(t)
	mcfg := node.Config{
		ID: 1, Name: "one", DataDir: t.TempDir(),
		InitialCluster: []node.MemberInfo{{ID: 1, Name: "one", PeerURLs: []string{"https://127.0.0.1:2380"}}},
		Transport:      loneTransport{},
		TickInterval:   10 * time.Millisecond,
	}
	if tweakMember != nil {
		tweakMember(&mcfg)
	}
	m, err := node.New(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	ctx := testCtx(t, 10*time.Second)
	for !m.IsLeader() {
		select {
		case <-m.LeaderChanged():
		case <-ctx.Done():
			t.Fatal("no leader")
		}
	}
	cfg := node.ServiceConfig{Addr: "127.0.0.1:0", TLS: serverTLS(t, pki, "one")}
	if tweak != nil {
		tweak(&cfg)
	}
	svc, err := node.NewService(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
	return &served{pki: pki, m: m, svc: svc}
}

func serverTLS(t testing.TB, pki *certstest.PKI, name string) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{pki.Server(t, name)},
		ClientCAs:    pki.CA().Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
}

// clientTLS is a client's side of mutual TLS with a certificate for cn.
func clientTLS(pki *certstest.PKI, cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pki.CA().Pool()}
}

// connect returns a client of the given endpoints with a certificate for cn.
func connect(t *testing.T, pki *certstest.PKI, cn string, endpoints ...string) *quicclient.Client {
	t.Helper()
	c, err := quicclient.New(testCtx(t, 10*time.Second), quicclient.Config{
		Endpoints: endpoints, TLS: clientTLS(pki, pki.Client(t, cn)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
