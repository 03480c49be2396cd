package quicclient

import (
	"bufio"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"etcq.dev/etcq/wire"
)

// WatchResponse is one delivery on a watch channel: events of one or more revisions (a
// revision is never split), a progress notification (no events), the creation (with
// WithCreatedNotify), or the end of the watch (Canceled, with Err saying why).
type WatchResponse struct {
	Header          Header
	Events          []Event
	CompactRevision int64
	Canceled        bool
	Created         bool
	cancelReason    string
}

// Err is why the watch ended: an error matching wire.ErrCompacted when its next revision
// has been compacted away (restart it from CompactRevision, or re-read), nil otherwise.
func (r *WatchResponse) Err() error {
	switch {
	case !r.Canceled:
		return nil
	case r.CompactRevision > 0:
		return fmt.Errorf("%w: the watch needs revision %d or later", wire.ErrCompacted, r.CompactRevision)
	case r.cancelReason != "":
		return fmt.Errorf("quicclient: watch canceled: %s", r.cancelReason)
	}
	return nil
}

// IsProgressNotify reports whether the response only says that every event up to
// Header.Revision has been delivered.
func (r *WatchResponse) IsProgressNotify() bool {
	return len(r.Events) == 0 && !r.Canceled && !r.Created && r.CompactRevision == 0
}

// WatchChan delivers a watch's responses; it is closed when the watch ends.
type WatchChan <-chan WatchResponse

// Watch watches a key, or a range with WithPrefix, WithRange or WithFromKey, from WithRev
// (default: changes after now). Its responses arrive on the channel, in revision order,
// each revision once. If the member fails, the watch moves to another one and resumes
// after the last revision it delivered: nothing is lost or repeated. If that revision has
// been compacted meanwhile, the channel delivers a response whose Err matches
// wire.ErrCompacted, then closes. Cancel ctx to stop the watch.
func (c *Client) Watch(ctx context.Context, key string, opts ...OpOption) WatchChan {
	op := newOp(opRange, key, "", opts)
	w := &watcher{
		ctx: ctx, op: op, next: op.rev, out: newQueue[WatchResponse](),
		ch: make(chan WatchResponse),
	}
	go w.deliver()
	c.watch.add(w)
	return w.ch
}

// RequestProgress asks for a progress notification on every watch of the client.
func (c *Client) RequestProgress(ctx context.Context) error {
	return c.watch.requestProgress()
}

// watcher is one Watch call.
type watcher struct {
	ctx context.Context
	op  Op
	// next is the revision the watch resumes from when it is created (again); 0: now.
	next int64
	// id is the watcher's id on the current stream, valid once created.
	id      int64
	created bool
	out     *queue[WatchResponse]
	ch      chan WatchResponse
	stop    func() bool // stops watching ctx
}

// end closes the watcher's queue once its last response is in it. Called with the mux's
// lock held.
func (w *watcher) end() {
	w.out.close()
	if w.stop != nil {
		w.stop()
	}
}

func (w *watcher) createRequest() *wire.WatchCreateRequest {
	r := &wire.WatchCreateRequest{
		Key: w.op.key, RangeEnd: w.op.end, StartRevision: w.next,
		ProgressNotify: w.op.progressNotify, PrevKV: w.op.prevKV,
	}
	if w.op.filterPut {
		r.Filters = append(r.Filters, wire.FilterNoPut)
	}
	if w.op.filterDelete {
		r.Filters = append(r.Filters, wire.FilterNoDelete)
	}
	return r
}

// deliver moves responses from the watcher's queue to its channel, at the reader's pace,
// and closes the channel when the queue closes or the watch's context ends.
func (w *watcher) deliver() {
	defer close(w.ch)
	for {
		select {
		case <-w.out.ready:
		case <-w.ctx.Done():
			return
		}
		for items := w.out.take(); len(items) > 0; items = w.out.take() {
			if !w.send(items) {
				return
			}
		}
		if w.out.isClosed() {
			// Nothing can be pushed any more: deliver the rest and end.
			w.send(w.out.take())
			return
		}
	}
}

