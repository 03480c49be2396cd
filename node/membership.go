package node

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"go.etcd.io/raft/v3/raftpb"

	"etcq.dev/etcq/storage"
)

// The member list is replicated state: the store's aux values "members/<id>" (msgpack
// MemberInfo), "removed/<id>" (IDs that may never come back) and "refused/<index>" (conf
// change entries refused at apply, so a replay refuses them again), written by the conf
// change entries that change them.
const (
	auxMembers = "members/"
	auxRemoved = "removed/"
	auxRefused = "refused/" // conf change entries refused at apply, by index
)

func memberKey(id uint64) string     { return fmt.Sprintf("%s%016x", auxMembers, id) }
func removedKey(id uint64) string    { return fmt.Sprintf("%s%016x", auxRemoved, id) }
func refusedKey(index uint64) string { return fmt.Sprintf("%s%016x", auxRefused, index) }

// members returns the cluster's members as this member has applied them, by ID.
func (m *Member) members() []MemberInfo {
	_, vals := m.store.AuxPrefix(auxMembers)
	out := make([]MemberInfo, 0, len(vals))
	for _, v := range vals {
		var mi MemberInfo
		if err := msgpack.Unmarshal(v, &mi); err != nil {
			m.log.Error("unreadable member record", "err", err)
			continue
		}
		out = append(out, mi)
	}
	return out
}

// Members returns the cluster's members as this member has applied them.
func (m *Member) Members() []MemberInfo { return m.members() }

func (m *Member) member(id uint64) (MemberInfo, bool) {
	v, ok := m.store.Aux(memberKey(id))
	if !ok {
		return MemberInfo{}, false
	}
	var mi MemberInfo
	if err := msgpack.Unmarshal(v, &mi); err != nil {
		return MemberInfo{}, false
	}
	return mi, true
}

func (m *Member) wasRemoved(id uint64) bool {
	_, ok := m.store.Aux(removedKey(id))
	return ok
}

// checkConfChange applies the membership rules to a committed change. Every member
// decides the same from the same replicated state.
func (m *Member) checkConfChange(cc *raftpb.ConfChangeV2) error {
	for _, c := range cc.Changes {
		id := c.GetNodeId()
		_, exists := m.member(id)
		switch c.GetType() {
		case raftpb.ConfChangeType_ConfChangeAddNode, raftpb.ConfChangeType_ConfChangeAddLearnerNode:
			if m.wasRemoved(id) {
				return fmt.Errorf("%w: %x", ErrIDRemoved, id)
			}
		case raftpb.ConfChangeType_ConfChangeRemoveNode, raftpb.ConfChangeType_ConfChangeUpdateNode:
			if !exists {
				return fmt.Errorf("%w: %x", ErrMemberNotFound, id)
			}
		}
	}
	return nil
}

// recordConfChange writes a change to the member list in the session.
func (m *Member) recordConfChange(w *storage.Write, cc *raftpb.ConfChangeV2, info *MemberInfo) {
	for _, c := range cc.Changes {
		id := c.GetNodeId()
		cur, exists := m.member(id)
		switch c.GetType() {
		case raftpb.ConfChangeType_ConfChangeAddNode:
			if exists { // a promotion
				cur.IsLearner = false
				m.putMember(w, &cur)
			} else {
				mi := *info
				mi.ID, mi.IsLearner = id, false
				m.putMember(w, &mi)
			}
		case raftpb.ConfChangeType_ConfChangeAddLearnerNode:
			mi := *info
			mi.ID, mi.IsLearner = id, true
			m.putMember(w, &mi)
		case raftpb.ConfChangeType_ConfChangeRemoveNode:
			w.SetAux(memberKey(id), nil)
			w.SetAux(removedKey(id), []byte{1})
		case raftpb.ConfChangeType_ConfChangeUpdateNode:
			cur.PeerURLs = info.PeerURLs
			if len(info.ClientURLs) > 0 {
				cur.ClientURLs = info.ClientURLs
			}
			m.putMember(w, &cur)
		}
	}
}

func (m *Member) putMember(w *storage.Write, mi *MemberInfo) {
	b, err := msgpack.Marshal(mi)
	if err != nil {
		panic(fmt.Sprintf("node: encode member: %v", err)) // plain struct: cannot fail
	}
	w.SetAux(memberKey(mi.ID), b)
}

