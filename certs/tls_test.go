package certs

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
)

// These tests run the Reloader's configs over TCP with crypto/tls, where session resumption
// and server names can be driven directly. The QUIC tests are in quic_test.go.

// tcpEcho serves TLS on 127.0.0.1:0, echoing 4 bytes per connection.
func tcpEcho(t *testing.T, conf *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4)
				if _, err := io.ReadFull(c, buf); err == nil {
					c.Write(buf)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// tcpRoundTrip dials, sends "ping", reads it back and returns the connection state.
func tcpRoundTrip(addr string, conf *tls.Config) (tls.ConnectionState, error) {
	c, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		return tls.ConnectionState{}, err
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		return tls.ConnectionState{}, err
	}
	return c.ConnectionState(), nil
}

type tlsFixture struct {
	ca             *CA
	server, client *Reloader
	serverFiles    Files
	clientFiles    Files
	serverLog      *logSink
}

func newTLSFixture(t *testing.T) *tlsFixture {
	t.Helper()
	ca := newTestCA(t, "ca")
	crl, _ := ca.CRL()
	fx := &tlsFixture{ca: ca}
	fx.serverFiles = endpoint(t, issueT(t, ca, IssueRequest{Profile: ProfileServer, CommonName: "server", Hosts: []string{"127.0.0.1", "localhost"}}), ca.CertPEM, crl)
	fx.clientFiles = endpoint(t, issueT(t, ca, IssueRequest{Profile: ProfileClient, CommonName: "alice"}), ca.CertPEM, crl)
	fx.server, fx.serverLog = newReloaderT(t, fx.serverFiles)
	fx.client, _ = newReloaderT(t, fx.clientFiles)
	return fx
}

// revoke revokes serial and installs the CRL for both endpoints.
func (fx *tlsFixture) revoke(t *testing.T, r *Reloader, kp *KeyPair) {
	t.Helper()
	if err := fx.ca.Revoke(leafOf(t, kp).SerialNumber); err != nil {
		t.Fatal(err)
	}
	crl, _ := fx.ca.CRL()
	for _, f := range []Files{fx.serverFiles, fx.clientFiles} {
		writeT(t, f.CRL, crl, 0o644)
	}
	if err := fx.server.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := fx.client.Reload(); err != nil {
		t.Fatal(err)
	}
}

func TestTLSMutualAndALPN(t *testing.T) {
	fx := newTLSFixture(t)
	addr := tcpEcho(t, fx.server.ServerConfig(&tls.Config{NextProtos: []string{"etcq-test/1"}}))
	cs, err := tcpRoundTrip(addr, fx.client.ClientConfig(&tls.Config{NextProtos: []string{"etcq-test/1"}, ServerName: "127.0.0.1"}))
	if err != nil {
		t.Fatal(err)
	}
	if cs.NegotiatedProtocol != "etcq-test/1" {
		t.Fatalf("ALPN %q", cs.NegotiatedProtocol)
	}
	if cs.PeerCertificates[0].Subject.CommonName != "server" {
		t.Fatalf("server CN %q", cs.PeerCertificates[0].Subject.CommonName)
	}
}

