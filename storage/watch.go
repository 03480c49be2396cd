package storage

import (
	"fmt"
	"sync"
)

// WatchID names a watcher within its stream.
type WatchID int64

// AutoWatchID asks the stream to choose the watcher's ID (the lowest unused, from 0).
const AutoWatchID WatchID = -1

// WatchRequest describes a watcher.
type WatchRequest struct {
	ID            WatchID
	Key, RangeEnd []byte
	// StartRev is the first revision to deliver; <= 0 means "changes after now". A start
	// revision already in the history is caught up from it; one below the compacted
	// revision cancels the watcher with the compacted revision.
	StartRev        int64
	PrevKV          bool
	NoPut, NoDelete bool
}

// WatchResponse is what a stream delivers. Events of one revision are never split across
// responses. Revision promises that every event of the watcher at or below it has been
// delivered (by this response or an earlier one); a response without events is a progress
// notification. A Canceled response is the watcher's last.
type WatchResponse struct {
	WatchID  WatchID
	Events   []Event
	Revision int64
	// Canceled ends the watcher. CompactRevision is set when it was canceled because its
	// next revision had been compacted; the caller may restart from CompactRevision.
	Canceled        bool
	CompactRevision int64
}

// WatchStream multiplexes watchers onto one channel of responses (a client's watch stream).
// Its methods are safe for concurrent use. Watchers that keep up are served at write time
// with no copying; a watcher whose responses do not fit in the channel is never dropped
// and never skips an event: it is caught up from the stored history, by the stream's own
// goroutine, at the pace the channel is read.
type WatchStream struct {
	hub *watchHub
	ch  chan WatchResponse

	// Fields below are guarded by hub.mu.
	watchers map[WatchID]*watcher
	closed   bool
	// canceled holds the Canceled responses the stream's goroutine owes, in order. Their
	// IDs stay in retiring, unavailable to new watchers, until the response is sent, so a
	// reused ID never sees the old watcher's last words after the new one's first.
	canceled []WatchResponse
	retiring map[WatchID]struct{}

	wakeC chan struct{}
	stopC chan struct{}
	doneC chan struct{}
	once  sync.Once
}

// watcher is one watch. All fields but the immutable ones are guarded by hub.mu.
type watcher struct {
	id                      WatchID
	ws                      *WatchStream
	kr                      keyRange
	minRev                  int64 // events below it are not delivered (the start revision)
	prevKV, noPut, noDelete bool

	// synced watchers sit in a group and receive events at write time; the others are
	// caught up from history starting at nextRev.
	synced  bool
	group   *watchGroup
	nextRev int64
	// owedProgress > 0 is a progress notification at that revision that could not be
	// sent at once; the stream's goroutine sends it.
	owedProgress int64
	canceled     bool
}

// filtered reports whether the watcher needs its own copy of a group's events.
func (w *watcher) filtered() bool { return w.prevKV || w.noPut || w.noDelete }

func (w *watcher) wants(ev *Event) bool {
	if ev.KV.ModRevision < w.minRev {
		return false
	}
	if ev.Type == EventPut {
		return !w.noPut
	}
	return !w.noDelete
}

// NewWatchStream opens a watch stream whose channel holds bufSize responses (<= 0: the
// store's WatchBufferSize).
func (s *Store) NewWatchStream(bufSize int) *WatchStream {
	if bufSize <= 0 {
		bufSize = s.opts.WatchBufferSize
	}
	ws := &WatchStream{
		hub:      s.hub,
		ch:       make(chan WatchResponse, bufSize),
		watchers: make(map[WatchID]*watcher),
		retiring: make(map[WatchID]struct{}),
		wakeC:    make(chan struct{}, 1),
		stopC:    make(chan struct{}),
		doneC:    make(chan struct{}),
	}
	h := s.hub
	h.mu.Lock()
	if h.closed {
		ws.closed = true
		h.mu.Unlock()
		ws.once.Do(func() {
			close(ws.doneC)
			close(ws.ch)
		})
		return ws
	}
	h.streams[ws] = struct{}{}
	h.mu.Unlock()
	go ws.run()
	return ws
}

