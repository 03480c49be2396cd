package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"
)

// readWaiter is a linearizable read waiting for its batch's read index to be applied.
type readWaiter struct {
	ctx  context.Context
	done chan error
}

// linearizableWait returns once this member has applied everything committed when it was
// called: after it, a read of the local store is linearizable. Reads arriving together
// share one ReadIndex round.
func (m *Member) linearizableWait(ctx context.Context) error {
	w := &readWaiter{ctx: ctx, done: make(chan error, 1)}
	select {
	case m.readC <- w:
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	case <-m.stopC:
		return ErrStopped
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	case <-m.stopC:
		return ErrStopped
	}
}

// readLoop serves batches of linearizable reads: it asks raft for a read index (the leader
// confirms with a quorum that it still leads, then names its commit index), waits until
// the local apply has reached that index, and releases the whole batch. A member cut off
// from the leader gets no read index, and its readers time out rather than read stale data.
func (m *Member) readLoop() {
	defer m.wg.Done()
	for {
		var batch []*readWaiter
		select {
		case <-m.stopC:
			return
		case w := <-m.readC:
			batch = append(batch, w)
		}
	drain:
		for {
			select {
			case w := <-m.readC:
				batch = append(batch, w)
			default:
				break drain
			}
		}
		index, err := m.readIndex(batch)
		if err == nil {
			select {
			case <-m.applied.wait(index):
			case <-m.stopC:
				return
			}
		}
		for _, w := range batch {
			w.done <- err
		}
	}
}

// readIndex obtains a read index for a batch, retrying every election timeout (a read
// index request is lost when there is no leader) until the batch's readers have all given
// up.
func (m *Member) readIndex(batch []*readWaiter) (uint64, error) {
	for {
		// Without a leader nothing can confirm a read index: say so once an election had
		// time to finish (a randomized timeout of up to two election timeouts, then the
		// vote), so the reader may try another member, rather than at its deadline.
		if !m.waitForLeader(3 * m.cfg.electionTimeout()) {
			if m.stopped() {
				return 0, ErrStopped
			}
			return 0, ErrNoLeader
		}
		id := m.readSeq.Add(1)
		rctx := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, m.id), id)
		ctx, cancel := context.WithTimeout(context.Background(), m.cfg.electionTimeout())
		err := m.raft.ReadIndex(ctx, rctx)
		if err != nil {
			cancel()
			if m.stopped() {
				return 0, ErrStopped
			}
			if !anyWaiting(batch) {
				return 0, ErrTimeout
			}
			continue
		}
		timer := time.NewTimer(m.cfg.electionTimeout())
	wait:
		for {
			select {
			case rs := <-m.readStateC:
				if bytes.Equal(rs.RequestCtx, rctx) {
					timer.Stop()
					cancel()
					return rs.Index, nil
				}
			case <-timer.C:
				break wait
			case <-m.stopC:
				timer.Stop()
				cancel()
				return 0, ErrStopped
			}
		}
		cancel()
		if !anyWaiting(batch) {
			return 0, ErrTimeout
		}
	}
}

func anyWaiting(batch []*readWaiter) bool {
	for _, w := range batch {
		if w.ctx.Err() == nil {
			return true
		}
	}
	return false
}
