package nodetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"etcq.dev/etcq/node"
)

// patience bounds every wait in these tests. It only turns a hang into a failure: no
// test waits for time to pass, each waits for an event.
const patience = 20 * time.Second

// fake is a node.Handler that records what it is given into channels. process and
// processSnapshot, when set, replace the default behaviour (record and return nil).
type fake struct {
	id              uint64
	msgs            chan *raftpb.Message
	unreachable     chan uint64
	snapStatus      chan snapReport
	process         func(ctx context.Context, m *raftpb.Message) error
	processSnapshot func(ctx context.Context, m *raftpb.Message, r io.Reader) error
	reportMu        *sync.Mutex // if set, held while reporting (see TestReportsAreAsync)
}

type snapReport struct {
	to     uint64
	status raft.SnapshotStatus
}

var _ node.Handler = (*fake)(nil)

func newFake(id uint64) *fake {
	return &fake{
		id:          id,
		msgs:        make(chan *raftpb.Message, 2*QueueLen),
		unreachable: make(chan uint64, 1024),
		snapStatus:  make(chan snapReport, 64),
	}
}

func (f *fake) Process(ctx context.Context, m *raftpb.Message) error {
	if m.GetTo() != f.id {
		panic(fmt.Sprintf("member %d got a message for %d", f.id, m.GetTo()))
	}
	if f.process != nil {
		return f.process(ctx, m)
	}
	f.msgs <- m
	return nil
}

func (f *fake) ProcessSnapshot(ctx context.Context, m *raftpb.Message, r io.Reader) error {
	if f.processSnapshot != nil {
		return f.processSnapshot(ctx, m, r)
	}
	_, err := io.Copy(io.Discard, r)
	return err
}

func (f *fake) ReportUnreachable(id uint64) {
	if f.reportMu != nil {
		f.reportMu.Lock()
		defer f.reportMu.Unlock()
	}
	select {
	case f.unreachable <- id:
	default: // reports coalesce anyway; tests only need to see one
	}
}

func (f *fake) ReportSnapshot(id uint64, status raft.SnapshotStatus) {
	if f.reportMu != nil {
		f.reportMu.Lock()
		defer f.reportMu.Unlock()
	}
	f.snapStatus <- snapReport{id, status}
}

// cluster joins members 1..n, each with every other as a peer.
func cluster(t *testing.T, net *Network, n uint64) (map[uint64]*fake, map[uint64]*Endpoint) {
	t.Helper()
	fakes, eps := map[uint64]*fake{}, map[uint64]*Endpoint{}
	for id := uint64(1); id <= n; id++ {
		fakes[id] = newFake(id)
		eps[id] = net.Join(id, fakes[id])
	}
	for id, ep := range eps {
		for peer := range eps {
			if peer != id {
				ep.AddPeer(peer, []string{fmt.Sprintf("fake://%d", peer)})
			}
		}
	}
	return fakes, eps
}

func newNet(t *testing.T, seed int64) *Network {
	net := NewNetwork(seed, t.Logf)
	t.Cleanup(net.Close)
	return net
}

func msg(typ raftpb.MessageType, from, to, index uint64) *raftpb.Message {
	return &raftpb.Message{
		Type:  typ.Enum(),
		From:  proto.Uint64(from),
		To:    proto.Uint64(to),
		Term:  proto.Uint64(1),
		Index: proto.Uint64(index),
	}
}

func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(patience):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// within runs f and fails the test if it does not return: for calls that must not block.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	recv(t, done, what)
}

func TestDeliveredMessagesAreCopies(t *testing.T) {
	net := newNet(t, 1)
	fakes, eps := cluster(t, net, 2)
	m := msg(raftpb.MsgApp, 1, 2, 7)
	m.Entries = []*raftpb.Entry{{Term: proto.Uint64(1), Index: proto.Uint64(8), Data: []byte("value")}}
	m.Context = []byte("ctx")
	want := proto.Clone(m)

	eps[1].Send([]*raftpb.Message{m})
	// The sender may reuse everything as soon as Send returns.
	m.Entries[0].Data[0] = 'X'
	m.Entries[0].Index = proto.Uint64(99)
	m.Context[0] = 'X'
	m.Index = proto.Uint64(99)

	got := recv(t, fakes[2].msgs, "the message")
	if !proto.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	if got == m || &got.Entries[0].Data[0] == &m.Entries[0].Data[0] {
		t.Fatal("delivered message aliases the sent one")
	}
	if s := net.Stats(1, 2); s != (LinkStats{Delivered: 1}) {
		t.Fatalf("stats %+v", s)
	}
}

