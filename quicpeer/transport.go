package quicpeer

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"sync"

	"github.com/quic-go/quic-go"
	"go.etcd.io/raft/v3/raftpb"
)

// Transport carries raft messages between this member and its peers over QUIC, on one
// UDP socket that both accepts members' connections and dials them. It implements
// node.PeerTransport. Its methods are safe for concurrent use; Send, SendSnapshot,
// AddPeer and RemovePeer never block on the network.
type Transport struct {
	cfg         Config
	log         *slog.Logger
	incarnation uint64 // random, sent in every header: tells peers this process restarted
	udp         *net.UDPConn
	qt          *quic.Transport
	ln          *quic.Listener
	serverTLS   *tls.Config
	quicConf    *quic.Config
	reports     *reporter

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the transport starts

	// started is closed by Start; handler and clusterID are set before and never change,
	// so whoever has seen started closed may read them.
	started   chan struct{}
	handler   Handler
	clusterID uint64

	mu           sync.RWMutex
	closed       bool
	isStarted    bool
	peers        map[uint64]*peer
	inbound      map[*inConn]struct{}
	incarnations map[uint64]uint64 // member -> incarnation of its newest admitted stream
}

// New binds the UDP socket and returns a transport that accepts Send, SendSnapshot and
// AddPeer at once. It connects to peers and serves the ones that connect once Start has
// given it a handler and the cluster ID; until then, messages wait in their peer's queue
// (and are dropped once it is full).
func New(cfg Config) (*Transport, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	laddr, err := net.ResolveUDPAddr("udp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("%w: listen address %q: %w", ErrBadConfig, cfg.Listen, err)
	}
	udp, err := net.ListenUDP("udp", laddr)
	if err != nil {
		return nil, fmt.Errorf("quicpeer: listen on %s: %w", cfg.Listen, err)
	}
	key := cfg.StatelessResetKey
	if key == nil {
		key = new([32]byte)
		_, _ = rand.Read(key[:]) // crypto/rand.Read never fails
	}
	t := &Transport{
		cfg:          cfg,
		log:          cfg.Logger.With("member", hexID(cfg.ID)),
		incarnation:  mrand.Uint64() | 1,
		udp:          udp,
		serverTLS:    serverTLS(cfg.TLS),
		quicConf:     cfg.quicConfig(),
		reports:      newReporter(),
		started:      make(chan struct{}),
		peers:        make(map[uint64]*peer),
		inbound:      make(map[*inConn]struct{}),
		incarnations: make(map[uint64]uint64),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.qt = &quic.Transport{
		Conn:              udp,
		StatelessResetKey: (*quic.StatelessResetKey)(key),
		ConnContext:       t.watchHandshake,
	}
	if t.ln, err = t.qt.Listen(t.serverTLS, t.quicConf); err != nil {
		t.cancel()
		_ = t.qt.Close()
		_ = udp.Close()
		return nil, fmt.Errorf("quicpeer: listen on %s: %w", udp.LocalAddr(), err)
	}
	t.wg.Add(1)
	go t.runReporter()
	t.log.Info("peer transport listening", "addr", udp.LocalAddr().String())
	return t, nil
}

// Start hands the transport the member it delivers to and the cluster it belongs to (the
// member exists only after the transport: node.New needs the transport first). From now
// on the transport connects to its peers and admits the streams they open.
func (t *Transport) Start(clusterID uint64, h Handler) error {
	if clusterID == 0 || h == nil {
		return fmt.Errorf("%w: Start needs a cluster ID and a handler", ErrBadConfig)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.closed:
		return ErrClosed
	case t.isStarted:
		return ErrAlreadyStarted
	}
	t.isStarted = true
	t.handler = h
	t.clusterID = clusterID
	close(t.started)
	t.wg.Add(1)
	go t.acceptLoop()
	t.log.Info("peer transport started", "cluster", hexID(clusterID))
	return nil
}

// Addr returns the address of the transport's UDP socket.
func (t *Transport) Addr() *net.UDPAddr { return t.udp.LocalAddr().(*net.UDPAddr) }

// Send queues messages for their peers and returns at once. A message for a peer whose
// queue is full, or one the transport does not know, is dropped, and raft is told the peer
// is unreachable (from another goroutine). Messages to one peer are sent in order.
func (t *Transport) Send(msgs []*raftpb.Message) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return
	}
	for _, m := range msgs {
		to := m.GetTo()
		p := t.peers[to]
		switch {
		case p == nil:
			t.reports.unreachable(to)
		case m.GetType() == raftpb.MessageType_MsgSnap:
			t.log.Error("dropping a MsgSnap given to Send (snapshots go through SendSnapshot)", "peer", hexID(to))
		default:
			select {
			case p.q <- m:
			default:
				t.reports.unreachable(to)
			}
		}
	}
}

