package quicclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"etcq.dev/etcq/wire"
)

// ALPN is the protocol a client speaks.
const ALPN = "etcq-client/1"

// conn is one QUIC connection to one endpoint, with a pool of request streams.
type conn struct {
	c        *Client
	endpoint string
	qc       *quic.Conn
	nextID   atomic.Uint64
	rr       atomic.Uint32
	streams  []*reqStream
	mu       sync.Mutex
	err      error        // set once the connection has failed or the member began to drain it
	live     atomic.Int32 // request streams not yet ended
	draining atomic.Bool  // the member has ended a request stream cleanly
	closed   chan struct{}
	closeOne sync.Once
}

// dial connects to an endpoint and opens its request streams. With TLS 1.3 a server that
// refuses the client's certificate does so after the dial returns: the failure shows on the
// first request (and is reported as such).
func (c *Client) dial(ctx context.Context, endpoint string) (*conn, error) {
	addr, err := hostPort(endpoint)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	tlsConf := c.cfg.TLS.Clone()
	tlsConf.NextProtos = []string{ALPN}
	tlsConf.MinVersion = tls.VersionTLS13
	if tlsConf.ServerName == "" {
		tlsConf.ServerName = hostOnly(addr)
	}
	qc, err := quic.DialAddr(ctx, addr, tlsConf, &quic.Config{
		KeepAlivePeriod:       5 * time.Second,
		MaxIdleTimeout:        30 * time.Second,
		MaxIncomingStreams:    -1,
		MaxIncomingUniStreams: -1,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, endpoint, err)
	}
	cn := &conn{c: c, endpoint: endpoint, qc: qc, closed: make(chan struct{})}
	for range c.cfg.Streams {
		rs, err := cn.openRequestStream(ctx)
		if err != nil {
			cn.close(err)
			return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, endpoint, err)
		}
		cn.streams = append(cn.streams, rs)
	}
	cn.live.Store(int32(len(cn.streams)))
	// Only now: a stream that fails closes the connection, which reads cn.streams.
	for _, rs := range cn.streams {
		go rs.write()
		go rs.read()
	}
	go func() {
		<-qc.Context().Done()
		cn.close(fmt.Errorf("%w: %s: %w", ErrConnectionLost, endpoint, context.Cause(qc.Context())))
	}()
	return cn, nil
}

// failed reports the connection's failure, or nil while it works.
func (cn *conn) failed() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.err
}

func (cn *conn) close(err error) {
	cn.closeOne.Do(func() {
		cn.mu.Lock()
		if cn.err == nil {
			cn.err = err
		}
		cn.mu.Unlock()
		close(cn.closed)
		_ = cn.qc.CloseWithError(0, "client closed")
		for _, rs := range cn.streams {
			rs.fail(err)
		}
	})
}

// streamEnded notes that a request stream ended. A member that drains a connection ends
// each stream cleanly once it has answered everything on it: the connection then takes no
// new requests, and closes when its last stream has ended, so answers still travelling on
// the other streams arrive. Any other end of a stream closes the connection at once.
func (cn *conn) streamEnded(err error, clean bool) {
	if !clean {
		cn.close(err)
		return
	}
	cn.beginDrain(err)
	if cn.live.Add(-1) == 0 {
		cn.close(err)
	}
}

// drainGrace bounds how long a draining connection waits for the member to end its
// request streams (the member itself waits 2 s for the client to close) before closing.
const drainGrace = 5 * time.Second

// beginDrain marks the connection as drained by the member: it takes no new requests, and
// closes when its last request stream has ended, or after drainGrace.
func (cn *conn) beginDrain(err error) {
	if cn.draining.Swap(true) {
		return
	}
	cn.mu.Lock()
	if cn.err == nil {
		cn.err = err
	}
	cn.mu.Unlock()
	time.AfterFunc(drainGrace, func() { cn.close(err) })
}

// openStream opens a stream of the given kind.
func (cn *conn) openStream(ctx context.Context, kind wire.StreamKind) (*quic.Stream, error) {
	str, err := cn.qc.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := str.Write([]byte{byte(kind)}); err != nil {
		str.CancelRead(0)
		return nil, err
	}
	return str, nil
}

// call is one request on a request stream, waiting for its response.
type call struct {
	req  wire.Request
	done chan struct{}
	resp *wire.Response
	err  error
	// sent is set once the request has been handed to the stream: from then on, a
	// failure leaves its outcome unknown.
	sent atomic.Bool
	// unread is set (before done is closed) when the member ended the stream cleanly
	// without answering the call: it answers every request it read before it ends a
	// stream, so this one was never read, whatever sent says.
	unread bool
}

// reqStream is a pooled stream of pipelined requests: a writer goroutine that drains its
// queue and flushes when idle, a reader goroutine that matches responses to calls by id.
type reqStream struct {
	cn  *conn
	str *quic.Stream
	q   chan *call

	mu      sync.Mutex
	pending map[uint64]*call
	err     error
}

func (cn *conn) openRequestStream(ctx context.Context) (*reqStream, error) {
	str, err := cn.openStream(ctx, wire.StreamRequests)
	if err != nil {
		return nil, err
	}
	return &reqStream{cn: cn, str: str, q: make(chan *call, 1024), pending: make(map[uint64]*call)}, nil
}

