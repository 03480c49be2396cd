package storage

// Tests of the watch contract (DESIGN.md §1, etcd's guarantees): ordered, unique, atomic,
// reliable, resumable, bookmarkable (progress never overtakes events), filters, range
// conventions, slow consumers caught up from history, compaction, cancel, close, restore.
//
// Every watcher's received responses go through wtLog, which checks the per-response
// invariants as they arrive (revision order, no revision split across responses, no event
// at or below an earlier progress notification, response revision >= its events); at the
// end, the events are compared one by one (type, key, value, create/mod revision, version,
// lease, PrevKV) with the events an in-memory model computes from what the test wrote.
//
// No test sleeps to let things settle: they wait on channel receives, or on a watcher's
// progress notification (the barrier), with a generous timeout. Randomized tests log their
// seed; rerun one with -watch.seed=N.

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

var wtSeedFlag = flag.Int64("watch.seed", 0, "seed for the randomized watch tests (0: from the clock)")

// wtTimeout bounds every wait; nothing legitimately takes more than a fraction of it.
const wtTimeout = 30 * time.Second

func wtRand(t testing.TB) *rand.Rand {
	seed := *wtSeedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (rerun with -watch.seed=%d)", seed, seed)
	return rand.New(rand.NewSource(seed))
}

// wtOpenStore opens a store in a fresh temporary directory, closed at the end of the test.
func wtOpenStore(t testing.TB) *Store {
	t.Helper()
	s := mustOpen(t, filepath.Join(t.TempDir(), "db"))
	t.Cleanup(func() { s.Close() })
	return s
}

// wtRecv returns the next response of ws, failing the test on timeout or a closed channel.
func wtRecv(t testing.TB, ws *WatchStream, timeout time.Duration) WatchResponse {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r, ok := <-ws.C():
		if !ok {
			t.Fatalf("watch stream closed while waiting for a response")
		}
		return r
	case <-timer.C:
		t.Fatalf("no watch response within %v", timeout)
	}
	return WatchResponse{}
}

// wtWaitClosed drains ws until its channel is closed, failing on timeout.
func wtWaitClosed(t testing.TB, ws *WatchStream, what string) []WatchResponse {
	t.Helper()
	timer := time.NewTimer(wtTimeout)
	defer timer.Stop()
	var got []WatchResponse
	for {
		select {
		case r, ok := <-ws.C():
			if !ok {
				return got
			}
			got = append(got, r)
		case <-timer.C:
			t.Fatalf("%s: channel not closed within %v", what, wtTimeout)
		}
	}
}