// AddPeer makes member id reachable at its peer URLs (https://host:port); adding a known
// member replaces its URLs. URLs that are not https are logged and ignored.
func (t *Transport) AddPeer(id uint64, urls []string) {
	if id == 0 || id == t.cfg.ID {
		return
	}
	parsed := make([]peerURL, 0, len(urls))
	for _, raw := range urls {
		u, err := parsePeerURL(raw)
		if err != nil {
			t.log.Error("ignoring a peer URL", "peer", hexID(id), "url", raw, "err", err)
			continue
		}
		parsed = append(parsed, u)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	if p := t.peers[id]; p != nil {
		p.setURLs(parsed)
		return
	}
	p := newPeer(t, id, parsed)
	t.peers[id] = p
	t.wg.Add(1)
	go p.run()
}

// RemovePeer forgets member id: its queue is dropped, its connections (both ways) are
// closed, and streams it opens from now on are refused.
func (t *Transport) RemovePeer(id uint64) {
	t.mu.Lock()
	p := t.peers[id]
	delete(t.peers, id)
	delete(t.incarnations, id)
	conns := t.inboundOf(id, 0)
	t.mu.Unlock()
	if p == nil {
		return
	}
	err := fmt.Errorf("%w: member %x was removed from the cluster", ErrMemberRemoved, id)
	p.stop(err)
	for _, ic := range conns {
		closeConn(ic.conn, err)
	}
	t.log.Info("removed peer", "peer", hexID(id))
}

// Close stops every goroutine of the transport, closes its connections and its socket,
// and returns once all are gone. Snapshots in flight are abandoned (their images closed,
// not reported). The handler is not called after Close returns. Close is idempotent.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	peers := make([]*peer, 0, len(t.peers))
	for _, p := range t.peers {
		peers = append(peers, p)
	}
	conns := t.inboundOf(0, 0)
	t.mu.Unlock()

	t.cancel()
	_ = t.ln.Close()
	for _, p := range peers {
		p.stop(ErrClosed)
	}
	for _, ic := range conns {
		closeConn(ic.conn, ErrClosed)
	}
	t.wg.Wait()
	err := t.qt.Close()
	if uerr := t.udp.Close(); err == nil {
		err = uerr
	}
	t.log.Info("peer transport closed")
	if err != nil {
		return fmt.Errorf("quicpeer: close: %w", err)
	}
	return nil
}

// peer returns the peer for member id (nil if unknown).
func (t *Transport) peer(id uint64) *peer {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.peers[id]
}

// closeConn closes a connection with the wire code for why (codeNoError for nil, a
// shutdown, or anything the code table lacks).
func closeConn(c *quic.Conn, why error) {
	msg := ""
	if why != nil {
		msg = why.Error()
		if len(msg) > maxStatusReason {
			msg = msg[:maxStatusReason]
		}
	}
	_ = c.CloseWithError(quic.ApplicationErrorCode(codeOf(why)), msg)
}

func hexID(id uint64) string { return fmt.Sprintf("%x", id) }
