package storage

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Watch fan-out benchmarks: one writer, 10,000 watchers spread over 100 streams (the
// production channel size, so watchers that fall behind go through catch-up), each stream
// drained by its own goroutine. An op is one put; the timer runs until every watcher has
// received every event it is owed, and the benchmark fails unless each watcher received
// exactly its events, in revision order, so that it cannot measure drops. Besides ns/op and
// allocs/op (allocations of every goroutine: writer, hub, streams, readers), it reports
// events/s: events delivered to watchers per second.

const (
	benchWatchers = 10_000
	benchStreams  = 100
)

// BenchmarkWatchFanout: 10,000 watchers on one key; every put is delivered 10,000 times.
func BenchmarkWatchFanout(b *testing.B) {
	benchWatchFanout(b, false)
}

// BenchmarkWatchFanoutDistinctKeys: 10,000 watchers, each on a key of its own; the writer
// cycles through the keys, so every put is delivered once.
func BenchmarkWatchFanoutDistinctKeys(b *testing.B) {
	benchWatchFanout(b, true)
}

// benchReader drains one stream and counts, per watcher, the events received.
type benchReader struct {
	ws     *WatchStream
	counts []int64 // by watch ID; read by others only once exited is closed
	last   []int64 // mod revision of each watcher's last event
	bad    atomic.Pointer[string]
	owed   int64 // events the stream must deliver in all
	exited chan struct{}
}

// run drains the stream until it is closed; it marks finished once the stream has
// delivered all it owes (or at once if it owes nothing).
func (r *benchReader) run(delivered *atomic.Int64, finished *sync.WaitGroup) {
	defer close(r.exited)
	var got int64
	signaled := r.owed == 0
	if signaled {
		finished.Done()
	}
	for resp := range r.ws.C() {
		if resp.Canceled {
			msg := fmt.Sprintf("watcher %d canceled (compact revision %d)", resp.WatchID, resp.CompactRevision)
			r.bad.CompareAndSwap(nil, &msg)
			continue
		}
		id := resp.WatchID
		for i := range resp.Events {
			rev := resp.Events[i].KV.ModRevision
			if rev <= r.last[id] {
				msg := fmt.Sprintf("watcher %d: event at revision %d after one at %d", id, rev, r.last[id])
				r.bad.CompareAndSwap(nil, &msg)
			}
			r.last[id] = rev
		}
		n := int64(len(resp.Events))
		r.counts[id] += n
		got += n
		delivered.Add(n)
		if !signaled && got >= r.owed {
			signaled = true
			finished.Done()
		}
	}
	if !signaled {
		finished.Done()
	}
}

func benchWatchFanout(b *testing.B, distinct bool) {
	s := mustOpen(b, filepath.Join(b.TempDir(), "db"))
	defer s.Close()
	perStream := benchWatchers / benchStreams
	keys := make([][]byte, benchWatchers)
	for i := range keys {
		if distinct {
			keys[i] = []byte(fmt.Sprintf("key/%05d", i))
		} else {
			keys[i] = []byte("hot")
		}
	}
	// owed returns the events watcher i (0-based over all streams) must receive.
	owed := func(i int) int64 {
		if !distinct {
			return int64(b.N)
		}
		n := int64(b.N / benchWatchers)
		if i < b.N%benchWatchers {
			n++
		}
		return n
	}

	var delivered atomic.Int64
	var finished sync.WaitGroup
	readers := make([]*benchReader, benchStreams)
	for si := range readers {
		r := &benchReader{
			ws:     s.NewWatchStream(0),
			counts: make([]int64, perStream),
			last:   make([]int64, perStream),
			exited: make(chan struct{}),
		}
		for j := 0; j < perStream; j++ {
			w := si*perStream + j
			id, err := r.ws.Watch(WatchRequest{ID: WatchID(j), Key: keys[w]})
			if err != nil {
				b.Fatal(err)
			}
			if id != WatchID(j) {
				b.Fatalf("watch ID %d, want %d", id, j)
			}
			r.owed += owed(w)
		}
		readers[si] = r
	}
	for _, r := range readers {
		finished.Add(1)
		go r.run(&delivered, &finished)
	}
	value := []byte("0123456789abcdef0123456789abcdef")

	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := s.Put(PutRequest{Key: keys[i%benchWatchers], Value: value}); err != nil {
			b.Fatal(err)
		}
	}
	allDone := make(chan struct{})
	go func() {
		finished.Wait()
		close(allDone)
	}()
	select {
	case <-allDone:
	case <-time.After(5 * time.Minute):
		b.Fatalf("not every event delivered after 5 minutes: %d delivered", delivered.Load())
	}
	elapsed := time.Since(start)
	b.StopTimer()

	// Close the streams and wait for the readers, so that the counts are final: an extra
	// (duplicate) event delivered after the owed ones would show up below.
	for _, r := range readers {
		r.ws.Close()
		<-r.exited
	}
	var total, want int64
	for si, r := range readers {
		if msg := r.bad.Load(); msg != nil {
			b.Fatalf("stream %d: %s", si, *msg)
		}
		for j := 0; j < perStream; j++ {
			w := si*perStream + j
			if r.counts[j] != owed(w) {
				b.Fatalf("watcher %d (stream %d, ID %d) received %d events, want %d", w, si, j, r.counts[j], owed(w))
			}
			want += owed(w)
		}
	}
	total = delivered.Load()
	if total != want {
		b.Fatalf("%d events delivered, want %d", total, want)
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
}
