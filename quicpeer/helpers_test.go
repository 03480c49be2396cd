package quicpeer_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"etcq.dev/etcq/certs/certstest"
	"etcq.dev/etcq/quicpeer"
)

// testCluster is the cluster ID the test transports start with.
const testCluster = 0xc1

// eventually bounds every wait for something that must happen; it is a deadline for a
// condition, never a measurement.
const eventually = 20 * time.Second

// recorder is a quicpeer.Handler that records what it is given.
type recorder struct {
	msgs    chan *raftpb.Message
	unreach chan uint64
	snapRep chan snapReport
	// snapshot, if set, handles ProcessSnapshot; by default the image is read whole
	// and sent on snaps.
	snapshot func(ctx context.Context, m *raftpb.Message, image io.Reader) error
	snaps    chan gotSnapshot
}

type snapReport struct {
	id     uint64
	status raft.SnapshotStatus
}

type gotSnapshot struct {
	m     *raftpb.Message
	image []byte
}

func newRecorder() *recorder {
	return &recorder{
		msgs:    make(chan *raftpb.Message, 1<<16),
		unreach: make(chan uint64, 1024),
		snapRep: make(chan snapReport, 64),
		snaps:   make(chan gotSnapshot, 16),
	}
}

func (r *recorder) Process(ctx context.Context, m *raftpb.Message) error {
	select {
	case r.msgs <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *recorder) ProcessSnapshot(ctx context.Context, m *raftpb.Message, image io.Reader) error {
	if r.snapshot != nil {
		return r.snapshot(ctx, m, image)
	}
	b, err := io.ReadAll(image)
	if err != nil {
		return err
	}
	select {
	case r.snaps <- gotSnapshot{m: m, image: b}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *recorder) ReportUnreachable(id uint64) {
	select {
	case r.unreach <- id:
	default:
	}
}

func (r *recorder) ReportSnapshot(id uint64, status raft.SnapshotStatus) {
	r.snapRep <- snapReport{id, status}
}

// next returns the next message that pred accepts, skipping others.
func (r *recorder) next(t testing.TB, what string, pred func(*raftpb.Message) bool) *raftpb.Message {
	t.Helper()
	timeout := time.After(eventually)
	for {
		select {
		case m := <-r.msgs:
			if pred(m) {
				return m
			}
		case <-timeout:
			t.Fatalf("no %s arrived", what)
		}
	}
}

// waitUnreachable waits until the transport reports peer id unreachable.
func (r *recorder) waitUnreachable(t testing.TB, id uint64) {
	t.Helper()
	timeout := time.After(eventually)
	for {
		select {
		case got := <-r.unreach:
			if got == id {
				return
			}
		case <-timeout:
			t.Fatalf("member %x was never reported unreachable", id)
		}
	}
}

func (r *recorder) waitSnapReport(t testing.TB) snapReport {
	t.Helper()
	select {
	case rep := <-r.snapRep:
		return rep
	case <-time.After(eventually):
		t.Fatal("no snapshot report")
	}
	panic("unreachable")
}

// logSink collects a transport's log records so tests can wait for a refusal with its
// reason; it also copies them to the test log.
type logSink struct {
	t       testing.TB
	mu      sync.Mutex
	recs    []logRecord
	changed chan struct{}
	done    bool // stop copying to the test log
}

type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]any
}

func (r logRecord) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q", r.level, r.msg)
	keys := make([]string, 0, len(r.attrs))
	for k := range r.attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%v", k, r.attrs[k])
	}
	return b.String()
}

func newLogSink(t testing.TB) *logSink {
	s := &logSink{t: t, changed: make(chan struct{})}
	if _, bench := t.(*testing.B); bench {
		s.done = true // keep benchmark output readable
	}
	t.Cleanup(func() {
		s.mu.Lock()
		s.done = true
		s.mu.Unlock()
	})
	return s
}

func (s *logSink) logger() *slog.Logger { return slog.New(&sinkHandler{sink: s}) }

func (s *logSink) add(r logRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done {
		s.t.Log(r.String())
	}
	s.recs = append(s.recs, r)
	close(s.changed)
	s.changed = make(chan struct{})
}

// wait returns the first record (at Warn or above) whose message contains msg and whose
// reason attribute contains reason.
func (s *logSink) wait(t testing.TB, msg, reason string) logRecord {
	t.Helper()
	return s.waitFor(t, fmt.Sprintf("%q with reason containing %q", msg, reason), func(r logRecord) bool {
		return r.level >= slog.LevelWarn && strings.Contains(r.msg, msg) && strings.Contains(fmt.Sprint(r.attrs["reason"]), reason)
	})
}