// TestOrderUnderDelay sends on a link with delay and jitter: every message arrives, in
// order, and none before its delay.
func TestOrderUnderDelay(t *testing.T) {
	const count, d, jitter = 300, 2 * time.Millisecond, 5 * time.Millisecond
	net := newNet(t, 2)
	fakes, eps := cluster(t, net, 2)
	var sent [count + 1]time.Time
	type arrival struct {
		index uint64
		at    time.Time
	}
	arrivals := make(chan arrival, count)
	fakes[2].process = func(_ context.Context, m *raftpb.Message) error {
		arrivals <- arrival{m.GetIndex(), time.Now()}
		return nil
	}
	net.Delay(1, 2, d, jitter)
	for i := uint64(1); i <= count; i++ {
		sent[i] = time.Now()
		eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, 2, i)})
	}
	for i := uint64(1); i <= count; i++ {
		a := recv(t, arrivals, fmt.Sprintf("message %d", i))
		if a.index != i {
			t.Fatalf("message %d arrived in place of %d", a.index, i)
		}
		if early := sent[i].Add(d).Sub(a.at); early > 0 {
			t.Fatalf("message %d arrived %v before its delay", i, early)
		}
	}
	if s := net.Stats(1, 2); s != (LinkStats{Delivered: count}) {
		t.Fatalf("stats %+v", s)
	}
}

// dropPattern sends 1000 messages 1 -> 2 with Drop(1, 2, 0.3) while 2 -> 1 carries
// traffic with drops of its own concurrently, and returns the indexes delivered.
func dropPattern(t *testing.T, seed int64) []uint64 {
	const count = 1000
	net := NewNetwork(seed, t.Logf)
	defer net.Close()
	fakes, eps := cluster(t, net, 2)
	net.Drop(1, 2, 0.3)
	net.Drop(2, 1, 0.5)

	var other sync.WaitGroup
	other.Go(func() {
		for i := uint64(1); i <= count; i++ {
			eps[2].Send([]*raftpb.Message{msg(raftpb.MsgAppResp, 2, 1, i)})
		}
	})
	for i := uint64(1); i <= count; i++ {
		eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, 2, i)})
	}
	other.Wait()

	// Drop decides when a message is sent: the count is final once Send returns.
	s := net.Stats(1, 2)
	var got []uint64
	for range count - s.Dropped {
		got = append(got, recv(t, fakes[2].msgs, "a message that was not dropped").GetIndex())
	}
	if s := net.Stats(1, 2); s.Delivered != uint64(len(got)) || s.Delivered+s.Dropped != count {
		t.Fatalf("stats %+v after receiving %d", s, len(got))
	}
	select {
	case <-fakes[1].unreachable:
		t.Fatal("a random drop was reported as unreachable")
	default:
	}
	return got
}

func TestDropIsDeterministic(t *testing.T) {
	a, b, c := dropPattern(t, 42), dropPattern(t, 42), dropPattern(t, 43)
	if !slices.Equal(a, b) {
		t.Fatal("the same seed dropped different messages")
	}
	if slices.Equal(a, c) {
		t.Fatal("different seeds dropped the same messages")
	}
	if !slices.IsSorted(a) {
		t.Fatal("messages delivered out of order")
	}
	// With seed 42 the rate is fixed; the bound only guards against a broken source.
	if rate := 1 - float64(len(a))/1000; rate < 0.2 || rate > 0.4 {
		t.Fatalf("dropped %.2f of the messages, want about 0.3", rate)
	}
}

