package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// nearestRank is the model: the exact nearest-rank percentile of sorted values.
func nearestRank(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// distributions of latencies the histogram must summarise, each from a seeded source.
var distributions = []struct {
	name string
	gen  func(r *rand.Rand) time.Duration
}{
	{"uniform 0-300ns", func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(300)) }},
	{"uniform 1-10ms", func(r *rand.Rand) time.Duration {
		return time.Millisecond + time.Duration(r.Int64N(int64(9*time.Millisecond)))
	}},
	{"lognormal around 2ms", func(r *rand.Rand) time.Duration {
		return time.Duration(math.Exp(math.Log(2e6) + 0.8*r.NormFloat64()))
	}},
	{"exponential mean 150ms", func(r *rand.Rand) time.Duration { return time.Duration(r.ExpFloat64() * 150e6) }},
	{"bimodal 1ms and 1s", func(r *rand.Rand) time.Duration {
		if r.IntN(100) < 3 {
			return time.Second + time.Duration(r.IntN(1e6))
		}
		return time.Millisecond + time.Duration(r.IntN(1e5))
	}},
	{"constant 7ms", func(*rand.Rand) time.Duration { return 7 * time.Millisecond }},
	{"huge values", func(r *rand.Rand) time.Duration { return time.Hour + time.Duration(r.Int64N(int64(time.Hour))) }},
}

var percentiles = []float64{0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100}

func TestPercentilesAgainstSortedModel(t *testing.T) {
	for i, d := range distributions {
		for _, n := range []int{1, 2, 10, 1000, 100000} {
			t.Run(fmt.Sprintf("%s/n=%d", d.name, n), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(i), uint64(n)))
				h := NewHistogram()
				vals := make([]time.Duration, n)
				var sum time.Duration
				for j := range vals {
					vals[j] = d.gen(r)
					sum += vals[j]
					h.Record(vals[j])
				}
				slices.Sort(vals)
				s := h.Snapshot()
				if s.N != uint64(n) || s.Min != vals[0] || s.Max != vals[n-1] {
					t.Fatalf("N/Min/Max = %d/%v/%v, want %d/%v/%v", s.N, s.Min, s.Max, n, vals[0], vals[n-1])
				}
				if want := sum / time.Duration(n); s.Mean() != want {
					t.Errorf("Mean = %v, want %v", s.Mean(), want)
				}
				for _, p := range percentiles {
					got, want := s.Percentile(p), nearestRank(vals, p)
					if bucketOf(int64(got)) != bucketOf(int64(want)) && want < 1<<40 {
						t.Errorf("p%v = %v, want %v: not in the same bucket", p, got, want)
					}
					if want < 1<<40 && math.Abs(float64(got-want)) > float64(want)/256 {
						t.Errorf("p%v = %v, want %v within 1/256", p, got, want)
					}
					if got < s.Min || got > s.Max {
						t.Errorf("p%v = %v outside [%v, %v]", p, got, s.Min, s.Max)
					}
				}
				if got := s.Percentile(100); got != vals[n-1] {
					t.Errorf("p100 = %v, want the max %v", got, vals[n-1])
				}
			})
		}
	}
}

func TestStddev(t *testing.T) {
	h := NewHistogram()
	for _, v := range []time.Duration{2, 4, 4, 4, 5, 5, 7, 9} {
		h.Record(v * time.Millisecond)
	}
	if got := h.Snapshot().Stddev(); got != 2*time.Millisecond {
		t.Errorf("Stddev = %v, want 2ms", got)
	}
	if got := NewHistogram().Snapshot().Stddev(); got != 0 {
		t.Errorf("Stddev of nothing = %v", got)
	}
}

