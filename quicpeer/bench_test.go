package quicpeer_test

import (
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"etcq.dev/etcq/certs/certstest"
)

// BenchmarkMessages measures raft messages per second from one transport to another on
// loopback: MsgApp with one 256-byte entry, sent in batches of 64 as a Ready would.
func BenchmarkMessages(b *testing.B) {
	pki := certstest.New(b)
	x, y := newMember(b, pki, 1, memberOpts{}), newMember(b, pki, 2, memberOpts{})
	mesh(x, y)
	deliver(b, x, y)
	const batch = 64
	data := make([]byte, 256)
	b.SetBytes(batch * int64(len(data)))
	b.ResetTimer()
	for i := range b.N {
		msgs := make([]*raftpb.Message, batch)
		for j := range msgs {
			m := msg(1, 2, uint64(i*batch+j))
			m.Entries[0].Data = data
			msgs[j] = m
		}
		x.tr.Send(msgs)
		// Wait for the batch, so the queue never overflows.
		for range batch {
			y.h.next(b, "a MsgApp", func(m *raftpb.Message) bool { return m.GetType() == raftpb.MessageType_MsgApp })
		}
	}
}
