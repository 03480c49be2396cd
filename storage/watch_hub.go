package storage

import (
	"sync"
)

// watchHub connects write sessions to watch streams.
//
// A watcher is either synced or unsynced. Synced watchers have been given every event up to
// lastRev; they sit in groups by key range and receive the events of each write session
// when it ends (notify), by a send that never blocks. When a send does not fit, the watcher
// becomes unsynced at the first revision it missed. Unsynced watchers are caught up from
// the stored history by their stream's goroutine (catchUp), which blocks on the channel
// only for its own stream, and they rejoin the synced set once they reach lastRev.
//
// Ordering argument: notify runs under the store's write lock, in revision order, and
// advances lastRev under hub.mu; catchUp reads history only up to the lastRev it saw under
// hub.mu, and promotes a watcher only when, under hub.mu, its next revision is lastRev+1.
// So every revision reaches a watcher exactly once: by notify or by catch-up, never both.
type watchHub struct {
	s *Store

	mu      sync.Mutex
	lastRev int64
	// epoch counts restores, so a catch-up step can tell it read a replaced history.
	epoch   uint64
	synced  *watchGroups
	streams map[*WatchStream]struct{}
	closed  bool
}

func newWatchHub(s *Store) *watchHub {
	return &watchHub{s: s, synced: newWatchGroups(), streams: make(map[*WatchStream]struct{})}
}

// catchUpChunk is the number of records one catch-up step reads; a step always ends on a
// revision boundary, so a revision with more records is read whole.
const catchUpChunk = 1000

// notify delivers the events of one write session, whose last revision is rev, to the
// synced watchers. The caller holds the store's write lock.
func (h *watchHub) notify(events []Event, rev int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	from := h.lastRev + 1
	h.lastRev = rev
	if len(events) == 0 {
		return
	}
	var touched []*watchGroup
	for i := range events {
		h.synced.match(events[i].KV.Key, func(g *watchGroup) {
			if len(g.events) == 0 {
				touched = append(touched, g)
			}
			g.events = append(g.events, events[i])
		})
	}
	var prev prevCache
	defer prev.close()
	for _, g := range touched {
		evs := g.events
		g.events = nil
		for w := range g.watchers {
			mine := evs
			if w.filtered() || evs[0].KV.ModRevision < w.minRev {
				mine = h.filter(w, evs, &prev)
				if len(mine) == 0 {
					continue
				}
			}
			select {
			case w.ws.ch <- WatchResponse{WatchID: w.id, Events: mine, Revision: rev}:
			default:
				// No room: catch up from history, starting at this session's first
				// revision (everything before it was delivered).
				h.synced.remove(w)
				w.synced = false
				w.nextRev = max(from, w.minRev)
				w.ws.wake()
			}
		}
	}
}

// filter returns the events of evs that w wants, with PrevKV filled in if it asked.
func (h *watchHub) filter(w *watcher, evs []Event, prev *prevCache) []Event {
	var out []Event
	for i := range evs {
		if !w.wants(&evs[i]) {
			continue
		}
		ev := evs[i]
		if w.prevKV {
			ev.PrevKV = prev.get(h.s, &evs[i])
		}
		out = append(out, ev)
	}
	return out
}

// prevCache looks up the version before an event once per notify, however many watchers
// want it.
type prevCache struct {
	v    *view
	seen map[*Event]*KeyValue
}

func (p *prevCache) get(s *Store, ev *Event) *KeyValue {
	if kv, ok := p.seen[ev]; ok {
		return kv
	}
	if p.v == nil {
		v, err := s.be.view()
		if err != nil {
			return nil
		}
		p.v, p.seen = v, make(map[*Event]*KeyValue)
	}
	kv := s.prevOf(p.v, ev)
	p.seen[ev] = kv
	return kv
}

func (p *prevCache) close() {
	if p.v != nil {
		p.v.Close()
	}
}

// prevOf returns the version of ev's key just before ev, or nil if there was none or it
// has been compacted away.
func (s *Store) prevOf(v *view, ev *Event) *KeyValue {
	at := ev.KV.ModRevision - 1
	if at < s.compactRev.Load() {
		return nil
	}
	kv, err := s.getAt(v, ev.KV.Key, at)
	if err != nil {
		return nil
	}
	return kv
}

// cancelLocked detaches a watcher and queues its Canceled response, which the stream's
// goroutine sends after anything of the watcher's it is sending now. h.mu must be held.
func (h *watchHub) cancelLocked(w *watcher, compactRev int64) {
	if w.canceled {
		return
	}
	h.removeLocked(w)
	w.ws.canceled = append(w.ws.canceled, WatchResponse{WatchID: w.id, Canceled: true, CompactRevision: compactRev})
	w.ws.retiring[w.id] = struct{}{}
	w.ws.wake()
}

// removeLocked detaches a watcher; h.mu must be held.
func (h *watchHub) removeLocked(w *watcher) {
	if w.canceled {
		return
	}
	w.canceled = true
	if w.synced {
		h.synced.remove(w)
		w.synced = false
	}
	delete(w.ws.watchers, w.id)
}