func TestDropAnyAndOverride(t *testing.T) {
	net := newNet(t, 3)
	fakes, eps := cluster(t, net, 3)
	net.Drop(Any, Any, 1)
	net.Drop(1, 2, 0)
	for _, l := range []link{{1, 2}, {1, 3}, {2, 1}, {3, 2}} {
		eps[l.from].Send([]*raftpb.Message{msg(raftpb.MsgHeartbeat, l.from, l.to, 1)})
	}
	if got := recv(t, fakes[2].msgs, "1 -> 2").GetFrom(); got != 1 {
		t.Fatalf("got a message from %d", got)
	}
	for _, l := range []link{{1, 3}, {2, 1}, {3, 2}} {
		if s := net.Stats(l.from, l.to); s.Dropped != 1 {
			t.Fatalf("%d -> %d: stats %+v, want a drop", l.from, l.to, s)
		}
	}
	net.Heal()
	eps[3].Send([]*raftpb.Message{msg(raftpb.MsgHeartbeat, 3, 2, 2)})
	if got := recv(t, fakes[2].msgs, "3 -> 2 after Heal").GetFrom(); got != 3 {
		t.Fatalf("got a message from %d", got)
	}
}

// reach sends a probe from -> to and reports whether it arrived. Faults that block a
// link drop at Send, so a drop shows in Stats as soon as Send returns.
func reach(t *testing.T, net *Network, fakes map[uint64]*fake, eps map[uint64]*Endpoint, from, to uint64) bool {
	t.Helper()
	before := net.Stats(from, to).Dropped
	eps[from].Send([]*raftpb.Message{msg(raftpb.MsgHeartbeat, from, to, 0)})
	if net.Stats(from, to).Dropped > before {
		recv(t, fakes[from].unreachable, fmt.Sprintf("%d's report that %d is unreachable", from, to))
		return false
	}
	if got := recv(t, fakes[to].msgs, fmt.Sprintf("the probe %d -> %d", from, to)); got.GetFrom() != from {
		t.Fatalf("%d got a probe from %d, want %d", to, got.GetFrom(), from)
	}
	return true
}

func TestCutIsolatePartitionHeal(t *testing.T) {
	const n = 5
	net := newNet(t, 4)
	fakes, eps := cluster(t, net, n)
	// talk lists the pairs that can talk (a < b); every other pair must be blocked both ways.
	check := func(fault string, talk ...[2]uint64) {
		t.Helper()
		for a := uint64(1); a <= n; a++ {
			for b := uint64(1); b <= n; b++ {
				if a == b {
					continue
				}
				want := slices.Contains(talk, [2]uint64{min(a, b), max(a, b)})
				if got := reach(t, net, fakes, eps, a, b); got != want {
					t.Errorf("%s: %d -> %d reachable %v, want %v", fault, a, b, got, want)
				}
			}
		}
	}
	all := func(except ...uint64) (pairs [][2]uint64) {
		for a := uint64(1); a <= n; a++ {
			for b := a + 1; b <= n; b++ {
				if !slices.Contains(except, a) && !slices.Contains(except, b) {
					pairs = append(pairs, [2]uint64{a, b})
				}
			}
		}
		return pairs
	}

	check("no fault", all()...)

	net.Cut(1, 2)
	check("cut 1-2", slices.DeleteFunc(all(), func(p [2]uint64) bool { return p == [2]uint64{1, 2} })...)
	net.Heal()
	check("healed cut", all()...)

	net.Isolate(3)
	check("isolate 3", all(3)...)
	net.Heal()
	check("healed isolation", all()...)

	net.Partition([]uint64{1, 2}, []uint64{3, 4}) // 5 is in no group: alone
	check("partition", [2]uint64{1, 2}, [2]uint64{3, 4})
	net.Partition([]uint64{1, 2, 3, 4, 5})
	check("one group", all()...)
	net.Partition([]uint64{1}, []uint64{2, 3, 4, 5})
	net.Partition()
	check("partition removed", all()...)
	net.Partition([]uint64{1, 5}, []uint64{2, 3, 4})
	net.Cut(2, 3)
	check("partition and cut", [2]uint64{1, 5}, [2]uint64{2, 4}, [2]uint64{3, 4})
	net.Heal()
	check("healed everything", all()...)
}

