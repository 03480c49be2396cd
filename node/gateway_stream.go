package node

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"etcq.dev/etcq/storage"
	"etcq.dev/etcq/wire"
)

// The gateway's streams, as etcd's gateway serves gRPC streams: the request body is a
// sequence of JSON request objects, the response a sequence of lines {"result": {...}}
// (or {"error": {...}}), each flushed as it is ready.
//
//   - /v3/watch: the watch stream of the QUIC service, whole (watchSession): the same
//     checks, ordering and progress notifications. As etcd's, it stays open after the
//     request body ends, until the client goes or the gateway stops.
//   - /v3/lease/keepalive: one answer per request; the stream ends with the body.
//   - /v3/maintenance/snapshot: the store's snapshot in chunks (root only).
//
// Over HTTP/1.1 the body is read while the response is written (full duplex), so a client
// that keeps its body open can send more requests, as over HTTP/2.

// streamContext is the context of a stream: it ends with the request, when the gateway
// stops, and when the service stops.
func (g *Gateway) streamContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	stop1 := context.AfterFunc(g.streams, cancel)
	stop2 := context.AfterFunc(g.s.ctx, cancel)
	return ctx, func() {
		stop1()
		stop2()
		cancel()
	}
}

// openStream prepares a streaming response: the body may be read while the response is
// written, and neither is bounded by the non-streaming timeouts.
func (g *Gateway) openStream(w http.ResponseWriter) *http.ResponseController {
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex() // HTTP/1.1; HTTP/2 always is
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	g.stats.openStreams.Add(1)
	return rc
}

// watch serves /v3/watch through a watchSession of the service, whose responses the
// session's writer frames into a pipe; this goroutine turns them into JSON lines.
func (g *Gateway) watch(w http.ResponseWriter, r *http.Request) {
	if g.s.draining.Load() {
		g.fail(w, wire.Errorf(wire.CodeUnavailable, "member is shutting down"))
		return
	}
	c, token := g.caller(r)
	rc := g.openStream(w)
	defer g.stats.openStreams.Add(-1)
	ctx, cancel := g.streamContext(r)
	defer cancel()

	pr, pw := io.Pipe()
	ws := g.s.m.store.NewWatchStream(0)
	sess := &watchSession{
		c: c, ws: ws, sw: newStreamWriter(pw, 256, c.log),
		watchers: make(map[storage.WatchID]*watchState),
	}
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		sess.forward()
	}()
	stopTick := make(chan struct{})
	go sess.tick(stopTick)

	// end stops the session: no request is served after it, every watcher is gone, and
	// the writer has sent what it had and closed the pipe.
	var (
		mu     sync.Mutex // held while a request is served
		closed bool
		once   sync.Once
	)
	end := func() {
		once.Do(func() {
			mu.Lock()
			closed = true
			mu.Unlock()
			close(stopTick)
			ws.Close()
			<-forwarded
			_ = sess.sw.close()
		})
	}
	serve := func(req *wire.Request) {
		mu.Lock()
		defer mu.Unlock()
		if !closed {
			sess.serve(req)
		}
	}

	// The requests, in order, from the body. A malformed one is answered with an error
	// and ends the stream, as grpc-gateway does.
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		lim := &messageLimit{r: r.Body, limit: g.jsonLimit()}
		dec := newJSONDecoder(lim)
		var id uint64
		for {
			var jr jWatchRequest
			err := decodeJSON(dec, &jr)
			lim.reset(dec)
			if err != nil {
				if !errors.Is(err, io.EOF) && ctx.Err() == nil {
					_, _, msg := failure(err)
					mu.Lock()
					if !closed {
						sess.sw.send(&wire.Response{Op: wire.OpWatch, Code: wire.CodeBadRequest, Message: msg, Header: g.s.header(0)})
					}
					mu.Unlock()
					end()
				}
				return // the body ended: the stream goes on, as etcd's gateway's does
			}
			req := jr.wire()
			if req == nil {
				continue
			}
			id++
			req.ID, req.Token = id, token
			serve(req)
		}
	}()
	stop := context.AfterFunc(ctx, func() { _ = pr.CloseWithError(ctx.Err()) })
	defer stop()

	lw := g.newLineWriter(w, rc)
	fr := wire.NewFrameReader(pr, wire.DefaultMaxResponseBytes)
	dec := wire.NewDecoder()
	if err := lw.flushHeader(); err == nil {
		for {
			body, err := fr.Next()
			if err != nil {
				break // the session ended, or the client or the gateway did
			}
			var resp wire.Response
			if err := dec.Response(body, &resp); err != nil {
				c.log.Warn("gateway watch: undecodable response", "err", err)
				break
			}
			if err := lw.write(watchLine(&resp)); err != nil {
				c.log.Debug("gateway watch: client gone", "err", err)
				break
			}
		}
	}
	_ = pr.CloseWithError(io.ErrClosedPipe) // the session's writer stops writing
	end()
	_ = rc.SetReadDeadline(time.Now()) // ends a read of the body under way
	<-readDone
}

