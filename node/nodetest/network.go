package nodetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"etcq.dev/etcq/node"
)

// QueueLen is how many messages a link holds for its destination; a message sent to a
// full link is dropped and its sender told the destination is unreachable.
const QueueLen = 4096

// Any, given as from or to to Drop or Delay, stands for every member (raft never uses
// id 0).
const Any uint64 = 0

// LinkStats counts what became of the messages sent on one directed link.
type LinkStats struct {
	// Delivered counts messages (and snapshots) handed to the destination's handler.
	Delivered uint64
	// Failed counts the delivered ones the handler returned an error for.
	Failed uint64
	// Dropped counts messages lost on the way: to faults, the hook, a full queue, an
	// unknown or departed destination, a sender that had left, or a cut, Leave or
	// RemovePeer that emptied the queue.
	Dropped uint64
}

// errLinkDown breaks a snapshot stream whose link was cut (or an end left) mid-transfer.
var errLinkDown = errors.New("nodetest: link went down during snapshot transfer")

// Network is a fake network between in-process members. It is safe for concurrent use.
//
// Each directed link (from, to) has a FIFO queue of QueueLen messages and one goroutine
// that delivers them in order to the destination's Handler.Process, each as a deep copy
// of what was sent. Faults (Drop, Cut, Isolate, Partition, Delay) and the hook apply to
// messages sent after they are set; a fault that blocks a link also drops what is
// queued on it. Snapshots travel on goroutines of their own (see Endpoint.SendSnapshot).
//
// The network never calls a handler from inside Send or SendSnapshot: reports to the
// sender (ReportUnreachable, ReportSnapshot) come from the network's goroutines, so a
// handler may block in them until its raft goroutine is free. Handlers must return from
// Process and ProcessSnapshot once their context is done: Leave and Close cancel it and
// wait for every call in flight.
type Network struct {
	seed   int64
	logf   func(format string, args ...any)
	ctx    context.Context // cancelled by Close; parent of every member's context
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the network starts

	mu       sync.Mutex
	closed   bool
	members  map[uint64]*member
	links    map[link]*linkState
	drop     map[link]float64
	delay    map[link]delaySpec
	cut      map[link]bool
	isolated map[uint64]bool
	group    map[uint64]int // member -> 1-based partition group; nil when not partitioned
	hook     func(m *raftpb.Message) bool
}

type link struct{ from, to uint64 }

type delaySpec struct{ d, jitter time.Duration }

// member is one incarnation of a member: Join makes it, Leave (or Close) ends it.
type member struct {
	id       uint64
	ctx      context.Context // passed to the handler; cancelled by Leave and Close
	cancel   context.CancelFunc
	calls    sync.WaitGroup // handler calls in flight; Leave waits for them
	attached chan struct{}  // closed once h is set

	// Guarded by Network.mu.
	h           node.Handler // set once, by Join or Attach; nil: not listening yet
	left        bool
	unreachable map[uint64]bool // peers to report, drained by the reporter goroutine
	wake        chan struct{}   // (cap 1) tells the reporter there is something to report
}

type linkState struct {
	link
	rng     *rand.Rand    // the link's own draws, so its drop pattern depends only on its traffic
	wake    chan struct{} // (cap 1) tells the delivery goroutine the queue is not empty
	started bool          // the delivery goroutine runs

	// Guarded by Network.mu.
	q     []queued
	epoch uint64 // bumped when the queue is emptied by a fault, Leave or RemovePeer
	stats LinkStats
}

type queued struct {
	m     *raftpb.Message
	due   time.Time // zero: no delay
	epoch uint64
}

// NewNetwork returns an empty network whose randomness all derives from seed. logf, if
// not nil, receives the seed and a line for every change of membership or faults.
func NewNetwork(seed int64, logf func(format string, args ...any)) *Network {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Network{
		seed:     seed,
		logf:     logf,
		ctx:      ctx,
		cancel:   cancel,
		members:  map[uint64]*member{},
		links:    map[link]*linkState{},
		drop:     map[link]float64{},
		delay:    map[link]delaySpec{},
		cut:      map[link]bool{},
		isolated: map[uint64]bool{},
	}
	logf("nodetest: network seed %d", seed)
	return n
}

