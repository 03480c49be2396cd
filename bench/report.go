package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report is the result of a run. Its JSON form uses the field names of the anchors'
// etcdbench (qps, avg_ms, p50_ms, ...) so that the two can be read by the same scripts.
type Report struct {
	// Workload is the benchmark: put, range, txn-put, watch, watch-latency,
	// lease-keepalive or mixed.
	Workload string `json:"op"`
	// Unit is what QPS and the latencies count: "requests", or "events" for the watch
	// workloads (an event's latency runs from the start of its put to its delivery).
	Unit string `json:"unit"`
	// Endpoints are the endpoints the clients started on.
	Endpoints    []string `json:"endpoints_used,omitempty"`
	TargetLeader bool     `json:"target_leader"`
	Conns        int      `json:"conns"`
	Clients      int      `json:"clients"`
	Total        int      `json:"total"`
	KeySize      int      `json:"key_size"`
	ValSize      int      `json:"val_size"`
	KeySpace     int      `json:"key_space"`
	Rate         float64  `json:"rate,omitempty"`
	// Params are the workload's own settings (consistency, read ratio, watchers, ...).
	Params map[string]string `json:"params,omitempty"`

	OK          uint64      `json:"ok"`
	Errors      uint64      `json:"errors"`
	ErrorKinds  []ErrorKind `json:"error_kinds,omitempty"`
	DeadlineHit bool        `json:"deadline_hit"`
	// Interrupted is set when the run's context ended before it was done.
	Interrupted bool `json:"interrupted,omitempty"`

	Elapsed  time.Duration `json:"-"`
	ElapsedS float64       `json:"elapsed_s"`
	// QPS is successes per second of Elapsed.
	QPS float64 `json:"qps"`
	Latency
	// ClientCPUS is the CPU time (user + system) the bench process spent during the run.
	ClientCPUS float64 `json:"client_cpu_s"`

	Histogram []Bar    `json:"histogram"`
	Timeline  []Second `json:"timeline"`
	// Ops summarises each kind of operation apart, when a workload has several (mixed:
	// read and write; the watch workloads: the puts that cause the events).
	Ops []OpSummary `json:"ops,omitempty"`

	snap *Snapshot
}

// Latency summarises a histogram in milliseconds.
type Latency struct {
	AvgMs    float64 `json:"avg_ms"`
	MinMs    float64 `json:"min_ms"`
	P50Ms    float64 `json:"p50_ms"`
	P90Ms    float64 `json:"p90_ms"`
	P99Ms    float64 `json:"p99_ms"`
	P999Ms   float64 `json:"p999_ms"`
	MaxMs    float64 `json:"max_ms"`
	StddevMs float64 `json:"stddev_ms"`
}

func latencyOf(s *Snapshot) Latency {
	return Latency{
		AvgMs: ms(s.Mean()), MinMs: ms(s.Min), P50Ms: ms(s.Percentile(50)), P90Ms: ms(s.Percentile(90)),
		P99Ms: ms(s.Percentile(99)), P999Ms: ms(s.Percentile(99.9)), MaxMs: ms(s.Max), StddevMs: ms(s.Stddev()),
	}
}

// OpSummary is one kind of operation of a run.
type OpSummary struct {
	Op     string  `json:"op"`
	OK     uint64  `json:"ok"`
	Errors uint64  `json:"errors"`
	QPS    float64 `json:"qps"`
	Latency
}

// ErrorKind counts the failures with one message.
type ErrorKind struct {
	Error string `json:"error"`
	Count uint64 `json:"count"`
}

// Bar is one bar of the report's histogram: Count latencies up to UpToMs (and above the
// previous bar's).
type Bar struct {
	UpToMs float64 `json:"up_to_ms"`
	Count  uint64  `json:"count"`
}

