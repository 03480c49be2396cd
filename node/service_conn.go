package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"etcq.dev/etcq/wire"
)

// clientConn is one client connection: its verified identity and the streams it opens.
type clientConn struct {
	s    *Service
	conn *quic.Conn
	// identity is the common name of the client's verified certificate.
	identity string
	log      *slog.Logger
	// slots bounds the requests outstanding on the connection.
	slots chan struct{}

	mu      sync.Mutex
	streams map[*quic.Stream]struct{} // open streams, for drain
	wg      sync.WaitGroup            // stream goroutines
}

func newClientConn(s *Service, conn *quic.Conn) *clientConn {
	c := &clientConn{s: s, conn: conn, slots: make(chan struct{}, s.cfg.MaxInFlight), streams: make(map[*quic.Stream]struct{})}
	if certs := conn.ConnectionState().TLS.PeerCertificates; len(certs) > 0 {
		c.identity = certs[0].Subject.CommonName
	}
	c.log = s.log.With("client", c.identity, "remote", conn.RemoteAddr().String())
	return c
}

func (c *clientConn) serve() {
	c.log.Debug("client connected")
	defer c.wg.Wait()
	for {
		str, err := c.conn.AcceptStream(c.s.ctx)
		if err != nil {
			c.log.Debug("client connection ended", "err", err)
			return
		}
		c.s.stats.streams.Add(1)
		c.mu.Lock()
		c.streams[str] = struct{}{}
		c.wg.Add(1)
		c.mu.Unlock()
		go func() {
			defer func() {
				c.mu.Lock()
				delete(c.streams, str)
				c.mu.Unlock()
				c.wg.Done()
			}()
			c.serveStream(str)
		}()
	}
}

// drain ends the connection gracefully: every stream stops reading, sends what it owes
// and closes its send side; then the client, which sees its streams end, closes the
// connection (within ctx, and a grace period at most).
func (c *clientConn) drain(ctx context.Context) {
	c.mu.Lock()
	for str := range c.streams {
		str.CancelRead(closeStreamDone)
	}
	c.mu.Unlock()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	select {
	case <-done:
	case <-ctx.Done():
		return
	}
	select {
	case <-c.conn.Context().Done():
	case <-ctx.Done():
	}
}

func (c *clientConn) serveStream(str *quic.Stream) {
	fr := wire.NewFrameReader(str, c.s.cfg.Limits.FrameLimit())
	_ = str.SetReadDeadline(time.Now().Add(c.s.cfg.StreamKindTimeout))
	kind, err := fr.ReadByte()
	_ = str.SetReadDeadline(time.Time{})
	if err != nil || !wire.StreamKind(kind).Valid() {
		c.log.Debug("refusing a stream without a known kind", "kind", kind, "err", err)
		str.CancelRead(closeBadStream)
		str.CancelWrite(closeBadStream)
		return
	}
	switch wire.StreamKind(kind) {
	case wire.StreamRequests:
		c.serveRequests(str, fr)
	case wire.StreamWatch:
		c.serveWatch(str, fr)
	case wire.StreamSnapshot:
		c.serveSnapshot(str, fr)
	}
}

// readRequest reads and decodes the next request of a stream. A malformed or oversized
// request whose id can be recovered is answered on sw and skipped (ok true, req nil); a
// stream that cannot go on ends the loop (ok false).
func (c *clientConn) readRequest(str *quic.Stream, fr *wire.FrameReader, dec *wire.Decoder, sw *streamWriter) (req *wire.Request, ok bool) {
	body, err := fr.Next()
	if err != nil {
		var tooLarge *wire.FrameTooLargeError
		if !errors.As(err, &tooLarge) {
			if !errors.Is(err, io.EOF) {
				c.log.Debug("client stream read failed", "err", err)
			}
			return nil, false
		}
		c.s.stats.refusedFrames.Add(1)
		id, _ := wire.PeekID(tooLarge.Head)
		c.log.Warn("refusing an oversized request", "bytes", tooLarge.Size, "limit", tooLarge.Limit)
		sw.send(&wire.Response{ID: id, Code: wire.CodeRequestTooLarge, Message: tooLarge.Error()})
		if !tooLarge.Discarded {
			str.CancelRead(closeFrameLimit)
			return nil, false
		}
		return nil, true
	}
	req = new(wire.Request)
	if err := dec.Request(body, req); err != nil {
		c.log.Debug("refusing a malformed request", "err", err)
		id := req.ID
		if id == 0 {
			// The shape check refused the body before decoding (trailing bytes, say):
			// answer the id it starts with, if any, so the client's call ends.
			id, _ = wire.PeekID(body)
		}
		sw.send(&wire.Response{ID: id, Op: req.Op, Code: wire.CodeOf(err), Message: err.Error()})
		return nil, true
	}
	return req, true
}

// serveRequests serves a stream of pipelined requests: each is handled on its own
// goroutine and answered as soon as it is done, in any order.
func (c *clientConn) serveRequests(str *quic.Stream, fr *wire.FrameReader) {
	sw := newStreamWriter(str, c.s.cfg.MaxInFlight, c.log)
	// The requests' contexts derive from one of the stream's own, not from the service's
	// directly: a context registers with its parent under the parent's lock, and one
	// parent shared by every request of every connection cost nearly 3% of a member's CPU.
	ctx, cancel := context.WithCancel(c.s.ctx)
	defer cancel()
	var pending sync.WaitGroup
	dec := wire.NewDecoder()
	for {
		req, ok := c.readRequest(str, fr, dec, sw)
		if !ok {
			break
		}
		if req == nil {
			continue
		}
		select {
		case c.slots <- struct{}{}:
		case <-c.s.ctx.Done():
		}
		if c.s.ctx.Err() != nil {
			break
		}
		if !c.s.begin() {
			<-c.slots
			sw.send(&wire.Response{ID: req.ID, Op: req.Op, Code: wire.CodeUnavailable, Message: "member is shutting down; the request was not served"})
			continue
		}
		pending.Add(1)
		go func() {
			defer func() {
				<-c.slots
				c.s.inflight.Done()
				pending.Done()
			}()
			sw.send(c.s.handle(ctx, c, req))
		}()
	}
	pending.Wait()
	_ = sw.close()
}
