package bench

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// subBits is the histogram's precision: each power of two is split into 2^subBits
// buckets, so a bucket is at most 1/128 of its lower bound wide and the middle of a bucket
// is within 1/256 of any value in it.
const subBits = 7

const (
	subCount = 1 << subBits
	// maxShift covers values up to 2^40 ns (about 18 minutes); longer ones land in the
	// last bucket (the exact maximum is kept besides).
	maxShift   = 40 - subBits - 1
	numBuckets = (maxShift + 2) * subCount
)

// bucketOf is the index of the bucket holding v nanoseconds. Values below 2*subCount have
// a bucket each; above, a bucket covers [m<<s, (m+1)<<s) for a mantissa m in
// [subCount, 2*subCount) and a shift s >= 1.
func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	if u < 2*subCount {
		return int(u)
	}
	shift := bits.Len64(u) - subBits - 1
	if shift > maxShift {
		return numBuckets - 1
	}
	return (shift+1)*subCount + int(u>>uint(shift)) - subCount
}

// bucketBounds returns the lowest value of bucket i and its width.
func bucketBounds(i int) (low, width int64) {
	if i < 2*subCount {
		return int64(i), 1
	}
	shift := i/subCount - 1
	m := int64(i%subCount + subCount)
	return m << uint(shift), 1 << uint(shift)
}

// bucketValue is the value that stands for bucket i: its middle.
func bucketValue(i int) int64 {
	low, width := bucketBounds(i)
	return low + (width-1)/2
}

// Histogram is a concurrent latency histogram: Record may be called from many goroutines
// at once. Take a Snapshot to read it.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Int64 // nanoseconds
	sumSq  atomicFloat  // nanoseconds², for the standard deviation
	min    atomic.Int64 // valid when n > 0
	max    atomic.Int64
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	h := &Histogram{}
	h.min.Store(math.MaxInt64)
	return h
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	h.sumSq.add(float64(v) * float64(v))
	for cur := h.min.Load(); v < cur && !h.min.CompareAndSwap(cur, v); cur = h.min.Load() {
	}
	for cur := h.max.Load(); v > cur && !h.max.CompareAndSwap(cur, v); cur = h.max.Load() {
	}
}

// Snapshot copies the histogram's current state. Records that race with it may be
// partly in it.
func (h *Histogram) Snapshot() *Snapshot {
	s := &Snapshot{counts: make([]uint64, numBuckets)}
	for i := range h.counts {
		c := h.counts[i].Load()
		s.counts[i] = c
		s.N += c
	}
	s.sum = h.sum.Load()
	s.sumSq = h.sumSq.load()
	if s.N > 0 {
		s.Min = time.Duration(h.min.Load())
		s.Max = time.Duration(h.max.Load())
	}
	return s
}

// atomicFloat is a float64 added to atomically.
type atomicFloat struct{ bits atomic.Uint64 }

func (f *atomicFloat) add(x float64) {
	for {
		old := f.bits.Load()
		if f.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+x)) {
			return
		}
	}
}

func (f *atomicFloat) load() float64 { return math.Float64frombits(f.bits.Load()) }

// Snapshot is a histogram's content at one moment: not safe for concurrent use.
type Snapshot struct {
	counts   []uint64
	N        uint64 // latencies recorded
	Min, Max time.Duration
	sum      int64
	sumSq    float64
}

// Merge adds o's latencies to s.
func (s *Snapshot) Merge(o *Snapshot) {
	if o.N == 0 {
		return
	}
	if s.counts == nil {
		s.counts = make([]uint64, numBuckets)
	}
	for i, c := range o.counts {
		s.counts[i] += c
	}
	if s.N == 0 || o.Min < s.Min {
		s.Min = o.Min
	}
	if s.N == 0 || o.Max > s.Max {
		s.Max = o.Max
	}
	s.N += o.N
	s.sum += o.sum
	s.sumSq += o.sumSq
}

// Mean is the exact average latency.
func (s *Snapshot) Mean() time.Duration {
	if s.N == 0 {
		return 0
	}
	return time.Duration(s.sum / int64(s.N))
}

// Stddev is the population standard deviation of the latencies.
func (s *Snapshot) Stddev() time.Duration {
	if s.N == 0 {
		return 0
	}
	mean := float64(s.sum) / float64(s.N)
	v := s.sumSq/float64(s.N) - mean*mean
	if v <= 0 {
		return 0
	}
	return time.Duration(math.Sqrt(v))
}

// Percentile is the nearest-rank p-th percentile (0 < p <= 100): the smallest latency
// that at least p% of the latencies do not exceed, within 1/256 (the middle of its
// bucket, kept within [Min, Max]). Percentile(100) is Max.
func (s *Snapshot) Percentile(p float64) time.Duration {
	if s.N == 0 {
		return 0
	}
	if p >= 100 {
		return s.Max
	}
	rank := uint64(math.Ceil(p / 100 * float64(s.N)))
	rank = min(max(rank, 1), s.N)
	var seen uint64
	for i, c := range s.counts {
		seen += c
		if seen >= rank {
			v := time.Duration(bucketValue(i))
			return min(max(v, s.Min), s.Max)
		}
	}
	return s.Max
}

// Bucket is one bar of a text histogram: Count latencies in (previous Mark, Mark].
type Bucket struct {
	Mark  time.Duration
	Count uint64
}

// Linear splits [Min, Max] into n equal bars, as etcd's benchmark prints its histogram:
// the first bar's mark is Min, the last's Max. Each latency goes to the first bar whose
// mark is at least its bucket's middle (the buckets of Min and Max count as Min and Max).
func (s *Snapshot) Linear(n int) []Bucket {
	if s.N == 0 || n < 1 {
		return nil
	}
	if n == 1 || s.Max == s.Min {
		return []Bucket{{Mark: s.Max, Count: s.N}}
	}
	step := float64(s.Max-s.Min) / float64(n-1)
	out := make([]Bucket, n)
	for i := range out {
		out[i].Mark = s.Min + time.Duration(math.Round(step*float64(i)))
	}
	out[n-1].Mark = s.Max
	for i, c := range s.counts {
		if c == 0 {
			continue
		}
		v := min(max(time.Duration(bucketValue(i)), s.Min), s.Max)
		switch i {
		case bucketOf(int64(s.Min)):
			v = s.Min // the fastest request goes to the first bar, as etcd's
		case bucketOf(int64(s.Max)):
			v = s.Max
		}
		j := int(math.Ceil(float64(v-s.Min) / step))
		j = min(max(j, 0), n-1)
		out[j].Count += c
	}
	return out
}
