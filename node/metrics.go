package node

import (
	"bufio"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// A member's metrics, served at the gateway's /metrics in Prometheus's text format
// (version 0.0.4), written here by hand. Names are etcd's where the meaning is the same:
//
//	etcd_mvcc_db_total_size_in_bytes, etcd_mvcc_db_total_size_in_use_in_bytes
//	etcd_debugging_mvcc_current_revision, etcd_debugging_mvcc_compact_revision
//	etcd_server_proposals_committed_total, _applied_total (gauges, as etcd's: the raft
//	    commit and applied indexes), etcd_server_proposals_pending,
//	    etcd_server_proposals_failed_total (timeouts, drops, leader changes, no leader)
//	etcd_disk_backend_commit_duration_seconds (the store's commits, etcd's buckets)
//	etcd_server_leader_changes_seen_total, etcd_server_has_leader, etcd_server_is_leader,
//	    etcd_server_is_learner
//	etcd_debugging_mvcc_watcher_total (also as etcd_mvcc_watcher_total),
//	    etcd_debugging_mvcc_watch_stream_total
//	etcd_disk_wal_fsync_duration_seconds and the rest of what etcd's wal and snap
//	    packages, which the member runs, record in the process's Prometheus registry,
//	    with the Go runtime's and the process's (go_*, process_*)
//
// and etcq's own: etcq_leases, the QUIC client service's connections, streams and
// requests (etcq_client_quic_*), and the gateway's (etcq_gateway_*).
//
// Counters are the process's since it started, over every client URL's service and
// gateway; leader changes are counted from the first gateway's start (a member starts it
// right away).

// memberStats is what the metrics keep of a member beyond what it exposes: the services
// and gateways that serve it, and the leader changes seen.
type memberStats struct {
	leaderChanges atomic.Int64

	mu       sync.Mutex
	services map[*Service]int // counted once per gateway
	gateways map[*Gateway]struct{}
}

var (
	statsMu sync.Mutex
	statsOf = make(map[*Member]*memberStats)
)

// statsFor returns m's stats, creating them (and starting to count leader changes) on
// first use; they are dropped when m stops.
func statsFor(m *Member) *memberStats {
	statsMu.Lock()
	defer statsMu.Unlock()
	if st := statsOf[m]; st != nil {
		return st
	}
	st := &memberStats{services: make(map[*Service]int), gateways: make(map[*Gateway]struct{})}
	statsOf[m] = st
	go st.countLeaderChanges(m)
	return st
}

// countLeaderChanges counts, as etcd does, every change to a leader other than the last
// one seen (a leader lost and found again counts again), until m stops.
func (st *memberStats) countLeaderChanges(m *Member) {
	var last uint64
	for {
		changed := m.LeaderChanged() // taken before the read, so no change slips between
		if lead := m.Leader(); lead != last {
			if lead != 0 {
				st.leaderChanges.Add(1)
			}
			last = lead
		}
		select {
		case <-changed:
		case <-m.stopC:
			statsMu.Lock()
			delete(statsOf, m)
			statsMu.Unlock()
			return
		}
	}
}

func (st *memberStats) add(s *Service, g *Gateway) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.services[s]++
	st.gateways[g] = struct{}{}
}

func (st *memberStats) remove(s *Service, g *Gateway) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.services[s]--; st.services[s] <= 0 {
		delete(st.services, s)
	}
	delete(st.gateways, g)
}

// count returns the number of leases the member holds.
func (l *lessor) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.leases)
}

// pending returns the number of requests waiting to be applied.
func (w *waitRegistry) pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.m)
}

// A metric family, as the text format writes it.
type metricFamily struct {
	name, help, typ string
	samples         []metricSample
}

type metricSample struct {
	suffix string // _bucket, _sum, _count, or ""
	labels [][2]string
	value  float64
}

func (g *Gateway) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if !getOnly(w, r) {
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = writeMetrics(w, g.s.m)
}

// writeMetrics writes m's metrics in the text format, families sorted by name.
func writeMetrics(w io.Writer, m *Member) error {
	fams := memberMetrics(m)
	have := make(map[string]bool, len(fams))
	for _, f := range fams {
		have[f.name] = true
	}
	if gathered, err := prometheus.DefaultGatherer.Gather(); err == nil {
		for _, mf := range gathered {
			if !have[mf.GetName()] {
				fams = append(fams, fromDTO(mf))
			}
		}
	}
	slices.SortFunc(fams, func(a, b metricFamily) int { return strings.Compare(a.name, b.name) })
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		writeFamily(bw, &f)
	}
	return bw.Flush()
}