func TestBuckets(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	prev := -1
	for v := int64(0); v < 5000; v++ {
		i := bucketOf(v)
		if i < prev || i > prev+1 {
			t.Fatalf("bucketOf(%d) = %d after %d: not monotonic and dense", v, i, prev)
		}
		prev = i
	}
	for range 100000 {
		v := r.Int64N(1 << 40)
		i := bucketOf(v)
		low, width := bucketBounds(i)
		if v < low || v >= low+width {
			t.Fatalf("bucketOf(%d) = %d = [%d, %d)", v, i, low, low+width)
		}
		if width > 1 && float64(width) > float64(low)/128 {
			t.Fatalf("bucket %d: width %d > 1/128 of %d", i, width, low)
		}
		if mid := bucketValue(i); mid < low || mid >= low+width {
			t.Fatalf("bucketValue(%d) = %d outside [%d, %d)", i, mid, low, low+width)
		}
	}
	if got := bucketOf(math.MaxInt64); got != numBuckets-1 {
		t.Errorf("bucketOf(max) = %d, want the last bucket %d", got, numBuckets-1)
	}
	if got := bucketOf(-5); got != 0 {
		t.Errorf("bucketOf(-5) = %d, want 0", got)
	}
}

func TestMergeEqualsRecordingAll(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	a, b, all := NewHistogram(), NewHistogram(), NewHistogram()
	for j := range 5000 {
		v := time.Duration(r.ExpFloat64() * 3e6)
		all.Record(v)
		if j%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	m := &Snapshot{}
	m.Merge(a.Snapshot())
	m.Merge(b.Snapshot())
	m.Merge(NewHistogram().Snapshot())
	want := all.Snapshot()
	if m.N != want.N || m.Min != want.Min || m.Max != want.Max || m.Mean() != want.Mean() || !slices.Equal(m.counts, want.counts) {
		t.Fatalf("merged %d/%v/%v/%v, want %d/%v/%v/%v", m.N, m.Min, m.Max, m.Mean(), want.N, want.Min, want.Max, want.Mean())
	}
	for _, p := range percentiles {
		if m.Percentile(p) != want.Percentile(p) {
			t.Errorf("p%v: merged %v, want %v", p, m.Percentile(p), want.Percentile(p))
		}
	}
}

func TestConcurrentRecord(t *testing.T) {
	h := NewHistogram()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for j := range 1000 {
				h.Record(time.Duration(g*1000+j) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	s := h.Snapshot()
	if s.N != 8000 || s.Min != 0 || s.Max != 7999*time.Microsecond {
		t.Fatalf("N/Min/Max = %d/%v/%v", s.N, s.Min, s.Max)
	}
	if got, want := s.Mean(), time.Duration(7999*1000/2)*time.Nanosecond; got != want {
		t.Errorf("Mean = %v, want %v", got, want)
	}
}

func TestLinear(t *testing.T) {
	h := NewHistogram()
	r := rand.New(rand.NewPCG(5, 6))
	for range 10000 {
		h.Record(time.Millisecond + time.Duration(r.IntN(int(9*time.Millisecond))))
	}
	s := h.Snapshot()
	bars := s.Linear(10)
	if len(bars) != 10 || bars[0].Mark != s.Min || bars[9].Mark != s.Max {
		t.Fatalf("bars %v: want 10 from %v to %v", bars, s.Min, s.Max)
	}
	var n uint64
	for i, b := range bars {
		n += b.Count
		if i > 0 && b.Mark <= bars[i-1].Mark {
			t.Errorf("marks not increasing: %v", bars)
		}
	}
	if n != s.N || bars[0].Count == 0 || bars[9].Count == 0 {
		t.Errorf("bars %v: counts add to %d of %d; the first holds the fastest, the last the slowest", bars, n, s.N)
	}
	// A uniform distribution fills the inner bars about equally.
	for _, b := range bars[1:9] {
		if b.Count < 900 || b.Count > 1300 {
			t.Errorf("bar %v: far from uniform (%v)", b, bars)
		}
	}

	one := NewHistogram()
	one.Record(time.Second)
	if got := one.Snapshot().Linear(10); len(got) != 1 || got[0] != (Bucket{Mark: time.Second, Count: 1}) {
		t.Errorf("one value: %v", got)
	}
	if got := NewHistogram().Snapshot().Linear(10); got != nil {
		t.Errorf("no value: %v", got)
	}
}
