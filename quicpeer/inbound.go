package quicpeer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// readBufferSize is the buffer incoming streams are read through.
const readBufferSize = 64 << 10

// inConn is a connection a member dialled in on. It speaks for one member: the first
// stream admitted on it binds it.
type inConn struct {
	conn *quic.Conn

	mu          sync.Mutex
	member      uint64
	incarnation uint64
}

func (ic *inConn) identity() (member, incarnation uint64) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	return ic.member, ic.incarnation
}

// bind ties the connection to the member a header names, or refuses a second member.
func (ic *inConn) bind(h header) error {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if ic.member != 0 && (ic.member != h.from || ic.incarnation != h.incarnation) {
		return fmt.Errorf("%w: the connection already carries member %x (incarnation %x), not %x (incarnation %x)",
			ErrIdentity, ic.member, ic.incarnation, h.from, h.incarnation)
	}
	ic.member, ic.incarnation = h.from, h.incarnation
	return nil
}

// inboundOf returns the inbound connections bound to member (every one for 0), less
// those of incarnation keep (when non-zero). The caller holds t.mu.
func (t *Transport) inboundOf(member, keep uint64) []*inConn {
	var out []*inConn
	for ic := range t.inbound {
		m, inc := ic.identity()
		if (member == 0 || m == member) && (keep == 0 || inc != keep) {
			out = append(out, ic)
		}
	}
	return out
}

// acceptLoop admits members' connections until the transport closes. The TLS layer has
// verified each one's certificate against the cluster CA; which member it is, the
// streams' headers say, and admit checks.
func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	for {
		conn, err := t.ln.Accept(t.ctx)
		if err != nil {
			return
		}
		if w, ok := conn.Context().Value(handshakeKey{}).(*handshakeWatch); ok {
			w.accepted.Store(true)
		}
		if alpn := conn.ConnectionState().TLS.NegotiatedProtocol; alpn != ALPN {
			t.refuse(conn, 0, fmt.Errorf("%w: ALPN %q", ErrBadHeader, alpn))
			continue
		}
		ic := &inConn{conn: conn}
		t.mu.Lock()
		closed := t.closed
		if !closed {
			t.inbound[ic] = struct{}{}
			t.wg.Add(1)
		}
		t.mu.Unlock()
		if closed {
			closeConn(conn, ErrClosed)
			return
		}
		context.AfterFunc(conn.Context(), func() {
			t.mu.Lock()
			delete(t.inbound, ic)
			t.mu.Unlock()
		})
		go t.acceptStreams(ic)
	}
}

// acceptStreams serves the streams a member opens on one connection.
func (t *Transport) acceptStreams(ic *inConn) {
	defer t.wg.Done()
	for {
		s, err := ic.conn.AcceptStream(t.ctx)
		if err != nil {
			return
		}
		t.wg.Add(1)
		go t.serveStream(ic, s)
	}
}

// serveStream admits a stream and serves it according to its kind.
func (t *Transport) serveStream(ic *inConn, s *quic.Stream) {
	defer t.wg.Done()
	h, ok := t.admit(ic, s)
	if !ok {
		return
	}
	switch h.kind {
	case kindMessages:
		t.serveMessages(h, s)
	case kindSnapshot:
		t.serveSnapshot(ic, h, s)
	}
}

// serveMessages answers a message stream with this member's header, and delivers its
// raft messages, in order.
func (t *Transport) serveMessages(h header, s *quic.Stream) {
	answer := header{kind: kindMessages, cluster: t.clusterID, from: t.cfg.ID, to: h.from, incarnation: t.incarnation}
	if _, err := s.Write(appendHeader(nil, answer)); err != nil {
		return
	}
	_ = s.Close() // the answer is all this side sends
	fr := &frameReader{r: bufio.NewReaderSize(s, readBufferSize), limit: t.cfg.MaxFrameBytes}
	for {
		m, err := fr.message()
		if err == nil {
			err = checkMessage(m, h)
		}
		if err != nil {
			if errors.Is(err, ErrFrameTooLarge) || errors.Is(err, ErrBadMessage) {
				t.refuseStream(h, err)
				s.CancelRead(quic.StreamErrorCode(codeOf(err)))
			}
			return // io.EOF: the sender ended the stream; otherwise the connection is gone
		}
		if err := t.handler.Process(t.ctx, m); err != nil && t.ctx.Err() == nil {
			t.log.Debug("the member did not take a message", "peer", hexID(h.from), "type", m.GetType().String(), "err", err)
		}
	}
}

