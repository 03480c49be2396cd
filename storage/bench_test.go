package storage

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// Benchmarks of the store's hot paths. Run: go test -run='^$' -bench=. -benchmem ./storage
// Fixtures are built once per benchmark (b.Loop runs the body's setup once; the parallel
// benchmark builds it outside its sub-benchmark).

const benchKeys = 100_000

func benchOpen(b *testing.B, opts Options) *Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// benchKey writes the 8-byte key "k%07d" of i into dst without allocating.
func benchKey(dst []byte, i int) []byte {
	dst = append(dst[:0], "k0000000"...)
	for j := len(dst) - 1; i > 0 && j > 0; j-- {
		dst[j] = byte('0' + i%10)
		i /= 10
	}
	return dst
}

func benchValue() []byte {
	v := make([]byte, 256)
	for i := range v {
		v[i] = byte('a' + i%26)
	}
	return v
}

// benchFixture returns a committed store of benchKeys keys with 256-byte values.
func benchFixture(b *testing.B) *Store {
	b.Helper()
	s := benchOpen(b, Options{})
	val, key := benchValue(), make([]byte, 0, 16)
	for i := 0; i < benchKeys; {
		w := s.Write()
		for end := i + 1000; i < end; i++ {
			key = benchKey(key, i)
			if _, err := w.Put(PutRequest{Key: key, Value: val}); err != nil {
				b.Fatal(err)
			}
		}
		w.End()
	}
	if err := s.Commit(); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkPutBatched measures single-key puts of 256-byte values in write sessions of 64
// puts and of one put; the store commits on its own (every 100ms or 10,000 writes).
func BenchmarkPutBatched(b *testing.B) {
	for _, per := range []int{64, 1} {
		b.Run(fmt.Sprintf("session=%d", per), func(b *testing.B) {
			s := benchOpen(b, Options{})
			val, key := benchValue(), make([]byte, 0, 16)
			var w *Write
			n := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if n%per == 0 {
					if w != nil {
						w.End()
					}
					w = s.Write()
				}
				key = benchKey(key, n%(1<<20))
				if _, err := w.Put(PutRequest{Key: key, Value: val}); err != nil {
					b.Fatal(err)
				}
				n++
			}
			if w != nil {
				w.End()
			}
		})
	}
}

// BenchmarkRangeOneKey reads one key of a store of 100k keys.
func BenchmarkRangeOneKey(b *testing.B) {
	s := benchFixture(b)
	key := make([]byte, 0, 16)
	i := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		i += 7919
		key = benchKey(key, i%benchKeys)
		r, err := s.Range(RangeRequest{Key: key})
		if err != nil || len(r.KVs) != 1 {
			b.Fatalf("range %q: %v, %d keys", key, err, len(r.KVs))
		}
	}
}

// BenchmarkRangePrefix1k reads a 1,000-key prefix ("k00NN") of a store of 100k keys.
func BenchmarkRangePrefix1k(b *testing.B) {
	s := benchFixture(b)
	var prefixes, ends [][]byte
	for p := range benchKeys / 1000 {
		prefixes = append(prefixes, fmt.Appendf(nil, "k00%02d", p))
		ends = append(ends, fmt.Appendf(nil, "k00%02d", p+1))
	}
	ends[len(ends)-1] = []byte("k01")
	i := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p := i % len(prefixes)
		i++
		r, err := s.Range(RangeRequest{Key: prefixes[p], RangeEnd: ends[p]})
		if err != nil || len(r.KVs) != 1000 {
			b.Fatalf("range %q: %v, %d keys", prefixes[p], err, len(r.KVs))
		}
	}
}

// BenchmarkTxn runs txns that compare a key's version and put it (the success branch).
func BenchmarkTxn(b *testing.B) {
	s := benchOpen(b, Options{})
	key, val := []byte("txn/key"), benchValue()
	if _, err := s.Put(PutRequest{Key: key, Value: val}); err != nil {
		b.Fatal(err)
	}
	cmp := []Compare{{Target: TargetVersion, Result: CompareEqual, Key: key}}
	ops := []RequestOp{{Put: &PutRequest{Key: key, Value: val}}}
	ver := int64(1)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cmp[0].Version = ver
		r, err := s.Txn(TxnRequest{Compare: cmp, Success: ops})
		if err != nil || !r.Succeeded {
			b.Fatalf("txn at version %d: %v, %+v", ver, err, r)
		}
		ver++
	}
}

// BenchmarkRangeParallel reads single keys of a store of 100k keys from GOMAXPROCS
// goroutines.
func BenchmarkRangeParallel(b *testing.B) {
	s := benchFixture(b)
	b.Run("keys=100k", func(b *testing.B) {
		var seq atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			key := make([]byte, 0, 16)
			i := int(seq.Add(1)) * 1_000_003
			for pb.Next() {
				i += 7919
				key = benchKey(key, i%benchKeys)
				r, err := s.Range(RangeRequest{Key: key})
				if err != nil || len(r.KVs) != 1 {
					b.Errorf("range %q: %v", key, err)
					return
				}
			}
		})
	})
}

// BenchmarkIndexPut: a put's index update, of one of 100,000 keys (8 bytes, as the bench
// harness writes them), drawn at random with a fixed seed.
func BenchmarkIndexPut(b *testing.B) {
	idx := newIndex()
	keys := make([][]byte, benchKeys)
	for n := range keys {
		keys[n] = []byte(fmt.Sprintf("%08d", n))
		idx.put(keys[n], Revision{Main: int64(n + 1)})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rev := int64(benchKeys)
	for b.Loop() {
		rev++
		idx.put(keys[rng.IntN(benchKeys)], Revision{Main: rev})
	}
}
