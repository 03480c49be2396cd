package quicpeer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"go.etcd.io/raft/v3/raftpb"
)

// Reasons this side replaces a working connection.
var (
	errPeerRestarted = errors.New("quicpeer: the peer restarted")
	errURLsChanged   = errors.New("quicpeer: the peer's URLs changed")
)

// Stream priorities (RFC 9218 urgency, lower first): raft messages go before snapshot
// images on the same connection, so heartbeats never wait behind a transfer.
const (
	urgencyMessages = 1
	urgencySnapshot = 6
)

// writeBufferSize is the buffer the writer coalesces frames in before a flush.
const writeBufferSize = 64 << 10

// peer is the sending side towards one member: a bounded queue of raft messages and one
// goroutine (run) that keeps a connection to the member, opens the message stream on it
// and drains the queue into it. Snapshots to the member use the same connection.
type peer struct {
	t   *Transport
	id  uint64
	log *slog.Logger
	q   chan *raftpb.Message

	ctx    context.Context // cancelled, with the reason, by RemovePeer or Close
	cancel context.CancelCauseFunc
	kick   chan struct{} // one token: stop waiting and connect now

	mu      sync.Mutex
	urls    []peerURL
	next    int        // the URL to dial next (round robin)
	conn    *quic.Conn // the connection in use; nil while there is none
	connURL string
	connInc uint64 // the member's incarnation at the other end of conn
	// dialURL and stopDial belong to the connection attempt under way, if any.
	dialURL  string
	stopDial func()
	changed  chan struct{} // closed and replaced whenever conn changes
}

func newPeer(t *Transport, id uint64, urls []peerURL) *peer {
	ctx, cancel := context.WithCancelCause(t.ctx)
	return &peer{
		t:       t,
		id:      id,
		log:     t.log.With("peer", hexID(id)),
		q:       make(chan *raftpb.Message, t.cfg.QueueLen),
		ctx:     ctx,
		cancel:  cancel,
		kick:    make(chan struct{}, 1),
		urls:    urls,
		changed: make(chan struct{}),
	}
}

// stop ends the peer's goroutine and closes its connection, telling the member why.
func (p *peer) stop(why error) { p.cancel(why) }

// hosts returns the hosts of the member's peer URLs: its certificate must be valid for one.
func (p *peer) hosts() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	hosts := make([]string, 0, len(p.urls))
	for _, u := range p.urls {
		if !slices.Contains(hosts, u.host) {
			hosts = append(hosts, u.host)
		}
	}
	return hosts
}

// setURLs replaces the member's URLs. A connection made to a URL no longer listed is
// closed, so the member is redialled where it now is.
func (p *peer) setURLs(urls []peerURL) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if slices.Equal(p.urls, urls) {
		return
	}
	p.urls, p.next = urls, 0
	listed := func(raw string) bool { return slices.ContainsFunc(urls, func(u peerURL) bool { return u.raw == raw }) }
	if p.conn != nil && !listed(p.connURL) {
		closeConn(p.conn, errURLsChanged)
	}
	if p.stopDial != nil && !listed(p.dialURL) {
		p.stopDial()
	}
	p.poke()
}

// poke wakes the goroutine if it is waiting to redial.
func (p *peer) poke() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *peer) setConn(c *quic.Conn, url string, inc uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conn, p.connURL, p.connInc = c, url, inc
	close(p.changed)
	p.changed = make(chan struct{})
}

// waitConn returns the connection to the member, waiting for one until ctx ends.
func (p *peer) waitConn(ctx context.Context) (*quic.Conn, error) {
	for {
		p.mu.Lock()
		c, changed := p.conn, p.changed
		p.mu.Unlock()
		if c != nil && c.Context().Err() == nil {
			return c, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("quicpeer: no connection to member %x: %w", p.id, context.Cause(ctx))
		}
	}
}

// run keeps the member connected and its queue drained until the peer is stopped.
// While the member cannot be reached, what is queued for it is dropped and raft told so.
func (p *peer) run() {
	defer p.t.wg.Done()
	select {
	case <-p.t.started:
	case <-p.ctx.Done():
		return
	}
	b := backoff{min: p.t.cfg.MinBackoff, max: p.t.cfg.MaxBackoff}
	var fl failureLog
	for {
		conn, s, url, inc, err := p.connect()
		if err == nil {
			b.reset()
			fl.reset()
			p.log.Info("connected to peer", "url", url)
			stop := context.AfterFunc(p.ctx, func() { closeConn(conn, context.Cause(p.ctx)) })
			p.setConn(conn, url, inc)
			p.t.noteIncarnation(p, inc)
			err = p.pump(conn, s)
			p.setConn(nil, "", 0)
			stop()
			closeConn(conn, nil)
		}
		if p.ctx.Err() != nil {
			return
		}
		err = remoteRefusal(err)
		p.t.reports.unreachable(p.id)
		switch {
		case isLocalClose(err) || errors.Is(err, errURLsChanged):
			p.log.Info("reconnecting to peer", "reason", err)
		case isRemoteShutdown(err):
			p.log.Info("peer closed the connection", "err", err)
		case fl.note(err, time.Now()):
			p.log.Warn("peer unreachable", "err", err, "failures", fl.count)
		default:
			p.log.Debug("peer unreachable", "err", err, "failures", fl.count)
		}
		if !p.pause(b.next()) {
			return
		}
	}
}