// Join connects member id, whose traffic goes to h, and returns the transport the member
// sends with. The endpoint knows no peers until its AddPeer.
//
// h may be nil when the handler is made from the transport (node.New takes it in its
// Config): the member can send at once but is not listening until Endpoint.Attach gives
// its handler; until then messages to it are dropped and reported unreachable, and
// reports to it wait.
//
// Joining an id that left again is a restart: nothing sent to or by the earlier
// incarnation reaches the new one. Joining an id that is still joined, or after Close,
// panics.
func (n *Network) Join(id uint64, h node.Handler) *Endpoint {
	if id == 0 {
		panic("nodetest: Join needs a non-zero id")
	}
	ctx, cancel := context.WithCancel(n.ctx)
	mem := &member{
		id:          id,
		ctx:         ctx,
		cancel:      cancel,
		attached:    make(chan struct{}),
		unreachable: map[uint64]bool{},
		wake:        make(chan struct{}, 1),
	}
	if h != nil {
		mem.h = h
		close(mem.attached)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		cancel()
		panic("nodetest: Join after Close")
	}
	if n.members[id] != nil {
		n.mu.Unlock()
		cancel()
		panic(fmt.Sprintf("nodetest: member %d joined twice", id))
	}
	n.members[id] = mem
	n.wg.Add(1)
	n.mu.Unlock()
	go n.runReporter(mem)
	n.logf("nodetest: member %d joined", id)
	return &Endpoint{n: n, mem: mem, peers: map[uint64]bool{}, warned: map[uint64]bool{}}
}

// Attach gives the handler of a member that joined without one; from now on it
// receives its traffic and reports. Attaching to a member that has a handler panics;
// attaching to one that left does nothing.
func (e *Endpoint) Attach(h node.Handler) {
	if h == nil {
		panic("nodetest: Attach needs a handler")
	}
	n := e.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if e.mem.h != nil {
		panic(fmt.Sprintf("nodetest: member %d already has a handler", e.mem.id))
	}
	if e.mem.left {
		return
	}
	e.mem.h = h
	close(e.mem.attached)
}

// Leave disconnects member id, as when it crashes or stops: what is queued to and from
// it is dropped, later messages to it are dropped and reported unreachable, and its
// Endpoint stops sending. Leave cancels the context of the member's handler calls and
// returns once none is in flight: after it, the member's handler is never called again.
// So it must not be called from that handler. Leaving an id that is not joined does
// nothing.
func (n *Network) Leave(id uint64) {
	n.mu.Lock()
	mem := n.members[id]
	if mem == nil {
		n.mu.Unlock()
		return
	}
	delete(n.members, id)
	mem.left = true
	for _, l := range n.links {
		if l.from == id || l.to == id {
			n.purgeLocked(l)
		}
	}
	n.mu.Unlock()
	mem.cancel()
	mem.calls.Wait()
	n.logf("nodetest: member %d left", id)
}

// Drop makes the link from -> to lose each message with probability p (0 removes the
// fault). Either end may be Any; the most specific setting for a link wins, so
// Drop(Any, Any, 0.1) followed by Drop(1, 2, 0) loses 10% everywhere but on 1 -> 2.
// Lost messages are not reported: raft sees them as packet loss.
func (n *Network) Drop(from, to uint64, p float64) {
	n.mu.Lock()
	n.drop[link{from, to}] = p
	n.mu.Unlock()
	n.logf("nodetest: drop %s -> %s p=%g", idString(from), idString(to), p)
}

// Delay holds each message sent on the link from -> to for d plus a uniform random
// duration in [0, jitter]. A link still delivers in order: a message never overtakes
// one sent before it, so it may wait longer. Either end may be Any, as with Drop;
// Delay(from, to, 0, 0) removes the fault.
func (n *Network) Delay(from, to uint64, d, jitter time.Duration) {
	if d < 0 || jitter < 0 {
		panic("nodetest: negative delay")
	}
	n.mu.Lock()
	n.delay[link{from, to}] = delaySpec{d, jitter}
	n.mu.Unlock()
	n.logf("nodetest: delay %s -> %s %v+[0,%v]", idString(from), idString(to), d, jitter)
}