// C returns the stream's responses. It is closed when the stream (or the store) closes.
func (ws *WatchStream) C() <-chan WatchResponse { return ws.ch }

// Watch adds a watcher and returns its ID.
func (ws *WatchStream) Watch(req WatchRequest) (WatchID, error) {
	h := ws.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if ws.closed {
		return 0, ErrClosed
	}
	id := req.ID
	if id == AutoWatchID {
		for id = 0; ws.inUse(id); id++ {
		}
	} else if id < 0 {
		return 0, fmt.Errorf("storage: invalid watch ID %d", id)
	} else if ws.inUse(id) {
		return 0, fmt.Errorf("%w: %d", ErrWatchIDExists, id)
	}
	if len(req.Key) == 0 {
		return 0, ErrEmptyKey
	}
	w := &watcher{
		id:       id,
		ws:       ws,
		kr:       newKeyRange(append([]byte(nil), req.Key...), append([]byte(nil), req.RangeEnd...)),
		minRev:   req.StartRev,
		prevKV:   req.PrevKV,
		noPut:    req.NoPut,
		noDelete: req.NoDelete,
	}
	ws.watchers[id] = w
	if req.StartRev <= 0 || req.StartRev > h.lastRev {
		// From now (or from a future revision): served at write time.
		w.minRev = max(req.StartRev, h.lastRev+1)
		w.synced = true
		h.synced.add(w)
		return id, nil
	}
	w.nextRev = req.StartRev
	ws.wake()
	return id, nil
}

// inUse reports whether id names a watcher or one whose Canceled response is still owed.
// hub.mu must be held.
func (ws *WatchStream) inUse(id WatchID) bool {
	_, retiring := ws.retiring[id]
	return retiring || ws.watchers[id] != nil
}

// Cancel removes a watcher. The stream then delivers a response with Canceled set for it,
// after any of its responses already under way, and nothing for it after that.
func (ws *WatchStream) Cancel(id WatchID) error {
	h := ws.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	w := ws.watchers[id]
	if w == nil {
		return fmt.Errorf("%w: %d", ErrWatchNotFound, id)
	}
	h.cancelLocked(w, 0)
	return nil
}

// RequestProgress asks for a progress notification for every watcher of the stream. It
// arrives after every event at or below its revision.
func (ws *WatchStream) RequestProgress() {
	h := ws.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, w := range ws.watchers {
		if !w.synced {
			w.owedProgress = max(w.nextRev-1, w.owedProgress, 1)
			continue
		}
		select {
		case ws.ch <- WatchResponse{WatchID: w.id, Revision: h.lastRev}:
		default:
			w.owedProgress = h.lastRev
		}
	}
	ws.wake()
}

// Close cancels every watcher and closes the channel. It is idempotent.
func (ws *WatchStream) Close() {
	ws.once.Do(func() {
		h := ws.hub
		h.mu.Lock()
		ws.closeLocked()
		h.mu.Unlock()
		<-ws.doneC
		close(ws.ch)
	})
}

// closeLocked detaches the stream from the hub; hub.mu must be held.
func (ws *WatchStream) closeLocked() {
	if ws.closed {
		return
	}
	ws.closed = true
	for _, w := range ws.watchers {
		ws.hub.removeLocked(w)
	}
	delete(ws.hub.streams, ws)
	close(ws.stopC)
}

func (ws *WatchStream) wake() {
	select {
	case ws.wakeC <- struct{}{}:
	default:
	}
}

// send delivers a response, waiting for room; false if the stream stopped meanwhile.
func (ws *WatchStream) send(r WatchResponse) bool {
	select {
	case ws.ch <- r:
		return true
	case <-ws.stopC:
		return false
	}
}

// run is the stream's goroutine: it catches up the stream's unsynced watchers from history
// and sends what could not be sent at write time.
func (ws *WatchStream) run() {
	defer close(ws.doneC)
	for {
		select {
		case <-ws.stopC:
			return
		case <-ws.wakeC:
		}
		for {
			more, ok := ws.hub.catchUp(ws)
			if !ok {
				return
			}
			if !more {
				break
			}
		}
	}
}