// pause waits d before the next connection attempt (less if poked), dropping what
// arrives for the member meanwhile. It returns false once the peer is stopped.
func (p *peer) pause(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
			return true
		case <-p.kick:
			return true
		case <-p.ctx.Done():
			return false
		case <-p.q:
			p.t.reports.unreachable(p.id)
		}
	}
}

// connect dials the member's next URL, opens the message stream and waits for the
// member's answer: its own header, which says that it admitted the stream, that it is the
// member meant, and which incarnation of it this is. A refusal (at the TLS layer or by
// the member's checks) fails here, with the member's reason, rather than on a later write.
func (p *peer) connect() (conn *quic.Conn, s *quic.Stream, url string, inc uint64, err error) {
	p.mu.Lock()
	if len(p.urls) == 0 {
		p.mu.Unlock()
		return nil, nil, "", 0, fmt.Errorf("quicpeer: member %x has no usable peer URL", p.id)
	}
	u := p.urls[p.next%len(p.urls)]
	p.next++
	dialCtx, stopDial := context.WithCancelCause(p.ctx)
	defer stopDial(nil)
	ctx, cancel := context.WithTimeout(dialCtx, p.t.cfg.DialTimeout)
	defer cancel()
	p.dialURL, p.stopDial = u.raw, func() { stopDial(errURLsChanged) }
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.dialURL, p.stopDial = "", nil
		p.mu.Unlock()
	}()
	defer func() {
		if err == nil {
			return
		}
		if conn != nil {
			closeConn(conn, err)
		}
		if cause := context.Cause(ctx); errors.Is(cause, errURLsChanged) {
			err = cause
		}
		conn, s, url, inc = nil, nil, "", 0
		err = fmt.Errorf("quicpeer: connect to %s: %w", u.raw, remoteRefusal(err))
	}()

	addr, err := net.ResolveUDPAddr("udp", u.hostport)
	if err != nil {
		return
	}
	if conn, err = p.t.qt.Dial(ctx, addr, clientTLS(p.t.dialBase(u.host), u.host), p.t.quicConf); err != nil {
		return
	}
	if s, err = conn.OpenStreamSync(ctx); err != nil {
		return
	}
	s.SetPriority(urgencyMessages, false)
	if _, err = s.Write(appendHeader(nil, p.header(kindMessages))); err != nil {
		return
	}
	deadline, _ := ctx.Deadline()
	_ = s.SetReadDeadline(deadline)
	answer, err := readHeader(s)
	s.CancelRead(quic.StreamErrorCode(codeNoError)) // the answer is all the member sends
	if err != nil {
		err = fmt.Errorf("waiting to be admitted: %w", err)
		return
	}
	if err = p.checkAnswer(answer); err != nil {
		return
	}
	return conn, s, u.raw, answer.incarnation, nil
}

// checkAnswer checks that the member that admitted our message stream is the one meant.
func (p *peer) checkAnswer(h header) error {
	switch {
	case h.kind != kindMessages:
		return fmt.Errorf("%w: answered with a %s header", ErrBadHeader, h.kind)
	case h.cluster != p.t.clusterID:
		return fmt.Errorf("%w: reached a member of cluster %x, this is cluster %x", ErrClusterMismatch, h.cluster, p.t.clusterID)
	case h.from != p.id || h.to != p.t.cfg.ID:
		return fmt.Errorf("%w: reached member %x (answering %x), not member %x", ErrWrongMember, h.from, h.to, p.id)
	}
	return nil
}

// header is the header of a stream to this member.
func (p *peer) header(kind streamKind) header {
	return header{kind: kind, cluster: p.t.clusterID, from: p.t.cfg.ID, to: p.id, incarnation: p.t.incarnation}
}

// pump writes queued messages to the message stream until the connection or the peer
// ends. It coalesces: it writes whatever is queued, and flushes when the queue is empty.
func (p *peer) pump(conn *quic.Conn, s *quic.Stream) error {
	bw := bufio.NewWriterSize(s, writeBufferSize)
	var buf []byte
	for {
		var m *raftpb.Message
		select {
		case m = <-p.q:
		case <-conn.Context().Done():
			return context.Cause(conn.Context())
		case <-p.ctx.Done():
			return context.Cause(p.ctx)
		}
		for m != nil {
			var err error
			if buf, err = appendFrame(buf[:0], m, p.t.cfg.MaxFrameBytes); err != nil {
				p.log.Error("dropping a message that cannot be sent", "type", m.GetType().String(), "err", err)
				p.t.reports.unreachable(p.id)
			} else if _, err := bw.Write(buf); err != nil {
				return err
			}
			if cap(buf) > writeBufferSize {
				buf = nil // do not hold on to the memory of an exceptional message
			}
			select {
			case m = <-p.q:
			default:
				m = nil
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
	}
}
