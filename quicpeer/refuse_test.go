package quicpeer_test

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"etcq.dev/etcq/certs"
	"etcq.dev/etcq/certs/certstest"
	"etcq.dev/etcq/quicpeer"
)

// intruderID is the member ID the refused parties claim.
const intruderID = 4

// target is member 2 with a good peer, member 3, both ways connected.
func target(t *testing.T, pki *certstest.PKI) (b, c *member) {
	t.Helper()
	b = newMember(t, pki, 2, memberOpts{tweak: func(c *quicpeer.Config) { c.MaxFrameBytes = 1 << 20 }})
	c = newMember(t, pki, 3, memberOpts{})
	mesh(b, c)
	deliver(t, c, b)
	return b, c
}

// stillWorks checks that the good peer and the target still talk, both ways.
func stillWorks(t *testing.T, b, c *member) {
	t.Helper()
	deliver(t, c, b)
	deliver(t, b, c)
}

// refusedWith accepts the target's refusal log record whose reason wraps sentinel.
func refusedWith(msg string, sentinel error) func(logRecord) bool {
	return func(r logRecord) bool {
		err, ok := r.attrs["reason"].(error)
		return r.level >= slog.LevelWarn && r.msg == msg && ok && errors.Is(err, sentinel)
	}
}

// otherCA issues a peer certificate for 127.0.0.1 from a CA the cluster does not trust.
func otherCA(t *testing.T) tls.Certificate {
	ca, err := certs.NewCA(certs.CAOptions{CommonName: "another CA"})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.Issue(certs.IssueRequest{Profile: certs.ProfilePeer, CommonName: "intruder", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := kp.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestRefusedTransports: transports that must not be admitted try to send to member 2.
// Each is refused with a logged reason, and member 2 keeps talking to member 3.
func TestRefusedTransports(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cert  func(t *testing.T, pki *certstest.PKI) tls.Certificate
		known bool   // member 2 has the intruder as a peer
		clus  uint64 // the intruder's cluster ID (default: the right one)
		// What member 2 logs: a handshake failure (reason text), or an admission
		// refusal (sentinel).
		handshake string
		sentinel  error
	}{
		{
			name:      "certificate from another CA",
			cert:      func(t *testing.T, pki *certstest.PKI) tls.Certificate { return otherCA(t) },
			known:     true,
			handshake: "certificate signed by unknown authority",
		},
		{
			name: "expired certificate",
			cert: func(t *testing.T, pki *certstest.PKI) tls.Certificate {
				return pki.Issue(t, certs.IssueRequest{
					Profile: certs.ProfilePeer, CommonName: "intruder", Hosts: []string{"127.0.0.1"},
					NotBefore: time.Now().Add(-48 * time.Hour), Validity: 24 * time.Hour,
				})
			},
			known:     true,
			handshake: "expired",
		},
		{
			name:     "client certificate used as a peer",
			cert:     func(t *testing.T, pki *certstest.PKI) tls.Certificate { return pki.Client(t, "intruder") },
			known:    true,
			sentinel: quicpeer.ErrIdentity,
		},
		{
			name: "certificate for another host",
			cert: func(t *testing.T, pki *certstest.PKI) tls.Certificate {
				return pki.Peer(t, "intruder", "intruder.example")
			},
			known:    true,
			sentinel: quicpeer.ErrIdentity,
		},
		{
			name:     "unknown member ID",
			cert:     func(t *testing.T, pki *certstest.PKI) tls.Certificate { return pki.Peer(t, "intruder") },
			sentinel: quicpeer.ErrUnknownMember,
		},
		{
			name:     "wrong cluster ID",
			cert:     func(t *testing.T, pki *certstest.PKI) tls.Certificate { return pki.Peer(t, "intruder") },
			known:    true,
			clus:     0xbad,
			sentinel: quicpeer.ErrClusterMismatch,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pki := certstest.New(t)
			b, c := target(t, pki)
			cert := tc.cert(t, pki)
			cfg := peerTLS(pki, cert)
			// Present the certificate whatever the member asks for: Go's client would
			// otherwise keep back one the member's CA list does not name.
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
			x := newMember(t, pki, intruderID, memberOpts{tls: cfg, cluster: tc.clus})
			x.tr.AddPeer(b.id, []string{b.url})
			if tc.known {
				b.tr.AddPeer(x.id, []string{x.url})
			}
			stop := keepSending(x, b)
			defer stop()
			if tc.handshake != "" {
				b.log.wait(t, "refused a peer connection in the handshake", tc.handshake)
			} else {
				r := b.log.waitFor(t, fmt.Sprintf("refusal wrapping %v", tc.sentinel), refusedWith("refused a peer connection", tc.sentinel))
				if r.attrs["peer"] != fmt.Sprintf("%x", intruderID) {
					t.Errorf("the refusal does not name the claimed member: %v", r)
				}
				// The intruder learns why.
				x.log.waitFor(t, "the intruder's log of the refusal", func(r logRecord) bool {
					err, ok := r.attrs["err"].(error)
					return ok && errors.Is(err, tc.sentinel)
				})
			}
			stillWorks(t, b, c)
		})
	}
}

// keepSending sends messages from x to b until stopped.
func keepSending(x, b *member) (stop func()) {
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			x.tr.Send([]*raftpb.Message{heartbeat(x.id, b.id)})
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); <-exited }
}

