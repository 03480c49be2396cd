package udpproxy

import (
	"container/heap"
	"sync"
	"time"
)

// delayQueue holds datagrams until their release time.
type delayQueue struct {
	mu     sync.Mutex
	items  itemHeap
	seq    uint64
	wake   chan struct{}
	closed bool
}

type item struct {
	at   time.Time
	seq  uint64 // keeps datagrams released at the same time in arrival order
	data []byte
	send func([]byte)
}

func newDelayQueue() *delayQueue { return &delayQueue{wake: make(chan struct{}, 1)} }

func (q *delayQueue) push(at time.Time, data []byte, send func([]byte)) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.seq++
	heap.Push(&q.items, item{at: at, seq: q.seq, data: data, send: send})
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop waits for the next datagram due; false once the queue is closed.
func (q *delayQueue) pop() (item, bool) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return item{}, false
		}
		var wait time.Duration = -1
		if len(q.items) > 0 {
			if wait = time.Until(q.items[0].at); wait <= 0 {
				it := heap.Pop(&q.items).(item)
				q.mu.Unlock()
				return it, true
			}
		}
		q.mu.Unlock()
		if wait < 0 {
			<-q.wake
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-q.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (q *delayQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.items = nil
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

type itemHeap []item

func (h itemHeap) Len() int { return len(h) }
func (h itemHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h itemHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *itemHeap) Push(x any)   { *h = append(*h, x.(item)) }
func (h *itemHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
