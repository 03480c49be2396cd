package quicpeer

import "sync"

// reporter tells the handler about unreachable peers from a goroutine of its own, so
// that Send (called by raft's goroutine) never calls into the handler, and a burst of
// drops for one peer becomes one report.
type reporter struct {
	mu      sync.Mutex
	pending map[uint64]struct{}
	wake    chan struct{} // holds one token when pending may be non-empty
}

func newReporter() *reporter {
	return &reporter{pending: make(map[uint64]struct{}), wake: make(chan struct{}, 1)}
}

// unreachable queues a report for peer id. It never blocks.
func (r *reporter) unreachable(id uint64) {
	r.mu.Lock()
	r.pending[id] = struct{}{}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// take returns the peers to report and forgets them.
func (r *reporter) take() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]uint64, 0, len(r.pending))
	for id := range r.pending {
		ids = append(ids, id)
	}
	clear(r.pending)
	return ids
}

// runReporter delivers reports until the transport closes. It starts delivering once the
// transport is started (it has a handler then).
func (t *Transport) runReporter() {
	defer t.wg.Done()
	select {
	case <-t.started:
	case <-t.ctx.Done():
		return
	}
	for {
		select {
		case <-t.reports.wake:
		case <-t.ctx.Done():
			return
		}
		for _, id := range t.reports.take() {
			if t.ctx.Err() != nil {
				return
			}
			t.handler.ReportUnreachable(id)
		}
	}
}