// rawConn dials member b over QUIC with a good peer certificate and the given ALPN, as
// a peer that does not follow the protocol would.
func rawConn(t *testing.T, pki *certstest.PKI, b *member, alpn string) (*quic.Conn, error) {
	t.Helper()
	cfg := peerTLS(pki, pki.Peer(t, "raw"))
	cfg.NextProtos = []string{alpn}
	ctx, cancel := context.WithTimeout(context.Background(), eventually)
	defer cancel()
	conn, err := quic.DialAddr(ctx, b.tr.Addr().String(), cfg, &quic.Config{})
	if err == nil {
		t.Cleanup(func() { conn.CloseWithError(0, "") })
	}
	return conn, err
}

// rawHeader is a message-stream header from the intruder to member 2.
func rawHeader(cluster, from, to uint64) []byte {
	b := []byte("etcq\x01\x01")
	for _, v := range []uint64{cluster, from, to, 0x1234} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b
}

// closedWith waits for conn to be closed by the peer and returns the error code it used.
func closedWith(t *testing.T, conn *quic.Conn) uint64 {
	t.Helper()
	select {
	case <-conn.Context().Done():
	case <-time.After(eventually):
		t.Fatal("the connection was not closed")
	}
	var appErr *quic.ApplicationError
	if !errors.As(context.Cause(conn.Context()), &appErr) || !appErr.Remote {
		t.Fatalf("the connection ended with %v, not closed by the peer", context.Cause(conn.Context()))
	}
	return uint64(appErr.ErrorCode)
}

// TestRefusedStreams: peers that break the protocol on the wire: a wrong ALPN, garbage
// instead of a header, an oversized frame, a message that claims another sender, a
// stream for another member. Each is refused with a logged reason; the good peer carries on.
func TestRefusedStreams(t *testing.T) {
	t.Run("wrong ALPN", func(t *testing.T) {
		pki := certstest.New(t)
		b, c := target(t, pki)
		if _, err := rawConn(t, pki, b, "etcq-client/1"); err == nil {
			t.Fatal("a dial with the client ALPN succeeded")
		}
		b.log.wait(t, "refused a peer connection in the handshake", "application protocol")
		stillWorks(t, b, c)
	})
	for _, tc := range []struct {
		name     string
		known    bool
		bytes    func() []byte
		msg      string // what member 2 logs
		sentinel error
		code     uint64 // the code the connection is closed with (0: only the stream is reset)
	}{
		{
			name:     "garbage",
			bytes:    func() []byte { return []byte("GET / HTTP/1.1\r\nHost: etcq\r\n\r\n0123456789") },
			msg:      "refused a peer connection",
			sentinel: quicpeer.ErrBadHeader,
			code:     1,
		},
		{
			name:  "oversized frame",
			known: true,
			bytes: func() []byte {
				return binary.BigEndian.AppendUint32(rawHeader(testCluster, intruderID, 2), 1<<20+1)
			},
			msg:      "reset a peer stream",
			sentinel: quicpeer.ErrFrameTooLarge,
		},
		{
			name:  "message claiming another sender",
			known: true,
			bytes: func() []byte {
				body, _ := proto.Marshal(heartbeat(3, 2)) // member 3 is someone else
				return append(binary.BigEndian.AppendUint32(rawHeader(testCluster, intruderID, 2), uint32(len(body))), body...)
			},
			msg:      "reset a peer stream",
			sentinel: quicpeer.ErrBadMessage,
		},
		{
			name:     "stream for another member",
			known:    true,
			bytes:    func() []byte { return rawHeader(testCluster, intruderID, 9) },
			msg:      "refused a peer connection",
			sentinel: quicpeer.ErrWrongMember,
			code:     3,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pki := certstest.New(t)
			b, c := target(t, pki)
			if tc.known {
				b.tr.AddPeer(intruderID, []string{"https://127.0.0.1:1"}) // its certificate is for 127.0.0.1
			}
			conn, err := rawConn(t, pki, b, quicpeer.ALPN)
			if err != nil {
				t.Fatal(err)
			}
			s, err := conn.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Write(tc.bytes()); err != nil {
				t.Fatal(err)
			}
			b.log.waitFor(t, fmt.Sprintf("%q wrapping %v", tc.msg, tc.sentinel), refusedWith(tc.msg, tc.sentinel))
			if tc.code != 0 {
				if got := closedWith(t, conn); got != tc.code {
					t.Fatalf("connection closed with code %d, want %d", got, tc.code)
				}
			}
			stillWorks(t, b, c)
		})
	}
}

// TestWrongMemberAnswers: a URL that leads to another member than the one meant (here a
// fake that admits the stream but answers as member 9) is not counted as connected.
func TestWrongMemberAnswers(t *testing.T) {
	pki := certstest.New(t)
	cfg := peerTLS(pki, pki.Peer(t, "fake"))
	cfg.NextProtos = []string{quicpeer.ALPN}
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	ln, err := quic.ListenAddr("127.0.0.1:0", cfg, &quic.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept(context.Background())
			if err != nil {
				return
			}
			go func() {
				s, err := conn.AcceptStream(context.Background())
				if err != nil {
					return
				}
				hdr := make([]byte, 38)
				if _, err := io.ReadFull(s, hdr); err != nil {
					return
				}
				s.Write(rawHeader(testCluster, 9, 1))
			}()
		}
	}()
	a := newMember(t, pki, 1, memberOpts{})
	a.tr.AddPeer(2, []string{"https://" + ln.Addr().String()})
	a.tr.Send([]*raftpb.Message{heartbeat(1, 2)})
	a.log.waitFor(t, "the wrong member refused", func(r logRecord) bool {
		err, ok := r.attrs["err"].(error)
		return ok && r.msg == "peer unreachable" && errors.Is(err, quicpeer.ErrWrongMember)
	})
	a.h.waitUnreachable(t, 2)
}
