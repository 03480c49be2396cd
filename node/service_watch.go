package node

import (
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"etcq.dev/etcq/storage"
	"etcq.dev/etcq/wire"
)

// watchSession serves one watch stream: the client's watchers on one storage watch stream.
type watchSession struct {
	c  *clientConn
	ws *storage.WatchStream
	sw *streamWriter

	// mu orders what the session sends: a watcher's Created response goes out before any
	// of its events, because the watcher is registered and announced under mu and events
	// are forwarded under mu.
	mu sync.Mutex
	// watchers holds the stream's live watchers.
	watchers map[storage.WatchID]*watchState
}

// watchState is what the session knows of one watcher.
type watchState struct {
	// notify: the watcher asked for periodic progress notifications.
	notify bool
	// owed: the client asked for progress, and this watcher's answer has not gone out.
	owed bool
}

func (c *clientConn) serveWatch(str *quic.Stream, fr *wire.FrameReader) {
	ws := c.s.m.store.NewWatchStream(0)
	w := &watchSession{
		c: c, ws: ws, sw: newStreamWriter(str, 256, c.log),
		watchers: make(map[storage.WatchID]*watchState),
	}
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		w.forward()
	}()
	stopTicker := make(chan struct{})
	go w.tick(stopTicker)

	dec := wire.NewDecoder()
	for {
		req, ok := c.readRequest(str, fr, dec, w.sw)
		if !ok {
			break
		}
		if req != nil {
			w.serve(req)
		}
	}
	close(stopTicker)
	ws.Close()
	<-forwarded
	str.CancelRead(closeStreamDone)
	_ = w.sw.close()
}

// serve handles one request of the watch stream.
func (w *watchSession) serve(req *wire.Request) {
	var denied error
	if body, ok := req.Body.(*wire.WatchCreateRequest); ok {
		// Checked before mu is taken: the check may wait for a linearizable read, and
		// the stream's events must not.
		denied = w.c.s.authorizeWatch(w.c, req.Token, body)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	reply := &wire.Response{ID: req.ID, Op: wire.OpWatch, Header: w.c.s.header(0)}
	switch body := req.Body.(type) {
	case *wire.WatchCreateRequest:
		wr := &wire.WatchResponse{WatchID: body.WatchID, Created: true}
		var id storage.WatchID
		err := denied
		if err == nil {
			id, err = w.create(body)
		}
		if err != nil {
			// As etcd: the create is answered with Created and Canceled and the reason.
			wr.Canceled, wr.CancelReason = true, err.Error()
		} else {
			wr.WatchID = int64(id)
		}
		reply.Body = wr
	case *wire.WatchCancelRequest:
		if err := w.ws.Cancel(storage.WatchID(body.WatchID)); err != nil {
			we := toWireError(err)
			reply.Code, reply.Message = we.Code, we.Message
		} else {
			// The Canceled response comes from the store, after the watcher's last events.
			return
		}
	case *wire.WatchProgressRequest:
		for _, st := range w.watchers {
			st.owed = true
		}
		w.ws.RequestProgress()
		return
	default:
		reply.Code, reply.Message = wire.CodeBadStream, req.Op.String()+" does not belong on a watch stream"
	}
	w.sw.send(reply)
}

func (w *watchSession) create(req *wire.WatchCreateRequest) (storage.WatchID, error) {
	sr := storage.WatchRequest{
		ID: storage.AutoWatchID, Key: req.Key, RangeEnd: req.RangeEnd,
		StartRev: req.StartRevision, PrevKV: req.PrevKV,
	}
	if req.WatchID != 0 {
		sr.ID = storage.WatchID(req.WatchID)
	}
	for _, f := range req.Filters {
		switch f {
		case wire.FilterNoPut:
			sr.NoPut = true
		case wire.FilterNoDelete:
			sr.NoDelete = true
		}
	}
	if len(req.Key) == 0 {
		return 0, wire.Errorf(wire.CodeEmptyKey, "watch: key is not provided")
	}
	id, err := w.ws.Watch(sr)
	if err != nil {
		return 0, err
	}
	w.watchers[id] = &watchState{notify: req.ProgressNotify}
	return id, nil
}

// forward sends the store's watch responses to the client until the watch stream closes.
func (w *watchSession) forward() {
	for r := range w.ws.C() {
		w.mu.Lock()
		st := w.watchers[r.WatchID]
		if len(r.Events) == 0 && !r.Canceled {
			// A progress notification: only for watchers that want one.
			if st == nil || !st.notify && !st.owed {
				w.mu.Unlock()
				continue
			}
			st.owed = false
		}
		if r.Canceled {
			delete(w.watchers, r.WatchID)
		}
		w.sw.send(&wire.Response{
			Op:     wire.OpWatch,
			Header: w.c.s.header(r.Revision),
			Body: &wire.WatchResponse{
				WatchID: int64(r.WatchID), Canceled: r.Canceled, CompactRevision: r.CompactRevision,
				CancelReason: cancelReason(r), Events: eventsToWire(r.Events),
			},
		})
		w.mu.Unlock()
	}
}

func cancelReason(r storage.WatchResponse) string {
	switch {
	case !r.Canceled:
		return ""
	case r.CompactRevision > 0:
		return wire.ErrCompacted.Error()
	}
	return "watcher canceled"
}

// tick requests progress notifications for the watchers that asked for them.
func (w *watchSession) tick(stop <-chan struct{}) {
	t := time.NewTicker(w.c.s.cfg.ProgressInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			w.mu.Lock()
			for _, st := range w.watchers {
				if st.notify {
					w.ws.RequestProgress()
					break
				}
			}
			w.mu.Unlock()
		case <-stop:
			return
		case <-w.c.s.ctx.Done():
			return
		}
	}
}