// TestTLSResumedSessionsAreReverified: crypto/tls resumes a session without verifying the
// certificate chain again; the Reloader's configs do, so a revocation or a CA removed from
// the bundle also stops resumed sessions.
func TestTLSResumedSessionsAreReverified(t *testing.T) {
	for _, side := range []string{"client revoked", "server revoked"} {
		t.Run(side, func(t *testing.T) {
			fx := newTLSFixture(t)
			addr := tcpEcho(t, fx.server.ServerConfig(nil))
			cconf := fx.client.ClientConfig(&tls.Config{ServerName: "127.0.0.1", ClientSessionCache: tls.NewLRUClientSessionCache(4)})
			if _, err := tcpRoundTrip(addr, cconf); err != nil {
				t.Fatal(err)
			}
			cs, err := tcpRoundTrip(addr, cconf)
			if err != nil {
				t.Fatal(err)
			}
			if !cs.DidResume {
				t.Fatal("second connection did not resume; the test needs resumption")
			}
			files, r := fx.clientFiles, fx.client
			if side == "server revoked" {
				files, r = fx.serverFiles, fx.server
			}
			kp, err := LoadKeyPair(files.Cert, files.Key)
			if err != nil {
				t.Fatal(err)
			}
			fx.revoke(t, r, kp)
			_, err = tcpRoundTrip(addr, cconf)
			if err == nil {
				t.Fatal("resumed session with a revoked certificate accepted")
			}
			if side == "server revoked" {
				wantErr(t, err, ErrRevoked)
			} else {
				recs := fx.serverLog.find("certs: refused a client certificate")
				if len(recs) == 0 {
					t.Fatal("refusal not logged")
				}
				wantErr(t, attr(recs[len(recs)-1], "err").Any().(error), ErrRevoked)
			}
		})
	}
}

func TestClientServerName(t *testing.T) {
	fx := newTLSFixture(t)
	addr := tcpEcho(t, fx.server.ServerConfig(nil))
	_, port, _ := net.SplitHostPort(addr)
	localhost := "localhost:" + port

	// An IP address: ServerName must be set before ClientConfig.
	_, err := tcpRoundTrip(addr, fx.client.ClientConfig(&tls.Config{ServerName: "127.0.0.1"}))
	wantErr(t, err, nil)
	_, err = tcpRoundTrip(addr, fx.client.ClientConfig(nil))
	wantErr(t, err, ErrMissingSAN)
	_, err = tcpRoundTrip(addr, fx.client.ClientConfig(&tls.Config{ServerName: "10.1.2.3"}))
	wantErr(t, err, ErrMissingSAN)

	// A DNS name travels as SNI: a clone with another name is checked against that name.
	byName := fx.client.ClientConfig(&tls.Config{ServerName: "localhost"})
	_, err = tcpRoundTrip(localhost, byName)
	wantErr(t, err, nil)
	clone := byName.Clone()
	clone.ServerName = "elsewhere.example"
	_, err = tcpRoundTrip(localhost, clone)
	wantErr(t, err, ErrMissingSAN)
	// A clone switched to an IP address cannot be checked: refused, never trusted blindly.
	clone.ServerName = "127.0.0.1"
	_, err = tcpRoundTrip(addr, clone)
	wantErr(t, err, ErrMissingSAN)
	if !strings.Contains(err.Error(), "one config per address") {
		t.Fatalf("unhelpful error: %v", err)
	}
}

// TestBaseVerifyConnectionRunsAfterOurs: a caller's own check still runs, and only on
// certificates that passed ours.
func TestBaseVerifyConnectionRunsAfterOurs(t *testing.T) {
	fx := newTLSFixture(t)
	errNo := errors.New("caller says no")
	var calls atomic.Int32
	sconf := fx.server.ServerConfig(&tls.Config{VerifyConnection: func(cs tls.ConnectionState) error {
		calls.Add(1)
		if cs.PeerCertificates[0].Subject.CommonName == "alice" {
			return errNo
		}
		return nil
	}})
	addr := tcpEcho(t, sconf)
	if _, err := tcpRoundTrip(addr, fx.client.ClientConfig(&tls.Config{ServerName: "127.0.0.1"})); err == nil {
		t.Fatal("caller's VerifyConnection ignored")
	}
	cconf := fx.client.ClientConfig(&tls.Config{ServerName: "127.0.0.1", VerifyConnection: func(tls.ConnectionState) error { return errNo }})
	_, err := tcpRoundTrip(addr, cconf)
	wantErr(t, err, errNo)
	if calls.Load() == 0 {
		t.Fatal("server-side caller check never ran")
	}
}
