package storage

import (
	"sync/atomic"
	"time"
)

// WatchCounts reports the watch streams open on the store and the watchers on them
// (synced and unsynced alike), for metrics.
func (s *Store) WatchCounts() (streams, watchers int) {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	for ws := range h.streams {
		streams++
		watchers += len(ws.watchers)
	}
	return streams, watchers
}

// commitBuckets are the upper bounds, in seconds, of the commit-duration histogram:
// etcd's (1 ms doubling to about 8 s).
var commitBuckets = func() []float64 {
	b := make([]float64, 14)
	for i := range b {
		b[i] = 0.001 * float64(uint(1)<<i)
	}
	return b
}()

// commitHistogram counts how long backend commits take.
type commitHistogram struct {
	counts [15]atomic.Uint64 // one per bucket, then +Inf
	sum    atomic.Int64      // nanoseconds
}

func (h *commitHistogram) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(commitBuckets) && s > commitBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// CommitDurations reports the durations of the store's commits to disk as a histogram:
// bucket upper bounds in seconds, the cumulative count at each bound, the total count and
// the sum in seconds (etcd's etcd_disk_backend_commit_duration_seconds).
func (s *Store) CommitDurations() (bounds []float64, cumulative []uint64, count uint64, sum float64) {
	h := &s.commitHist
	cumulative = make([]uint64, len(commitBuckets))
	var c uint64
	for i := range commitBuckets {
		c += h.counts[i].Load()
		cumulative[i] = c
	}
	count = c + h.counts[len(commitBuckets)].Load()
	return commitBuckets, cumulative, count, time.Duration(h.sum.Load()).Seconds()
}