// TestCutDropsQueued: messages queued on a link when it is cut are dropped, even if it
// heals before they would have been delivered.
func TestCutDropsQueued(t *testing.T) {
	net := newNet(t, 5)
	fakes, eps := cluster(t, net, 2)
	started, release := make(chan struct{}), make(chan struct{})
	fakes[2].process = func(_ context.Context, m *raftpb.Message) error {
		if m.GetIndex() == 1 {
			close(started)
			<-release
		}
		fakes[2].msgs <- m
		return nil
	}
	eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, 2, 1)})
	recv(t, started, "the first message to be in delivery")
	for i := uint64(2); i <= 11; i++ {
		eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, 2, i)})
	}
	net.Cut(2, 1)
	if s := net.Stats(1, 2); s.Dropped != 10 {
		t.Fatalf("after the cut: stats %+v, want the 10 queued dropped", s)
	}
	net.Heal()
	close(release)
	eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, 2, 12)})
	for _, want := range []uint64{1, 12} {
		if got := recv(t, fakes[2].msgs, fmt.Sprintf("message %d", want)).GetIndex(); got != want {
			t.Fatalf("got message %d, want %d", got, want)
		}
	}
	if s := net.Stats(1, 2); s != (LinkStats{Delivered: 2, Dropped: 10}) {
		t.Fatalf("stats %+v", s)
	}
}

func TestHook(t *testing.T) {
	net := newNet(t, 6)
	fakes, eps := cluster(t, net, 2)
	var seen atomic.Int64
	net.SetHook(func(m *raftpb.Message) bool {
		seen.Add(1)
		if m.GetType() == raftpb.MsgApp {
			m.Commit = proto.Uint64(42) // the hook may alter the destination's copy
		}
		return m.GetType() != raftpb.MsgHeartbeat
	})
	eps[1].Send([]*raftpb.Message{
		msg(raftpb.MsgHeartbeat, 1, 2, 1),
		msg(raftpb.MsgApp, 1, 2, 2),
		msg(raftpb.MsgHeartbeat, 1, 2, 3),
		msg(raftpb.MsgApp, 1, 2, 4),
	})
	for _, want := range []uint64{2, 4} {
		got := recv(t, fakes[2].msgs, fmt.Sprintf("message %d", want))
		if got.GetIndex() != want || got.GetCommit() != 42 {
			t.Fatalf("got %v, want message %d with commit 42", got, want)
		}
	}
	// A link delivers in order, so message 3 was dealt with before 4 arrived.
	if s := net.Stats(1, 2); s != (LinkStats{Delivered: 2, Dropped: 2}) || seen.Load() != 4 {
		t.Fatalf("stats %+v, hook saw %d", s, seen.Load())
	}
	net.SetHook(nil)
	eps[1].Send([]*raftpb.Message{msg(raftpb.MsgHeartbeat, 1, 2, 5)})
	if got := recv(t, fakes[2].msgs, "a heartbeat").GetIndex(); got != 5 || seen.Load() != 4 {
		t.Fatalf("got message %d, hook saw %d", got, seen.Load())
	}
}

// TestSendNeverBlocks: a destination that never returns from Process fills its link;
// Send still returns, drops the excess and reports the destination unreachable.
func TestSendNeverBlocks(t *testing.T) {
	net := newNet(t, 7)
	fakes, eps := cluster(t, net, 2)
	stuck := make(chan struct{})
	fakes[2].process = func(ctx context.Context, m *raftpb.Message) error {
		if m.GetIndex() == 1 {
			close(stuck)
		}
		<-ctx.Done() // until Close
		return ctx.Err()
	}
	eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, 2, 1)})
	recv(t, stuck, "the destination to block")
	const extra = 100
	within(t, "Send to a blocked destination", func() {
		for i := uint64(2); i <= QueueLen+1+extra; i++ {
			eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, 2, i)})
		}
	})
	if s := net.Stats(1, 2); s != (LinkStats{Delivered: 1, Dropped: extra}) {
		t.Fatalf("stats %+v, want 1 delivered (and stuck), %d dropped", s, extra)
	}
	if id := recv(t, fakes[1].unreachable, "ReportUnreachable"); id != 2 {
		t.Fatalf("reported %d unreachable", id)
	}
	// Other links are unaffected.
	eps[2].Send([]*raftpb.Message{msg(raftpb.MsgAppResp, 2, 1, 1)})
	recv(t, fakes[1].msgs, "2 -> 1")
	within(t, "Close with a blocked handler", net.Close)
}

