package quicpeer_test

import (
	"fmt"
	"sync"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"etcq.dev/etcq/certs/certstest"
)

// TestMessagesInOrder: three transports send each other thousands of messages in small
// batches, concurrently; every member receives every message, each sender's in order.
func TestMessagesInOrder(t *testing.T) {
	pki := certstest.New(t)
	ms := []*member{newMember(t, pki, 1, memberOpts{}), newMember(t, pki, 2, memberOpts{}), newMember(t, pki, 3, memberOpts{})}
	mesh(ms...)
	for _, a := range ms {
		for _, b := range ms {
			if a != b {
				deliver(t, a, b)
			}
		}
	}
	const n = 2000 // below the queue length: nothing may be dropped
	var wg sync.WaitGroup
	for _, a := range ms {
		wg.Go(func() {
			for i := uint64(0); i < n; i += 10 {
				var batch []*raftpb.Message
				for _, b := range ms {
					if b != a {
						for j := i; j < i+10; j++ {
							batch = append(batch, msg(a.id, b.id, j))
						}
					}
				}
				a.tr.Send(batch)
			}
		})
	}
	wg.Wait()
	isApp := func(m *raftpb.Message) bool { return m.GetType() == raftpb.MessageType_MsgApp }
	for _, b := range ms {
		next := map[uint64]uint64{}
		for range 2 * n {
			m := b.h.next(t, fmt.Sprintf("MsgApp at %x", b.id), isApp)
			want := next[m.GetFrom()]
			if m.GetIndex() != want {
				t.Fatalf("member %x got index %d from %x, want %d", b.id, m.GetIndex(), m.GetFrom(), want)
			}
			if !proto.Equal(m, msg(m.GetFrom(), b.id, want)) {
				t.Fatalf("member %x got %v, want %v", b.id, m, msg(m.GetFrom(), b.id, want))
			}
			next[m.GetFrom()]++
		}
	}
}