// Second is one second of the run's timeline: the requests that completed in it.
type Second struct {
	Second int     `json:"second"`
	Count  uint64  `json:"count"`
	AvgMs  float64 `json:"avg_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
}

// histogramBars is how many bars the text histogram has, as etcd's.
const histogramBars = 10

// NewReport summarises what rec recorded in elapsed. The caller fills in the run's
// settings.
func NewReport(rec *Recorder, elapsed time.Duration) *Report {
	s := rec.Snapshot()
	kinds, byOp := rec.errorKinds()
	r := &Report{
		Unit: "requests", OK: s.N, ErrorKinds: kinds, Elapsed: elapsed,
		ElapsedS: elapsed.Seconds(), Latency: latencyOf(s), Timeline: rec.Timeline(), snap: s,
	}
	for _, k := range kinds {
		r.Errors += k.Count
	}
	if elapsed > 0 {
		r.QPS = float64(s.N) / elapsed.Seconds()
	}
	for _, b := range s.Linear(histogramBars) {
		r.Histogram = append(r.Histogram, Bar{UpToMs: ms(b.Mark), Count: b.Count})
	}
	for _, op := range rec.order {
		os := rec.OpSnapshot(op)
		sum := OpSummary{Op: op, OK: os.N, Errors: byOp[op], Latency: latencyOf(os)}
		if elapsed > 0 {
			sum.QPS = float64(os.N) / elapsed.Seconds()
		}
		r.Ops = append(r.Ops, sum)
	}
	return r
}

// Snapshot is the histogram the report was made from (nil for a decoded report).
func (r *Report) Snapshot() *Snapshot { return r.snap }

// secs formats seconds as etcd's benchmark does.
func secs(msv float64) string { return fmt.Sprintf("%4.4f secs", msv/1000) }

// WriteText writes the report as etcd's benchmark prints it (summary, response time
// histogram, latency distribution, errors), after a line with the run's settings and
// before one line of milliseconds for scripts and people who read them.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Benchmark %s: conns=%d clients=%d total=%d key-size=%d val-size=%d key-space-size=%d",
		r.Workload, r.Conns, r.Clients, r.Total, r.KeySize, r.ValSize, r.KeySpace)
	if r.TargetLeader {
		b.WriteString(" target-leader")
	}
	if r.Rate > 0 {
		fmt.Fprintf(&b, " rate=%g", r.Rate)
	}
	for _, k := range sortedKeys(r.Params) {
		fmt.Fprintf(&b, " %s=%s", k, r.Params[k])
	}
	b.WriteString("\n")
	if len(r.Endpoints) > 0 {
		fmt.Fprintf(&b, "Endpoints: %s\n", strings.Join(r.Endpoints, ","))
	}
	what := "Requests"
	if r.Unit == "events" {
		what = "Events"
	}
	fmt.Fprintf(&b, "\nSummary:\n")
	fmt.Fprintf(&b, "  Total:\t%s.\n", secs(r.ElapsedS*1000))
	fmt.Fprintf(&b, "  Slowest:\t%s.\n", secs(r.MaxMs))
	fmt.Fprintf(&b, "  Fastest:\t%s.\n", secs(r.MinMs))
	fmt.Fprintf(&b, "  Average:\t%s.\n", secs(r.AvgMs))
	fmt.Fprintf(&b, "  Stddev:\t%s.\n", secs(r.StddevMs))
	fmt.Fprintf(&b, "  %s/sec:\t%4.4f\n", what, r.QPS)

	if len(r.Histogram) > 0 {
		var top uint64
		for _, bar := range r.Histogram {
			top = max(top, bar.Count)
		}
		fmt.Fprintf(&b, "\nResponse time histogram:\n")
		for _, bar := range r.Histogram {
			n := 0
			if top > 0 {
				n = int(bar.Count * 40 / top)
			}
			fmt.Fprintf(&b, "  %4.4f [%d]\t|%s\n", bar.UpToMs/1000, bar.Count, strings.Repeat("∎", n))
		}
		fmt.Fprintf(&b, "\nLatency distribution:\n")
		for _, p := range []float64{10, 25, 50, 75, 90, 95, 99, 99.9} {
			fmt.Fprintf(&b, "  %v%% in %s.\n", p, secs(r.percentileMs(p)))
		}
	}
	if len(r.Ops) > 0 {
		fmt.Fprintf(&b, "\nBy operation:\n")
		for _, o := range r.Ops {
			fmt.Fprintf(&b, "  %-6s %d ok, %d errors, %.1f/s; ms: avg %.3f p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f max %.3f\n",
				o.Op, o.OK, o.Errors, o.QPS, o.AvgMs, o.P50Ms, o.P90Ms, o.P99Ms, o.P999Ms, o.MaxMs)
		}
	}
	if len(r.ErrorKinds) > 0 {
		fmt.Fprintf(&b, "\nError distribution:\n")
		for _, k := range r.ErrorKinds {
			fmt.Fprintf(&b, "  [%d]\t%s\n", k.Count, k.Error)
		}
	}
	fmt.Fprintf(&b, "\nCompleted: %d ok, %d errors", r.OK, r.Errors)
	if r.DeadlineHit {
		b.WriteString(" (DEADLINE HIT)")
	}
	if r.Interrupted {
		b.WriteString(" (INTERRUPTED)")
	}
	fmt.Fprintf(&b, "\n%s/s: %.1f\n", what, r.QPS)
	fmt.Fprintf(&b, "Latency ms: avg %.3f  min %.3f  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
		r.AvgMs, r.MinMs, r.P50Ms, r.P90Ms, r.P99Ms, r.P999Ms, r.MaxMs)
	fmt.Fprintf(&b, "Client CPU: %.2f s\n", r.ClientCPUS)
	_, err := io.WriteString(w, b.String())
	return err
}

// percentileMs is a percentile of the run in milliseconds: from the histogram when the
// report has it, else from the summary's fixed percentiles.
func (r *Report) percentileMs(p float64) float64 {
	if r.snap != nil {
		return ms(r.snap.Percentile(p))
	}
	switch p {
	case 50:
		return r.P50Ms
	case 90:
		return r.P90Ms
	case 99:
		return r.P99Ms
	case 99.9:
		return r.P999Ms
	}
	return 0
}

// WriteJSON writes the report as one line of JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("bench: encode report: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// CSVHeader is the first line of WriteCSV's output.
var CSVHeader = []string{"second", "count", "avg_ms", "p50_ms", "p99_ms"}

// WriteCSV writes the timeline: one line per second of the run, with the number of
// requests (or events) that completed in it and their average, median and 99th
// percentile latency in milliseconds.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("bench: write csv: %w", err)
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	for _, s := range r.Timeline {
		rec := []string{strconv.Itoa(s.Second), strconv.FormatUint(s.Count, 10), f(s.AvgMs), f(s.P50Ms), f(s.P99Ms)}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("bench: write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("bench: write csv: %w", err)
	}
	return nil
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