// Cut breaks the links between a and b, both ways, until Heal.
func (n *Network) Cut(a, b uint64) {
	n.mu.Lock()
	n.cut[link{a, b}] = true
	n.cut[link{b, a}] = true
	n.purgeBlockedLocked()
	n.mu.Unlock()
	n.logf("nodetest: cut %d <-> %d", a, b)
}

// Isolate cuts member id off from every other member, both ways, until Heal.
func (n *Network) Isolate(id uint64) {
	n.mu.Lock()
	n.isolated[id] = true
	n.purgeBlockedLocked()
	n.mu.Unlock()
	n.logf("nodetest: isolate %d", id)
}

// Partition splits the network: only members of the same group talk to each other, and
// a member in no group talks to no one. It replaces an earlier partition; Partition()
// with no groups removes it (other faults stay).
func (n *Network) Partition(groups ...[]uint64) {
	n.mu.Lock()
	n.group = nil
	if len(groups) > 0 {
		n.group = map[uint64]int{}
		for i, g := range groups {
			for _, id := range g {
				n.group[id] = i + 1
			}
		}
	}
	n.purgeBlockedLocked()
	n.mu.Unlock()
	if len(groups) == 0 {
		n.logf("nodetest: partition removed")
	} else {
		n.logf("nodetest: partition %v", groups)
	}
}

// Heal removes every fault: drops, delays, cuts, isolations and the partition. The hook
// stays (SetHook(nil) removes it).
func (n *Network) Heal() {
	n.mu.Lock()
	clear(n.drop)
	clear(n.delay)
	clear(n.cut)
	clear(n.isolated)
	n.group = nil
	n.mu.Unlock()
	n.logf("nodetest: heal")
}

// SetHook installs a function called with every message (snapshots included) that got
// past the faults, just before it is handed to its destination; returning false drops
// it. The hook gets the destination's own copy and may alter it. It runs on the
// network's delivery goroutines, concurrently for different links, so it must be safe
// for concurrent use; it may block to stall a link. nil removes the hook.
func (n *Network) SetHook(hook func(m *raftpb.Message) bool) {
	n.mu.Lock()
	n.hook = hook
	n.mu.Unlock()
}

// Stats reports what became of the messages sent on the link from -> to so far.
func (n *Network) Stats(from, to uint64) LinkStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	if l := n.links[link{from, to}]; l != nil {
		return l.stats
	}
	return LinkStats{}
}

// Close stops the network: it cancels the context of every handler call, waits for the
// calls and all the network's goroutines to end, and from then on drops everything (a
// snapshot image given to SendSnapshot is still closed). Handlers are never called
// after Close returns. Close may be called more than once.
func (n *Network) Close() {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		for id, mem := range n.members {
			mem.left = true
			delete(n.members, id)
		}
		for _, l := range n.links {
			n.purgeLocked(l)
		}
	}
	n.mu.Unlock()
	n.cancel()
	n.wg.Wait()
}

// Endpoint is one member's side of the network: the node.PeerTransport it sends with.
// It stops working when its member leaves.
type Endpoint struct {
	n   *Network
	mem *member

	// Guarded by n.mu.
	peers  map[uint64]bool
	warned map[uint64]bool // peers not added that a send was refused for, logged once each
}

var _ node.PeerTransport = (*Endpoint)(nil)

// Send queues a deep copy of each message for its destination (m.To) and returns at
// once. A message is dropped if the sender left; if its destination was not added with
// AddPeer, is not listening, or is cut off; by Drop; or if the link's queue is full.
// The sender hears of each drop but those by Drop (packet loss) through its
// ReportUnreachable, later and from a network goroutine: Send never calls a handler. A
// MsgSnap breaks the PeerTransport contract: Send panics.
func (e *Endpoint) Send(msgs []*raftpb.Message) {
	for _, m := range msgs {
		if m.GetType() == raftpb.MsgSnap {
			panic("nodetest: a MsgSnap must go through SendSnapshot, not Send")
		}
		c := proto.Clone(m).(*raftpb.Message) // the sender may reuse m as soon as we return
		e.send(c)
	}
}

