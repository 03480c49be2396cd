package bench

import (
	"context"
	"fmt"
	"runtime/pprof"
	"testing"
	"time"
)

// benchTick is the members' raft tick in benchmarks: the daemon's default heartbeat
// interval.
const benchTick = 100 * time.Millisecond

// BenchmarkShapes runs the anchors' shapes (../shared/anchors/run-etcd-bench.sh: 8-byte
// keys, 256-byte values, requests to the leader) through the whole stack in this process:
// bench clients -> quicclient -> QUIC with mutual TLS -> client service -> member -> raft
// over quicpeer (WAL fsync) -> bbolt, three members. Everything shares this process's
// cores, as the daemons and the bench share the machine's in `make bench-compare`, so a
// CPU profile of it shows where the cluster spends its time; run with a fixed count, e.g.
//
//	go test -run '^$' -bench 'BenchmarkShapes/c_put' -benchtime 50000x -cpuprofile cpu.out ./bench/
//
// Each iteration is one request; the connections are opened within the timed part. The
// bench clients' goroutines carry the profile label side=client, so that
//
//	go tool pprof -tagignore side=client cpu.out
//
// shows the members alone.
func BenchmarkShapes(b *testing.B) {
	for _, sh := range []struct {
		name           string
		members        int
		conns, clients int
		run            func(context.Context, Config) (*Report, error)
	}{
		{"a_put_1client", 3, 1, 1, Put},
		{"b_put_100clients", 3, 10, 100, Put},
		{"c_put_1000clients", 3, 100, 1000, Put},
		{"d_put_1000clients_1member", 1, 100, 1000, Put},
		{"e_linearizable_get_100clients", 3, 10, 100, func(ctx context.Context, cfg Config) (*Report, error) {
			return Range(ctx, cfg, RangeOptions{Consistency: Linearizable})
		}},
	} {
		b.Run(sh.name, func(b *testing.B) {
			c := newTestCluster(b, sh.members, benchTick)
			cfg := Config{
				Endpoints: c.endpoints, TLS: c.clientTLS(b), TargetLeader: true,
				Conns: sh.conns, Clients: sh.clients, Total: b.N,
				KeySize: 8, ValSize: 256, KeySpaceSize: 100000,
			}
			b.ResetTimer()
			var r *Report
			var err error
			// The bench side's goroutines (and the QUIC connections they dial) carry the
			// label side=client: -tagignore side=client leaves the members' share.
			pprof.Do(context.Background(), pprof.Labels("side", "client"), func(ctx context.Context) {
				r, err = sh.run(ctx, cfg)
			})
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if r.Errors > 0 {
				b.Fatalf("%d errors: %v", r.Errors, r.ErrorKinds)
			}
			b.ReportMetric(r.QPS, "req/s")
			b.ReportMetric(r.P50Ms, "p50-ms")
			b.ReportMetric(r.P99Ms, "p99-ms")
			if r.OK > 0 {
				b.ReportMetric(r.ClientCPUS*1e6/float64(r.OK), "cpu-µs/req")
			}
			b.Logf("%s", fmt.Sprintf("%d requests: %.0f/s, p50 %.2f ms, p99 %.2f ms, process CPU %.2f s",
				r.OK, r.QPS, r.P50Ms, r.P99Ms, r.ClientCPUS))
		})
	}
}