func TestUnknownPeers(t *testing.T) {
	net := newNet(t, 8)
	fakes, eps := cluster(t, net, 2)
	f3 := newFake(3)
	ep3 := net.Join(3, f3) // joined, but 1 never added it
	ep3.AddPeer(1, nil)

	for _, to := range []uint64{9, 3} { // 9: never joined
		eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, to, 1)})
		if s := net.Stats(1, to); s != (LinkStats{Dropped: 1}) {
			t.Fatalf("1 -> %d: stats %+v", to, s)
		}
		if id := recv(t, fakes[1].unreachable, "ReportUnreachable"); id != to {
			t.Fatalf("reported %d unreachable, want %d", id, to)
		}
	}
	eps[1].AddPeer(3, nil)
	eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, 3, 2)})
	recv(t, f3.msgs, "1 -> 3 after AddPeer")

	// RemovePeer forgets the peer.
	eps[1].RemovePeer(3)
	eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, 3, 3)})
	recv(t, fakes[1].unreachable, "ReportUnreachable after RemovePeer")
	if s := net.Stats(1, 3); s != (LinkStats{Delivered: 1, Dropped: 2}) {
		t.Fatalf("stats %+v", s)
	}
}

// TestReportsAreAsync: Send and SendSnapshot never call the sender's handler, which, in a
// node, would be a channel send into the very raft goroutine that is calling them.
func TestReportsAreAsync(t *testing.T) {
	net := newNet(t, 9)
	fakes, eps := cluster(t, net, 2)
	var raftGoroutine sync.Mutex
	fakes[1].reportMu = &raftGoroutine
	raftGoroutine.Lock()
	within(t, "Send and SendSnapshot with reports pending", func() {
		net.Isolate(2)
		eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, 9, 1), msg(raftpb.MsgApp, 1, 2, 1)})
		eps[1].SendSnapshot(snapMsg(1, 2), newImage("image"), 5)
	})
	raftGoroutine.Unlock()
	got := []uint64{
		recv(t, fakes[1].unreachable, "ReportUnreachable"),
		recv(t, fakes[1].unreachable, "ReportUnreachable"),
	}
	slices.Sort(got)
	if !slices.Equal(got, []uint64{2, 9}) {
		t.Fatalf("reported %v unreachable", got)
	}
	if r := recv(t, fakes[1].snapStatus, "ReportSnapshot"); r != (snapReport{2, raft.SnapshotFailure}) {
		t.Fatalf("snapshot report %+v", r)
	}
}

func TestLeaveAndRejoin(t *testing.T) {
	net := newNet(t, 10)
	fakes, eps := cluster(t, net, 2)
	var oldCalls atomic.Int64
	inProcess := make(chan struct{})
	fakes[2].process = func(ctx context.Context, m *raftpb.Message) error {
		if oldCalls.Add(1) == 1 {
			close(inProcess)
		}
		<-ctx.Done() // a member that hangs until it is stopped
		return ctx.Err()
	}
	eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, 2, 1)})
	recv(t, inProcess, "the first message to be in delivery")
	for i := uint64(2); i <= 6; i++ {
		eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, 2, i)})
	}
	eps[2].Send([]*raftpb.Message{msg(raftpb.MsgAppResp, 2, 1, 1)}) // may be queued or delivered

	within(t, "Leave with a call in flight", func() { net.Leave(2) })
	// Leave waited for the call in flight: the old handler is done for.
	if s := net.Stats(1, 2); s != (LinkStats{Delivered: 1, Failed: 1, Dropped: 5}) {
		t.Fatalf("after Leave: stats %+v", s)
	}
	eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, 2, 7)})
	if id := recv(t, fakes[1].unreachable, "ReportUnreachable"); id != 2 {
		t.Fatalf("reported %d unreachable", id)
	}
	before := net.Stats(2, 1)
	eps[2].Send([]*raftpb.Message{msg(raftpb.MsgAppResp, 2, 1, 2)}) // the old incarnation's endpoint
	if s := net.Stats(2, 1); s.Dropped != before.Dropped+1 {
		t.Fatalf("a departed member's send: stats %+v", s)
	}

	// Restart.
	f2 := newFake(2)
	ep2 := net.Join(2, f2)
	ep2.AddPeer(1, nil)
	eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, 2, 8)})
	if got := recv(t, f2.msgs, "a message to the new incarnation").GetIndex(); got != 8 {
		t.Fatalf("the new incarnation got message %d first, want 8", got)
	}
	ep2.Send([]*raftpb.Message{msg(raftpb.MsgAppResp, 2, 1, 3)})
	for {
		m := recv(t, fakes[1].msgs, "a message from the new incarnation")
		if m.GetIndex() == 3 {
			break
		}
		if m.GetIndex() == 2 {
			t.Fatal("a departed member's send was delivered")
		}
	}
	if n := oldCalls.Load(); n != 1 {
		t.Fatalf("the departed handler was called %d times", n)
	}
	within(t, "Leave of an unknown member", func() { net.Leave(9) })
}

