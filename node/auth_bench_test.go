package node_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"etcq.dev/etcq/certs/certstest"
	"etcq.dev/etcq/node"
	"etcq.dev/etcq/quicclient"
)

// BenchmarkServiceAuth measures what the permission checks add to a Put and a Get through
// the client service (quicclient over QUIC on loopback, one member with a real raft log
// and store): the same member state with auth disabled, and enabled for a client whose
// user holds a role with 100 prefix permissions (the key it uses is covered by the 51st).
// 64 requests are kept in flight (RunParallel); compare ns/op of auth=off and auth=on.
//
//	go test -run='^$' -bench=ServiceAuth -benchtime=20000x -count=5 ./node/
func BenchmarkServiceAuth(b *testing.B) {
	ctx := context.Background()
	clients := map[string]*quicclient.Client{"off": benchAuthClient(b, false), "on": benchAuthClient(b, true)}
	value := strings.Repeat("v", 256)
	var seq atomic.Int64
	ops := []struct {
		name string
		do   func(c *quicclient.Client) error
	}{
		{"put", func(c *quicclient.Client) error {
			_, err := c.Put(ctx, fmt.Sprintf("/bench/050/%d", seq.Add(1)%1000), value)
			return err
		}},
		{"get", func(c *quicclient.Client) error { _, err := c.Get(ctx, "/bench/050/k"); return err }},
		{"get-serializable", func(c *quicclient.Client) error {
			_, err := c.Get(ctx, "/bench/050/k", quicclient.WithSerializable())
			return err
		}},
	}
	for _, op := range ops {
		for _, mode := range []string{"off", "on"} {
			c := clients[mode]
			b.Run(op.name+"/auth="+mode, func(b *testing.B) {
				b.SetParallelism(32) // 64 in flight on 2 cores
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := op.do(c); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// benchAuthClient starts a member with a user "bench" holding 100 permissions (auth
// enabled or not) and returns a client running as that user.
func benchAuthClient(b *testing.B, enabled bool) *quicclient.Client {
	b.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	pki := certstest.New(b)
	m, err := node.New(node.Config{
		ID: 1, Name: "one", DataDir: b.TempDir(),
		InitialCluster: []node.MemberInfo{{ID: 1, Name: "one", PeerURLs: []string{"https://127.0.0.1:2380"}}},
		Transport:      loneTransport{}, TickInterval: 10 * time.Millisecond, Logger: quiet,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(m.Stop)
	node.FastPasswords(m)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for !m.IsLeader() {
		select {
		case <-m.LeaderChanged():
		case <-ctx.Done():
			b.Fatal("no leader")
		}
	}
	svc, err := node.NewService(m, node.ServiceConfig{Addr: "127.0.0.1:0", TLS: serverTLS(b, pki, "one"), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
	client := func(cn string) *quicclient.Client {
		c, err := quicclient.New(ctx, quicclient.Config{
			Endpoints: []string{"https://" + svc.Addr().String()}, TLS: clientTLS(pki, pki.Client(b, cn)), Logger: quiet,
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return c
	}
	root := client("root")
	check := func(_ any, err error) {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
	}
	noPassword := &quicclient.UserAddOptions{NoPassword: true}
	check(root.UserAddWithOptions(ctx, "root", "", noPassword))
	check(root.UserGrantRole(ctx, "root", "root"))
	check(root.RoleAdd(ctx, "bench"))
	for i := range 100 {
		p := fmt.Sprintf("/bench/%03d/", i)
		check(root.RoleGrantPermission(ctx, "bench", p, quicclient.GetPrefixRangeEnd(p), quicclient.PermReadWrite))
	}
	check(root.UserAddWithOptions(ctx, "bench", "", noPassword))
	check(root.UserGrantRole(ctx, "bench", "bench"))
	check(root.Put(ctx, "/bench/050/k", "v"))
	if enabled {
		check(root.AuthEnable(ctx))
	}
	return client("bench")
}