// updatePeers tells the transport about an applied change.
func (m *Member) updatePeers(cc *raftpb.ConfChangeV2) {
	for _, c := range cc.Changes {
		id := c.GetNodeId()
		if c.GetType() == raftpb.ConfChangeType_ConfChangeRemoveNode {
			if id == m.id {
				m.removed.Do(func() { close(m.removedC) })
				m.log.Warn("this member was removed from the cluster")
			} else {
				// Not at once: what is queued for it may tell it the removal committed.
				time.AfterFunc(m.cfg.electionTimeout(), func() { m.transport.RemovePeer(id) })
			}
			continue
		}
		if id == m.id {
			continue
		}
		if mi, ok := m.member(id); ok {
			m.transport.AddPeer(id, mi.PeerURLs)
		}
	}
}

// proposeConfChange proposes a membership change and waits until it is applied; it
// returns the member list after it.
func (m *Member) proposeConfChange(ctx context.Context, typ raftpb.ConfChangeType, info MemberInfo) ([]MemberInfo, error) {
	if m.stopped() {
		return nil, ErrStopped
	}
	seq := m.seq.Add(1)
	cctx, err := msgpack.Marshal(&confContext{Member: m.id, Seq: seq, Info: info, Caller: callerFrom(ctx)})
	if err != nil {
		return nil, err
	}
	id := info.ID
	cc := &raftpb.ConfChangeV2{
		Changes: []*raftpb.ConfChangeSingle{{Type: typ.Enum(), NodeId: &id}},
		Context: cctx,
	}
	ch := m.wait.register(seq)
	if err := m.raft.ProposeConfChange(ctx, cc); err != nil {
		m.wait.cancel(seq)
		return nil, fmt.Errorf("node: propose membership change: %w", err)
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, r.err
		}
		return r.resp.([]MemberInfo), nil
	case <-ctx.Done():
		m.wait.cancel(seq)
		return nil, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	case <-m.stopC:
		return nil, ErrStopped
	}
}

// AddMember adds a member with a new, never used ID. It joins as a learner: it receives the
// log but does not vote, so a new, empty member cannot cost the cluster its quorum. Unless
// learner is set, it is promoted to voter automatically once it has caught up. The new
// member's process starts with Config.Join.
func (m *Member) AddMember(ctx context.Context, name string, peerURLs []string, learner bool) (MemberInfo, []MemberInfo, error) {
	for _, mi := range m.members() {
		for _, u := range peerURLs {
			if slices.Contains(mi.PeerURLs, u) {
				return MemberInfo{}, nil, fmt.Errorf("%w: %s (member %x)", ErrPeerURLExists, u, mi.ID)
			}
		}
	}
	id, err := m.addedMemberID(name, peerURLs)
	if err != nil {
		return MemberInfo{}, nil, err
	}
	info := MemberInfo{ID: id, Name: name, PeerURLs: peerURLs, IsLearner: true, AutoPromote: !learner}
	members, err := m.proposeConfChange(ctx, raftpb.ConfChangeType_ConfChangeAddLearnerNode, info)
	return info, members, err
}

// addedMemberID is the ID of a member being added: derived from its name, peer URLs and
// the cluster token when there are a name and a token (the new member's process derives
// the same one from its flags), random otherwise.
func (m *Member) addedMemberID(name string, peerURLs []string) (uint64, error) {
	if name == "" || m.cfg.ClusterToken == "" {
		return m.newMemberID()
	}
	id := MemberIDFor(name, peerURLs, m.cfg.ClusterToken)
	if _, exists := m.member(id); exists {
		return 0, fmt.Errorf("%w: %x (name %q)", ErrPeerURLExists, id, name)
	}
	if m.wasRemoved(id) {
		return 0, fmt.Errorf("%w: %x: a member named %q with these peer URLs was removed before and IDs are never reused; add it under another name", ErrIDRemoved, id, name)
	}
	return id, nil
}

// newMemberID picks a random non-zero ID that no member has or had.
func (m *Member) newMemberID() (uint64, error) {
	for {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return 0, err
		}
		id := binary.BigEndian.Uint64(b[:])
		if _, exists := m.member(id); id != 0 && !exists && !m.wasRemoved(id) {
			return id, nil
		}
	}
}

