package raftlog

import (
	"fmt"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// BenchmarkSave measures Save of 1, 16 and 128 entries of 300 B with fsync on and etcd's
// default 64 MB segments (cut and preallocated as in production), as the raft loop calls
// it: each Save appends after the previous one and advances the commit index.
func BenchmarkSave(b *testing.B) { benchmarkSave(b, false) }

// BenchmarkSaveNoFsync is BenchmarkSave without fsync: the CPU cost of the WAL.
func BenchmarkSaveNoFsync(b *testing.B) { benchmarkSave(b, true) }

func benchmarkSave(b *testing.B, noFsync bool) {
	for _, batch := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("entries=%d", batch), func(b *testing.B) {
			l, _, err := Open(b.TempDir(), Options{NoFsync: noFsync})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			// Built up front, so that the loop measures Save alone.
			ents := make([]*raftpb.Entry, b.N*batch)
			for i := range ents {
				ents[i] = entry(uint64(i+1), 1)
			}
			hs := make([]*raftpb.HardState, b.N)
			for i := range hs {
				hs[i] = hardState(1, 1, uint64((i+1)*batch))
			}
			b.SetBytes(int64(batch * payloadSize))
			b.ResetTimer()
			for i := range b.N {
				if err := l.Save(hs[i], ents[i*batch:(i+1)*batch]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			secs := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N)/secs, "saves/s")
			b.ReportMetric(float64(b.N*batch)/secs, "entries/s")
		})
	}
}
