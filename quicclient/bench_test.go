//go:build unix

package quicclient_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"etcq.dev/etcq/node/nodetest"
	"etcq.dev/etcq/quicclient"
)

// BenchmarkStack measures Put and Get through the whole stack: quicclient -> QUIC with
// mutual TLS on 127.0.0.1 -> client service -> member -> raft (WAL fsync) -> bbolt, on one
// member and on three (raft between them over nodetest's in-process network), with 1 and
// 64 callers sharing one client. Keys are 8 bytes and values 256, as in DESIGN.md §9;
// gets are linearizable. Besides ns/op it reports requests per second and the CPU time
// (user + system) the whole process spent per request: client, service and every member,
// since all run in this process. Run with a fixed count, for example
//
//	go test -run '^$' -bench BenchmarkStack -benchtime 3000x ./quicclient/
func BenchmarkStack(b *testing.B) {
	for _, size := range []int{1, 3} {
		b.Run(fmt.Sprintf("members=%d", size), func(b *testing.B) {
			c := benchClient(b, size)
			ctx := context.Background()
			value := strings.Repeat("v", 256)
			// Keys for the gets to find.
			for i := range benchKeys {
				if _, err := c.Put(ctx, benchKey(i), value); err != nil {
					b.Fatal(err)
				}
			}
			ops := []struct {
				name string
				do   func(i int) error
			}{
				{"Put", func(i int) error { _, err := c.Put(ctx, benchKey(i), value); return err }},
				{"Get", func(i int) error { _, err := c.Get(ctx, benchKey(i)); return err }},
			}
			for _, op := range ops {
				for _, callers := range []int{1, 64} {
					b.Run(fmt.Sprintf("%s/callers=%d", op.name, callers), func(b *testing.B) {
						runCallers(b, callers, op.do)
					})
				}
			}
		})
	}
}

const benchKeys = 1000

func benchKey(i int) string { return fmt.Sprintf("k%07d", i%benchKeys) }

// benchTick is the members' raft tick in benchmarks: etcd's default heartbeat interval
// (the tests' 10 ms ticks would spend CPU on ten times as many heartbeats).
const benchTick = 100 * time.Millisecond

// benchClient starts one member or a fixture of three and returns a client of all of them.
func benchClient(b *testing.B, size int) *quicclient.Client {
	if size == 1 {
		s := serveSingle(b, benchTick)
		return newClient(b, s.pki, s.endpoint())
	}
	f := newFixture(b, nodetest.Options{Size: size, TickInterval: benchTick, ElectionTicks: 10}, nil)
	c := f.client()
	active := activeMember(b, context.Background(), c)
	b.Logf("client on member %x, leader %x", active, f.C.WaitLeader())
	return c
}

// runCallers runs b.N calls of do on callers goroutines and reports requests per second
// and CPU microseconds per request.
func runCallers(b *testing.B, callers int, do func(i int) error) {
	var next atomic.Int64
	before := cpuTime()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if err := do(int(i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := cpuTime() - before
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