// PromoteMember makes a learner a voter. On the leader it refuses a learner that has not
// caught up, which would otherwise weaken the quorum.
func (m *Member) PromoteMember(ctx context.Context, id uint64) ([]MemberInfo, error) {
	mi, ok := m.member(id)
	if !ok {
		return nil, fmt.Errorf("%w: %x", ErrMemberNotFound, id)
	}
	if !mi.IsLearner {
		return nil, fmt.Errorf("%w: %x", ErrNotLearner, id)
	}
	// Only the leader knows how far the learner has got: a follower would promote a
	// learner that never started, weakening the quorum.
	if !m.IsLeader() {
		return nil, fmt.Errorf("%w: promote learner %x through the leader (%x), which knows whether it has caught up", ErrNotLeader, id, m.Leader())
	}
	if !m.caughtUp(id) {
		return nil, fmt.Errorf("%w: %x", ErrLearnerBehind, id)
	}
	return m.proposeConfChange(ctx, raftpb.ConfChangeType_ConfChangeAddNode, mi)
}

// caughtUp reports whether a follower's log is close to the leader's (leader only).
func (m *Member) caughtUp(id uint64) bool {
	st := m.raft.Status()
	pr, ok := st.Progress[id]
	if !ok {
		return false
	}
	commit := st.HardState.GetCommit()
	return pr.Match+uint64(max(m.cfg.MaxBatchRequests, 100)) >= commit && pr.Match > 0
}

// RemoveMember removes a member. The leader refuses a removal that would leave fewer
// reachable voters than the new configuration's quorum.
func (m *Member) RemoveMember(ctx context.Context, id uint64) ([]MemberInfo, error) {
	mi, ok := m.member(id)
	if !ok {
		return nil, fmt.Errorf("%w: %x", ErrMemberNotFound, id)
	}
	if m.IsLeader() && !mi.IsLearner {
		check := func() (int, int) {
			st := m.raft.Status()
			voters, active := 0, 0
			for pid, pr := range st.Progress {
				if pr.IsLearner || pid == id {
					continue
				}
				voters++
				if pid == m.id || pr.RecentActive {
					active++
				}
			}
			return voters, active
		}
		voters, active := check()
		if active < voters/2+1 {
			select {
			case <-time.After(2 * time.Duration(m.cfg.HeartbeatTicks) * m.cfg.TickInterval):
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
			}
			voters, active = check()
		}
		if active < voters/2+1 {
			return nil, fmt.Errorf("%w: %d of %d remaining voters are reachable", ErrUnhealthy, active, voters)
		}
	}
	return m.proposeConfChange(ctx, raftpb.ConfChangeType_ConfChangeRemoveNode, MemberInfo{ID: id})
}

// UpdateMember changes a member's peer URLs.
func (m *Member) UpdateMember(ctx context.Context, id uint64, peerURLs []string) ([]MemberInfo, error) {
	mi, ok := m.member(id)
	if !ok {
		return nil, fmt.Errorf("%w: %x", ErrMemberNotFound, id)
	}
	mi.PeerURLs = peerURLs
	return m.proposeConfChange(ctx, raftpb.ConfChangeType_ConfChangeUpdateNode, mi)
}

// autoPromote promotes caught-up learners added without the learner flag (leader only;
// runs on the raft goroutine every election timeout, the proposal on its own goroutine).
func (m *Member) autoPromote() {
	if m.cfg.DisableAutoPromote || !m.IsLeader() {
		return
	}
	for _, mi := range m.members() {
		if !mi.IsLearner || !mi.AutoPromote || !m.caughtUp(mi.ID) {
			continue
		}
		if !m.promoting.CompareAndSwap(false, true) {
			return
		}
		id := mi.ID
		go func() {
			defer m.promoting.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), 2*m.cfg.electionTimeout())
			defer cancel()
			if _, err := m.PromoteMember(ctx, id); err != nil {
				m.log.Warn("automatic promotion failed", "learner", fmt.Sprintf("%x", id), "err", err)
				return
			}
			m.log.Info("promoted a caught-up learner", "member", fmt.Sprintf("%x", id))
		}()
		return
	}
}

// MoveLeader hands leadership to another voter and waits until it has taken over. It
// must be called on the leader.
func (m *Member) MoveLeader(ctx context.Context, to uint64) error {
	if !m.IsLeader() {
		return ErrNotLeader
	}
	if mi, ok := m.member(to); !ok || mi.IsLearner {
		return fmt.Errorf("%w: %x is not a voting member", ErrMemberNotFound, to)
	}
	for m.Leader() != to {
		changed := m.LeaderChanged()
		m.raft.TransferLeadership(ctx, m.id, to)
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%w: leadership transfer to %x: %w", ErrTimeout, to, ctx.Err())
		case <-m.stopC:
			return ErrStopped
		}
	}
	return nil
}
