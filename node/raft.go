package node

import (
	"fmt"
	"math"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// toApply is what the raft goroutine hands to the apply goroutine from one Ready.
type toApply struct {
	snapshot *raftpb.Snapshot // a snapshot received from the leader, already durable
	entries  []*raftpb.Entry
}

// snapRequest asks the raft goroutine to record a raft snapshot at an applied index (the
// raft log is owned by the raft goroutine).
type snapRequest struct {
	index uint64
	cs    *raftpb.ConfState
}

// run is the raft goroutine: it owns the raft log and drives raft.Node. Each Ready is
// handled in the order raft requires: a leader sends its messages first (it may write its
// log in parallel with its followers); a follower persists the hard state and entries
// before it sends anything (votes and acknowledgements promise durability); a snapshot is
// durable before it is handed to apply; committed entries go to the apply goroutine; then
// Advance.
func (m *Member) run() {
	defer m.wg.Done()
	tick := time.NewTicker(m.cfg.TickInterval)
	defer tick.Stop()
	promote := time.NewTicker(m.cfg.electionTimeout())
	defer promote.Stop()
	for {
		select {
		case <-m.stopC:
			return
		case <-tick.C:
			m.raft.Tick()
		case <-promote.C:
			m.autoPromote()
		case req := <-m.snapC:
			if err := m.saveSnapshot(req); err != nil {
				m.fatal(err)
				return
			}
		case rd := <-m.raft.Ready():
			ap, err := m.handleReady(rd)
			if err != nil {
				m.fatal(err)
				return
			}
			m.raft.Advance()
			if ap != nil {
				select {
				case m.applyC <- *ap:
				case <-m.stopC:
				}
			}
		}
	}
}

func (m *Member) handleReady(rd raft.Ready) (*toApply, error) {
	if rd.HardState != nil && !raft.IsEmptyHardState(rd.HardState) {
		m.term.Store(rd.HardState.GetTerm())
		m.committed.Store(rd.HardState.GetCommit())
	}
	if rd.SoftState != nil {
		m.noteSoftState(rd.SoftState)
	}
	for _, rs := range rd.ReadStates {
		select {
		case m.readStateC <- rs:
		default: // the read loop retries a lost read state
		}
	}
	leader := m.lead.Load() == m.id
	if leader {
		m.send(rd.Messages)
	}
	snap := rd.Snapshot
	hasSnap := snap != nil && !raft.IsEmptySnap(snap)
	if hasSnap {
		if err := m.rlog.SaveSnapshot(snap); err != nil {
			return nil, fmt.Errorf("node: save snapshot: %w", err)
		}
	}
	if err := m.rlog.Save(rd.HardState, rd.Entries); err != nil {
		return nil, fmt.Errorf("node: save raft log: %w", err)
	}
	if hasSnap {
		if err := m.mem.ApplySnapshot(snap); err != nil {
			return nil, fmt.Errorf("node: apply snapshot to the log: %w", err)
		}
	}
	if err := m.mem.Append(rd.Entries); err != nil {
		return nil, fmt.Errorf("node: append to the log: %w", err)
	}
	if !leader {
		m.send(rd.Messages)
	}
	if hasSnap || len(rd.CommittedEntries) > 0 {
		ap := &toApply{entries: rd.CommittedEntries}
		if hasSnap {
			ap.snapshot = snap
		}
		return ap, nil
	}
	return nil, nil
}

// noteSoftState publishes leadership changes.
func (m *Member) noteSoftState(ss *raft.SoftState) {
	old := m.lead.Swap(ss.Lead)
	if old == ss.Lead {
		return
	}
	m.log.Info("leader changed", "leader", fmt.Sprintf("%x", ss.Lead), "term", m.term.Load())
	next := make(chan struct{})
	prev := m.leaderC.Swap(&next)
	close(*prev)
	// Proposals handed to raft under a leader that is gone may be lost; their outcome is
	// unknown. Finding a leader after having none loses nothing.
	if old != 0 {
		m.wait.failProposed(ErrLeaderChanged)
	}
}

// send hands messages to the transport; snapshots go on a path of their own, with the
// store image.
func (m *Member) send(msgs []*raftpb.Message) {
	if len(msgs) == 0 {
		return
	}
	out := msgs[:0:0]
	for _, msg := range msgs {
		if msg.GetType() == raftpb.MessageType_MsgSnap {
			m.sendSnapshot(msg)
			continue
		}
		out = append(out, msg)
	}
	if len(out) > 0 {
		m.transport.Send(out)
	}
}

// catchUpStart returns the index to compact the in-memory log to after a snapshot at
// index, keeping a tail of at most SnapshotCatchUpEntries entries and SnapshotCatchUpBytes
// of their data for followers that lag a little; 0: nothing to compact.
func (m *Member) catchUpStart(index uint64) uint64 {
	first, err := m.mem.FirstIndex()
	if err != nil || index < first {
		return 0
	}
	ents, err := m.mem.Entries(first, index+1, math.MaxUint64) // a view, not a copy
	if err != nil {
		return 0
	}
	compact, kept, bytes := index, uint64(0), uint64(0)
	for i := len(ents) - 1; i > 0; i-- {
		bytes += uint64(len(ents[i].Data))
		if kept == m.cfg.SnapshotCatchUpEntries || bytes > m.cfg.SnapshotCatchUpBytes {
			break
		}
		kept++
		compact = ents[i-1].GetIndex()
	}
	if compact <= first {
		return 0
	}
	return compact
}

// saveSnapshot records a raft snapshot at an applied index whose effects are committed
// in the store, compacts the in-memory log behind it (keeping a tail for followers that
// lag a little), and releases the WAL behind it.
func (m *Member) saveSnapshot(req snapRequest) error {
	snap, err := m.mem.CreateSnapshot(req.index, req.cs, nil)
	if err == raft.ErrSnapOutOfDate {
		return nil
	}
	if err != nil {
		return fmt.Errorf("node: create snapshot: %w", err)
	}
	if err := m.rlog.SaveSnapshot(snap); err != nil {
		return fmt.Errorf("node: save snapshot: %w", err)
	}
	if compact := m.catchUpStart(req.index); compact > 0 {
		if err := m.mem.Compact(compact); err != nil && err != raft.ErrCompacted {
			return fmt.Errorf("node: compact log: %w", err)
		}
	}
	if err := m.rlog.Release(req.index); err != nil {
		return fmt.Errorf("node: release raft log: %w", err)
	}
	m.log.Info("saved raft snapshot", "index", req.index)
	return nil
}