// TestAttach: a member can join before its handler exists (node.New takes its
// transport); it sends at once and is unreachable until Attach.
func TestAttach(t *testing.T) {
	net := newNet(t, 11)
	fakes, eps := cluster(t, net, 1)
	ep2 := net.Join(2, nil)
	ep2.AddPeer(1, nil)
	eps[1].AddPeer(2, nil)

	ep2.Send([]*raftpb.Message{msg(raftpb.MsgVote, 2, 1, 1), msg(raftpb.MsgVote, 2, 9, 1)})
	recv(t, fakes[1].msgs, "a message from a member without handler")
	eps[1].Send([]*raftpb.Message{msg(raftpb.MsgVoteResp, 1, 2, 1)})
	if id := recv(t, fakes[1].unreachable, "ReportUnreachable"); id != 2 {
		t.Fatalf("reported %d unreachable", id)
	}

	f2 := newFake(2)
	ep2.Attach(f2)
	// The report made before Attach waited for the handler.
	if id := recv(t, f2.unreachable, "the report held for Attach"); id != 9 {
		t.Fatalf("reported %d unreachable", id)
	}
	eps[1].Send([]*raftpb.Message{msg(raftpb.MsgVoteResp, 1, 2, 2)})
	if got := recv(t, f2.msgs, "a message after Attach").GetIndex(); got != 2 {
		t.Fatalf("got message %d, want 2", got)
	}
}

// image is a snapshot image that records its closing.
type image struct {
	io.Reader
	closed chan struct{}
	once   sync.Once
}

func newImage(data string) *image {
	return &image{Reader: bytes.NewReader([]byte(data)), closed: make(chan struct{})}
}

func (i *image) Close() error {
	i.once.Do(func() { close(i.closed) })
	return nil
}

func snapMsg(from, to uint64) *raftpb.Message {
	m := msg(raftpb.MsgSnap, from, to, 100)
	m.Snapshot = &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{Index: proto.Uint64(100), Term: proto.Uint64(1)}}
	return m
}

func TestSendSnapshot(t *testing.T) {
	const data = "the store image"
	errRefused := errors.New("refused")
	for _, tc := range []struct {
		name    string
		to      uint64
		size    int64
		fault   func(net *Network)
		refuse  bool   // the destination returns an error
		want    string // what the destination reads; "" if it is not called
		wantErr error  // what reading gives it
		status  raft.SnapshotStatus
	}{
		{name: "ok", to: 2, size: int64(len(data)), want: data, status: raft.SnapshotFinish},
		{name: "size bounds what is read", to: 2, size: 3, want: data[:3], status: raft.SnapshotFinish},
		{name: "delayed", to: 2, size: int64(len(data)), want: data, status: raft.SnapshotFinish,
			fault: func(net *Network) { net.Delay(1, 2, time.Millisecond, time.Millisecond) }},
		{name: "refused", to: 2, size: int64(len(data)), refuse: true, want: data, status: raft.SnapshotFailure},
		{name: "short image", to: 2, size: int64(len(data)) + 1, want: data, wantErr: io.ErrUnexpectedEOF, status: raft.SnapshotFailure},
		{name: "cut", to: 2, status: raft.SnapshotFailure, fault: func(net *Network) { net.Cut(1, 2) }},
		{name: "partitioned", to: 2, status: raft.SnapshotFailure,
			fault: func(net *Network) { net.Partition([]uint64{1}, []uint64{2}) }},
		{name: "dropped", to: 2, status: raft.SnapshotFailure, fault: func(net *Network) { net.Drop(1, 2, 1) }},
		{name: "hook", to: 2, status: raft.SnapshotFailure, fault: func(net *Network) {
			net.SetHook(func(m *raftpb.Message) bool { return m.GetType() != raftpb.MsgSnap })
		}},
		{name: "unknown peer", to: 9, status: raft.SnapshotFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := newNet(t, 12)
			fakes, eps := cluster(t, net, 2)
			type received struct {
				m    *raftpb.Message
				data string
				err  error
			}
			got := make(chan received, 1)
			fakes[2].processSnapshot = func(_ context.Context, m *raftpb.Message, r io.Reader) error {
				b, err := io.ReadAll(r)
				got <- received{m, string(b), err}
				if err != nil {
					return err
				}
				if tc.refuse {
					return errRefused
				}
				return nil
			}
			if tc.fault != nil {
				tc.fault(net)
			}
			img := newImage(data)
			m := snapMsg(1, tc.to)
			eps[1].SendSnapshot(m, img, tc.size)
			m.Snapshot.Metadata.Index = proto.Uint64(1) // the sender's copy is its own

			r := recv(t, fakes[1].snapStatus, "ReportSnapshot")
			if r != (snapReport{tc.to, tc.status}) {
				t.Fatalf("report %+v, want %v for %d", r, tc.status, tc.to)
			}
			select {
			case <-img.closed:
			default:
				t.Fatal("image not closed before the report")
			}
			select {
			case rcv := <-got:
				if tc.want == "" {
					t.Fatal("the destination was called")
				}
				if rcv.data != tc.want || !errors.Is(rcv.err, tc.wantErr) {
					t.Fatalf("destination read %q, %v; want %q, %v", rcv.data, rcv.err, tc.want, tc.wantErr)
				}
				if idx := rcv.m.GetSnapshot().GetMetadata().GetIndex(); idx != 100 || rcv.m == m {
					t.Fatalf("destination got snapshot index %d, or the sender's message", idx)
				}
			default:
				if tc.want != "" {
					t.Fatal("the destination was not called")
				}
			}
			s := net.Stats(1, tc.to)
			switch {
			case tc.want == "" && s != (LinkStats{Dropped: 1}):
				t.Fatalf("stats %+v, want one drop", s)
			case tc.want != "" && s.Delivered != 1:
				t.Fatalf("stats %+v, want one delivery", s)
			}
		})
	}
}

