package bench

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Recorder collects the outcome of every request (or event) of a run: one histogram for
// the whole run, one per operation kind, one per second of the run, and the errors by
// message. It is safe for concurrent use.
type Recorder struct {
	start time.Time
	all   *Histogram
	ops   map[string]*Histogram
	order []string

	mu      sync.RWMutex
	seconds []*Histogram // by whole seconds since start, of the completion time

	done atomic.Int64 // successes and failures

	errMu  sync.Mutex
	errs   map[string]uint64
	nerr   uint64
	errOps map[string]uint64
}

// NewRecorder returns a recorder whose timeline starts at start. ops names the kinds of
// operation recorded separately (mixed: "read", "write"); Record with any other op only
// counts in the totals.
func NewRecorder(start time.Time, ops ...string) *Recorder {
	r := &Recorder{
		start: start, all: NewHistogram(), ops: make(map[string]*Histogram),
		errs: make(map[string]uint64), errOps: make(map[string]uint64),
	}
	for _, op := range ops {
		if _, dup := r.ops[op]; !dup {
			r.ops[op] = NewHistogram()
			r.order = append(r.order, op)
		}
	}
	return r
}

// Start is the beginning of the recorder's timeline.
func (r *Recorder) Start() time.Time { return r.start }

// Record notes a success of op that took d and completed at end.
func (r *Recorder) Record(op string, end time.Time, d time.Duration) {
	r.all.Record(d)
	if h := r.ops[op]; h != nil {
		h.Record(d)
	}
	r.second(end).Record(d)
	r.done.Add(1)
}

// second returns the histogram of the second end falls in.
func (r *Recorder) second(end time.Time) *Histogram {
	i := max(int(end.Sub(r.start)/time.Second), 0)
	r.mu.RLock()
	if i < len(r.seconds) {
		h := r.seconds[i]
		r.mu.RUnlock()
		return h
	}
	r.mu.RUnlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.seconds) <= i {
		r.seconds = append(r.seconds, NewHistogram())
	}
	return r.seconds[i]
}

// maxErrorText bounds the error messages kept, so that errors that differ only in a
// detail deep in their text still count together.
const maxErrorText = 160

// Fail notes a failure of op.
func (r *Recorder) Fail(op string, err error) {
	msg := "unknown error"
	if err != nil {
		msg = err.Error()
	}
	if len(msg) > maxErrorText {
		msg = msg[:maxErrorText] + "..."
	}
	r.errMu.Lock()
	r.errs[msg]++
	r.nerr++
	r.errOps[op]++
	r.errMu.Unlock()
	r.done.Add(1)
}

// FailN notes n failures of op for the same reason.
func (r *Recorder) FailN(op, reason string, n uint64) {
	if n == 0 {
		return
	}
	r.errMu.Lock()
	r.errs[reason] += n
	r.nerr += n
	r.errOps[op] += n
	r.errMu.Unlock()
	r.done.Add(int64(n))
}

// Done is how many successes and failures have been recorded.
func (r *Recorder) Done() int64 { return r.done.Load() }

// Errors is how many failures have been recorded.
func (r *Recorder) Errors() uint64 {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.nerr
}

// Snapshot is the histogram of the whole run so far.
func (r *Recorder) Snapshot() *Snapshot { return r.all.Snapshot() }

// OpSnapshot is the histogram of one kind of operation (nil if it is not kept apart).
func (r *Recorder) OpSnapshot(op string) *Snapshot {
	if h := r.ops[op]; h != nil {
		return h.Snapshot()
	}
	return nil
}

// Timeline summarises each second of the run so far.
func (r *Recorder) Timeline() []Second {
	r.mu.RLock()
	secs := append([]*Histogram(nil), r.seconds...)
	r.mu.RUnlock()
	out := make([]Second, len(secs))
	for i, h := range secs {
		s := h.Snapshot()
		out[i] = Second{
			Second: i, Count: s.N,
			AvgMs: ms(s.Mean()), P50Ms: ms(s.Percentile(50)), P99Ms: ms(s.Percentile(99)),
		}
	}
	return out
}

// errorKinds returns the failures by message, most frequent first, and by op.
func (r *Recorder) errorKinds() ([]ErrorKind, map[string]uint64) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	out := make([]ErrorKind, 0, len(r.errs))
	for msg, n := range r.errs {
		out = append(out, ErrorKind{Error: msg, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return strings.Compare(out[i].Error, out[j].Error) < 0
	})
	byOp := make(map[string]uint64, len(r.errOps))
	for op, n := range r.errOps {
		byOp[op] = n
	}
	return out, byOp
}

// ms converts a duration to fractional milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