// watchLine is the JSON line of one response of the watch session.
func watchLine(resp *wire.Response) any {
	if err := resp.Err(); err != nil {
		return streamError(err.(*wire.Error))
	}
	wr, _ := resp.Body.(*wire.WatchResponse)
	if wr == nil {
		wr = &wire.WatchResponse{}
	}
	return &jResult{Result: watchOut(headerOut(resp.Header), wr)}
}

// keepAlive serves /v3/lease/keepalive: each request renews its lease and is answered
// with the new TTL; a lease that does not exist is answered with TTL 0, as etcd does.
func (g *Gateway) keepAlive(w http.ResponseWriter, r *http.Request) {
	c, token := g.caller(r)
	rc := g.openStream(w)
	defer g.stats.openStreams.Add(-1)
	ctx, cancel := g.streamContext(r)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = rc.SetReadDeadline(time.Now()) })
	defer stop()
	lw := g.newLineWriter(w, rc)
	lim := &messageLimit{r: r.Body, limit: g.jsonLimit()}
	dec := newJSONDecoder(lim)
	for {
		var j jIDRequest
		err := decodeJSON(dec, &j)
		lim.reset(dec)
		if errors.Is(err, io.EOF) || err != nil && ctx.Err() != nil {
			break
		}
		if err != nil {
			_, _, msg := failure(err)
			_ = lw.write(streamError(&wire.Error{Code: wire.CodeBadRequest, Message: msg}))
			return
		}
		resp, rev, err := g.do(ctx, c, &wire.Request{Op: wire.OpLeaseKeepAlive, Token: token, Body: &wire.LeaseKeepAliveRequest{ID: int64(j.ID)}})
		var line any
		switch {
		case errors.Is(err, wire.ErrLeaseNotFound):
			line = &jResult{Result: &jLeaseKeepAliveResponse{Header: headerOut(g.s.header(0)), ID: int64(j.ID)}}
		case err != nil:
			_ = lw.write(streamError(err.(*wire.Error)))
			return
		default:
			ka := resp.(*wire.LeaseKeepAliveResponse)
			line = &jResult{Result: &jLeaseKeepAliveResponse{Header: headerOut(g.s.header(rev)), ID: ka.ID, TTL: ka.TTL}}
		}
		if err := lw.write(line); err != nil {
			return
		}
	}
	_ = lw.flushHeader()
}

// snapshot serves /v3/maintenance/snapshot: the store's snapshot (the format etcqctl
// snapshot restore reads) in chunks of snapshotChunk bytes, the last with
// remaining_bytes absent (0). Root only, as over QUIC.
func (g *Gateway) snapshot(w http.ResponseWriter, r *http.Request) {
	if err := decodeOne(http.MaxBytesReader(w, r.Body, g.jsonLimit()), &struct{}{}); err != nil {
		g.fail(w, err)
		return
	}
	c, token := g.caller(r)
	if err := g.s.checkAdmin(c, token, "snapshot"); err != nil {
		g.fail(w, err)
		return
	}
	if !g.s.begin() {
		g.fail(w, wire.Errorf(wire.CodeUnavailable, "member is shutting down"))
		return
	}
	defer g.s.inflight.Done()
	snap, err := g.s.m.store.Snapshot()
	if err != nil {
		g.fail(w, err)
		return
	}
	defer snap.Close()
	rc := g.openStream(w)
	defer g.stats.openStreams.Add(-1)
	ctx, cancel := g.streamContext(r)
	defer cancel()
	header := headerOut(g.s.header(0))
	pr, pw := io.Pipe()
	written := make(chan struct{})
	go func() {
		defer close(written)
		_, err := snap.WriteTo(pw)
		pw.CloseWithError(err)
	}()
	defer func() {
		pr.Close()
		<-written // before snap.Close: WriteTo reads the snapshot's transaction
	}()
	stop := context.AfterFunc(ctx, func() { _ = pr.CloseWithError(ctx.Err()) })
	defer stop()
	lw := g.newLineWriter(w, rc)
	remaining := uint64(snap.Size())
	for remaining > 0 {
		blob := make([]byte, min(remaining, snapshotChunk))
		if _, err := io.ReadFull(pr, blob); err != nil {
			// Cut short: the client sees no final chunk and must discard what it got.
			c.log.Warn("gateway snapshot download failed", "err", err)
			_ = lw.write(streamError(toWireError(err)))
			return
		}
		remaining -= uint64(len(blob))
		if err := lw.write(&jResult{Result: &jSnapshotResponse{Header: header, RemainingBytes: remaining, Blob: blob, Version: Version}}); err != nil {
			return
		}
	}
}

// flushHeader sends the response's status and headers now, if no line has yet.
func (lw *lineWriter) flushHeader() error {
	if lw.started {
		return nil
	}
	lw.w.Header().Set("Content-Type", "application/json")
	lw.w.WriteHeader(http.StatusOK)
	lw.started = true
	return lw.rc.Flush()
}