// TestSnapshotLinkDownMidTransfer: a cut while the destination reads the image breaks
// the stream.
func TestSnapshotLinkDownMidTransfer(t *testing.T) {
	net := newNet(t, 13)
	fakes, eps := cluster(t, net, 2)
	reading, cut := make(chan struct{}), make(chan struct{})
	readErr := make(chan error, 1)
	fakes[2].processSnapshot = func(_ context.Context, _ *raftpb.Message, r io.Reader) error {
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return err
		}
		close(reading)
		<-cut
		_, err := io.ReadAll(r)
		readErr <- err
		return err
	}
	img := newImage("0123456789")
	eps[1].SendSnapshot(snapMsg(1, 2), img, 10)
	recv(t, reading, "the transfer to start")
	net.Cut(1, 2)
	close(cut)
	if err := recv(t, readErr, "the read to fail"); !errors.Is(err, errLinkDown) {
		t.Fatalf("read after the cut: %v", err)
	}
	if r := recv(t, fakes[1].snapStatus, "ReportSnapshot"); r != (snapReport{2, raft.SnapshotFailure}) {
		t.Fatalf("report %+v", r)
	}
	recv(t, img.closed, "the image to close")
}

// TestCloseLeavesNoGoroutines runs traffic of every kind, with calls blocked in
// handlers, messages held by delays and a snapshot mid-transfer, then closes.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()

	net := NewNetwork(14, t.Logf)
	fakes, eps := cluster(t, net, 3)
	f4 := newFake(4)
	net.Join(4, f4)  // reporter waiting for nothing in particular
	net.Join(5, nil) // never attached: its reporter waits for a handler
	inProcess, inSnapshot := make(chan struct{}, 2), make(chan struct{}, 1)
	fakes[3].process = func(ctx context.Context, _ *raftpb.Message) error {
		inProcess <- struct{}{} // one per link to 3, each stuck on its first message
		<-ctx.Done()
		return ctx.Err()
	}
	fakes[3].processSnapshot = func(ctx context.Context, _ *raftpb.Message, _ io.Reader) error {
		inSnapshot <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}
	net.Delay(1, 2, time.Hour, 0)
	net.Drop(2, 1, 0.5)
	for i := uint64(1); i <= 50; i++ {
		for from := uint64(1); from <= 3; from++ {
			for to := uint64(1); to <= 3; to++ {
				if from != to {
					eps[from].Send([]*raftpb.Message{msg(raftpb.MsgApp, from, to, i)})
				}
			}
		}
	}
	eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, 9, 1)}) // an unreachable report
	img := newImage("image")
	eps[2].SendSnapshot(snapMsg(2, 3), img, 5)
	recv(t, inProcess, "a blocked Process")
	recv(t, inSnapshot, "a blocked ProcessSnapshot")

	within(t, "Close", net.Close)
	recv(t, img.closed, "the image to close")
	within(t, "a second Close", net.Close)

	// After Close everything is dropped, nothing is called and no goroutine starts.
	eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, 2, 1000)})
	late := newImage("late")
	eps[1].SendSnapshot(snapMsg(1, 2), late, 4)
	recv(t, late.closed, "the late image to close")
	net.Leave(1)

	deadline := time.Now().Add(patience)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after Close:\n%s",
				before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // only while goroutines leak; normally none is left
	}
}