// memberMetrics collects the member's own metrics.
func memberMetrics(m *Member) []metricFamily {
	var fams []metricFamily
	one := func(typ, name, help string, v float64) {
		fams = append(fams, metricFamily{name: name, help: help, typ: typ, samples: []metricSample{{value: v}}})
	}
	gauge := func(name, help string, v float64) { one("gauge", name, help, v) }
	counter := func(name, help string, v float64) { one("counter", name, help, v) }
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	st := statsFor(m)

	size, inUse := m.store.Size()
	gauge("etcd_mvcc_db_total_size_in_bytes", "Total size of the underlying database physically allocated in bytes.", float64(size))
	gauge("etcd_mvcc_db_total_size_in_use_in_bytes", "Total size of the underlying database logically in use in bytes.", float64(inUse))
	gauge("etcd_debugging_mvcc_current_revision", "The current revision of store.", float64(m.store.Rev()))
	gauge("etcd_debugging_mvcc_compact_revision", "The revision of the last compaction in store.", float64(m.store.CompactRev()))
	gauge("etcd_server_proposals_committed_total", "The total number of consensus proposals committed.", float64(m.CommittedIndex()))
	gauge("etcd_server_proposals_applied_total", "The total number of consensus proposals applied.", float64(m.AppliedIndex()))
	gauge("etcd_server_proposals_pending", "The current number of pending proposals to commit.", float64(m.wait.pending()))
	counter("etcd_server_proposals_failed_total", "The total number of failed proposals seen.", float64(m.proposalsFailed.Load()))
	bounds, cumulative, count, sum := m.store.CommitDurations()
	commits := metricFamily{name: "etcd_disk_backend_commit_duration_seconds", typ: "histogram",
		help: "The latency distributions of commit called by backend."}
	for i, b := range bounds {
		commits.samples = append(commits.samples, metricSample{suffix: "_bucket", labels: [][2]string{{"le", formatFloat(b)}}, value: float64(cumulative[i])})
	}
	commits.samples = append(commits.samples,
		metricSample{suffix: "_bucket", labels: [][2]string{{"le", "+Inf"}}, value: float64(count)},
		metricSample{suffix: "_sum", value: sum},
		metricSample{suffix: "_count", value: float64(count)})
	fams = append(fams, commits)
	counter("etcd_server_leader_changes_seen_total", "The number of leader changes seen.", float64(st.leaderChanges.Load()))
	gauge("etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.", b2f(m.Leader() != 0))
	gauge("etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.", b2f(m.IsLeader()))
	self, _ := m.member(m.id)
	gauge("etcd_server_is_learner", "Whether or not this member is a learner. 1 if is, 0 otherwise.", b2f(self.IsLearner))
	streams, watchers := m.store.WatchCounts()
	gauge("etcd_debugging_mvcc_watcher_total", "Total number of watchers.", float64(watchers))
	gauge("etcd_mvcc_watcher_total", "Total number of watchers.", float64(watchers))
	gauge("etcd_debugging_mvcc_watch_stream_total", "Total number of watch streams.", float64(streams))
	gauge("etcq_leases", "The number of leases the member holds.", float64(m.lessor.count()))

	var conns, open, qstreams, requests, refused int64
	var gconns, gopen, greq, gfailed, gstreams int64
	var certExpiry float64
	st.mu.Lock()
	for s := range st.services {
		if s.cfg.CertExpiry != nil {
			left := time.Until(s.cfg.CertExpiry()).Seconds()
			if certExpiry == 0 || left < certExpiry {
				certExpiry = left
			}
		}
		conns += s.stats.conns.Load()
		qstreams += s.stats.streams.Load()
		requests += s.stats.requests.Load()
		refused += s.stats.refusedFrames.Load()
		s.mu.Lock()
		open += int64(len(s.open))
		s.mu.Unlock()
	}
	for g := range st.gateways {
		gconns += g.stats.conns.Load()
		gopen += g.stats.openConns.Load()
		greq += g.stats.requests.Load()
		gfailed += g.stats.failed.Load()
		gstreams += g.stats.openStreams.Load()
	}
	st.mu.Unlock()
	if certExpiry != 0 {
		gauge("etcq_server_certificate_expiry_seconds", "Seconds until the client-port certificate expires (a warning is logged within 30 days).", certExpiry)
	}
	counter("etcq_client_quic_connections_total", "QUIC client connections accepted.", float64(conns))
	gauge("etcq_client_quic_connections", "QUIC client connections open.", float64(open))
	counter("etcq_client_quic_streams_total", "QUIC streams opened by clients.", float64(qstreams))
	counter("etcq_client_quic_requests_total", "Requests served on QUIC request streams.", float64(requests))
	counter("etcq_client_quic_refused_frames_total", "QUIC request frames refused as too large.", float64(refused))
	counter("etcq_gateway_connections_total", "HTTPS gateway connections accepted.", float64(gconns))
	gauge("etcq_gateway_connections", "HTTPS gateway connections open.", float64(gopen))
	counter("etcq_gateway_requests_total", "HTTPS gateway requests received.", float64(greq))
	counter("etcq_gateway_requests_failed_total", "HTTPS gateway requests answered with an error.", float64(gfailed))
	gauge("etcq_gateway_streams", "HTTPS gateway streams open (watch, lease keep-alive, snapshot).", float64(gstreams))
	return fams
}