// wtSpin waits, without sleeping, until cond holds.
func wtSpin(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wtTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

func wtMustWatch(t testing.TB, ws *WatchStream, req WatchRequest) WatchID {
	t.Helper()
	id, err := ws.Watch(req)
	if err != nil {
		t.Fatalf("watch %+v: %v", req, err)
	}
	return id
}

// ---- the model -------------------------------------------------------------------------

// wtChange is one change of an operation: a put, or the delete of a key (a no-op if the
// key is not live).
type wtChange struct {
	del        bool
	key, value string
}

func wtPutC(k, v string) wtChange { return wtChange{key: k, value: v} }
func wtDelC(k string) wtChange    { return wtChange{del: true, key: k} }

// wtModel computes the history the store must produce: every event in revision order, with
// PrevKV always filled (nil for a create).
type wtModel struct {
	rev  int64
	live map[string]KeyValue
	hist []Event
}

func newWtModel(rev int64) *wtModel { return &wtModel{rev: rev, live: make(map[string]KeyValue)} }

// apply applies the changes of one operation at the next revision. It returns the number
// of changes made (0: the operation did not modify anything and took no revision).
func (m *wtModel) apply(changes []wtChange) int {
	rev := m.rev + 1
	n := 0
	for _, c := range changes {
		prev, ok := m.live[c.key]
		var pp *KeyValue
		if ok {
			p := prev
			pp = &p
		}
		if c.del {
			if !ok {
				continue
			}
			delete(m.live, c.key)
			m.hist = append(m.hist, Event{Type: EventDelete, KV: KeyValue{Key: []byte(c.key), ModRevision: rev}, PrevKV: pp})
		} else {
			kv := KeyValue{Key: []byte(c.key), Value: []byte(c.value), CreateRevision: rev, ModRevision: rev, Version: 1}
			if ok {
				kv.CreateRevision, kv.Version = prev.CreateRevision, prev.Version+1
			}
			m.live[c.key] = kv
			m.hist = append(m.hist, Event{Type: EventPut, KV: kv, PrevKV: pp})
		}
		n++
	}
	if n > 0 {
		m.rev = rev
	}
	return n
}

// wtInRange is etcd's range_end convention, written independently of the store's keyRange:
// no end = the single key, end "\x00" = every key >= key, otherwise [key, end).
func wtInRange(k, key, end []byte) bool {
	switch {
	case len(end) == 0:
		return bytes.Equal(k, key)
	case len(end) == 1 && end[0] == 0:
		return bytes.Compare(k, key) >= 0
	default:
		return bytes.Compare(k, key) >= 0 && bytes.Compare(k, end) < 0
	}
}

func (m *wtModel) keysIn(key, end string) []string {
	var ks []string
	for k := range m.live {
		if wtInRange([]byte(k), []byte(key), []byte(end)) {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

// wtSpec is what a watcher must receive: the events in its range at or after from, filtered.
type wtSpec struct {
	key, end                []byte
	from                    int64
	prevKV, noPut, noDelete bool
}

func (sp wtSpec) String() string {
	f := ""
	if sp.prevKV {
		f += " prevKV"
	}
	if sp.noPut {
		f += " noPut"
	}
	if sp.noDelete {
		f += " noDelete"
	}
	return fmt.Sprintf("[%q,%q) from %d%s", sp.key, sp.end, sp.from, f)
}

func (m *wtModel) expect(sp wtSpec) []Event {
	wants := func(ev *Event) bool {
		return ev.KV.ModRevision >= sp.from && wtInRange(ev.KV.Key, sp.key, sp.end) &&
			!(ev.Type == EventPut && sp.noPut) && !(ev.Type == EventDelete && sp.noDelete)
	}
	n := 0
	for i := range m.hist {
		if wants(&m.hist[i]) {
			n++
		}
	}
	out := make([]Event, 0, n)
	for _, ev := range m.hist {
		if wants(&ev) {
			if !sp.prevKV {
				ev.PrevKV = nil
			}
			out = append(out, ev)
		}
	}
	return out
}

// ---- writing through the store and the model at once -------------------------------------

// wtWriter performs operations on a store and mirrors them in a model, checking the
// revisions the store reports. Use it from the test goroutine only.
type wtWriter struct {
	t testing.TB
	s *Store
	m *wtModel
	w *Write // the open session, or nil: each operation runs in a session of its own
}

func newWtWriter(t testing.TB, s *Store) *wtWriter {
	return &wtWriter{t: t, s: s, m: newWtModel(s.Rev())}
}

// session runs fn's operations in one write session.
func (wr *wtWriter) session(fn func()) {
	wr.w = wr.s.Write()
	defer func() {
		wr.w.End()
		wr.w = nil
	}()
	fn()
}

func (wr *wtWriter) do(fn func(w *Write)) {
	if wr.w != nil {
		fn(wr.w)
		return
	}
	wr.session(func() { fn(wr.w) })
}

func (wr *wtWriter) checkRev(what string, got int64) {
	wr.t.Helper()
	if got != wr.m.rev || wr.s.Rev() != wr.m.rev {
		wr.t.Fatalf("%s: response revision %d, store revision %d, model revision %d", what, got, wr.s.Rev(), wr.m.rev)
	}
}

func (wr *wtWriter) put(k, v string) {
	wr.t.Helper()
	wr.do(func(w *Write) {
		r, err := w.Put(PutRequest{Key: []byte(k), Value: []byte(v)})
		if err != nil {
			wr.t.Fatalf("put %q: %v", k, err)
		}
		wr.m.apply([]wtChange{wtPutC(k, v)})
		wr.checkRev("put", r.Revision)
	})
}

// txn runs puts and single-key deletes (on distinct keys) as one txn: one revision.
func (wr *wtWriter) txn(changes ...wtChange) {
	wr.t.Helper()
	ops := make([]RequestOp, 0, len(changes))
	for _, c := range changes {
		if c.del {
			ops = append(ops, RequestOp{DeleteRange: &DeleteRangeRequest{Key: []byte(c.key)}})
		} else {
			ops = append(ops, RequestOp{Put: &PutRequest{Key: []byte(c.key), Value: []byte(c.value)}})
		}
	}
	wr.do(func(w *Write) {
		r, err := w.Txn(TxnRequest{Success: ops})
		if err != nil {
			wr.t.Fatalf("txn %v: %v", changes, err)
		}
		wr.m.apply(changes)
		wr.checkRev("txn", r.Revision)
	})
}

func (wr *wtWriter) deleteRange(key, end string) {
	wr.t.Helper()
	wr.do(func(w *Write) {
		keys := wr.m.keysIn(key, end)
		r, err := w.DeleteRange(DeleteRangeRequest{Key: []byte(key), RangeEnd: []byte(end)})
		if err != nil {
			wr.t.Fatalf("delete range [%q,%q): %v", key, end, err)
		}
		changes := make([]wtChange, len(keys))
		for i, k := range keys {
			changes[i] = wtDelC(k)
		}
		wr.m.apply(changes)
		if r.Deleted != int64(len(keys)) {
			wr.t.Fatalf("delete range [%q,%q): deleted %d, model %d", key, end, r.Deleted, len(keys))
		}
		wr.checkRev("delete range", r.Revision)
	})
}

func (wr *wtWriter) deleteKeys(keys ...string) {
	wr.t.Helper()
	wr.do(func(w *Write) {
		bs := make([][]byte, len(keys))
		changes := make([]wtChange, len(keys))
		for i, k := range keys {
			bs[i] = []byte(k)
			changes[i] = wtDelC(k)
		}
		n, err := w.DeleteKeys(bs)
		if err != nil {
			wr.t.Fatalf("delete keys %q: %v", keys, err)
		}
		if want := wr.m.apply(changes); int64(want) != n {
			wr.t.Fatalf("delete keys %q: deleted %d, model %d", keys, n, want)
		}
		wr.checkRev("delete keys", wr.s.Rev())
	})
}

// random performs one random operation (or a session of several) on keys.
func (wr *wtWriter) random(rng *rand.Rand, keys []string) {
	key := func() string { return keys[rng.Intn(len(keys))] }
	val := func() string { return fmt.Sprintf("v%d", rng.Intn(1000)) }
	distinct := func(n int) []string {
		seen := map[string]bool{}
		var out []string
		for len(out) < n && len(seen) < len(keys) {
			k := key()
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
		return out
	}
	one := func() {
		switch r := rng.Intn(100); {
		case r < 45:
			wr.put(key(), val())
		case r < 65: // several puts and deletes in one revision
			ks := distinct(1 + rng.Intn(4))
			changes := make([]wtChange, len(ks))
			for i, k := range ks {
				if rng.Intn(3) == 0 {
					changes[i] = wtDelC(k)
				} else {
					changes[i] = wtPutC(k, val())
				}
			}
			wr.txn(changes...)
		case r < 85:
			a, b := key(), key()
			switch rng.Intn(4) {
			case 0:
				wr.deleteRange(a, "")
			case 1:
				wr.deleteRange(a, "\x00")
			default:
				if a > b {
					a, b = b, a
				}
				wr.deleteRange(a, b)
			}
		default: // may name a key twice: the second is no longer live
			n := 1 + rng.Intn(4)
			ks := make([]string, n)
			for i := range ks {
				ks[i] = key()
			}
			wr.deleteKeys(ks...)
		}
	}
	if rng.Intn(4) == 0 {
		wr.session(func() {
			for n := 1 + rng.Intn(5); n > 0; n-- {
				one()
			}
		})
		return
	}
	one()
}

// ---- receiving and checking --------------------------------------------------------------

type wtMark struct {
	rev int64 // the progress notification's revision
	n   int   // events received before it
}

// wtLog is what one watcher received, checked as it arrives.
type wtLog struct {
	id       WatchID
	events   []Event
	nresp    int
	lastRev  int64 // mod revision of the last event received
	progress []wtMark
	maxProg  int64
	canceled *WatchResponse
	err      error // the first invariant broken
}

func wtFmtEvent(ev *Event) string {
	s := fmt.Sprintf("%v %q@%d", ev.Type, ev.KV.Key, ev.KV.ModRevision)
	if ev.Type == EventPut {
		s += fmt.Sprintf("=%q(c%d v%d)", ev.KV.Value, ev.KV.CreateRevision, ev.KV.Version)
	}
	if ev.PrevKV != nil {
		s += fmt.Sprintf(" prev %q@%d=%q", ev.PrevKV.Key, ev.PrevKV.ModRevision, ev.PrevKV.Value)
	}
	return s
}

func wtFmtResp(r *WatchResponse) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{id %d rev %d", r.WatchID, r.Revision)
	if r.Canceled {
		fmt.Fprintf(&b, " canceled compact %d", r.CompactRevision)
	}
	for i := range r.Events {
		if i == 6 {
			fmt.Fprintf(&b, " ...%d more", len(r.Events)-i)
			break
		}
		b.WriteString(" " + wtFmtEvent(&r.Events[i]))
	}
	return b.String() + "}"
}

func (l *wtLog) add(r WatchResponse) {
	l.nresp++
	if l.err != nil {
		return
	}
	fail := func(f string, a ...any) {
		l.err = fmt.Errorf("watch %d, response %d %s: %s", l.id, l.nresp, wtFmtResp(&r), fmt.Sprintf(f, a...))
	}
	if l.canceled != nil {
		fail("response after the cancel response")
		return
	}
	if r.Canceled {
		l.canceled = &r
		if len(r.Events) > 0 {
			fail("a canceling response carries events")
		}
		return
	}
	if len(r.Events) == 0 { // progress notification
		l.progress = append(l.progress, wtMark{r.Revision, len(l.events)})
		l.maxProg = max(l.maxProg, r.Revision)
		return
	}
	for i := range r.Events {
		rev := r.Events[i].KV.ModRevision
		switch {
		case i == 0 && rev <= l.lastRev:
			fail("first event at revision %d, but an event at %d was already delivered (out of order, duplicate, or a revision split across responses)", rev, l.lastRev)
			return
		case i > 0 && rev < r.Events[i-1].KV.ModRevision:
			fail("events out of revision order within the response")
			return
		case rev <= l.maxProg:
			fail("event at revision %d after a progress notification at %d", rev, l.maxProg)
			return
		case rev > r.Revision:
			fail("event at revision %d above the response's revision %d", rev, r.Revision)
			return
		}
	}
	l.lastRev = r.Events[len(r.Events)-1].KV.ModRevision
	l.events = append(l.events, r.Events...)
}

func wtKVEqual(a, b *KeyValue) bool {
	return bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value) && a.CreateRevision == b.CreateRevision &&
		a.ModRevision == b.ModRevision && a.Version == b.Version && a.Lease == b.Lease
}

func wtEventEqual(a, b *Event) bool {
	if a.Type != b.Type || !wtKVEqual(&a.KV, &b.KV) || (a.PrevKV == nil) != (b.PrevKV == nil) {
		return false
	}
	return a.PrevKV == nil || wtKVEqual(a.PrevKV, b.PrevKV)
}

// wtCompare checks that got equals want (prefix: that got is a prefix of want).
func wtCompare(got, want []Event, prefix bool) error {
	n := min(len(got), len(want))
	for i := 0; i < n; i++ {
		if !wtEventEqual(&got[i], &want[i]) {
			return fmt.Errorf("event %d of %d: got %s, want %s", i, len(want), wtFmtEvent(&got[i]), wtFmtEvent(&want[i]))
		}
	}
	if len(got) > len(want) {
		return fmt.Errorf("%d events, want %d; first extra: %s", len(got), len(want), wtFmtEvent(&got[len(want)]))
	}
	if !prefix && len(got) < len(want) {
		return fmt.Errorf("%d events, want %d; first missing: %s", len(got), len(want), wtFmtEvent(&want[len(got)]))
	}
	return nil
}

// check compares the log with the expected events. Progress notifications are checked
// against them too: every expected event at or below a notification's revision must have
// been received before it.
func (l *wtLog) check(want []Event, prefix bool) error {
	if l.err != nil {
		return l.err
	}
	if err := wtCompare(l.events, want, prefix); err != nil {
		return fmt.Errorf("watch %d: %w", l.id, err)
	}
	for _, p := range l.progress {
		n := sort.Search(len(want), func(i int) bool { return want[i].KV.ModRevision > p.rev })
		if n > p.n {
			return fmt.Errorf("watch %d: progress notification at revision %d arrived after %d events, but %d events are at or below it", l.id, p.rev, p.n, n)
		}
	}
	return nil
}

// wtCollector reads a stream in its own goroutine and files responses by watch ID.
type wtCollector struct {
	ws      *WatchStream
	mu      sync.Mutex
	logs    map[WatchID]*wtLog
	closed  bool
	changed chan struct{} // closed and replaced at every change
	nextID  WatchID       // the harness's next explicit watch ID (IDs are never reused)
}

func wtCollect(ws *WatchStream) *wtCollector {
	c := &wtCollector{ws: ws, logs: make(map[WatchID]*wtLog), changed: make(chan struct{})}
	go func() {
		for r := range ws.C() {
			c.mu.Lock()
			c.logLocked(r.WatchID).add(r)
			c.signalLocked()
			c.mu.Unlock()
		}
		c.mu.Lock()
		c.closed = true
		c.signalLocked()
		c.mu.Unlock()
	}()
	return c
}

func (c *wtCollector) signalLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *wtCollector) logLocked(id WatchID) *wtLog {
	l := c.logs[id]
	if l == nil {
		l = &wtLog{id: id}
		c.logs[id] = l
	}
	return l
}

// waitFor waits until pred (called with c.mu held) holds.
func (c *wtCollector) waitFor(t testing.TB, deadline time.Time, what string, pred func() bool) {
	t.Helper()
	for {
		c.mu.Lock()
		ok, closed, ch := pred(), c.closed, c.changed
		c.mu.Unlock()
		if ok {
			return
		}
		if closed {
			t.Fatalf("waiting for %s: stream closed", what)
		}
		timer := time.NewTimer(time.Until(deadline))
		select {
		case <-ch:
			timer.Stop()
		case <-timer.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// barrier waits until each of ids has received a progress notification at rev or later: by
// the progress guarantee, each has then received all of its events up to rev. Watchers that
// were canceled by the store are skipped.
func (c *wtCollector) barrier(t testing.TB, rev int64, ids ...WatchID) {
	t.Helper()
	deadline := time.Now().Add(wtTimeout)
	for {
		counts := make(map[WatchID]int)
		c.mu.Lock()
		for _, id := range ids {
			if l := c.logLocked(id); l.maxProg < rev && l.canceled == nil && l.err == nil {
				counts[id] = len(l.progress)
			}
		}
		c.mu.Unlock()
		if len(counts) == 0 {
			return
		}
		c.ws.RequestProgress()
		c.waitFor(t, deadline, fmt.Sprintf("progress at %d", rev), func() bool {
			for id, n := range counts {
				if l := c.logs[id]; len(l.progress) == n && l.canceled == nil && l.err == nil {
					return false
				}
			}
			return true
		})
	}
}

// ---- a harness of watchers checked against the model -------------------------------------

type wtWatcher struct {
	c        *wtCollector
	id       WatchID
	spec     wtSpec
	canceled bool // canceled by the test: a prefix of the expected events is enough

	want    []Event // expected events, computed at model revision wantRev
	wantRev int64
}

// want returns the events w must receive, given everything written so far.
func (h *wtHarness) want(w *wtWatcher) []Event {
	if w.want == nil || w.wantRev != h.wr.m.rev {
		w.want, w.wantRev = h.wr.m.expect(w.spec), h.wr.m.rev
	}
	return w.want
}

type wtHarness struct {
	t        testing.TB
	s        *Store
	wr       *wtWriter
	watchers []*wtWatcher
}

func newWtHarness(t testing.TB, s *Store) *wtHarness {
	return &wtHarness{t: t, s: s, wr: newWtWriter(t, s)}
}

// watch adds a watcher; its expected events start at StartRev, or after the current
// revision for StartRev <= 0. The harness names watchers with explicit IDs it never reuses:
// AutoWatchID would reuse a canceled watcher's ID, and the responses of the two could not be
// told apart.
func (h *wtHarness) watch(c *wtCollector, req WatchRequest) *wtWatcher {
	h.t.Helper()
	req.ID = c.nextID
	c.nextID++
	id := wtMustWatch(h.t, c.ws, req)
	from := req.StartRev
	if from <= 0 {
		from = h.wr.m.rev + 1
	}
	w := &wtWatcher{c: c, id: id, spec: wtSpec{key: req.Key, end: req.RangeEnd, from: from, prevKV: req.PrevKV, noPut: req.NoPut, noDelete: req.NoDelete}}
	h.watchers = append(h.watchers, w)
	return w
}

// startReading starts the reader of a stream whose watchers were added on the placeholder
// p (a collector without a reader, so that the stream stays unread until now).
func (h *wtHarness) startReading(p *wtCollector) *wtCollector {
	c := wtCollect(p.ws)
	c.nextID = p.nextID
	for _, w := range h.watchers {
		if w.c == p {
			w.c = c
		}
	}
	return c
}

func (h *wtHarness) cancel(w *wtWatcher) {
	h.t.Helper()
	if err := w.c.ws.Cancel(w.id); err != nil {
		h.t.Fatalf("cancel %d: %v", w.id, err)
	}
	w.canceled = true
}

func (h *wtHarness) log(w *wtWatcher) *wtLog {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	return w.c.logLocked(w.id)
}

// checkAll waits for every live watcher to have received everything up to the current
// revision, then compares every watcher's events with the model's.
func (h *wtHarness) checkAll() {
	h.t.Helper()
	rev := h.wr.m.rev
	byStream := make(map[*wtCollector][]WatchID)
	for _, w := range h.watchers {
		if !w.canceled {
			byStream[w.c] = append(byStream[w.c], w.id)
		}
	}
	for c, ids := range byStream {
		c.barrier(h.t, rev, ids...)
	}
	failed := 0
	for _, w := range h.watchers {
		l := h.log(w)
		w.c.mu.Lock()
		err := l.check(h.want(w), w.canceled)
		if err == nil && l.canceled != nil && (!w.canceled || l.canceled.CompactRevision != 0) {
			// A watcher the test canceled may get a Canceled response (its last, which
			// wtLog checks), with no compact revision; others must not be canceled.
			err = fmt.Errorf("watch %d: unexpectedly canceled: %s", w.id, wtFmtResp(l.canceled))
		}
		w.c.mu.Unlock()
		if err != nil {
			failed++
			if failed <= 10 {
				h.t.Errorf("watcher %s: %v", w.spec, err)
			}
		}
	}
	if failed > 10 {
		h.t.Errorf("... %d watchers failed in all", failed)
	}
}

// ---- tests ------------------------------------------------------------------------------

// TestWatchRangeConventions: a watcher on a single key, on [key, end), on every key >= key,
// on all keys, on a prefix, and on empty ranges sees exactly the changes in its range.
func TestWatchRangeConventions(t *testing.T) {
	s := wtOpenStore(t)
	h := newWtHarness(t, s)
	c := wtCollect(s.NewWatchStream(1024))
	for _, r := range [][2]string{
		{"a", ""},          // the single key "a", not "ab" nor "a\x00"
		{"ab", ""},         // single key
		{"a", "\x00"},      // every key >= "a"
		{"\x00", "\x00"},   // every key
		{"a", "c"},         // [a, c)
		{"p/", "p0"},       // the prefix "p/"
		{"b", "b"},         // empty
		{"c", "a"},         // empty: end before key
		{"\x00", "\x01"},   // just the key "\x00"
		{"zz", "\x00"},     // keys >= "zz"
		{"p/x", "p/x\x00"}, // the single key "p/x", written as a range
	} {
		h.watch(c, WatchRequest{Key: []byte(r[0]), RangeEnd: []byte(r[1])})
	}
	keys := []string{"a", "ab", "a\x00", "b", "c", "p", "p/", "p/x", "p/y/z", "p0", "\x00", "\x01", "zz", "zz\xff"}
	for i, k := range keys {
		h.wr.put(k, fmt.Sprint(i))
	}
	h.wr.txn(wtPutC("a", "again"), wtPutC("p/x", "again"), wtDelC("zz"))
	h.wr.deleteRange("p/", "p0")
	h.wr.deleteKeys("a", "b", "nope")
	h.wr.deleteRange("\x00", "\x00")
	h.checkAll()
	// A watcher that saw something must have seen the right thing; check a few by hand
	// so that the model's own range logic is not the only judge.
	if got := len(h.log(h.watchers[0]).events); got != 3 { // put, put (txn), delete (keys)
		t.Errorf("single key %q: %d events, want 3", "a", got)
	}
	for _, i := range []int{6, 7} {
		if got := len(h.log(h.watchers[i]).events); got != 0 {
			t.Errorf("empty range %s: %d events, want 0", h.watchers[i].spec, got)
		}
	}
	if got, want := len(h.log(h.watchers[3]).events), len(h.wr.m.hist); got != want {
		t.Errorf("all keys: %d events, want every one of the %d", got, want)
	}
}

// TestWatchFilters: NoPut, NoDelete and PrevKV (the previous version of the key; nil for a
// create), served live and by catch-up from history.
func TestWatchFilters(t *testing.T) {
	s := wtOpenStore(t)
	h := newWtHarness(t, s)
	live := wtCollect(s.NewWatchStream(1024))
	reqs := []WatchRequest{
		{Key: []byte("k"), RangeEnd: []byte("l"), NoPut: true},
		{Key: []byte("k"), RangeEnd: []byte("l"), NoDelete: true},
		{Key: []byte("k"), RangeEnd: []byte("l"), PrevKV: true},
		{Key: []byte("k"), RangeEnd: []byte("l"), PrevKV: true, NoPut: true},
		{Key: []byte("k"), RangeEnd: []byte("l"), NoPut: true, NoDelete: true},
		{Key: []byte("k1"), PrevKV: true},
	}
	for _, r := range reqs {
		h.watch(live, r)
	}
	write := func() {
		h.wr.put("k1", "a")                            // create: PrevKV nil
		h.wr.put("k1", "b")                            // PrevKV k1=a
		h.wr.txn(wtPutC("k2", "x"), wtPutC("k1", "c")) // two events, one revision
		h.wr.deleteRange("k1", "")                     // PrevKV k1=c
		h.wr.put("k1", "d")                            // a new generation: PrevKV nil, version 1
		h.wr.deleteKeys("k1", "k2")
		h.wr.put("other", "z") // outside every range
	}
	write()
	// The same filters served from history: a stream whose watchers start in the past.
	start := s.Rev() + 1
	write()
	hist := wtCollect(s.NewWatchStream(1))
	for _, r := range reqs {
		r.StartRev = start
		h.watch(hist, r)
	}
	write()
	h.checkAll()

	// Spot checks, independent of the model.
	l := h.log(h.watchers[5]) // k1 with PrevKV, live from the first write
	if len(l.events) < 5 {
		t.Fatalf("k1 watcher got %d events", len(l.events))
	}
	if l.events[0].PrevKV != nil {
		t.Errorf("PrevKV of a create: %+v, want nil", l.events[0].PrevKV)
	}
	if p := l.events[1].PrevKV; p == nil || string(p.Value) != "a" || p.Version != 1 {
		t.Errorf("PrevKV of the second put: %+v, want k1=a version 1", p)
	}
	if ev := l.events[3]; ev.Type != EventDelete || ev.PrevKV == nil || string(ev.PrevKV.Value) != "c" {
		t.Errorf("delete event: %s, want a delete with PrevKV k1=c", wtFmtEvent(&ev))
	}
	if ev := l.events[4]; ev.PrevKV != nil || ev.KV.Version != 1 {
		t.Errorf("put after delete: %s, want version 1 and no PrevKV", wtFmtEvent(&ev))
	}
	for _, ev := range h.log(h.watchers[0]).events {
		if ev.Type != EventDelete {
			t.Errorf("NoPut watcher got %s", wtFmtEvent(&ev))
		}
	}
	for _, ev := range h.log(h.watchers[1]).events {
		if ev.Type != EventPut {
			t.Errorf("NoDelete watcher got %s", wtFmtEvent(&ev))
		}
	}
	if n := len(h.log(h.watchers[4]).events); n != 0 {
		t.Errorf("NoPut+NoDelete watcher got %d events", n)
	}
}

// TestWatchStartRev: a past start revision replays the history from there, then continues
// live; a future one delivers only events at or after it; StartRev <= 0 means from now.
func TestWatchStartRev(t *testing.T) {
	s := wtOpenStore(t)
	h := newWtHarness(t, s)
	fast := wtCollect(s.NewWatchStream(1024))
	slow := wtCollect(s.NewWatchStream(1))
	all := func(start int64) WatchRequest {
		return WatchRequest{Key: []byte{0}, RangeEnd: []byte{0}, StartRev: start}
	}
	h.watch(fast, all(1)) // from the very beginning of a new store
	for i := 0; i < 20; i++ {
		h.wr.put(fmt.Sprintf("k%d", i%7), fmt.Sprint(i))
	}
	cur := s.Rev()
	for _, c := range []*wtCollector{fast, slow} {
		h.watch(c, all(2))
		h.watch(c, all(cur-5))
		h.watch(c, all(cur)) // exactly the current revision: replays it
		h.watch(c, all(cur+1))
		h.watch(c, all(cur+4)) // future
		h.watch(c, all(0))
		h.watch(c, all(-7))
		h.watch(c, WatchRequest{Key: []byte("k3"), StartRev: 3})
	}
	for i := 0; i < 10; i++ {
		h.wr.put(fmt.Sprintf("k%d", i%7), fmt.Sprint(i))
	}
	h.checkAll()
	// By hand: the future watcher's first event is at cur+4, the past one's at 2.
	if ev := h.log(h.watchers[5]).events; len(ev) == 0 || ev[0].KV.ModRevision != cur+4 {
		t.Errorf("future watcher: first event %v, want revision %d", ev, cur+4)
	}
	if ev := h.log(h.watchers[1]).events; len(ev) == 0 || ev[0].KV.ModRevision != 2 {
		t.Errorf("watcher from 2: first event %v, want revision 2", ev)
	}
}

// TestWatchAtomicRevisions: a txn with several puts, a DeleteRange deleting many keys and
// Write.DeleteKeys each arrive in one response, live and through catch-up, even when a
// revision holds more records than one catch-up step reads.
func TestWatchAtomicRevisions(t *testing.T) {
	s := wtOpenStore(t)
	h := newWtHarness(t, s)
	all := WatchRequest{Key: []byte{0}, RangeEnd: []byte{0}}
	fast := wtCollect(s.NewWatchStream(1024))
	h.watch(fast, all)
	h.watch(fast, WatchRequest{Key: []byte("m/"), RangeEnd: []byte("m0"), PrevKV: true})
	slowWS := s.NewWatchStream(1) // read only at the end: everything comes from history
	slowC := &wtCollector{ws: slowWS}
	h.watch(slowC, all)

	big := catchUpChunk + catchUpChunk/2
	keys := make([]string, big)
	h.wr.session(func() {
		for i := range keys {
			keys[i] = fmt.Sprintf("m/%05d", i)
			h.wr.put(keys[i], "1") // a revision each
		}
	})
	h.wr.put("y", "0")
	h.wr.txn(wtPutC("m/00001", "2"), wtPutC("m/00002", "2"), wtPutC("x", "2"), wtDelC("y"))
	h.wr.deleteRange("m/", "m0") // one revision, more records than a catch-up step
	h.wr.session(func() {
		for _, k := range keys {
			h.wr.put(k, "3")
		}
	})
	h.wr.deleteKeys(keys...) // one revision again
	h.wr.put("x", "last")

	// Start the slow stream's reader only now, and add a catch-up watcher from the start.
	slow := h.startReading(slowC)
	h.watch(slow, WatchRequest{Key: []byte{0}, RangeEnd: []byte{0}, StartRev: 2})
	h.checkAll()

	// Independently: the response holding the DeleteRange revision holds all its deletes.
	l := h.log(h.watchers[len(h.watchers)-1])
	byRev := make(map[int64]int)
	for _, ev := range l.events {
		byRev[ev.KV.ModRevision]++
	}
	n := 0
	for _, c := range byRev {
		if c == big {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d revisions with %d events, want 2 (the delete range and the delete keys)", n, big)
	}
}

// TestWatchRandomized: random operations (puts, multi-op txns, range deletes, DeleteKeys,
// sessions of several) against many watchers on overlapping and identical ranges, with
// filters and past, present and future start revisions, on streams that keep up, that
// overflow all the time, and one that is read only at the end; some watchers are added
// and canceled midway and progress is requested at random. Every watcher must see exactly
// the model's events for it.
func TestWatchRandomized(t *testing.T) {
	rng := wtRand(t)
	s := wtOpenStore(t)
	h := newWtHarness(t, s)
	keys := []string{"a", "ab", "abc", "b", "ba", "bb", "c", "p/1", "p/2", "p/22", "p/3", "q", "zz", "\x00", "\xff"}
	ranges := [][2]string{{"\x00", "\x00"}, {"p/", "p0"}, {"a", "b"}, {"b", "\x00"}, {"ab", "p/2"}, {"q", "r"}}
	for _, k := range keys {
		ranges = append(ranges, [2]string{k, ""})
	}
	var cs []*wtCollector
	for _, size := range []int{1024, 1, 3, 16} {
		cs = append(cs, wtCollect(s.NewWatchStream(size)))
	}
	slowWS := s.NewWatchStream(2)
	slowC := &wtCollector{ws: slowWS} // its reader starts at the end
	var specs []WatchRequest
	newReq := func() WatchRequest {
		var r WatchRequest
		if len(specs) > 0 && rng.Intn(3) == 0 { // same range as an earlier watcher: a shared group
			r = specs[rng.Intn(len(specs))]
		} else {
			kr := ranges[rng.Intn(len(ranges))]
			if rng.Intn(4) == 0 {
				a, b := keys[rng.Intn(len(keys))], keys[rng.Intn(len(keys))]
				kr = [2]string{a, b}
			}
			r = WatchRequest{Key: []byte(kr[0]), RangeEnd: []byte(kr[1])}
		}
		r.PrevKV = rng.Intn(3) == 0
		r.NoPut = rng.Intn(8) == 0
		r.NoDelete = rng.Intn(8) == 0
		r.StartRev = 0
		switch cur := s.Rev(); rng.Intn(4) {
		case 0:
			r.StartRev = 1 + rng.Int63n(cur) // the past, maybe the current revision
		case 1:
			r.StartRev = cur + 1 + rng.Int63n(5) // the future
		}
		specs = append(specs, r)
		return r
	}
	for _, c := range append(cs, slowC) {
		for i := 0; i < 8; i++ {
			h.watch(c, newReq())
		}
	}
	ops := 2000
	if testing.Short() {
		ops = 500
	}
	for i := 0; i < ops; i++ {
		h.wr.random(rng, keys)
		switch r := rng.Intn(100); {
		case r < 3:
			h.watch(cs[rng.Intn(len(cs))], newReq())
		case r < 4:
			var live []*wtWatcher
			for _, w := range h.watchers {
				if !w.canceled && w.c != slowC {
					live = append(live, w)
				}
			}
			if len(live) > 0 {
				h.cancel(live[rng.Intn(len(live))])
			}
		case r < 8:
			cs[rng.Intn(len(cs))].ws.RequestProgress()
		}
	}
	h.startReading(slowC)
	h.checkAll()
	t.Logf("%d revisions, %d events, %d watchers", s.Rev(), len(h.wr.m.hist), len(h.watchers))
}

// TestWatchSameRangeManyWatchers: many watchers on one key and on one range, over several
// streams, share a group each; every one gets exactly its events, including after some
// are canceled; and the groups are gone when their last watcher is.
func TestWatchSameRangeManyWatchers(t *testing.T) {
	s := wtOpenStore(t)
	h := newWtHarness(t, s)
	var cs []*wtCollector
	for i := 0; i < 4; i++ {
		cs = append(cs, wtCollect(s.NewWatchStream(256)))
	}
	for i := 0; i < 200; i++ {
		req := WatchRequest{Key: []byte("hot")}
		if i%2 == 1 {
			req = WatchRequest{Key: []byte("h"), RangeEnd: []byte("i")}
		}
		req.PrevKV = i%5 == 0
		req.NoDelete = i%7 == 0
		h.watch(cs[i%len(cs)], req)
	}
	s.hub.mu.Lock()
	singles, rangeGroups := len(s.hub.synced.single), len(s.hub.synced.ranges)
	s.hub.mu.Unlock()
	if singles != 1 || rangeGroups != 1 {
		t.Errorf("200 watchers on one key and one range make %d single-key and %d range groups, want 1 and 1", singles, rangeGroups)
	}
	for i := 0; i < 30; i++ {
		h.wr.put("hot", fmt.Sprint(i))
		h.wr.put("hz", fmt.Sprint(i))
		if i%10 == 9 {
			h.wr.deleteKeys("hot", "hz")
		}
		if i == 15 {
			for j := 0; j < len(h.watchers); j += 3 {
				h.cancel(h.watchers[j])
			}
		}
	}
	h.checkAll()
	for _, w := range h.watchers {
		if !w.canceled {
			h.cancel(w)
		}
	}
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if n, m, g := len(s.hub.synced.single), len(s.hub.synced.ranges), len(s.hub.synced.ri.groups); n+m+g != 0 {
		t.Errorf("after canceling every watcher: %d single-key groups, %d range groups, %d indexed ranges left", n, m, g)
	}
}

// TestWatchProgress: a progress notification has no events and a revision R such that
// every event <= R was already delivered and none arrives after it; for a synced watcher on
// a quiet store R is the current revision. Checked for synced and lagging watchers, with
// progress requested while writes go on.
func TestWatchProgress(t *testing.T) {
	s := wtOpenStore(t)
	h := newWtHarness(t, s)
	h.wr.put("a", "1")

	// Quiet store, synced watchers: one notification each, at the current revision.
	ws := s.NewWatchStream(16)
	ids := map[WatchID]bool{wtMustWatch(t, ws, WatchRequest{ID: AutoWatchID, Key: []byte("a")}): true}
	ids[wtMustWatch(t, ws, WatchRequest{ID: AutoWatchID, Key: []byte("b"), RangeEnd: []byte("c")})] = true
	ids[wtMustWatch(t, ws, WatchRequest{ID: AutoWatchID, Key: []byte("z"), StartRev: s.Rev() + 10})] = true
	ws.RequestProgress()
	for range ids {
		r := wtRecv(t, ws, wtTimeout)
		if !ids[r.WatchID] || len(r.Events) != 0 || r.Canceled || r.Revision != s.Rev() {
			t.Errorf("progress response %s, want one per watcher with no events at revision %d", wtFmtResp(&r), s.Rev())
		}
		delete(ids, r.WatchID)
	}
	ws.Close()

	// Progress requested at random while writes go on, on a stream that keeps up and on
	// streams that lag; wtLog checks no event at or below a notification's revision comes
	// after it, and check() that every event at or below it came before it.
	rng := wtRand(t)
	streams := []*wtCollector{wtCollect(s.NewWatchStream(1024)), wtCollect(s.NewWatchStream(1)), wtCollect(s.NewWatchStream(4))}
	for _, c := range streams {
		h.watch(c, WatchRequest{Key: []byte{0}, RangeEnd: []byte{0}})
		h.watch(c, WatchRequest{Key: []byte("k1")})
		h.watch(c, WatchRequest{Key: []byte("k"), RangeEnd: []byte("k5"), StartRev: 2})
	}
	keys := []string{"k1", "k2", "k3", "k7", "x"}
	n := 3000
	if testing.Short() {
		n = 800
	}
	for i := 0; i < n; i++ {
		h.wr.random(rng, keys)
		if rng.Intn(10) == 0 {
			streams[rng.Intn(len(streams))].ws.RequestProgress()
		}
	}
	// A lagging watcher: replays the whole history at the pace of a one-slot channel, with
	// progress requested before it has caught up.
	lag := s.NewWatchStream(1)
	lagC := wtCollect(lag)
	h.watch(lagC, WatchRequest{Key: []byte{0}, RangeEnd: []byte{0}, StartRev: 2})
	lag.RequestProgress()
	h.checkAll()
	total := 0
	for _, c := range append(streams, lagC) {
		c.mu.Lock()
		for _, l := range c.logs {
			total += len(l.progress)
		}
		c.mu.Unlock()
	}
	if total == 0 {
		t.Errorf("no progress notifications received")
	}
}

// TestWatchSlowConsumerCatchUp is the slow consumer test: one stream with a 4-response
// channel, read only now and then while 100,000 events are written (single-put sessions,
// sessions of many puts, multi-put txns, range deletes, DeleteKeys) and not at all for the
// last tenth, must be neither dropped nor gapped. Meanwhile watchers on other streams keep
// up: they receive every event while the slow stream is still backlogged (unsynced). Then
// the slow stream is drained and must deliver all the events in order, without gaps or
// duplicates, each revision whole. With -short: 10,000 events.
func TestWatchSlowConsumerCatchUp(t *testing.T) {
	total := 100_000
	if testing.Short() {
		total = 10_000
	}
	rng := wtRand(t)
	s := wtOpenStore(t)
	h := newWtHarness(t, s)

	slow := s.NewWatchStream(4)
	slowLogs := make(map[WatchID]*wtLog)
	slowSpecs := []wtSpec{
		{key: []byte{0}, end: []byte{0}, from: 2},
		{key: []byte("k/1"), end: []byte("k/2"), from: 2, prevKV: true},
	}
	var slowIDs []WatchID
	for _, sp := range slowSpecs {
		id := wtMustWatch(t, slow, WatchRequest{ID: AutoWatchID, Key: sp.key, RangeEnd: sp.end, PrevKV: sp.prevKV})
		slowIDs = append(slowIDs, id)
		slowLogs[id] = &wtLog{id: id}
	}
	readSlow := func(r WatchResponse) {
		l := slowLogs[r.WatchID]
		if l == nil {
			t.Fatalf("slow stream: response for unknown watcher %s", wtFmtResp(&r))
		}
		l.add(r)
	}

	for i := 0; i < 3; i++ {
		c := wtCollect(s.NewWatchStream(1024))
		h.watch(c, WatchRequest{Key: []byte{0}, RangeEnd: []byte{0}})
		h.watch(c, WatchRequest{Key: []byte("k/1"), RangeEnd: []byte("k/2"), PrevKV: true})
		h.watch(c, WatchRequest{Key: []byte("k/0042")})
		h.watch(c, WatchRequest{Key: []byte("k/"), RangeEnd: []byte("k0"), NoDelete: true})
	}

	const nkeys = 3000
	key := func() string { return fmt.Sprintf("k/%04d", rng.Intn(nkeys)) }
	val := func() string { return fmt.Sprintf("v%d", rng.Intn(1_000_000)) }
	stopReading := total * 9 / 10
	nextRead := total / 20
	slowReads := 0
	for len(h.wr.m.hist) < total {
		left := total - len(h.wr.m.hist)
		switch r := rng.Intn(100); {
		case r < 40:
			h.wr.put(key(), val())
		case r < 70:
			h.wr.session(func() {
				for n := min(1+rng.Intn(200), left); n > 0; n-- {
					h.wr.put(key(), val())
				}
			})
		case r < 85:
			seen := map[string]bool{}
			var cs []wtChange
			for n := min(2+rng.Intn(5), left); len(cs) < n; {
				if k := key(); !seen[k] {
					seen[k] = true
					cs = append(cs, wtPutC(k, val()))
				}
			}
			h.wr.txn(cs...)
		case r < 93: // up to 100 keys at one revision
			p := fmt.Sprintf("k/%02d", rng.Intn(nkeys/100))
			h.wr.deleteRange(p, p+"\xff")
		default:
			ks := make([]string, 2+rng.Intn(10))
			for i := range ks {
				ks[i] = key()
			}
			h.wr.deleteKeys(ks...)
		}
		if n := len(h.wr.m.hist); n >= nextRead && n < stopReading {
			// The slow consumer wakes up now and then and reads a couple of responses.
			for i := 0; i < 2; i++ {
				select {
				case r := <-slow.C():
					readSlow(r)
					slowReads++
				default:
				}
			}
			nextRead += total / 20
		}
	}
	rev := s.Rev()
	t.Logf("%d events in %d revisions; the slow stream was read %d times while writing", len(h.wr.m.hist), rev-1, slowReads)

	// The fast watchers have everything while the slow stream is still backlogged.
	deadline := time.Now().Add(wtTimeout)
	for _, w := range h.watchers {
		want := len(h.want(w))
		w.c.waitFor(t, deadline, fmt.Sprintf("fast watcher %s to receive %d events", w.spec, want), func() bool {
			l := w.c.logLocked(w.id)
			return len(l.events) >= want || l.err != nil
		})
	}
	wtSpin(t, "the slow stream's channel to be full", func() bool { return len(slow.C()) == cap(slow.C()) })
	s.hub.mu.Lock()
	for _, id := range slowIDs {
		if w := slow.watchers[id]; w == nil || w.synced {
			t.Errorf("slow watcher %d is synced (or gone) before its stream was drained: the test did not exercise catch-up", id)
		}
	}
	s.hub.mu.Unlock()
	h.checkAll()

	// Drain the slow stream.
	slowWant := make([][]Event, len(slowSpecs))
	for i, id := range slowIDs {
		slowWant[i] = h.wr.m.expect(slowSpecs[i])
		for l := slowLogs[id]; len(l.events) < len(slowWant[i]) && l.err == nil; {
			readSlow(wtRecv(t, slow, wtTimeout))
		}
	}
	// Both catch up to the current revision: a progress notification at it each (a
	// watcher still finishing its last catch-up step may first report less: ask again).
	slow.RequestProgress()
	for pending := map[WatchID]bool{slowIDs[0]: true, slowIDs[1]: true}; len(pending) > 0; {
		r := wtRecv(t, slow, wtTimeout)
		readSlow(r)
		if len(r.Events) == 0 && !r.Canceled {
			if r.Revision >= rev {
				delete(pending, r.WatchID)
			} else {
				slow.RequestProgress()
			}
		}
	}
	for i, id := range slowIDs {
		l := slowLogs[id]
		if err := l.check(slowWant[i], false); err != nil {
			t.Errorf("slow watcher %s: %v", slowSpecs[i], err)
		}
		t.Logf("slow watcher %s: %d events in %d responses", slowSpecs[i], len(l.events), l.nresp)
	}
}

// TestWatchCompactedStartRev: a watcher starting below the compacted revision is canceled
// with the compacted revision; one starting exactly at it sees every event of that
// revision, the delete (kept as a tombstone at the compaction revision) included.
func TestWatchCompactedStartRev(t *testing.T) {
	s := wtOpenStore(t)
	h := newWtHarness(t, s)
	h.wr.put("a", "1")                                        // 2
	h.wr.put("a", "2")                                        // 3
	h.wr.txn(wtPutC("b", "1"), wtPutC("c", "1"), wtDelC("a")) // 4: put b, put c, delete a
	h.wr.put("d", "1")                                        // 5
	const compactAt = 4
	done, err := s.Compact(compactAt)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(wtTimeout):
		t.Fatal("compaction did not finish")
	}
	if _, err := s.Range(RangeRequest{Key: []byte("a"), Revision: 3}); !errors.Is(err, ErrCompacted) {
		t.Fatalf("range at 3 after compacting at 4: %v, want ErrCompacted", err)
	}

	for _, start := range []int64{1, 2, 3} {
		ws := s.NewWatchStream(4)
		id := wtMustWatch(t, ws, WatchRequest{ID: AutoWatchID, Key: []byte{0}, RangeEnd: []byte{0}, StartRev: start})
		r := wtRecv(t, ws, wtTimeout)
		if r.WatchID != id || !r.Canceled || r.CompactRevision != compactAt || len(r.Events) != 0 {
			t.Errorf("watch from %d after compacting at %d: %s, want canceled with compact revision %d", start, compactAt, wtFmtResp(&r), compactAt)
		}
		if err := ws.Cancel(id); !errors.Is(err, ErrWatchNotFound) {
			t.Errorf("the canceled watcher is still registered: Cancel = %v", err)
		}
		ws.Close()
	}

	c := wtCollect(s.NewWatchStream(1))
	all := h.watch(c, WatchRequest{Key: []byte{0}, RangeEnd: []byte{0}, StartRev: compactAt})
	h.watch(c, WatchRequest{Key: []byte("a"), StartRev: compactAt})
	h.watch(c, WatchRequest{Key: []byte{0}, RangeEnd: []byte{0}, StartRev: compactAt, NoPut: true})
	h.watch(c, WatchRequest{Key: []byte("b"), RangeEnd: []byte("z"), StartRev: compactAt + 1})
	h.wr.put("a", "new")
	h.checkAll()
	l := h.log(all)
	if len(l.events) != 5 || l.events[2].Type != EventDelete || string(l.events[2].KV.Key) != "a" || l.events[2].KV.ModRevision != compactAt {
		t.Errorf("watch from the compaction revision: %d events %v, want put b, put c, delete a at %d, put d, put a", len(l.events), l.events, compactAt)
	}
}

// TestWatchLaggingWatcherCompacted: a slow watcher whose next revision is compacted while
// it lags is canceled with the compacted revision, after a gap-free prefix of its events.
func TestWatchLaggingWatcherCompacted(t *testing.T) {
	s := wtOpenStore(t)
	h := newWtHarness(t, s)
	ws := s.NewWatchStream(1)
	id := wtMustWatch(t, ws, WatchRequest{ID: AutoWatchID, Key: []byte("k"), RangeEnd: []byte("l")})
	spec := wtSpec{key: []byte("k"), end: []byte("l"), from: s.Rev() + 1}
	h.wr.put("k", "first") // fills the one-slot channel
	// More than three catch-up steps of history: the watcher cannot get past the first
	// step before the channel is read.
	for i := 0; i < 3*catchUpChunk; i += 100 {
		h.wr.session(func() {
			for j := 0; j < 100; j++ {
				h.wr.put(fmt.Sprintf("k%d", j%10), fmt.Sprint(i+j))
			}
		})
	}
	compactAt := s.Rev() - catchUpChunk/2
	if _, err := s.Compact(compactAt); err != nil {
		t.Fatal(err)
	}
	h.wr.put("k", "after")
	l := &wtLog{id: id}
	for l.canceled == nil && l.err == nil {
		r := wtRecv(t, ws, wtTimeout)
		if r.WatchID != id {
			t.Fatalf("response for an unknown watcher: %s", wtFmtResp(&r))
		}
		l.add(r)
	}
	if err := l.check(h.wr.m.expect(spec), true); err != nil {
		t.Fatalf("before the cancel: %v", err)
	}
	if l.canceled.CompactRevision != compactAt {
		t.Errorf("canceled with compact revision %d, want %d", l.canceled.CompactRevision, compactAt)
	}
	if n := len(l.events); n == 0 || l.events[n-1].KV.ModRevision >= compactAt-1 {
		t.Errorf("delivered %d events up to revision %d before the cancel; the test meant the watcher to lag behind %d", n, l.lastRev, compactAt)
	}
	if err := ws.Cancel(id); !errors.Is(err, ErrWatchNotFound) {
		t.Errorf("the canceled watcher is still registered: Cancel = %v", err)
	}
}

// TestWatchCancel: Cancel's errors and ID allocation; a canceled watcher gets a Canceled
// response (no compact revision) as its last, nothing written after the cancel, and its ID
// is free again once that response is out; events already delivered stay.
func TestWatchCancel(t *testing.T) {
	s := wtOpenStore(t)
	fresh := s.NewWatchStream(4)
	for want := WatchID(0); want < 3; want++ {
		if id, err := fresh.Watch(WatchRequest{ID: AutoWatchID, Key: []byte("k")}); err != nil || id != want {
			t.Errorf("auto ID on a fresh stream: %d, %v; want %d", id, err, want)
		}
	}
	fresh.Close()
	ws := s.NewWatchStream(64)
	if err := ws.Cancel(7); !errors.Is(err, ErrWatchNotFound) {
		t.Errorf("cancel of an unknown ID: %v, want ErrWatchNotFound", err)
	}
	mk := func(id WatchID, key string) (WatchID, error) {
		return ws.Watch(WatchRequest{ID: id, Key: []byte(key)})
	}
	for _, tc := range []struct {
		id, want WatchID
		key      string
		err      error
	}{
		{0, 0, "x", nil},
		{2, 2, "y", nil},
		{AutoWatchID, 1, "z", nil},
		{AutoWatchID, 3, "s", nil},
		{2, 0, "y", ErrWatchIDExists},
		{AutoWatchID, 0, "", ErrEmptyKey},
		{100, 100, "x", nil},
		{AutoWatchID, 4, "x", nil},
	} {
		got, err := mk(tc.id, tc.key)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("watch id %d key %q: %v, want %v", tc.id, tc.key, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("watch id %d: got %d, %v; want %d", tc.id, got, err, tc.want)
		}
	}
	if _, err := mk(-5, "x"); err == nil {
		t.Errorf("a negative explicit ID was accepted")
	}
	if err := ws.Cancel(1); err != nil {
		t.Fatal(err)
	}
	if err := ws.Cancel(1); !errors.Is(err, ErrWatchNotFound) {
		t.Errorf("second cancel: %v, want ErrWatchNotFound", err)
	}
	if r := wtRecv(t, ws, wtTimeout); r.WatchID != 1 || !r.Canceled || r.CompactRevision != 0 || len(r.Events) != 0 {
		t.Errorf("after Cancel(1): %s, want a Canceled response for 1 without compact revision", wtFmtResp(&r))
	}
	if id, err := mk(AutoWatchID, "z"); err != nil || id != 1 {
		t.Errorf("auto ID once 1's Canceled response is out: %d, %v; want 1", id, err)
	}

	// IDs 0, 4 and 100 watch "x"; 3 watches "s", the sentinel. The event in the channel
	// before the cancel stays; nothing written after it comes; Canceled comes last.
	s.Put(PutRequest{Key: []byte("x"), Value: []byte("1")})
	if err := ws.Cancel(0); err != nil {
		t.Fatal(err)
	}
	if err := ws.Cancel(100); err != nil {
		t.Fatal(err)
	}
	s.Put(PutRequest{Key: []byte("x"), Value: []byte("2")})
	s.Put(PutRequest{Key: []byte("s"), Value: []byte("sentinel")})
	got := map[WatchID][]string{}
	for got[3] == nil || got[0] == nil || got[100] == nil || got[0][len(got[0])-1] != "canceled" || got[100][len(got[100])-1] != "canceled" {
		r := wtRecv(t, ws, wtTimeout)
		if r.Canceled {
			got[r.WatchID] = append(got[r.WatchID], "canceled")
		}
		for _, ev := range r.Events {
			got[r.WatchID] = append(got[r.WatchID], string(ev.KV.Value))
		}
	}
	want := map[WatchID][]string{0: {"1", "canceled"}, 100: {"1", "canceled"}, 4: {"1", "2"}, 3: {"sentinel"}}
	for id, w := range want {
		if fmt.Sprint(got[id]) != fmt.Sprint(w) {
			t.Errorf("watch %d received %q, want %q", id, got[id], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("responses for watchers %v, want only %v", got, want)
	}
}

// TestWatchCancelDuringCatchUp: Cancel while the stream's goroutine holds catch-up
// responses for the watchers it cancels, not yet in the full channel. The contract (Cancel's
// doc): those responses, already under way, may still come; then a Canceled response (no
// compact revision), the watcher's last; nothing written after Cancel returned is ever
// delivered for it, and what it got is a gap-free prefix of its history. Five watchers
// (ys) and z lag from the same revision, so one catch-up step collects them all; z's
// history spans more than one step, so once z has everything that step is over.
func TestWatchCancelDuringCatchUp(t *testing.T) {
	s := wtOpenStore(t)
	wr := newWtWriter(t, s)
	underWay := 0
	for it := 0; it < 3; it++ {
		ws := s.NewWatchStream(1)
		f := wtMustWatch(t, ws, WatchRequest{ID: AutoWatchID, Key: []byte("f")})
		ys := make(map[WatchID]*wtLog)
		yKey := make(map[WatchID]string)
		for i := 0; i < 5; i++ {
			k := fmt.Sprintf("y%d/%d", it, i)
			id := wtMustWatch(t, ws, WatchRequest{ID: AutoWatchID, Key: []byte(k)})
			ys[id], yKey[id] = &wtLog{id: id}, k
		}
		zKey := fmt.Sprintf("z%d", it)
		z := wtMustWatch(t, ws, WatchRequest{ID: AutoWatchID, Key: []byte(zKey)})
		from := s.Rev() + 1
		wr.put("f", "fill") // the channel is full with f's event
		// One notify finds the channel full for every y and z: all lag from the same
		// revision and are caught up in the same step.
		wr.session(func() {
			for _, k := range yKey {
				wr.put(k, "1")
			}
			wr.put(zKey, "1")
		})
		wr.session(func() {
			for i := 0; i < catchUpChunk+10; i++ {
				wr.put(zKey, fmt.Sprint(i))
			}
		})
		zWant := wr.m.expect(wtSpec{key: []byte(zKey), from: from})
		if r := wtRecv(t, ws, wtTimeout); r.WatchID != f {
			t.Fatalf("first response %s, want f's", wtFmtResp(&r))
		}
		// The catch-up step sends its first response into the freed slot: it has
		// collected every y and z by then.
		wtSpin(t, "the channel to refill", func() bool { return len(ws.C()) == 1 })
		for id := range ys {
			if err := ws.Cancel(id); err != nil {
				t.Fatal(err)
			}
		}
		canceledAt := s.Rev()
		for _, k := range yKey {
			wr.put(k, "after the cancel")
		}
		zl := &wtLog{id: z}
		done := func() bool {
			for _, l := range ys {
				if l.canceled == nil && l.err == nil {
					return false
				}
			}
			return len(zl.events) >= len(zWant) || zl.err != nil
		}
		for i := 0; !done(); i++ {
			r := wtRecv(t, ws, wtTimeout)
			switch yl := ys[r.WatchID]; {
			case yl != nil:
				yl.add(r)
				if len(r.Events) > 0 && i > 0 {
					underWay++
				}
			case r.WatchID == z:
				zl.add(r)
			default:
				t.Fatalf("unexpected response %s", wtFmtResp(&r))
			}
		}
		if err := zl.check(zWant, false); err != nil {
			t.Errorf("iteration %d: z: %v", it, err)
		}
		for id, l := range ys {
			if err := l.check(wr.m.expect(wtSpec{key: []byte(yKey[id]), from: from}), true); err != nil {
				t.Errorf("iteration %d: canceled watcher: %v", it, err)
			}
			if l.lastRev > canceledAt {
				t.Errorf("iteration %d: watcher %d canceled at revision %d was given an event at %d", it, id, canceledAt, l.lastRev)
			}
			if l.canceled.CompactRevision != 0 {
				t.Errorf("iteration %d: explicit cancel answered with %s", it, wtFmtResp(l.canceled))
			}
		}
		ws.Close()
	}
	t.Logf("%d catch-up responses already under way were delivered after Cancel returned", underWay)
}

// TestWatchCancelIDReuse: a canceled watcher's ID may be given to a new watcher (by
// AutoWatchID, the lowest unused, or explicitly). A reader tells the two apart only by
// order, so every response of the canceled watcher (its Canceled response included) must
// come before any response of the new one. Here the ID is taken again as soon as the
// stream accepts it (ErrWatchIDExists until then), while the stream's goroutine is busy
// catching up another watcher through a long history, with room in the channel.
func TestWatchCancelIDReuse(t *testing.T) {
	s := wtOpenStore(t)
	wr := newWtWriter(t, s)
	for i := 0; i < 5*catchUpChunk; i += 500 {
		wr.session(func() {
			for j := 0; j < 500; j++ {
				wr.put("x", fmt.Sprint(i+j))
			}
		})
	}
	xWant := len(wr.m.expect(wtSpec{key: []byte("x"), from: 2}))
	iters := 30
	if testing.Short() {
		iters = 10
	}
	refused := 0
	for it := 0; it < iters; it++ {
		yKey, nKey := fmt.Sprintf("y%d", it), fmt.Sprintf("n%d", it)
		ws := s.NewWatchStream(4096)
		y := wtMustWatch(t, ws, WatchRequest{ID: AutoWatchID, Key: []byte(yKey)})
		wr.put(yKey, "old") // delivered live: in the channel before the cancel
		x := wtMustWatch(t, ws, WatchRequest{ID: AutoWatchID, Key: []byte("x"), StartRev: 2})
		if err := ws.Cancel(y); err != nil {
			t.Fatal(err)
		}
		wtSpin(t, "the canceled ID to be accepted again", func() bool {
			_, err := ws.Watch(WatchRequest{ID: y, Key: []byte(nKey)})
			if errors.Is(err, ErrWatchIDExists) {
				refused++
				return false
			}
			if err != nil {
				t.Fatal(err)
			}
			return true
		})
		wr.put(nKey, "new")
		// Until x has everything, every step of the catch-up is over, and so is anything
		// the goroutine owed for the old y.
		var seq []string
		xGot, newSeen := 0, false
		for xGot < xWant || !newSeen {
			r := wtRecv(t, ws, wtTimeout)
			switch {
			case r.WatchID == x:
				for _, ev := range r.Events {
					if string(ev.KV.Key) == "x" {
						xGot++
					}
				}
			case r.WatchID == y && r.Canceled:
				seq = append(seq, "old:canceled")
			case r.WatchID == y && len(r.Events) > 0:
				who := "old"
				if string(r.Events[0].KV.Key) == nKey {
					who, newSeen = "new", true
				}
				seq = append(seq, who+":"+string(r.Events[0].KV.Value))
			default:
				t.Fatalf("unexpected %s", wtFmtResp(&r))
			}
		}
		for i := 1; i < len(seq); i++ {
			if strings.HasPrefix(seq[i], "old") && strings.HasPrefix(seq[i-1], "new") {
				t.Errorf("iteration %d: responses for ID %d: %v: a response of the canceled watcher came after one of the new watcher that took its ID", it, y, seq)
				break
			}
		}
		ws.Close()
	}
	t.Logf("re-watching a just-canceled ID was refused %d times in %d iterations", refused, iters)
}

// TestWatchStreamClose: Close closes C (also with the goroutine blocked on a full channel)
// and is idempotent; a closed stream refuses watchers; Store.Close closes every stream.
func TestWatchStreamClose(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "db"))
	defer s.Close()
	for i := 0; i < 50; i++ {
		s.Put(PutRequest{Key: []byte("k"), Value: []byte(fmt.Sprint(i))})
	}
	ws := s.NewWatchStream(1)
	wtMustWatch(t, ws, WatchRequest{ID: AutoWatchID, Key: []byte("k"), StartRev: 2})
	wtMustWatch(t, ws, WatchRequest{ID: AutoWatchID, Key: []byte("k"), StartRev: 3})
	wtSpin(t, "the catch-up to fill the channel", func() bool { return len(ws.C()) == 1 })
	ws.Close()
	ws.Close()
	if n := len(wtWaitClosed(t, ws, "stream Close")); n > 1 {
		t.Errorf("%d responses after Close, want at most the one buffered", n)
	}
	if _, err := ws.Watch(WatchRequest{ID: AutoWatchID, Key: []byte("k")}); !errors.Is(err, ErrClosed) {
		t.Errorf("watch on a closed stream: %v, want ErrClosed", err)
	}
	if err := ws.Cancel(0); !errors.Is(err, ErrWatchNotFound) {
		t.Errorf("cancel on a closed stream: %v, want ErrWatchNotFound", err)
	}
	ws.RequestProgress() // must not panic on the closed channel

	// Store.Close closes every stream: idle, blocked in catch-up, and full of live events.
	idle := s.NewWatchStream(0)
	blocked := s.NewWatchStream(1)
	wtMustWatch(t, blocked, WatchRequest{ID: AutoWatchID, Key: []byte("k"), StartRev: 2})
	wtMustWatch(t, blocked, WatchRequest{ID: AutoWatchID, Key: []byte("k"), StartRev: 2})
	full := s.NewWatchStream(2)
	wtMustWatch(t, full, WatchRequest{ID: AutoWatchID, Key: []byte("k")})
	wtMustWatch(t, idle, WatchRequest{ID: AutoWatchID, Key: []byte("nothing")})
	for i := 0; i < 5; i++ {
		s.Put(PutRequest{Key: []byte("k"), Value: []byte("x")})
	}
	wtSpin(t, "the catch-up to fill the channel", func() bool { return len(blocked.C()) == 1 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]*WatchStream{"idle": idle, "blocked": blocked, "full": full} {
		wtWaitClosed(t, st, "Store.Close, "+name+" stream")
	}
	late := s.NewWatchStream(4)
	if _, ok := <-late.C(); ok {
		t.Errorf("a stream opened after Store.Close delivered a response")
	}
	if _, err := late.Watch(WatchRequest{ID: AutoWatchID, Key: []byte("k")}); !errors.Is(err, ErrClosed) {
		t.Errorf("watch on a closed store: %v, want ErrClosed", err)
	}
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("Close of a stream opened after Store.Close panicked: %v", p)
			}
		}()
		late.Close()
	}()
}

// TestWatchResumeAfterReopen: after the store is closed and opened again, a watch from a
// past revision (here exactly the compaction revision, whose tombstone must survive) replays
// the history, and a progress notification on a quiet store reports the current revision.
func TestWatchResumeAfterReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s := mustOpen(t, path)
	wr := newWtWriter(t, s)
	wr.put("a", "1")                                        // 2
	wr.put("b", "1")                                        // 3
	wr.txn(wtPutC("b", "2"), wtPutC("c", "1"), wtDelC("a")) // 4
	wr.put("c", "2")                                        // 5
	done, err := s.Compact(4)
	if err != nil {
		t.Fatal(err)
	}
	<-done
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, path)
	defer s.Close()
	if s.Rev() != 5 || s.CompactRev() != 4 {
		t.Fatalf("reopened at revision %d compacted %d, want 5 and 4", s.Rev(), s.CompactRev())
	}

	ws := s.NewWatchStream(16)
	now := wtMustWatch(t, ws, WatchRequest{ID: AutoWatchID, Key: []byte("zz")})
	ws.RequestProgress()
	if r := wtRecv(t, ws, wtTimeout); r.WatchID != now || len(r.Events) != 0 || r.Revision != s.Rev() {
		t.Errorf("progress on the reopened store: %s, want no events at revision %d", wtFmtResp(&r), s.Rev())
	}

	id := wtMustWatch(t, ws, WatchRequest{ID: AutoWatchID, Key: []byte{0}, RangeEnd: []byte{0}, StartRev: 4})
	wr.s = s
	wr.put("d", "1") // 6
	want := wr.m.expect(wtSpec{key: []byte{0}, end: []byte{0}, from: 4})
	l := &wtLog{id: id}
	for len(l.events) < len(want) && l.err == nil {
		r := wtRecv(t, ws, wtTimeout)
		if r.WatchID != id {
			continue
		}
		l.add(r)
		if len(l.events) > 0 && l.events[0].KV.ModRevision != 4 {
			t.Fatalf("watch from revision 4 on the reopened store: first event %s, want the events of revision 4 first (put b, put c, delete a)", wtFmtEvent(&l.events[0]))
		}
	}
	if err := l.check(want, false); err != nil {
		t.Error(err)
	}
}

// wtSnapshot returns the snapshot stream of s.
func wtSnapshot(t testing.TB, s *Store) []byte {
	t.Helper()
	sn, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestWatchRestoreAhead: watchers on store A survive A.Restore of a snapshot of store B that
// has the same history and more: they receive B's extra revisions (caught up from the new
// history), then A's new writes. Synced, lagging, past-start and future-start watchers.
func TestWatchRestoreAhead(t *testing.T) {
	seedRng := wtRand(t)
	seed := seedRng.Int63()
	a, b := wtOpenStore(t), wtOpenStore(t)
	h := newWtHarness(t, a)
	wb := newWtWriter(t, b)
	keys := []string{"a", "b", "c", "d", "p/1", "p/2"}

	all := WatchRequest{Key: []byte{0}, RangeEnd: []byte{0}}
	fast := wtCollect(a.NewWatchStream(1024))
	h.watch(fast, all)
	h.watch(fast, WatchRequest{Key: []byte("p/"), RangeEnd: []byte("p0"), PrevKV: true})
	h.watch(fast, WatchRequest{Key: []byte("b")})
	lagWS := a.NewWatchStream(1) // read only after the restore
	lagC := &wtCollector{ws: lagWS}
	h.watch(lagC, all)
	h.watch(lagC, WatchRequest{Key: []byte("a"), RangeEnd: []byte("c"), PrevKV: true})

	// The same operations on both stores, then more on B only.
	ra, rb := rand.New(rand.NewSource(seed)), rand.New(rand.NewSource(seed))
	for i := 0; i < 300; i++ {
		h.wr.random(ra, keys)
		wb.random(rb, keys)
	}
	if a.Rev() != b.Rev() {
		t.Fatalf("the common history differs: revisions %d and %d", a.Rev(), b.Rev())
	}
	common := a.Rev()
	for i := 0; i < 200; i++ {
		wb.random(rb, keys)
	}
	h.watch(fast, WatchRequest{Key: []byte{0}, RangeEnd: []byte{0}, StartRev: common - 20, PrevKV: true})
	h.watch(fast, WatchRequest{Key: []byte{0}, RangeEnd: []byte{0}, StartRev: b.Rev() - 5}) // future for A
	h.barrier(fast)

	if err := a.Restore(bytes.NewReader(wtSnapshot(t, b))); err != nil {
		t.Fatal(err)
	}
	if a.Rev() != b.Rev() {
		t.Fatalf("restored revision %d, want %d", a.Rev(), b.Rev())
	}
	// A now has B's history: the model follows B's, and A's writes continue it.
	h.wr.m = wb.m
	for i := 0; i < 50; i++ {
		h.wr.random(ra, keys)
	}
	h.startReading(lagC)
	h.checkAll()
	if l := h.log(h.watchers[0]); l.lastRev != a.Rev() {
		t.Errorf("last event at %d, want %d", l.lastRev, a.Rev())
	}
}

// barrier waits for c's live watchers to have everything up to the current revision.
func (h *wtHarness) barrier(c *wtCollector) {
	h.t.Helper()
	var ids []WatchID
	for _, w := range h.watchers {
		if w.c == c && !w.canceled {
			ids = append(ids, w.id)
		}
	}
	c.barrier(h.t, h.wr.m.rev, ids...)
}

// TestWatchRestoreCancels: watchers whose next revision is not in the restored history are
// canceled: after restoring an older image (the history rewound), and after restoring an
// image compacted beyond it (canceled with that compaction revision). Watchers the new
// history can serve carry on.
func TestWatchRestoreCancels(t *testing.T) {
	t.Run("rewound", func(t *testing.T) {
		s := wtOpenStore(t)
		wr := newWtWriter(t, s)
		for i := 0; i < 10; i++ {
			wr.put("k", fmt.Sprint(i))
		}
		old := wtSnapshot(t, s)
		oldRev := s.Rev()
		ws := s.NewWatchStream(64)
		id := wtMustWatch(t, ws, WatchRequest{ID: AutoWatchID, Key: []byte("k")})
		for i := 0; i < 5; i++ {
			wr.put("k", fmt.Sprint(i))
			if r := wtRecv(t, ws, wtTimeout); len(r.Events) != 1 {
				t.Fatalf("live event: %s", wtFmtResp(&r))
			}
		}
		if err := s.Restore(bytes.NewReader(old)); err != nil {
			t.Fatal(err)
		}
		if s.Rev() != oldRev {
			t.Fatalf("restored revision %d, want %d", s.Rev(), oldRev)
		}
		if r := wtRecv(t, ws, wtTimeout); r.WatchID != id || !r.Canceled || len(r.Events) != 0 {
			t.Errorf("after the history rewound below the watcher's next revision: %s, want canceled", wtFmtResp(&r))
		}
		// The stream and the store go on.
		id2 := wtMustWatch(t, ws, WatchRequest{ID: AutoWatchID, Key: []byte("k")})
		s.Put(PutRequest{Key: []byte("k"), Value: []byte("after")})
		if r := wtRecv(t, ws, wtTimeout); r.WatchID != id2 || len(r.Events) != 1 || r.Events[0].KV.ModRevision != oldRev+1 {
			t.Errorf("new watcher after the restore: %s, want the put at %d", wtFmtResp(&r), oldRev+1)
		}
	})
	t.Run("rewound after catch-up", func(t *testing.T) {
		// As "rewound", for a watcher that started in the past and was caught up from
		// history before it went live.
		s := wtOpenStore(t)
		wr := newWtWriter(t, s)
		for i := 0; i < 10; i++ {
			wr.put("k", fmt.Sprint(i))
		}
		old := wtSnapshot(t, s)
		oldRev := s.Rev()
		for i := 0; i < 5; i++ {
			wr.put("k", fmt.Sprint(i))
		}
		ws := s.NewWatchStream(64)
		id := wtMustWatch(t, ws, WatchRequest{ID: AutoWatchID, Key: []byte("k"), StartRev: 2})
		l := &wtLog{id: id}
		for l.lastRev < s.Rev() && l.err == nil {
			l.add(wtRecv(t, ws, wtTimeout))
		}
		wtSpin(t, "the watcher to be synced", func() bool {
			s.hub.mu.Lock()
			defer s.hub.mu.Unlock()
			return ws.watchers[id] != nil && ws.watchers[id].synced
		})
		given := l.lastRev
		if err := s.Restore(bytes.NewReader(old)); err != nil {
			t.Fatal(err)
		}
		s.Put(PutRequest{Key: []byte("k"), Value: []byte("new history")}) // oldRev+1, again
		ws.RequestProgress()
		r := wtRecv(t, ws, wtTimeout)
		if !r.Canceled {
			t.Errorf("watcher given revisions up to %d, after the history was rewound to %d and revision %d written anew: %s, want canceled (it was neither canceled nor given the new revision %d)", given, oldRev, oldRev+1, wtFmtResp(&r), oldRev+1)
		}
	})
	t.Run("compacted", func(t *testing.T) {
		a, b := wtOpenStore(t), wtOpenStore(t)
		wa, wb := newWtWriter(t, a), newWtWriter(t, b)
		for i := 0; i < 10; i++ {
			wa.put("k", fmt.Sprint(i))
			wb.put("k", fmt.Sprint(i))
		}
		ws := a.NewWatchStream(64)
		synced := wtMustWatch(t, ws, WatchRequest{ID: AutoWatchID, Key: []byte("k")}) // next: 12
		for i := 10; i < 30; i++ {
			wb.put("k", fmt.Sprint(i))
		}
		compactAt := b.Rev() - 5
		future := wtMustWatch(t, ws, WatchRequest{ID: AutoWatchID, Key: []byte("k"), StartRev: compactAt + 1})
		done, err := b.Compact(compactAt)
		if err != nil {
			t.Fatal(err)
		}
		<-done
		if err := a.Restore(bytes.NewReader(wtSnapshot(t, b))); err != nil {
			t.Fatal(err)
		}
		if a.CompactRev() != compactAt {
			t.Fatalf("restored compact revision %d, want %d", a.CompactRev(), compactAt)
		}
		fl := &wtLog{id: future}
		want := wb.m.expect(wtSpec{key: []byte("k"), from: compactAt + 1})
		var canceled *WatchResponse
		for canceled == nil || len(fl.events) < len(want) {
			r := wtRecv(t, ws, wtTimeout)
			switch r.WatchID {
			case synced:
				if canceled != nil || !r.Canceled || r.CompactRevision != compactAt || len(r.Events) != 0 {
					t.Fatalf("watcher at 12 after restoring a history compacted at %d: %s, want one cancel with that compact revision", compactAt, wtFmtResp(&r))
				}
				canceled = &r
			case future:
				fl.add(r)
				if fl.canceled != nil {
					t.Fatalf("watcher from %d canceled after restoring a history compacted at %d, which holds every revision it asked for: %s", compactAt+1, compactAt, wtFmtResp(&r))
				}
			default:
				t.Fatalf("unexpected %s", wtFmtResp(&r))
			}
		}
		if err := fl.check(want, false); err != nil {
			t.Errorf("watcher from %d: %v", compactAt+1, err)
		}
	})
}
