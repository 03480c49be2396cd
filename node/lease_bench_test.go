package node_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"etcq.dev/etcq/certs/certstest"
	"etcq.dev/etcq/node"
	"etcq.dev/etcq/quicclient"
)

// BenchmarkLeaseKeepAlive measures lease renewals through the whole stack: quicclient's
// KeepAliveOnce -> a QUIC stream with mutual TLS on 127.0.0.1 -> the member's client
// service -> a raft renew (WAL fsync, apply to the store) -> the answer. One member
// (node's defaults, but a 10 ms tick), one client connection (its default 4 streams).
// Each sub-benchmark keeps the given number of KeepAliveOnce calls in flight, each caller
// renewing its own lease, until b.N have been answered, and reports keep-alives/s.
//
//	go test -run='^$' -bench=LeaseKeepAlive -benchtime=5000x ./node/
func BenchmarkLeaseKeepAlive(b *testing.B) {
	pki := certstest.New(b)
	m, err := node.New(node.Config{
		ID: 1, Name: "one", DataDir: b.TempDir(),
		InitialCluster: []node.MemberInfo{{ID: 1, Name: "one", PeerURLs: []string{"https://127.0.0.1:2380"}}},
		Transport:      loneTransport{},
		TickInterval:   10 * time.Millisecond,
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Stop()
	for !m.IsLeader() {
		select {
		case <-m.LeaderChanged():
		case <-time.After(10 * time.Second):
			b.Fatal("no leader")
		}
	}
	svc, err := node.NewService(m, node.ServiceConfig{
		Addr: "127.0.0.1:0", TLS: serverTLS(b, pki, "one"), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = svc.Shutdown(context.Background()) }()
	ctx := context.Background()
	c, err := quicclient.New(ctx, quicclient.Config{
		Endpoints: []string{"https://" + svc.Addr().String()},
		TLS:       clientTLS(pki, pki.Client(b, "bench")),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()

	for _, callers := range []int{1, 64} {
		b.Run(fmt.Sprintf("concurrency=%d", callers), func(b *testing.B) {
			leases := make([]int64, callers)
			for i := range leases {
				g, err := c.Grant(ctx, 3600)
				if err != nil {
					b.Fatal(err)
				}
				leases[i] = g.ID
			}
			var (
				tickets atomic.Int64
				errOnce sync.Once
				err1    error
				wg      sync.WaitGroup
			)
			b.ResetTimer()
			for _, id := range leases {
				wg.Go(func() {
					for tickets.Add(1) <= int64(b.N) {
						if _, err := c.KeepAliveOnce(ctx, id); err != nil {
							errOnce.Do(func() { err1 = err })
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			if err1 != nil {
				b.Fatal(err1)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keepalives/s")
			for _, id := range leases {
				if _, err := c.Revoke(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
