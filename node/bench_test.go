package node_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"etcq.dev/etcq/node/nodetest"
	"etcq.dev/etcq/storage"
)

// BenchmarkClusterPut measures durable writes through the leader's Member.Put on an
// in-process three-member cluster: nodetest's fake network, and per member a real raft log
// (WAL with fsync) and a real bbolt store, node's default snapshot settings and a 100 ms
// tick. Keys are 8 bytes (never reused), values 256 bytes. Each sub-benchmark keeps exactly
// the given number of Puts in flight until b.N have been acknowledged, and reports writes/s.
// The cluster is shared by the sub-benchmarks, so later ones run on a larger store.
//
//	go test -run='^$' -bench=ClusterPut -benchtime=3s ./node/
func BenchmarkClusterPut(b *testing.B) {
	c := nodetest.NewCluster(b, nodetest.Options{
		TickInterval:           100 * time.Millisecond,
		SnapshotCount:          10000,
		SnapshotCatchUpEntries: 5000,
	})
	value := bytes.Repeat([]byte{'v'}, 256)
	var keySeq atomic.Uint64
	for _, inflight := range []int{1, 64, 512} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			lead := c.Member(c.WaitLeader())
			ctx := context.Background()
			var (
				tickets atomic.Int64 // Puts started; a worker stops once b.N are
				failed  atomic.Int64
				errOnce sync.Once
				err1    error
				wg      sync.WaitGroup
			)
			b.ResetTimer()
			for range inflight {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for tickets.Add(1) <= int64(b.N) {
						key := binary.BigEndian.AppendUint64(make([]byte, 0, 8), keySeq.Add(1))
						if _, err := lead.Put(ctx, storage.PutRequest{Key: key, Value: value}); err != nil {
							failed.Add(1)
							errOnce.Do(func() { err1 = err })
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d of %d puts failed; first: %v", n, b.N, err1)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}
