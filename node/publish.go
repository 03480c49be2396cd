package node

import (
	"context"
	"math/rand/v2"
	"slices"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// publishLoop makes the member's client URLs (Config.ClientURLs) part of its replicated
// member record, so clients and `endpoint status --cluster` can find it. It proposes an
// update once there is a leader, and again until the record shows the URLs.
func (m *Member) publishLoop() {
	defer m.wg.Done()
	backoff := m.cfg.electionTimeout()
	for {
		mi, ok := m.member(m.id)
		if ok && slices.Equal(mi.ClientURLs, m.cfg.ClientURLs) {
			return
		}
		if ok && m.Leader() != 0 {
			mi.ClientURLs = m.cfg.ClientURLs
			// Raft drops a conf change proposed while another is pending (several members
			// publishing at once): the attempt then times out and is retried after a
			// random pause, so the members do not collide again.
			ctx, cancel := context.WithTimeout(context.Background(), 2*m.cfg.electionTimeout())
			_, err := m.proposeConfChange(ctx, raftpb.ConfChangeType_ConfChangeUpdateNode, mi)
			cancel()
			if err == nil {
				m.log.Info("published client URLs", "urls", m.cfg.ClientURLs)
				return
			}
			m.log.Debug("publishing client URLs failed; retrying", "err", err)
		}
		select {
		case <-m.stopC:
			return
		case <-m.LeaderChanged():
		case <-time.After(backoff/2 + rand.N(backoff)):
		}
	}
}