// admit reads a stream's header and decides whether the stream may speak for the member
// it names. A refusal is logged and closes the connection with the reason.
func (t *Transport) admit(ic *inConn, s *quic.Stream) (header, bool) {
	_ = s.SetReadDeadline(time.Now().Add(t.cfg.HeaderTimeout))
	h, err := readHeader(s)
	_ = s.SetReadDeadline(time.Time{})
	if err != nil && (ic.conn.Context().Err() != nil || isRemoteReset(err)) {
		return header{}, false // the connection or the stream went away; nothing to refuse
	}
	if err == nil {
		err = t.authenticate(ic, h)
	}
	if err != nil {
		t.refuse(ic.conn, h.from, err)
		return header{}, false
	}
	return h, true
}

// authenticate checks a header against this member and the connection's certificate:
// same cluster, addressed to this member, from a member added with AddPeer whose peer
// URL hosts the certificate is valid for. It also notices a member that restarted.
func (t *Transport) authenticate(ic *inConn, h header) error {
	if h.cluster != t.clusterID {
		return fmt.Errorf("%w: stream for cluster %x, this is cluster %x", ErrClusterMismatch, h.cluster, t.clusterID)
	}
	if h.to != t.cfg.ID {
		return fmt.Errorf("%w: stream for member %x, this is member %x", ErrWrongMember, h.to, t.cfg.ID)
	}
	p := t.peer(h.from)
	if p == nil {
		return fmt.Errorf("%w: %x is not a member of cluster %x known here", ErrUnknownMember, h.from, t.clusterID)
	}
	if err := checkIdentity(ic.conn.ConnectionState().TLS, p.hosts()); err != nil {
		return fmt.Errorf("claimed member %x: %w", h.from, err)
	}
	if err := ic.bind(h); err != nil {
		return err
	}
	t.noteIncarnation(p, h.incarnation)
	return nil
}

// checkMessage refuses messages a stream must not carry: one from or to another member
// than its header says (a member may not speak for another), a local message, a
// snapshot outside a snapshot stream or anything else on one.
func checkMessage(m *raftpb.Message, h header) error {
	switch typ := m.GetType(); {
	case m.GetFrom() != h.from || m.GetTo() != h.to:
		return fmt.Errorf("%w: %s from %x to %x on a stream from %x to %x", ErrBadMessage, typ, m.GetFrom(), m.GetTo(), h.from, h.to)
	case raft.IsLocalMsg(typ):
		return fmt.Errorf("%w: local message %s from the network", ErrBadMessage, typ)
	case (typ == raftpb.MessageType_MsgSnap) != (h.kind == kindSnapshot):
		return fmt.Errorf("%w: %s on a %s stream", ErrBadMessage, typ, h.kind)
	}
	return nil
}

// refuse logs why a connection is refused and closes it with the reason's code.
func (t *Transport) refuse(c *quic.Conn, claimed uint64, why error) {
	args := []any{"remote", c.RemoteAddr().String(), "reason", why}
	if claimed != 0 {
		args = append(args, "peer", hexID(claimed))
	}
	t.log.Warn("refused a peer connection", args...)
	closeConn(c, why)
}

// refuseStream logs why a stream is reset; the caller resets it.
func (t *Transport) refuseStream(h header, why error) {
	t.log.Warn("reset a peer stream", "peer", hexID(h.from), "stream", h.kind.String(), "reason", why)
}

// handshakeWatch notices connections that fail before they are accepted: the TLS layer
// refuses a certificate from another CA, an expired one or a wrong ALPN, and quic-go
// never hands such a connection to Accept. The cause is logged, so every refusal is.
type handshakeWatch struct{ accepted atomic.Bool }

type handshakeKey struct{}

// watchHandshake is the quic.Transport's ConnContext.
func (t *Transport) watchHandshake(ctx context.Context, ci *quic.ClientInfo) (context.Context, error) {
	w := new(handshakeWatch)
	ctx = context.WithValue(ctx, handshakeKey{}, w)
	remote := ci.RemoteAddr.String()
	context.AfterFunc(ctx, func() {
		if w.accepted.Load() || t.ctx.Err() != nil {
			return
		}
		t.log.Warn("refused a peer connection in the handshake", "remote", remote, "reason", context.Cause(ctx))
	})
	return ctx, nil
}
