package certs_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/quic-go/quic-go"

	"etcq.dev/etcq/certs"
)

// joinServer serves JoinServerConfig on 127.0.0.1: on each stream it writes the session's
// join binding. accepted counts connections whose handshake completed.
type joinServer struct {
	addr     string
	accepted atomic.Int64
	mu       sync.Mutex
	peers    [][]*x509.Certificate // client certificates seen (must stay empty)
}

func serveJoin(t *testing.T, r *certs.Reloader) *joinServer {
	t.Helper()
	ln, err := quic.ListenAddr("127.0.0.1:0", r.JoinServerConfig(&tls.Config{NextProtos: []string{alpn}}), &quic.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &joinServer{addr: ln.Addr().String()}
	go func() {
		for {
			conn, err := ln.Accept(context.Background())
			if err != nil {
				return
			}
			s.accepted.Add(1)
			cs := conn.ConnectionState().TLS
			s.mu.Lock()
			s.peers = append(s.peers, cs.PeerCertificates)
			s.mu.Unlock()
			go func() {
				str, err := conn.AcceptStream(context.Background())
				if err != nil {
					return
				}
				b, err := certs.JoinBinding(cs)
				if err == nil {
					str.Write(b)
				}
				str.Close()
			}()
		}
	}()
	return s
}

// joinEndpoint is a member's PKI directory with a CA and a server certificate for
// 127.0.0.1, and a Reloader of it.
func joinEndpoint(t *testing.T) (certs.Dir, *certs.CA, *certs.Reloader) {
	t.Helper()
	d, ca, err := certs.InitDir(filepath.Join(t.TempDir(), "pki"), certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.Issue(certs.IssueRequest{Profile: certs.ProfileServer, CommonName: "m1", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SaveKeyPair("m1", kp); err != nil {
		t.Fatal(err)
	}
	r, err := certs.NewReloader(certs.ReloaderOptions{Files: d.Files("m1")})
	if err != nil {
		t.Fatal(err)
	}
	return d, ca, r
}

// TestJoinHandshakeOverQUIC: a joining machine that knows only the pin reaches the member,
// both ends derive the same session binding, and no client certificate is asked for.
func TestJoinHandshakeOverQUIC(t *testing.T) {
	_, ca, r := joinEndpoint(t)
	srv := serveJoin(t, r)
	var outcome error = errors.New("never verified")
	conf, err := certs.JoinClientConfig(&tls.Config{ServerName: "127.0.0.1", NextProtos: []string{alpn}}, certs.CAPin(ca.Cert), func(err error) { outcome = err })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), hangGuard)
	defer cancel()
	conn, err := quic.DialAddr(ctx, srv.addr, conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseWithError(0, "")
	if outcome != nil {
		t.Fatalf("pin check: %v", outcome)
	}
	cs := conn.ConnectionState().TLS
	if len(cs.PeerCertificates) != 2 || !cs.PeerCertificates[1].Equal(ca.Cert) {
		t.Fatalf("the member presented %d certificates; want leaf and CA", len(cs.PeerCertificates))
	}
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	str.Close()
	theirs, err := io.ReadAll(str)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := certs.JoinBinding(cs)
	if err != nil {
		t.Fatal(err)
	}
	if len(ours) != 32 || !bytes.Equal(ours, theirs) {
		t.Fatalf("bindings differ: ours %x, the member's %x", ours, theirs)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for _, p := range srv.peers {
		if len(p) != 0 {
			t.Fatal("the member received a client certificate")
		}
	}
}

// TestJoinHandshakeWrongPin: against another CA's pin the handshake fails on the joining
// side, with ErrPinMismatch, before the member completes it.
func TestJoinHandshakeWrongPin(t *testing.T) {
	_, _, r := joinEndpoint(t)
	srv := serveJoin(t, r)
	other, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var outcome error
	conf, err := certs.JoinClientConfig(&tls.Config{ServerName: "127.0.0.1", NextProtos: []string{alpn}}, certs.CAPin(other.Cert), func(err error) { outcome = err })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), hangGuard)
	defer cancel()
	conn, err := quic.DialAddr(ctx, srv.addr, conf, nil)
	if err == nil {
		conn.CloseWithError(0, "")
		t.Fatal("the handshake succeeded with the wrong pin")
	}
	if !errors.Is(outcome, certs.ErrPinMismatch) {
		t.Fatalf("pin check: %v (dial: %v)", outcome, err)
	}
	if n := srv.accepted.Load(); n != 0 {
		t.Fatalf("the member completed %d handshakes", n)
	}
}

// TestJoinServerAsksNoClientCertificate: a client that would present a certificate is
// never asked for one.
func TestJoinServerAsksNoClientCertificate(t *testing.T) {
	_, _, r := joinEndpoint(t)
	srv := serveJoin(t, r)
	var asked atomic.Bool
	conf := &tls.Config{
		InsecureSkipVerify: true, NextProtos: []string{alpn},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			asked.Store(true)
			return &tls.Certificate{}, nil
		},
	}
	ctx, cancel := context.WithTimeout(t.Context(), hangGuard)
	defer cancel()
	conn, err := quic.DialAddr(ctx, srv.addr, conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.CloseWithError(0, "")
	if asked.Load() {
		t.Fatal("the enrollment config asked for a client certificate")
	}
	if _, err := certs.JoinClientConfig(&tls.Config{}, certs.Pin{}, nil); !errors.Is(err, certs.ErrMissingSAN) {
		t.Fatalf("JoinClientConfig without a server name: %v", err)
	}
}