func (w *watcher) send(items []WatchResponse) bool {
	for _, r := range items {
		select {
		case w.ch <- r:
		case <-w.ctx.Done():
			return false
		}
	}
	return true
}

// watchMux multiplexes a client's watchers on one watch stream, on the client's active
// connection, and moves them to a new stream when that one fails.
type watchMux struct {
	c      *Client
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	watchers map[*watcher]struct{}
	stream   *watchStream
	byID     map[int64]*watcher  // by id on the current stream
	creating map[uint64]*watcher // by create request id
	nextReq  uint64
	kick     chan struct{}
	running  bool
	done     chan struct{}
}

func newWatchMux(c *Client) *watchMux {
	ctx, cancel := context.WithCancel(context.Background())
	return &watchMux{
		c: c, ctx: ctx, cancel: cancel,
		watchers: make(map[*watcher]struct{}), byID: make(map[int64]*watcher), creating: make(map[uint64]*watcher),
		kick: make(chan struct{}, 1), done: make(chan struct{}),
	}
}

func (m *watchMux) add(w *watcher) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx.Err() != nil {
		w.out.close()
		return
	}
	m.watchers[w] = struct{}{}
	if m.stream != nil {
		m.create(w)
	}
	if !m.running {
		m.running = true
		go m.run()
	}
	w.stop = context.AfterFunc(w.ctx, func() { m.remove(w) })
}

// create sends w's create request on the current stream. Called with mu held.
func (m *watchMux) create(w *watcher) {
	m.nextReq++
	m.creating[m.nextReq] = w
	w.created = false
	m.c.mu.Lock()
	token := m.c.token // auth: the create is checked for the client's user
	m.c.mu.Unlock()
	m.stream.send(wire.Request{ID: m.nextReq, Op: wire.OpWatchCreate, Token: token, Body: w.createRequest()})
}

func (m *watchMux) remove(w *watcher) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.watchers[w]; !ok {
		return
	}
	delete(m.watchers, w)
	w.end()
	if w.created && m.stream != nil {
		delete(m.byID, w.id)
		m.stream.send(wire.Request{Op: wire.OpWatchCancel, Body: &wire.WatchCancelRequest{WatchID: w.id}})
	}
}

func (m *watchMux) requestProgress() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stream == nil {
		return fmt.Errorf("%w: no watch stream", ErrConnectionLost)
	}
	m.stream.send(wire.Request{Op: wire.OpWatchProgress, Body: &wire.WatchProgressRequest{}})
	return nil
}

func (m *watchMux) close() {
	m.cancel()
	m.mu.Lock()
	for w := range m.watchers {
		w.end()
	}
	m.watchers = map[*watcher]struct{}{}
	if m.stream != nil {
		m.stream.close()
	}
	m.mu.Unlock()
}

