package node

import "sync"

// result is what the apply goroutine hands back to a waiting request.
type result struct {
	resp any
	err  error
}

// waitRegistry matches applied requests to the goroutines waiting for them, by sequence
// number. Safe for concurrent use.
type waitRegistry struct {
	mu sync.Mutex
	m  map[uint64]*waiter
}

type waiter struct {
	ch       chan result
	proposed bool // handed to raft: lost if the leader changes before it commits
}

func newWaitRegistry() *waitRegistry { return &waitRegistry{m: make(map[uint64]*waiter)} }

// register returns the channel on which seq's result will arrive (buffered: trigger never
// blocks).
func (w *waitRegistry) register(seq uint64) <-chan result {
	wt := &waiter{ch: make(chan result, 1)}
	w.mu.Lock()
	w.m[seq] = wt
	w.mu.Unlock()
	return wt.ch
}

// proposed marks requests as handed to raft.
func (w *waitRegistry) proposed(reqs []*request) {
	w.mu.Lock()
	for _, r := range reqs {
		if wt := w.m[r.Seq]; wt != nil {
			wt.proposed = true
		}
	}
	w.mu.Unlock()
}

// trigger delivers seq's result, if anyone still waits for it.
func (w *waitRegistry) trigger(seq uint64, r result) {
	w.mu.Lock()
	wt := w.m[seq]
	delete(w.m, seq)
	w.mu.Unlock()
	if wt != nil {
		wt.ch <- r
	}
}

// failProposed ends with err the waits of requests already handed to raft.
func (w *waitRegistry) failProposed(err error) {
	w.mu.Lock()
	var failed []*waiter
	for seq, wt := range w.m {
		if wt.proposed {
			failed = append(failed, wt)
			delete(w.m, seq)
		}
	}
	w.mu.Unlock()
	for _, wt := range failed {
		wt.ch <- result{err: err}
	}
}

// cancel forgets a waiter that gave up.
func (w *waitRegistry) cancel(seq uint64) {
	w.mu.Lock()
	delete(w.m, seq)
	w.mu.Unlock()
}

// failAll ends every wait with err.
func (w *waitRegistry) failAll(err error) {
	w.mu.Lock()
	m := w.m
	w.m = make(map[uint64]*waiter)
	w.mu.Unlock()
	for _, wt := range m {
		wt.ch <- result{err: err}
	}
}
