package quicclient

import "sync"

// queue is an unbounded FIFO whose consumer waits on a channel: producers never block,
// which keeps a slow consumer from stalling the goroutine that dispatches to many of them.
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	ready  chan struct{} // has a token while items is not empty
	closed bool
}

func newQueue[T any]() *queue[T] { return &queue[T]{ready: make(chan struct{}, 1)} }

// push appends v; it reports false once the queue is closed.
func (q *queue[T]) push(v T) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.items = append(q.items, v)
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// take removes everything queued (nil if nothing is).
func (q *queue[T]) take() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}

// close stops further pushes and wakes the consumer.
func (q *queue[T]) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
}

func (q *queue[T]) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}
