package quicpeer_test

import (
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"etcq.dev/etcq/certs/certstest"
	"etcq.dev/etcq/internal/udpproxy"
	"etcq.dev/etcq/quicpeer"
)

// deadURL returns a peer URL where nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return "https://" + addr
}

// TestReconnectAfterRestart: a member's transport closes and comes back on the same
// address; its peer notices, reports it unreachable meanwhile, and reconnects.
func TestReconnectAfterRestart(t *testing.T) {
	pki := certstest.New(t)
	tlsB := peerTLS(pki, pki.Peer(t, "member-2"))
	a, b := newMember(t, pki, 1, memberOpts{}), newMember(t, pki, 2, memberOpts{tls: tlsB})
	mesh(a, b)
	deliver(t, a, b)
	deliver(t, b, a)

	addr := b.tr.Addr().String()
	if err := b.tr.Close(); err != nil {
		t.Fatal(err)
	}
	a.tr.Send([]*raftpb.Message{heartbeat(1, 2)})
	a.h.waitUnreachable(t, 2)

	b2 := newMember(t, pki, 2, memberOpts{tls: tlsB, listen: addr})
	b2.tr.AddPeer(a.id, []string{a.url})
	deliver(t, a, b2)
	deliver(t, b2, a)
}

// crash closes b while every datagram between a and b is lost, so a never hears of it,
// and starts b again on the same address with the same options; then the link heals.
func crash(t *testing.T, pki *certstest.PKI, b *member, p *udpproxy.Proxy, o memberOpts) *member {
	t.Helper()
	p.SetFaults(udpproxy.ToTarget, udpproxy.Faults{Loss: 1})
	p.SetFaults(udpproxy.FromTarget, udpproxy.Faults{Loss: 1})
	o.listen = b.tr.Addr().String()
	if err := b.tr.Close(); err != nil {
		t.Fatal(err)
	}
	b2 := newMember(t, pki, b.id, o)
	p.Heal()
	return b2
}

// crashSetup is member 1 reaching member 2 (made with ob) through a proxy; member 2 does
// not reach member 1. Both have an idle timeout longer than the test may wait: only the
// mechanisms under test can reconnect them in time. It returns ob as used, for the
// restart.
func crashSetup(t *testing.T, pki *certstest.PKI, ob memberOpts) (a, b *member, p *udpproxy.Proxy, used memberOpts) {
	t.Helper()
	long := func(c *quicpeer.Config) { c.IdleTimeout = 3 * eventually }
	a = newMember(t, pki, 1, memberOpts{tweak: long})
	extra := ob.tweak
	ob.tweak = func(c *quicpeer.Config) {
		long(c)
		if extra != nil {
			extra(c)
		}
	}
	ob.tls = peerTLS(pki, pki.Peer(t, "member-2"))
	b = newMember(t, pki, 2, ob)
	p, err := udpproxy.New(b.tr.Addr().String(), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	a.tr.AddPeer(b.id, []string{"https://" + p.Addr().String()})
	b.tr.AddPeer(a.id, []string{deadURL(t)}) // b admits a, but never reaches it
	deliver(t, a, b)
	return a, b, p, ob
}

// TestReconnectAfterCrashByIncarnation: a member that crashed and came back says so in
// the header of its first stream; its peer drops the dead connection at once. Member 1
// knows member 2's first incarnation only from the answer to its own stream.
func TestReconnectAfterCrashByIncarnation(t *testing.T) {
	pki := certstest.New(t)
	a, b, p, ob := crashSetup(t, pki, memberOpts{})
	b2 := crash(t, pki, b, p, ob)
	b2.tr.AddPeer(a.id, []string{a.url})
	deliver(t, b2, a)
	a.log.waitFor(t, "the restart noticed", func(r logRecord) bool { return r.msg == "peer restarted; replacing its connections" })
	deliver(t, a, b2)
}

// TestReconnectAfterCrashByStatelessReset: a member that keeps its stateless reset key
// across restarts makes its peers' dead connections fail at once, even if it never
// reaches them itself.
func TestReconnectAfterCrashByStatelessReset(t *testing.T) {
	pki := certstest.New(t)
	key := new([32]byte)
	copy(key[:], "a secret that survives restarts")
	a, b, p, ob := crashSetup(t, pki, memberOpts{tweak: func(c *quicpeer.Config) { c.StatelessResetKey = key }})
	b2 := crash(t, pki, b, p, ob)
	b2.tr.AddPeer(a.id, []string{deadURL(t)}) // it knows a (to admit it) but cannot reach it
	deliver(t, a, b2)
}

// TestSendNeverBlocks: Send returns at once whether the peer is down, slow, or unknown;
// what does not fit is dropped and the peer reported unreachable.
func TestSendNeverBlocks(t *testing.T) {
	small := func(c *quicpeer.Config) { c.QueueLen = 8 }
	pki := certstest.New(t)
	t.Run("peer down", func(t *testing.T) {
		a := newMember(t, pki, 1, memberOpts{tweak: small})
		a.tr.AddPeer(2, []string{deadURL(t)})
		sendMany(t, a, 2)
		a.h.waitUnreachable(t, 2)
	})
	t.Run("peer not reading", func(t *testing.T) {
		stuck := newRecorder()
		stuck.msgs = make(chan *raftpb.Message) // nobody receives: Process blocks
		a := newMember(t, pki, 1, memberOpts{tweak: small})
		b := newMember(t, pki, 2, memberOpts{handler: stuck})
		mesh(a, b)
		sendMany(t, a, 2)
		a.h.waitUnreachable(t, 2)
	})
	t.Run("unknown peer", func(t *testing.T) {
		a := newMember(t, pki, 1, memberOpts{tweak: small})
		sendMany(t, a, 9)
		a.h.waitUnreachable(t, 9)
	})
}

// sendMany sends far more than a queue holds, with large entries, and fails the test if
// Send does not return.
func sendMany(t *testing.T, a *member, to uint64) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range uint64(20000) {
			m := msg(a.id, to, i)
			m.Entries[0].Data = make([]byte, 4<<10)
			a.tr.Send([]*raftpb.Message{m})
		}
	}()
	select {
	case <-done:
	case <-time.After(eventually):
		t.Fatal("Send blocked")
	}
}