// TestLeaveAndCloseWaitForCalls: Leave and Close cancel the context of the handler calls
// in flight and return only once they have returned.
func TestLeaveAndCloseWaitForCalls(t *testing.T) {
	net := newNet(t, 15)
	fakes, eps := cluster(t, net, 3)
	entered, cancelled := make(chan uint64, 2), make(chan uint64, 2)
	proceed := map[uint64]chan struct{}{2: make(chan struct{}), 3: make(chan struct{})}
	release := map[uint64]func(){2: sync.OnceFunc(func() { close(proceed[2]) }), 3: sync.OnceFunc(func() { close(proceed[3]) })}
	t.Cleanup(func() { // before newNet's Close, should the test fail on the way
		release[2]()
		release[3]()
	})
	for _, id := range []uint64{2, 3} {
		fakes[id].process = func(ctx context.Context, _ *raftpb.Message) error {
			entered <- id
			<-ctx.Done()
			cancelled <- id
			<-proceed[id] // a handler slow to wind down
			return ctx.Err()
		}
	}
	for _, c := range []struct {
		id    uint64
		close func()
	}{{2, func() { net.Leave(2) }}, {3, net.Close}} {
		eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, c.id, 1)})
		if id := recv(t, entered, "the message to be in delivery"); id != c.id {
			t.Fatalf("member %d got a message, want %d", id, c.id)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.close()
		}()
		if id := recv(t, cancelled, "the call's context to be cancelled"); id != c.id {
			t.Fatalf("member %d's call was cancelled, want %d", id, c.id)
		}
		select {
		case <-done:
			t.Fatalf("returned while member %d's handler was still running", c.id)
		default:
		}
		release[c.id]()
		recv(t, done, "Leave or Close to return")
	}
}

// TestCutWhileHeld: a message or snapshot the hook holds when its link is cut is
// dropped, even if the link heals before the hook lets it go.
func TestCutWhileHeld(t *testing.T) {
	net := newNet(t, 16)
	fakes, eps := cluster(t, net, 2)
	held, hold := make(chan raftpb.MessageType, 2), make(chan struct{})
	release := sync.OnceFunc(func() { close(hold) })
	t.Cleanup(release) // before newNet's Close, should the test fail on the way
	net.SetHook(func(m *raftpb.Message) bool {
		if m.GetType() == raftpb.MsgSnap || m.GetIndex() == 1 {
			held <- m.GetType()
			<-hold
		}
		return true
	})
	img := newImage("image")
	eps[1].SendSnapshot(snapMsg(1, 2), img, 5)
	eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, 2, 1)})
	recv(t, held, "the hook to hold a message")
	recv(t, held, "the hook to hold the snapshot")
	net.Cut(1, 2)
	net.Heal()
	release()
	if r := recv(t, fakes[1].snapStatus, "ReportSnapshot"); r != (snapReport{2, raft.SnapshotFailure}) {
		t.Fatalf("snapshot report %+v", r)
	}
	eps[1].Send([]*raftpb.Message{msg(raftpb.MsgApp, 1, 2, 2)})
	if got := recv(t, fakes[2].msgs, "the next message").GetIndex(); got != 2 {
		t.Fatalf("got message %d, want 2", got)
	}
	if s := net.Stats(1, 2); s != (LinkStats{Delivered: 1, Dropped: 2}) {
		t.Fatalf("stats %+v", s)
	}
}