// fromDTO converts a family gathered from a Prometheus registry.
func fromDTO(mf *dto.MetricFamily) metricFamily {
	f := metricFamily{name: mf.GetName(), help: mf.GetHelp()}
	switch mf.GetType() {
	case dto.MetricType_COUNTER:
		f.typ = "counter"
	case dto.MetricType_GAUGE:
		f.typ = "gauge"
	case dto.MetricType_SUMMARY:
		f.typ = "summary"
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		f.typ = "histogram"
	default:
		f.typ = "untyped"
	}
	for _, m := range mf.GetMetric() {
		var labels [][2]string
		for _, lp := range m.GetLabel() {
			labels = append(labels, [2]string{lp.GetName(), lp.GetValue()})
		}
		with := func(name, value string) [][2]string {
			return append(slices.Clone(labels), [2]string{name, value})
		}
		switch {
		case m.Counter != nil:
			f.samples = append(f.samples, metricSample{labels: labels, value: m.Counter.GetValue()})
		case m.Gauge != nil:
			f.samples = append(f.samples, metricSample{labels: labels, value: m.Gauge.GetValue()})
		case m.Untyped != nil:
			f.samples = append(f.samples, metricSample{labels: labels, value: m.Untyped.GetValue()})
		case m.Summary != nil:
			s := m.Summary
			for _, q := range s.GetQuantile() {
				f.samples = append(f.samples, metricSample{labels: with("quantile", formatFloat(q.GetQuantile())), value: q.GetValue()})
			}
			f.samples = append(f.samples,
				metricSample{suffix: "_sum", labels: labels, value: s.GetSampleSum()},
				metricSample{suffix: "_count", labels: labels, value: float64(s.GetSampleCount())})
		case m.Histogram != nil:
			h := m.Histogram
			count := float64(h.GetSampleCount())
			if h.SampleCountFloat != nil {
				count = h.GetSampleCountFloat()
			}
			inf := false
			for _, b := range h.GetBucket() {
				v := float64(b.GetCumulativeCount())
				if b.CumulativeCountFloat != nil {
					v = b.GetCumulativeCountFloat()
				}
				inf = inf || math.IsInf(b.GetUpperBound(), 1)
				f.samples = append(f.samples, metricSample{suffix: "_bucket", labels: with("le", formatFloat(b.GetUpperBound())), value: v})
			}
			if !inf {
				f.samples = append(f.samples, metricSample{suffix: "_bucket", labels: with("le", "+Inf"), value: count})
			}
			f.samples = append(f.samples,
				metricSample{suffix: "_sum", labels: labels, value: h.GetSampleSum()},
				metricSample{suffix: "_count", labels: labels, value: count})
		}
	}
	return f
}

func writeFamily(w *bufio.Writer, f *metricFamily) {
	w.WriteString("# HELP ")
	w.WriteString(f.name)
	w.WriteByte(' ')
	w.WriteString(escapeHelp(f.help))
	w.WriteString("\n# TYPE ")
	w.WriteString(f.name)
	w.WriteByte(' ')
	w.WriteString(f.typ)
	w.WriteByte('\n')
	for _, s := range f.samples {
		w.WriteString(f.name)
		w.WriteString(s.suffix)
		if len(s.labels) > 0 {
			w.WriteByte('{')
			for i, l := range s.labels {
				if i > 0 {
					w.WriteByte(',')
				}
				w.WriteString(l[0])
				w.WriteString(`="`)
				w.WriteString(escapeLabel(l[1]))
				w.WriteByte('"')
			}
			w.WriteByte('}')
		}
		w.WriteByte(' ')
		w.WriteString(formatFloat(s.value))
		w.WriteByte('\n')
	}
}

// formatFloat writes a value as the text format does: Go's shortest representation, and
// +Inf, -Inf, NaN.
func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }
