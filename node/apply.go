package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vmihailenco/msgpack/v5"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// applyLoop is the apply goroutine: it applies committed entries to the store in order,
// one store write session per entry (so the entry's consistent index is committed with
// exactly its effects), answers the waiting requests, and asks for a raft snapshot every
// SnapshotCount entries.
func (m *Member) applyLoop() {
	defer m.wg.Done()
	for {
		var ap toApply
		select {
		case <-m.stopC:
			return
		case ap = <-m.applyC:
		}
		if ap.snapshot != nil {
			if err := m.applySnapshot(ap.snapshot); err != nil {
				m.fatal(err)
				return
			}
		}
		for _, e := range ap.entries {
			if err := m.applyEntry(e); err != nil {
				m.fatal(fmt.Errorf("node: apply entry %d: %w", e.GetIndex(), err))
				return
			}
			m.raftApplied = e.GetIndex()
			m.snapBytes += uint64(len(e.Data))
			m.applied.set(e.GetIndex())
		}
		m.maybeSnapshot()
	}
}

func (m *Member) applyEntry(e *raftpb.Entry) error {
	ci := m.store.ConsistentIndex().Index
	switch e.GetType() {
	case raftpb.EntryNormal:
		if e.GetIndex() <= ci || len(e.Data) == 0 {
			return nil // already in the store (a replay after restart), or a leader's no-op
		}
		return m.applyRequests(e)
	case raftpb.EntryConfChange:
		var cc raftpb.ConfChange
		if err := proto.Unmarshal(e.Data, &cc); err != nil {
			return fmt.Errorf("decode conf change: %w", err)
		}
		return m.applyConfChange(e, &cc, cc.Context, e.GetIndex() <= ci)
	case raftpb.EntryConfChangeV2:
		var cc raftpb.ConfChangeV2
		if err := proto.Unmarshal(e.Data, &cc); err != nil {
			return fmt.Errorf("decode conf change: %w", err)
		}
		return m.applyConfChange(e, &cc, cc.Context, e.GetIndex() <= ci)
	}
	return nil
}

// applyRequests applies the requests packed in one entry in one store session. A request
// the store refuses (a compacted revision, a bad txn) fails alone: that is its answer, the
// same on every member. Results go to waiters only after the session ends, so a reader
// that hears of a write can always read it.
func (m *Member) applyRequests(e *raftpb.Entry) error {
	reqs, err := decodeEntry(e.Data)
	if err != nil {
		return err
	}
	w := m.store.Write()
	results := make([]result, len(reqs))
	authChanged := false
	for i, r := range reqs {
		// A client request is checked again against the auth state of this point of the
		// log; a refused one applies nothing.
		if err := m.authorize(r); err != nil {
			results[i] = result{err: err}
			continue
		}
		if err := m.checkSpace(r); err != nil {
			results[i] = result{err: err}
			continue
		}
		var resp any
		var err error
		switch r.Op {
		case opPut:
			resp, err = w.Put(*r.Put)
		case opDeleteRange:
			resp, err = w.DeleteRange(*r.DeleteRange)
		case opTxn:
			resp, err = w.Txn(*r.Txn)
		case opCompact:
			var done <-chan struct{}
			done, err = w.Compact(r.Compact)
			resp = &CompactResponse{Revision: m.store.Rev(), Done: done}
		case opLeaseGrant, opLeaseRevoke, opLeaseRenew, opLeaseCheckpoint, opLeaseExpire:
			if r.Lease == nil {
				err = fmt.Errorf("node: lease operation %d without a body", r.Op)
				break
			}
			resp, err = m.applyLease(w, r.Op, r.Lease)
		case opAuth:
			if r.Auth == nil {
				err = fmt.Errorf("node: auth operation without a body")
				break
			}
			before := m.auth.Status().Revision
			if err = m.applyAuth(r.Auth); err == nil && m.auth.Status().Revision != before {
				authChanged = true
				m.log.Info("auth changed", "op", r.Auth.String(), "auth_rev", before+1, "index", e.GetIndex())
			}
		case opAlarm:
			if r.Alarm == nil {
				err = fmt.Errorf("node: alarm operation without a body")
				break
			}
			changed := m.alarms.apply(w, r.Alarm)
			for _, a := range changed {
				m.log.Warn("alarm changed", "raised", r.Alarm.Activate, "alarm", a.Type.String(), "alarm_member", fmt.Sprintf("%x", a.Member))
			}
			resp = changed
		default:
			err = fmt.Errorf("node: unknown operation %d", r.Op)
		}
		results[i] = result{resp: resp, err: err}
	}
	if authChanged {
		w.SetAux(auxAuth, m.auth.Encode())
	}
	w.SetConsistentIndex(e.GetIndex(), e.GetTerm())
	w.End()
	// The applied index covers the entry before anyone hears of it: a caller that reads
	// AppliedIndex after its write returns gets an index that includes the write.
	m.applied.set(e.GetIndex())
	for i, r := range reqs {
		if r.Member == m.id {
			m.wait.trigger(r.Seq, results[i])
		}
	}
	return nil
}

// applyConfChange applies a membership change: the member list in the store (replicated
// state, committed with the entry's index), raft's configuration, the transport's peers.
// A change that breaks a rule (a removed ID coming back) is turned into a no-op the same
// way on every member, as raft requires. replay is set for entries the store already holds:
// raft's configuration is rebuilt from them, the store is not written again.
func (m *Member) applyConfChange(e *raftpb.Entry, cc raftpb.ConfChangeI, ctxBytes []byte, replay bool) error {
	var cctx confContext
	if len(ctxBytes) > 0 {
		if err := msgpack.Unmarshal(ctxBytes, &cctx); err != nil {
			return fmt.Errorf("decode conf change context: %w", err)
		}
	}
	v2 := cc.AsV2()
	var refusal error
	if replay {
		// The decision was made the first time, against the state of that moment, and
		// recorded; a replay repeats it rather than judge again against today's state.
		if _, refused := m.store.Aux(refusedKey(e.GetIndex())); refused {
			refusal = errReplayedRefusal
		}
	} else if refusal = m.authorizeConfChange(cctx.Caller); refusal == nil {
		refusal = m.checkConfChange(v2)
	}
	if refusal != nil {
		// Raft ignores changes whose node ID is 0; an empty ConfChangeV2 would instead
		// mean "leave the joint configuration".
		noop := &raftpb.ConfChangeV2{Transition: v2.Transition}
		for _, c := range v2.Changes {
			none := uint64(0)
			noop.Changes = append(noop.Changes, &raftpb.ConfChangeSingle{Type: c.Type, NodeId: &none})
		}
		m.raft.ApplyConfChange(noop)
	} else {
		cs := m.raft.ApplyConfChange(cc)
		m.confState.Store(cs)
	}
	if !replay {
		w := m.store.Write()
		if refusal == nil {
			m.recordConfChange(w, v2, &cctx.Info)
		} else {
			w.SetAux(refusedKey(e.GetIndex()), []byte{1})
		}
		w.SetConsistentIndex(e.GetIndex(), e.GetTerm())
		w.End()
	}
	if refusal == nil {
		m.updatePeers(v2)
	}
	m.applied.set(e.GetIndex())
	if cctx.Member == m.id && cctx.Seq != 0 {
		m.wait.trigger(cctx.Seq, result{resp: m.members(), err: refusal})
	}
	return nil
}

// errReplayedRefusal stands for the original reason a replayed change was refused.
var errReplayedRefusal = errors.New("node: membership change refused")

// applySnapshot replaces the store with the image that came with a snapshot from the
// leader (saved by ProcessSnapshot under the snapshot's index).
func (m *Member) applySnapshot(snap *raftpb.Snapshot) error {
	index := snap.GetMetadata().GetIndex()
	if index <= m.store.ConsistentIndex().Index {
		m.snapIndex, m.raftApplied, m.snapBytes = index, max(m.raftApplied, index), 0
		return nil // the store is already past it
	}
	path := m.imagePath(index)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("node: store image for snapshot %d: %w", index, err)
	}
	err = m.store.Restore(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("node: restore store from snapshot %d: %w", index, err)
	}
	os.Remove(path)
	m.removeImagesBelow(index)
	m.snapIndex, m.raftApplied, m.snapBytes = index, index, 0
	m.confState.Store(snap.GetMetadata().GetConfState())
	if err := m.lessor.load(m.store); err != nil {
		return err
	}
	if err := m.alarms.load(m.store); err != nil {
		return err
	}
	if err := m.loadAuth(); err != nil {
		return err
	}
	m.applied.set(max(index, m.store.ConsistentIndex().Index))
	for _, mi := range m.members() {
		if mi.ID != m.id {
			m.transport.AddPeer(mi.ID, mi.PeerURLs)
		}
	}
	// Requests proposed here may have been committed inside the snapshot, where no entry
	// answers them: end their waits now rather than at their deadlines.
	m.wait.failProposed(ErrSnapshotApplied)
	m.log.Info("restored the store from a snapshot", "index", index, "rev", m.store.Rev())
	return nil
}

// maybeSnapshot asks the raft goroutine for a snapshot once SnapshotCount entries, or
// SnapshotBytes of entry data, were applied since the last. The store commits first: after
// the snapshot the log before it may be gone, and the store must hold everything it covers
// durably.
func (m *Member) maybeSnapshot() {
	applied := m.raftApplied
	if applied <= m.snapIndex || applied-m.snapIndex < m.cfg.SnapshotCount && m.snapBytes < m.cfg.SnapshotBytes {
		return
	}
	if err := m.store.Commit(); err != nil {
		m.log.Warn("store commit before snapshot failed; snapshot postponed", "err", err)
		return
	}
	cs := m.confState.Load()
	if cs == nil {
		return
	}
	select {
	case m.snapC <- snapRequest{index: applied, cs: cs}:
		m.snapIndex, m.snapBytes = applied, 0
	default: // one is being saved; the next apply asks again
	}
}

// CompactResponse is the result of a compaction; Done closes when its physical removal
// is finished on this member.
type CompactResponse struct {
	Revision int64
	Done     <-chan struct{}
}

func (m *Member) imagePath(index uint64) string {
	return filepath.Join(m.imageDir, fmt.Sprintf("%016x.snap", index))
}

func (m *Member) removeImagesBelow(index uint64) {
	entries, _ := os.ReadDir(m.imageDir)
	for _, e := range entries {
		var i uint64
		if _, err := fmt.Sscanf(e.Name(), "%016x.snap", &i); err == nil && i < index {
			os.Remove(filepath.Join(m.imageDir, e.Name()))
		}
	}
}