// catchUp does one step of work for a stream's unsynced watchers: owed progress
// notifications, cancellations for compacted revisions, one chunk of history. It reports
// whether more work remains, and false in ok when the stream stopped.
//
// Order matters: lastRev is read first, then the read view begins (so it holds every
// record up to lastRev), then compactRev is read (so a compaction that removes records
// after the view began is seen and cancels the watcher instead). The view is closed before
// any blocking send: a slow reader must not pin a bbolt read transaction.
func (h *watchHub) catchUp(ws *WatchStream) (more, ok bool) {
	s := h.s
	type lag struct {
		w       *watcher
		nextRev int64
	}
	h.mu.Lock()
	if ws.closed {
		h.mu.Unlock()
		return false, false
	}
	last, epoch := h.lastRev, h.epoch
	owed := ws.canceled
	ws.canceled = nil
	var lagging []lag
	for _, w := range ws.watchers {
		if w.owedProgress > 0 {
			owed = append(owed, WatchResponse{WatchID: w.id, Revision: w.owedProgress})
			w.owedProgress = 0
		}
		if !w.synced {
			lagging = append(lagging, lag{w, w.nextRev})
		}
	}
	h.mu.Unlock()

	for _, r := range owed {
		if !ws.send(r) {
			return false, false
		}
		if r.Canceled {
			h.mu.Lock()
			delete(ws.retiring, r.WatchID)
			h.mu.Unlock()
		}
	}
	if len(lagging) == 0 {
		return false, true
	}

	s.swapMu.RLock()
	v, err := s.be.view()
	if err != nil {
		s.swapMu.RUnlock()
		s.log.Error("watch catch-up: cannot read history", "err", err)
		return false, true
	}
	compacted := s.compactRev.Load()
	var cancels []*watcher
	from := int64(-1)
	live := lagging[:0]
	for _, l := range lagging {
		if l.nextRev < compacted {
			cancels = append(cancels, l.w)
			continue
		}
		live = append(live, l)
		if from < 0 || l.nextRev < from {
			from = l.nextRev
		}
	}
	var events []Event
	end := last
	if len(live) > 0 {
		events, end, err = s.readHistory(v, from, last, catchUpChunk)
	}
	if err != nil {
		v.Close()
		s.swapMu.RUnlock()
		s.log.Error("watch catch-up: cannot read history", "err", err)
		return false, true
	}
	out := make([][]Event, len(live))
	for i, l := range live {
		w := l.w
		for j := range events {
			ev := &events[j]
			if ev.KV.ModRevision < l.nextRev || !w.kr.contains(ev.KV.Key) || !w.wants(ev) {
				continue
			}
			e := *ev
			if w.prevKV {
				e.PrevKV = s.prevOf(v, ev)
			}
			out[i] = append(out[i], e)
		}
	}
	v.Close()
	s.swapMu.RUnlock()

	if len(cancels) > 0 {
		h.mu.Lock()
		for _, w := range cancels {
			h.cancelLocked(w, compacted)
		}
		h.mu.Unlock()
		more = true // the Canceled responses go out at the start of the next step
	}
	for i, l := range live {
		if l.nextRev <= end && len(out[i]) > 0 {
			if !ws.send(WatchResponse{WatchID: l.w.id, Events: out[i], Revision: end}) {
				return false, false
			}
		}
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	for i, l := range live {
		w := l.w
		if w.canceled {
			continue
		}
		if h.epoch != epoch {
			// A restore replaced the history while this step read the old one. What the
			// watcher was given must be within the new history, or it is canceled.
			given := l.nextRev - 1
			if l.nextRev <= end && len(out[i]) > 0 {
				given = end
			}
			if given > h.lastRev {
				h.cancelLocked(w, 0)
				continue
			}
			w.nextRev = max(w.nextRev, given+1)
			more = true
			continue
		}
		if l.nextRev <= end {
			w.nextRev = end + 1
		}
		if w.nextRev >= h.lastRev+1 {
			w.synced = true
			h.synced.add(w)
		} else {
			more = true
		}
	}
	return more, true
}

// readHistory reads the events of revisions [from, to] from v, stopping after about limit
// records on a revision boundary. It returns the events (copied out of the view) and the
// last revision read completely.
func (s *Store) readHistory(v *view, from, to int64, limit int) ([]Event, int64, error) {
	var events []Event
	end := to
	var err error
	v.scan(revKeyPrefix(from), revKeyPrefix(to+1), func(k, val []byte) bool {
		var rev Revision
		var tomb bool
		if rev, tomb, err = parseRevKey(k); err != nil {
			return false
		}
		if len(events) >= limit && rev.Main != events[len(events)-1].KV.ModRevision {
			end = rev.Main - 1
			return false
		}
		var ev Event
		if err = decodeRecord(val, &ev.KV, true); err != nil {
			return false
		}
		if tomb {
			ev.Type = EventDelete
		}
		events = append(events, ev)
		return true
	})
	return events, end, err
}

// close closes every stream (the store is closing).
func (h *watchHub) close() {
	h.mu.Lock()
	h.closed = true
	streams := make([]*WatchStream, 0, len(h.streams))
	for ws := range h.streams {
		streams = append(streams, ws)
	}
	h.mu.Unlock()
	for _, ws := range streams {
		ws.Close()
	}
}

// restored re-bases the hub on a store restored from a snapshot whose revision is rev.
// Every watcher resumes from the revision it needs next, caught up from the new history
// (or canceled with the compacted revision if that history no longer holds it). A watcher
// that was already given revisions the new history does not reach (the store went back in
// time) is canceled: what it saw may not be what the new history says.
func (h *watchHub) restored(rev int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.lastRev
	h.lastRev = rev
	h.epoch++
	for ws := range h.streams {
		for _, w := range ws.watchers {
			next := w.nextRev
			if w.synced {
				h.synced.remove(w)
				w.synced = false
				next = old + 1
			}
			if next > rev+1 && w.minRev < next {
				h.cancelLocked(w, 0)
				continue
			}
			w.nextRev = max(next, w.minRev)
			if w.nextRev > rev {
				w.synced = true
				h.synced.add(w)
			}
		}
		ws.wake()
	}
}