func (e *Endpoint) send(m *raftpb.Message) {
	n := e.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	l := n.linkLocked(e.mem.id, m.GetTo())
	pass, unreachable := e.checkLocked(l)
	if pass && len(l.q) >= QueueLen {
		pass, unreachable = false, true
	}
	if !pass {
		l.stats.Dropped++
		if unreachable {
			n.reportUnreachableLocked(e.mem, l.to)
		}
		return
	}
	var due time.Time
	if d := n.delayLocked(l); d > 0 {
		due = time.Now().Add(d)
	}
	l.q = append(l.q, queued{m: m, due: due, epoch: l.epoch})
	if !l.started {
		l.started = true
		n.wg.Add(1)
		go n.runLink(l)
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// SendSnapshot sends a MsgSnap and its image to m.To on a goroutine of its own and
// returns at once. The transfer fails, without reaching the destination, if Send would
// drop the message (full queues aside) or the hook drops it; it also fails if the link
// goes down while the destination reads the image, if the image holds fewer than size
// bytes, or if the destination's ProcessSnapshot returns an error. The destination
// reads at most size bytes. The image is always closed, then the outcome reported to
// the sender's ReportSnapshot, from the transfer's goroutine.
func (e *Endpoint) SendSnapshot(m *raftpb.Message, image io.ReadCloser, size int64) {
	n := e.n
	c := proto.Clone(m).(*raftpb.Message)
	n.mu.Lock()
	if n.closed || e.mem.left {
		n.mu.Unlock()
		image.Close()
		return
	}
	l := n.linkLocked(e.mem.id, c.GetTo())
	pass, _ := e.checkLocked(l)
	if !pass {
		l.stats.Dropped++
	}
	it := queued{m: c, epoch: l.epoch}
	if d := n.delayLocked(l); d > 0 {
		it.due = time.Now().Add(d)
	}
	n.wg.Add(1)
	n.mu.Unlock()
	go n.runSnapshot(e.mem, l, it, image, size, pass)
}

// AddPeer makes member id reachable from this endpoint. The fake network addresses
// members by id, so urls are ignored.
func (e *Endpoint) AddPeer(id uint64, urls []string) {
	e.n.mu.Lock()
	e.peers[id] = true
	delete(e.warned, id)
	e.n.mu.Unlock()
}

// RemovePeer makes member id unreachable from this endpoint and drops what is queued
// for it.
func (e *Endpoint) RemovePeer(id uint64) {
	n := e.n
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(e.peers, id)
	if l := n.links[link{e.mem.id, id}]; l != nil && !e.mem.left {
		n.purgeLocked(l)
	}
}

// checkLocked decides whether a message sent now by e on l gets through the faults;
// when it does not, it says whether the sender should hear the destination is
// unreachable. It draws from l's random source only when l has a drop probability.
func (e *Endpoint) checkLocked(l *linkState) (pass, unreachable bool) {
	n := e.n
	switch {
	case e.mem.left:
		return false, false
	case !e.peers[l.to]:
		if !e.warned[l.to] {
			e.warned[l.to] = true
			n.logf("nodetest: member %d sent to %d, not among its peers (AddPeer): dropped", l.from, l.to)
		}
		return false, true
	case !n.listeningLocked(l.to), n.blockedLocked(l.from, l.to):
		return false, true
	}
	if p := lookup(n.drop, l.link); p > 0 && l.rng.Float64() < p {
		return false, false
	}
	return true, false
}

// linkLocked returns the state of the link from -> to, making it on first use.
func (n *Network) linkLocked(from, to uint64) *linkState {
	k := link{from, to}
	l := n.links[k]
	if l == nil {
		// Each link draws from its own stream of the seed, so concurrent traffic on other
		// links does not change its drop pattern or jitter.
		stream := from*0x9e3779b97f4a7c15 ^ to*0xc2b2ae3d27d4eb4f
		l = &linkState{
			link: k,
			rng:  rand.New(rand.NewPCG(uint64(n.seed), stream)),
			wake: make(chan struct{}, 1),
		}
		n.links[k] = l
	}
	return l
}

// listeningLocked reports whether member id is joined and has its handler.
func (n *Network) listeningLocked(id uint64) bool {
	mem := n.members[id]
	return mem != nil && mem.h != nil
}

// blockedLocked reports whether a cut, an isolation or the partition stops from -> to.
func (n *Network) blockedLocked(from, to uint64) bool {
	if n.cut[link{from, to}] || n.isolated[from] || n.isolated[to] {
		return true
	}
	if n.group != nil {
		g := n.group[from]
		return g == 0 || g != n.group[to]
	}
	return false
}

// delayLocked draws how long a message sent now on l is held.
func (n *Network) delayLocked(l *linkState) time.Duration {
	s := lookup(n.delay, l.link)
	d := s.d
	if s.jitter > 0 {
		d += time.Duration(l.rng.Int64N(int64(s.jitter) + 1))
	}
	return d
}

// lookup returns the most specific setting for l in m, or the zero value.
func lookup[V any](m map[link]V, l link) V {
	for _, k := range [...]link{l, {l.from, Any}, {Any, l.to}, {Any, Any}} {
		if v, ok := m[k]; ok {
			return v
		}
	}
	var zero V
	return zero
}

// purgeBlockedLocked empties the queues of the links a fault now blocks.
func (n *Network) purgeBlockedLocked() {
	for _, l := range n.links {
		if n.blockedLocked(l.from, l.to) {
			n.purgeLocked(l)
		}
	}
}

// purgeLocked drops what is queued on l, and the message its goroutine holds, and
// breaks a snapshot stream on it.
func (n *Network) purgeLocked(l *linkState) {
	l.stats.Dropped += uint64(len(l.q))
	l.q = nil
	l.epoch++
}

// reportUnreachableLocked has mem's reporter goroutine tell mem that peer is unreachable.
func (n *Network) reportUnreachableLocked(mem *member, peer uint64) {
	mem.unreachable[peer] = true
	select {
	case mem.wake <- struct{}{}:
	default:
	}
}

// runReporter delivers mem's unreachable reports, outside its raft goroutine. Reports
// for a peer coalesce until the reporter takes them: raft needs only one.
func (n *Network) runReporter(mem *member) {
	defer n.wg.Done()
	select {
	case <-mem.attached:
	case <-mem.ctx.Done():
		return
	}
	for {
		select {
		case <-mem.wake:
		case <-mem.ctx.Done():
			return
		}
		if !n.enter(mem) {
			return
		}
		n.mu.Lock()
		peers := make([]uint64, 0, len(mem.unreachable))
		for id := range mem.unreachable {
			peers = append(peers, id)
		}
		clear(mem.unreachable)
		n.mu.Unlock()
		slices.Sort(peers)
		for _, id := range peers {
			mem.h.ReportUnreachable(id)
		}
		mem.calls.Done()
	}
}

// enter waits until mem has its handler, then reports whether mem is still joined and,
// if so, counts a handler call on it that the caller ends with mem.calls.Done.
func (n *Network) enter(mem *member) bool {
	select {
	case <-mem.attached:
	case <-mem.ctx.Done():
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if mem.left {
		return false
	}
	mem.calls.Add(1)
	return true
}

// runLink delivers l's queue in order until Close.
func (n *Network) runLink(l *linkState) {
	defer n.wg.Done()
	for {
		n.mu.Lock()
		for len(l.q) == 0 {
			n.mu.Unlock()
			select {
			case <-l.wake:
			case <-n.ctx.Done():
				return
			}
			n.mu.Lock()
		}
		it := l.q[0]
		l.q[0] = queued{}
		l.q = l.q[1:]
		n.mu.Unlock()
		if !it.due.IsZero() {
			if !sleepUntil(n.ctx, it.due) {
				return
			}
		}
		n.deliver(l, it)
	}
}

// deliver hands one dequeued message to its destination, unless it was dropped
// meanwhile.
func (n *Network) deliver(l *linkState, it queued) {
	dst, ok := n.handOver(l, it)
	if !ok {
		return
	}
	if err := dst.h.Process(dst.ctx, it.m); err != nil {
		n.count(l, func(s *LinkStats) { s.Failed++ })
	}
	dst.calls.Done()
}

// handOver decides whether it, sent on l, reaches its destination now: the faults
// first, then the hook, then the faults again (the hook may have taken a while). If
// so, it returns the destination with a call counted, which the caller ends.
func (n *Network) handOver(l *linkState, it queued) (*member, bool) {
	if _, ok := n.admit(l, it.epoch, false); !ok {
		return nil, false
	}
	if hook := n.currentHook(); hook != nil && !hook(it.m) {
		n.count(l, func(s *LinkStats) { s.Dropped++ })
		return nil, false
	}
	return n.admit(l, it.epoch, true)
}

// admit checks that a message taken off l when its epoch was epoch may still be
// delivered: nothing emptied l since, the link is not blocked and its destination is
// listening. If not, it counts the drop. If enter, the message is handed over: admit
// counts it delivered and counts a call on the destination, which the caller ends
// (after counting a failure, so that Leave and Close see final stats).
func (n *Network) admit(l *linkState, epoch uint64, enter bool) (*member, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	dst := n.members[l.to]
	if epoch != l.epoch || !n.listeningLocked(l.to) || n.blockedLocked(l.from, l.to) {
		l.stats.Dropped++
		return nil, false
	}
	if enter {
		l.stats.Delivered++
		dst.calls.Add(1)
	}
	return dst, true
}

func (n *Network) currentHook() func(*raftpb.Message) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.hook
}

func (n *Network) count(l *linkState, f func(*LinkStats)) {
	n.mu.Lock()
	f(&l.stats)
	n.mu.Unlock()
}

// runSnapshot carries one snapshot from sender on l; pass says whether it got past the
// faults when sent.
func (n *Network) runSnapshot(sender *member, l *linkState, it queued, image io.ReadCloser, size int64, pass bool) {
	defer n.wg.Done()
	ok := pass && n.transferSnapshot(l, it, image, size)
	image.Close()
	status := raft.SnapshotFinish
	if !ok {
		status = raft.SnapshotFailure
	}
	if n.enter(sender) {
		sender.h.ReportSnapshot(l.to, status)
		sender.calls.Done()
	}
}

// transferSnapshot hands the snapshot to its destination and reports whether it was
// accepted.
func (n *Network) transferSnapshot(l *linkState, it queued, image io.Reader, size int64) bool {
	if !it.due.IsZero() && !sleepUntil(n.ctx, it.due) {
		return false
	}
	dst, ok := n.handOver(l, it)
	if !ok {
		return false
	}
	r := &snapshotReader{n: n, l: l, epoch: it.epoch, r: image, left: size}
	err := dst.h.ProcessSnapshot(dst.ctx, it.m, r)
	if err != nil {
		n.count(l, func(s *LinkStats) { s.Failed++ })
	}
	dst.calls.Done()
	return err == nil
}

// snapshotReader is the destination's view of a snapshot image: exactly left bytes,
// broken if the link goes down.
type snapshotReader struct {
	n     *Network
	l     *linkState
	epoch uint64
	r     io.Reader
	left  int64
}

func (s *snapshotReader) Read(p []byte) (int, error) {
	s.n.mu.Lock()
	down := s.l.epoch != s.epoch
	s.n.mu.Unlock()
	if down {
		return 0, errLinkDown
	}
	if s.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	k, err := s.r.Read(p)
	s.left -= int64(k)
	if err == io.EOF && s.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return k, err
}

// sleepUntil waits until t and reports true, or false if ctx is done first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func idString(id uint64) string {
	if id == Any {
		return "*"
	}
	return fmt.Sprint(id)
}