// run keeps a watch stream open while there are watchers, re-creating every watcher on
// each new stream from the revision after the last one it delivered.
func (m *watchMux) run() {
	backoff := 25 * time.Millisecond
	for m.ctx.Err() == nil {
		m.mu.Lock()
		if len(m.watchers) == 0 {
			m.running = false
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
		cn, err := m.c.current(m.ctx)
		var str *quic.Stream
		if err == nil {
			str, err = cn.openStream(m.ctx, wire.StreamWatch)
			if err != nil {
				m.c.drop(cn)
			}
		}
		if err != nil {
			m.c.log.Debug("watch stream unavailable; retrying", "err", err)
			select {
			case <-time.After(backoff):
			case <-m.ctx.Done():
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 25 * time.Millisecond
		ws := newWatchStream(str)
		m.mu.Lock()
		m.stream = ws
		m.byID = make(map[int64]*watcher)
		m.creating = make(map[uint64]*watcher)
		for w := range m.watchers {
			m.create(w)
		}
		m.mu.Unlock()
		err = m.read(ws)
		m.mu.Lock()
		m.stream = nil
		m.mu.Unlock()
		ws.close()
		if m.ctx.Err() == nil {
			m.c.log.Debug("watch stream ended; resuming on another", "endpoint", cn.endpoint, "err", err)
			if cn.failed() == nil {
				// The connection lives but the member ended the stream: it is draining the
				// connection. Move on, and leave the requests in flight on it their answers
				// (dropping it here once lost them: TestServiceShutdownClients).
				m.c.retire(cn)
			}
		}
	}
}

// read dispatches the stream's responses until it fails.
func (m *watchMux) read(ws *watchStream) error {
	fr := wire.NewFrameReader(ws.str, m.c.cfg.MaxResponseBytes)
	dec := wire.NewDecoder()
	for {
		body, err := fr.Next()
		if err != nil {
			return err
		}
		var resp wire.Response
		if err := dec.Response(body, &resp); err != nil {
			return err
		}
		m.dispatch(&resp)
	}
}

func (m *watchMux) dispatch(resp *wire.Response) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var w *watcher
	if resp.ID != 0 {
		w = m.creating[resp.ID]
		delete(m.creating, resp.ID)
	}
	wr, _ := resp.Body.(*wire.WatchResponse)
	if resp.Code != wire.CodeOK || wr == nil {
		if w != nil {
			// A refused create ends the watch with the member's reason.
			delete(m.watchers, w)
			w.out.push(WatchResponse{Header: resp.Header, Canceled: true, cancelReason: resp.Err().Error()})
			w.end()
		}
		return
	}
	if w == nil {
		w = m.byID[wr.WatchID]
	}
	if w == nil {
		return // a watcher removed meanwhile
	}
	if _, live := m.watchers[w]; !live {
		return
	}
	out := WatchResponse{
		Header: resp.Header, Events: wr.Events, CompactRevision: wr.CompactRevision,
		Canceled: wr.Canceled, Created: wr.Created, cancelReason: wr.CancelReason,
	}
	switch {
	case wr.Created && !wr.Canceled:
		w.id, w.created = wr.WatchID, true
		m.byID[w.id] = w
		if w.next == 0 {
			// Resume after the revision the watch was created at.
			w.next = resp.Header.Revision + 1
		}
		if w.op.createdNotify {
			w.op.createdNotify = false
			w.out.push(out)
		}
		return
	case wr.Canceled:
		delete(m.watchers, w)
		delete(m.byID, w.id)
		w.out.push(out)
		w.end()
		return
	}
	if len(wr.Events) > 0 {
		w.next = max(w.next, wr.Events[len(wr.Events)-1].KV.ModRevision+1)
	}
	w.next = max(w.next, resp.Header.Revision+1)
	w.out.push(out)
}

// watchStream is the send side of a watch stream: a goroutine writes queued requests so
// that senders, who hold the mux's lock, never block on the network.
type watchStream struct {
	str  *quic.Stream
	q    *queue[wire.Request]
	done chan struct{}
}

func newWatchStream(str *quic.Stream) *watchStream {
	ws := &watchStream{str: str, q: newQueue[wire.Request](), done: make(chan struct{})}
	go ws.write()
	return ws
}

func (ws *watchStream) send(r wire.Request) { ws.q.push(r) }

func (ws *watchStream) close() {
	ws.q.close()
	ws.str.CancelRead(0)
	ws.str.CancelWrite(0)
	<-ws.done
}

func (ws *watchStream) write() {
	defer close(ws.done)
	bw := bufio.NewWriter(ws.str)
	enc := wire.NewEncoder()
	for range ws.q.ready {
		for _, r := range ws.q.take() {
			frame, err := enc.Frame(r)
			if err == nil {
				_, err = bw.Write(frame)
			}
			if err != nil {
				return
			}
		}
		if bw.Flush() != nil || ws.q.isClosed() {
			return
		}
	}
}