// roundTrip sends req on one of the connection's streams and waits for its response.
func (cn *conn) roundTrip(ctx context.Context, req wire.Request) (*wire.Response, bool, error) {
	rs := cn.streams[int(cn.rr.Add(1))%len(cn.streams)]
	req.ID = cn.nextID.Add(1)
	cl := &call{req: req, done: make(chan struct{})}
	rs.mu.Lock()
	if rs.err != nil {
		rs.mu.Unlock()
		return nil, false, rs.err
	}
	rs.pending[req.ID] = cl
	rs.mu.Unlock()
	select {
	case rs.q <- cl:
	case <-ctx.Done():
		rs.forget(req.ID)
		return nil, false, ctx.Err()
	case <-cn.closed:
		rs.forget(req.ID)
		return nil, false, cn.failed()
	}
	select {
	case <-cl.done:
		return cl.resp, cl.sent.Load() && !cl.unread, cl.err
	case <-ctx.Done():
		rs.forget(req.ID)
		return nil, cl.sent.Load(), ctx.Err()
	}
}

func (rs *reqStream) forget(id uint64) {
	rs.mu.Lock()
	delete(rs.pending, id)
	rs.mu.Unlock()
}

func (rs *reqStream) finish(id uint64, resp *wire.Response) {
	rs.mu.Lock()
	cl := rs.pending[id]
	delete(rs.pending, id)
	rs.mu.Unlock()
	if cl != nil {
		cl.resp = resp
		close(cl.done)
	}
}

// fail ends the stream: every call waiting on it fails with err.
func (rs *reqStream) fail(err error) { rs.end(err, false) }

// end ends the stream: every call waiting on it fails with err, as unread if the member
// ended the stream cleanly.
func (rs *reqStream) end(err error, unread bool) {
	rs.mu.Lock()
	if rs.err != nil {
		rs.mu.Unlock()
		return
	}
	rs.err = err
	pending := rs.pending
	rs.pending = nil
	rs.mu.Unlock()
	for _, cl := range pending {
		cl.err = err
		cl.unread = unread
		close(cl.done)
	}
	rs.str.CancelRead(0)
	rs.str.CancelWrite(0)
}

func (rs *reqStream) write() {
	bw := bufio.NewWriterSize(rs.str, 64<<10)
	enc := wire.NewEncoder()
	limit := rs.cn.c.cfg.Limits.FrameLimit()
	put := func(cl *call) error {
		frame, err := enc.Frame(cl.req)
		if err != nil {
			return err
		}
		if len(frame)-wire.FrameHeaderSize > limit {
			// Never sent: the server would refuse it.
			rs.mu.Lock()
			delete(rs.pending, cl.req.ID)
			rs.mu.Unlock()
			cl.err = fmt.Errorf("%w: %d bytes encoded, the limit is %d", wire.ErrRequestTooLarge, len(frame)-wire.FrameHeaderSize, limit)
			close(cl.done)
			return nil
		}
		cl.sent.Store(true)
		_, err = bw.Write(frame)
		return err
	}
	for {
		var cl *call
		select {
		case cl = <-rs.q:
		case <-rs.cn.closed:
			return
		}
		err := put(cl)
		for err == nil && len(rs.q) > 0 {
			err = put(<-rs.q)
		}
		if err == nil {
			// Yield once before the flush: callers woken by the same event (the answers
			// of one packet) queue their requests meanwhile and leave in the same packet.
			runtime.Gosched()
			for err == nil && len(rs.q) > 0 {
				err = put(<-rs.q)
			}
		}
		if err == nil {
			err = bw.Flush()
		}
		if se := (*quic.StreamError)(nil); errors.As(err, &se) && se.Remote {
			// The member stopped reading (it is draining the connection): it answers
			// what it has read, then ends the stream, and read settles every call.
			return
		}
		if err != nil {
			rs.mu.Lock()
			ended := rs.err != nil
			rs.mu.Unlock()
			if !ended {
				rs.fail(fmt.Errorf("%w: %s: %w", ErrConnectionLost, rs.cn.endpoint, err))
				rs.cn.close(rs.err)
			}
			// Else the stream has ended already (end canceled the write side): the
			// connection lives on for the other streams.
			return
		}
	}
}

func (rs *reqStream) read() {
	fr := wire.NewFrameReader(rs.str, rs.cn.c.cfg.MaxResponseBytes)
	dec := wire.NewDecoder()
	for {
		body, err := fr.Next()
		if err != nil {
			clean := errors.Is(err, io.EOF)
			if clean {
				err = fmt.Errorf("%w: %s: the member ended the stream (it is shutting down)", ErrConnectionLost, rs.cn.endpoint)
			} else {
				err = fmt.Errorf("%w: %s: %w", ErrConnectionLost, rs.cn.endpoint, err)
			}
			rs.end(err, clean)
			rs.cn.streamEnded(err, clean)
			return
		}
		resp := new(wire.Response)
		if err := dec.Response(body, resp); err != nil {
			// The server speaks something we cannot read: this stream is unusable.
			err = fmt.Errorf("%w: %s: undecodable response: %w", ErrConnectionLost, rs.cn.endpoint, err)
			rs.fail(err)
			rs.cn.close(err)
			return
		}
		rs.finish(resp.ID, resp)
	}
}