// waitFor returns the first record pred accepts, waiting for it.
func (s *logSink) waitFor(t testing.TB, what string, pred func(logRecord) bool) logRecord {
	t.Helper()
	deadline := time.After(eventually)
	seen := 0
	for {
		s.mu.Lock()
		recs, changed := s.recs[seen:], s.changed
		s.mu.Unlock()
		for _, r := range recs {
			seen++
			if pred(r) {
				return r
			}
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no log record %s", what)
		}
	}
}

type sinkHandler struct {
	sink  *logSink
	attrs []slog.Attr
}

func (h *sinkHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *sinkHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: make(map[string]any)}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.Any()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.Any()
		return true
	})
	h.sink.add(rec)
	return nil
}

func (h *sinkHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &sinkHandler{sink: h.sink, attrs: append(slices.Clip(h.attrs), as...)}
}

func (h *sinkHandler) WithGroup(string) slog.Handler { return h }

// peerTLS is the TLS config of a member holding cert, trusting pki's CA both ways.
func peerTLS(pki *certstest.PKI, cert tls.Certificate) *tls.Config {
	pool := pki.CA().Pool()
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, RootCAs: pool}
}

// member is one transport under test, with its handler and logs.
type member struct {
	id  uint64
	tr  *quicpeer.Transport
	h   *recorder
	log *logSink
	url string
}

type memberOpts struct {
	tls     *tls.Config // default: a peer certificate of pki for 127.0.0.1
	cluster uint64      // default testCluster
	listen  string      // default 127.0.0.1:0
	noStart bool
	handler *recorder // default newRecorder()
	tweak   func(*quicpeer.Config)
}

// newMember starts a transport for member id; it is closed when the test ends.
func newMember(t testing.TB, pki *certstest.PKI, id uint64, o memberOpts) *member {
	t.Helper()
	if o.tls == nil {
		o.tls = peerTLS(pki, pki.Peer(t, fmt.Sprintf("member-%x", id)))
	}
	if o.cluster == 0 {
		o.cluster = testCluster
	}
	if o.listen == "" {
		o.listen = "127.0.0.1:0"
	}
	sink := newLogSink(t)
	cfg := quicpeer.Config{
		ID:          id,
		Listen:      o.listen,
		TLS:         o.tls,
		Logger:      sink.logger(),
		DialTimeout: 2 * time.Second,
		MaxBackoff:  200 * time.Millisecond,
	}
	if o.tweak != nil {
		o.tweak(&cfg)
	}
	tr, err := quicpeer.New(cfg)
	if err != nil {
		t.Fatalf("new transport %x: %v", id, err)
	}
	t.Cleanup(func() { tr.Close() })
	if o.handler == nil {
		o.handler = newRecorder()
	}
	m := &member{id: id, tr: tr, h: o.handler, log: sink, url: "https://" + tr.Addr().String()}
	if !o.noStart {
		if err := tr.Start(o.cluster, m.h); err != nil {
			t.Fatalf("start transport %x: %v", id, err)
		}
	}
	return m
}

// mesh makes every member a peer of every other.
func mesh(ms ...*member) {
	for _, a := range ms {
		for _, b := range ms {
			if a != b {
				a.tr.AddPeer(b.id, []string{b.url})
			}
		}
	}
}

// msg is a MsgApp from one member to another; index tells messages apart.
func msg(from, to, index uint64) *raftpb.Message {
	return &raftpb.Message{
		Type:  raftpb.MessageType_MsgApp.Enum(),
		From:  new(from),
		To:    new(to),
		Term:  new(uint64(1)),
		Index: new(index),
		Entries: []*raftpb.Entry{{
			Term: new(uint64(1)), Index: new(index + 1), Type: raftpb.EntryType_EntryNormal.Enum(),
			Data: fmt.Appendf(nil, "entry %d from %x", index+1, from),
		}},
	}
}

func heartbeat(from, to uint64) *raftpb.Message {
	return &raftpb.Message{Type: raftpb.MessageType_MsgHeartbeat.Enum(), From: new(from), To: new(to), Term: new(uint64(1))}
}

// from accepts messages sent by member id.
func from(id uint64) func(*raftpb.Message) bool {
	return func(m *raftpb.Message) bool { return m.GetFrom() == id }
}

// deliver sends messages from a to b until b has one (the first ones may go before the
// connection exists, and may be dropped).
func deliver(t testing.TB, a, b *member) {
	t.Helper()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			a.tr.Send([]*raftpb.Message{heartbeat(a.id, b.id)})
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	defer func() { close(stop); <-done }()
	b.h.next(t, fmt.Sprintf("message from %x to %x", a.id, b.id), from(a.id))
}
