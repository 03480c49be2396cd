package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"etcq.dev/etcq/certs/certstest"
	"etcq.dev/etcq/node"
	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/quicpeer"
)

// patience bounds every wait of these tests. It only turns a hang into a failure: tests
// wait for events, never for time to pass.
const patience = 30 * time.Second

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

// testCluster is members in this process, each a node.Member with its client service on
// 127.0.0.1, talking raft over real quicpeer transports with mutual TLS: the daemon's
// stack without its flags.
type testCluster struct {
	pki       *certstest.PKI
	members   []*node.Member
	endpoints []string
}

// newTestCluster starts size members with the given raft tick and waits until every
// member knows the leader.
func newTestCluster(tb testing.TB, size int, tick time.Duration) *testCluster {
	tb.Helper()
	c := &testCluster{pki: certstest.New(tb)}
	quiet := slog.New(slog.DiscardHandler)
	pool := c.pki.CA().Pool()
	var trs []*quicpeer.Transport
	var initial []node.MemberInfo
	for i := 1; i <= size; i++ {
		id := uint64(i)
		tr, err := quicpeer.New(quicpeer.Config{
			ID: id, Listen: "127.0.0.1:0", Logger: quiet,
			TLS: &tls.Config{Certificates: []tls.Certificate{c.pki.Peer(tb, fmt.Sprintf("m%d", i))}, ClientCAs: pool, RootCAs: pool},
		})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { tr.Close() })
		trs = append(trs, tr)
		initial = append(initial, node.MemberInfo{ID: id, Name: fmt.Sprintf("m%d", i), PeerURLs: []string{"https://" + tr.Addr().String()}})
	}
	dir := tb.TempDir()
	var stops []func()
	tb.Cleanup(func() {
		var wg sync.WaitGroup
		for _, stop := range stops {
			wg.Go(stop)
		}
		wg.Wait()
	})
	for i, tr := range trs {
		mi := initial[i]
		m, err := node.New(node.Config{
			ID: mi.ID, Name: mi.Name, DataDir: filepath.Join(dir, mi.Name),
			InitialCluster: initial, ClusterToken: "bench-test",
			Transport: tr, TickInterval: tick, ElectionTicks: 10, HeartbeatTicks: 1,
			Logger: quiet,
		})
		if err != nil {
			tb.Fatal(err)
		}
		if err := tr.Start(m.ClusterID(), m); err != nil {
			m.Stop()
			tb.Fatal(err)
		}
		svc, err := node.NewService(m, node.ServiceConfig{
			Addr: "127.0.0.1:0", Logger: quiet,
			TLS: &tls.Config{
				Certificates: []tls.Certificate{c.pki.Server(tb, mi.Name)},
				ClientCAs:    pool,
				ClientAuth:   tls.RequireAndVerifyClientCert,
			},
		})
		if err != nil {
			m.Stop()
			tb.Fatal(err)
		}
		stops = append(stops, func() {
			_ = svc.Shutdown(context.Background())
			m.Stop()
		})
		c.members = append(c.members, m)
		c.endpoints = append(c.endpoints, "https://"+svc.Addr().String())
	}
	ctx := testCtx(tb)
	for _, m := range c.members {
		for m.Leader() == 0 {
			select {
			case <-m.LeaderChanged():
			case <-ctx.Done():
				tb.Fatal("no leader")
			}
		}
	}
	return c
}

// clientTLS is a bench client's side of mutual TLS.
func (c *testCluster) clientTLS(tb testing.TB) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.pki.Client(tb, "bench")}, RootCAs: c.pki.CA().Pool()}
}

// config is a small run against the cluster.
func (c *testCluster) config(tb testing.TB) Config {
	return Config{
		Endpoints: c.endpoints, TLS: c.clientTLS(tb),
		Conns: 2, Clients: 4, Total: 100, KeySize: 8, ValSize: 16, KeySpaceSize: 1000, Seed: 1,
	}
}

// client is a Go client of the cluster, to check what a run did.
func (c *testCluster) client(tb testing.TB) *quicclient.Client {
	tb.Helper()
	cl, err := quicclient.New(testCtx(tb), quicclient.Config{
		Endpoints: c.endpoints, TLS: c.clientTLS(tb), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cl.Close() })
	return cl
}

// leader is the endpoint of the leader.
func (c *testCluster) leader(tb testing.TB) string {
	tb.Helper()
	for i, m := range c.members {
		if m.IsLeader() {
			return c.endpoints[i]
		}
	}
	tb.Fatal("no leader")
	return ""
}
