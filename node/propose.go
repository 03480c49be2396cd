package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/raft/v3"
)

// submit proposes a request and waits for the result of applying it. A request that gives
// up after it was queued may still be applied later: its error says the outcome is unknown.
func (m *Member) submit(ctx context.Context, req *request) (any, error) {
	return m.submitTo(ctx, req, m.propC)
}

// submitPriority proposes a lease renewal or expiry ahead of ordinary requests, and
// without the apply-lag limit: under overload, leases must neither expire for want of a
// renewal nor outlive their TTL for want of a revoke.
func (m *Member) submitPriority(ctx context.Context, req *request) (any, error) {
	return m.submitTo(ctx, req, m.prioC)
}

func (m *Member) submitTo(ctx context.Context, req *request, queue chan *request) (any, error) {
	resp, err := m.submitQueued(ctx, req, queue)
	if err != nil && proposalFailure(err) {
		m.proposalsFailed.Add(1)
	}
	return resp, err
}

// proposalFailure reports whether err means consensus failed a proposal (as etcd counts
// etcd_server_proposals_failed_total), rather than the store refusing the request.
func proposalFailure(err error) bool {
	for _, e := range []error{ErrTimeout, ErrLeaderChanged, ErrDropped, ErrNoLeader, ErrStoppedOutcome, ErrSnapshotApplied, ErrTooManyRequests} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (m *Member) submitQueued(ctx context.Context, req *request, queue chan *request) (any, error) {
	if m.stopped() {
		return nil, ErrStopped
	}
	if size := req.size(); size > m.cfg.MaxRequestBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrRequestTooLarge, size, m.cfg.MaxRequestBytes)
	}
	if c, a := m.committed.Load(), m.applied.get(); queue == m.propC && c > a && c-a > m.cfg.MaxApplyLag {
		return nil, fmt.Errorf("%w: %d committed entries wait to be applied", ErrTooManyRequests, c-a)
	}
	req.Member = m.id
	req.Seq = m.seq.Add(1)
	ch := m.wait.register(req.Seq)
	select {
	case queue <- req:
	default:
		m.wait.cancel(req.Seq)
		return nil, fmt.Errorf("%w: %d requests wait to be proposed", ErrTooManyRequests, cap(queue))
	}
	select {
	case r := <-ch:
		return r.resp, r.err
	case <-ctx.Done():
		m.wait.cancel(req.Seq)
		return nil, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	case <-m.stopC:
		return nil, ErrStoppedOutcome
	}
}

// proposeLoop packs queued requests into raft entries: while one proposal is being handed
// to raft, the next requests queue up, so under load each entry carries many of them
// (one MsgApp per follower per batch instead of per request).
func (m *Member) proposeLoop() {
	defer m.wg.Done()
	for {
		var first *request
		select {
		case first = <-m.prioC:
		default:
			select {
			case <-m.stopC:
				return
			case first = <-m.prioC:
			case first = <-m.propC:
			}
		}
		batch, size := []*request{first}, first.size()
		// Priority requests first, then ordinary ones.
		for _, queue := range []chan *request{m.prioC, m.propC} {
		fill:
			for len(batch) < m.cfg.MaxBatchRequests && size < m.cfg.MaxBatchBytes {
				select {
				case r := <-queue:
					batch = append(batch, r)
					size += r.size()
				default:
					break fill
				}
			}
		}
		m.propose(batch)
	}
}

// propose hands one batch to raft. Without a leader raft cannot take it: the batch waits
// an election timeout for one, then fails with ErrNoLeader, never having been proposed.
// Once handed over, a proposal may be in the log even if raft's answer times out, so that
// case is ErrTimeout: outcome unknown.
func (m *Member) propose(batch []*request) {
	data, err := encodeEntry(batch)
	if err != nil {
		m.failBatch(batch, err)
		return
	}
	if !m.waitForLeader(m.cfg.electionTimeout()) {
		m.failBatch(batch, ErrNoLeader)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.electionTimeout())
	defer cancel()
	err = m.raft.Propose(ctx, data)
	switch {
	case err == nil:
		// From now on a leader change may lose them. (One that races with this line
		// leaves them to their deadline: slower, never wrong.)
		m.wait.proposed(batch)
	case errors.Is(err, context.DeadlineExceeded):
		m.failBatch(batch, fmt.Errorf("%w: raft did not take the proposal in time", ErrTimeout))
	case errors.Is(err, raft.ErrProposalDropped):
		m.failBatch(batch, ErrDropped)
	case errors.Is(err, raft.ErrStopped):
		m.failBatch(batch, ErrStopped)
	default:
		m.failBatch(batch, err)
	}
}

// waitForLeader reports whether a leader is known, waiting up to d for one.
func (m *Member) waitForLeader(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		changed := m.LeaderChanged() // taken before the check, so no change slips between
		if m.Leader() != 0 {
			return true
		}
		select {
		case <-changed:
		case <-timer.C:
			return m.Leader() != 0
		case <-m.stopC:
			return false
		}
	}
}

func (m *Member) failBatch(batch []*request, err error) {
	for _, r := range batch {
		m.wait.trigger(r.Seq, result{err: err})
	}
}