// TestSendBeforeStart: messages sent before Start wait in the queue and go out once the
// transport starts.
func TestSendBeforeStart(t *testing.T) {
	pki := certstest.New(t)
	b := newMember(t, pki, 2, memberOpts{})
	a := newMember(t, pki, 1, memberOpts{noStart: true})
	b.tr.AddPeer(a.id, []string{a.url})
	a.tr.AddPeer(b.id, []string{b.url})
	a.tr.Send([]*raftpb.Message{msg(1, 2, 77)})
	if err := a.tr.Start(testCluster, a.h); err != nil {
		t.Fatal(err)
	}
	if err := a.tr.Start(testCluster, a.h); !errors.Is(err, quicpeer.ErrAlreadyStarted) {
		t.Fatalf("second Start: %v", err)
	}
	b.h.next(t, "the message sent before Start", func(m *raftpb.Message) bool { return m.GetIndex() == 77 })
}

// TestRemovePeer: a removed member's connections are closed with the reason, it is
// refused from then on, and messages to it are reported unreachable.
func TestRemovePeer(t *testing.T) {
	pki := certstest.New(t)
	a, b := newMember(t, pki, 1, memberOpts{}), newMember(t, pki, 2, memberOpts{})
	mesh(a, b)
	deliver(t, a, b)
	deliver(t, b, a)
	b.tr.RemovePeer(a.id)
	a.log.waitFor(t, "a's log of its removal", func(r logRecord) bool {
		err, ok := r.attrs["err"].(error)
		return ok && errors.Is(err, quicpeer.ErrMemberRemoved)
	})
	a.log.waitFor(t, "a refused as unknown", func(r logRecord) bool {
		err, ok := r.attrs["err"].(error)
		return ok && errors.Is(err, quicpeer.ErrUnknownMember)
	})
	b.tr.Send([]*raftpb.Message{heartbeat(2, 1)})
	b.h.waitUnreachable(t, 1)
}

// TestAddPeerUpdatesURLs: a member added at a wrong address is reached once AddPeer
// gives its right one, without waiting for the attempt at the wrong one to time out.
func TestAddPeerUpdatesURLs(t *testing.T) {
	pki := certstest.New(t)
	slowDial := func(c *quicpeer.Config) { c.DialTimeout = 3 * eventually }
	a, b := newMember(t, pki, 1, memberOpts{tweak: slowDial}), newMember(t, pki, 2, memberOpts{})
	b.tr.AddPeer(a.id, []string{a.url})
	a.tr.AddPeer(b.id, []string{deadURL(t), "http://" + b.tr.Addr().String()}) // plaintext is ignored
	a.log.waitFor(t, "the http URL refused", func(r logRecord) bool { return r.msg == "ignoring a peer URL" })
	a.tr.AddPeer(b.id, []string{b.url})
	deliver(t, a, b)
}

// TestCloseLeavesNoGoroutines: after Close, nothing of the transport or quic-go runs.
func TestCloseLeavesNoGoroutines(t *testing.T) {
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
	data := randomBytes(1<<20, 9)
	img := newImage(data)
	ms[0].tr.SendSnapshot(snapMsg(1, 2, 5), img, int64(len(data)))
	// Close in the middle of whatever is going on, including a peer that is down.
	ms[0].tr.AddPeer(4, []string{deadURL(t)})
	ms[0].tr.Send([]*raftpb.Message{heartbeat(1, 4)})
	for _, m := range ms {
		if err := m.tr.Close(); err != nil {
			t.Fatal(err)
		}
		if err := m.tr.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
	<-img.closed
	deadline := time.Now().Add(eventually)
	for {
		leaked := leakedGoroutines()
		if leaked == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left after Close:\n%s", leaked)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A closed transport drops what it is given, and refuses to start.
	ms[0].tr.Send([]*raftpb.Message{heartbeat(1, 2)})
	ms[0].tr.AddPeer(5, []string{deadURL(t)})
	img2 := newImage(data)
	ms[0].tr.SendSnapshot(snapMsg(1, 2, 6), img2, int64(len(data)))
	<-img2.closed
	if err := newMember(t, pki, 6, memberOpts{noStart: true}).tr.Close(); err != nil {
		t.Fatal(err)
	}
}

// leakedGoroutines returns the stacks of goroutines running quicpeer or quic-go code.
func leakedGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "quicpeer.(*") || strings.Contains(g, "quicpeer.(") || strings.Contains(g, "github.com/quic-go/quic-go") {
			if !strings.Contains(g, "leakedGoroutines") {
				out = append(out, g)
			}
		}
	}
	return strings.Join(out, "\n\n")
}
