package certs_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"etcq.dev/etcq/certs"
)

// Mutual TLS over real QUIC connections on 127.0.0.1, with the Reloader's configs.
//
// With TLS 1.3 a client finishes its handshake before the server has checked the client's
// certificate, so a refused client dials successfully and fails on its first stream; every
// exchange therefore writes and reads on a stream.

const alpn = "etcq-test/1"

// hangGuard bounds a test that would otherwise hang on a bug; it is not a timing assertion.
const hangGuard = time.Minute

// serveQUIC listens on 127.0.0.1:0 and echoes 4 bytes on every stream of every connection.
func serveQUIC(t *testing.T, conf *tls.Config) string {
	t.Helper()
	ln, err := quic.ListenAddr("127.0.0.1:0", conf, &quic.Config{})
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
				for {
					str, err := conn.AcceptStream(context.Background())
					if err != nil {
						return
					}
					go func() {
						buf := make([]byte, 4)
						if _, err := io.ReadFull(str, buf); err == nil {
							str.Write(buf)
						}
						str.Close()
					}()
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// ping opens a stream on conn, writes 4 bytes and reads them back.
func ping(ctx context.Context, conn *quic.Conn) error {
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return err
	}
	if _, err := str.Write([]byte("ping")); err != nil {
		return err
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(str, buf); err != nil {
		return err
	}
	if string(buf) != "ping" {
		return fmt.Errorf("echo %q", buf)
	}
	return nil
}

// exchange dials addr, pings once and returns the server's certificate.
func exchange(t *testing.T, addr string, conf *tls.Config) (*x509.Certificate, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), hangGuard)
	defer cancel()
	conn, err := quic.DialAddr(ctx, addr, conf, nil)
	if err != nil {
		return nil, err
	}
	defer conn.CloseWithError(0, "")
	if err := ping(ctx, conn); err != nil {
		return nil, err
	}
	st := conn.ConnectionState().TLS
	if st.NegotiatedProtocol != alpn {
		return nil, fmt.Errorf("ALPN %q, want %q", st.NegotiatedProtocol, alpn)
	}
	return st.PeerCertificates[0], nil
}

// sink collects log records; the server logs why it refused a client.
type sink struct {
	mu   sync.Mutex
	errs []error
}

func (s *sink) Enabled(context.Context, slog.Level) bool { return true }
func (s *sink) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s *sink) WithGroup(string) slog.Handler            { return s }
func (s *sink) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "certs: refused a client certificate" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && a.Key == "err" {
			s.mu.Lock()
			s.errs = append(s.errs, err)
			s.mu.Unlock()
		}
		return true
	})
	return nil
}

// count returns how many refusals were logged so far.
func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.errs)
}

// since returns the reason of the first refusal logged after the first n, nil if none.
func (s *sink) since(n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) <= n {
		return nil
	}
	return s.errs[n]
}

// pki is a PKI directory with helpers to issue into it and to build endpoints from it.
type pki struct {
	t   *testing.T
	dir certs.Dir
	ca  *certs.CA
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir, ca, err := certs.InitDir(t.TempDir(), certs.CAOptions{CommonName: "etcq CA"})
	if err != nil {
		t.Fatal(err)
	}
	return &pki{t: t, dir: dir, ca: ca}
}

// save issues req from ca into <name>.pem / <name>-key.pem.
func (p *pki) save(ca *certs.CA, name string, req certs.IssueRequest) *certs.KeyPair {
	p.t.Helper()
	kp, err := ca.Issue(req)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.dir.SaveKeyPair(name, kp); err != nil {
		p.t.Fatal(err)
	}
	return kp
}

// reloader builds a Reloader over <name> and the directory's bundle and CRL.
func (p *pki) reloader(name string, log *sink) *certs.Reloader {
	p.t.Helper()
	h := slog.Handler(&sink{})
	if log != nil {
		h = log
	}
	r, err := certs.NewReloader(certs.ReloaderOptions{Files: p.dir.Files(name), Logger: slog.New(h), PollInterval: -1})
	if err != nil {
		p.t.Fatal(err)
	}
	return r
}

// static is a fixed client config presenting c and trusting only pool, as a client of
// another implementation would.
func static(c tls.Certificate, pool *x509.CertPool) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c}, RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{alpn}}
}

func tlsCert(t *testing.T, ca *certs.CA, req certs.IssueRequest) tls.Certificate {
	t.Helper()
	kp, err := ca.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kp.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var loopback = []string{"127.0.0.1", "::1", "localhost"}

func TestQUICMutualTLS(t *testing.T) {
	p := newPKI(t)
	p.save(p.ca, "server", certs.IssueRequest{Profile: certs.ProfileServer, CommonName: "server", Hosts: loopback})
	p.save(p.ca, "alice", certs.IssueRequest{Profile: certs.ProfileClient, CommonName: "alice"})
	addr := serveQUIC(t, p.reloader("server", nil).ServerConfig(&tls.Config{NextProtos: []string{alpn}}))
	client := p.reloader("alice", nil).ClientConfig(&tls.Config{NextProtos: []string{alpn}, ServerName: "127.0.0.1"})
	got, err := exchange(t, addr, client)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject.CommonName != "server" {
		t.Fatalf("server CN %q", got.Subject.CommonName)
	}
}

// TestQUICServerRefusesClients: each bad client certificate is refused by the server, which
// logs the reason with this package's error.
func TestQUICServerRefusesClients(t *testing.T) {
	p := newPKI(t)
	p.save(p.ca, "server", certs.IssueRequest{Profile: certs.ProfileServer, CommonName: "server", Hosts: loopback})
	log := &sink{}
	server := p.reloader("server", log)
	addr := serveQUIC(t, server.ServerConfig(&tls.Config{NextProtos: []string{alpn}}))
	stranger, err := certs.NewCA(certs.CAOptions{CommonName: "etcq CA"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	pool := p.ca.Pool()
	revoked := tlsCert(t, p.ca, certs.IssueRequest{Profile: certs.ProfileClient, CommonName: "revoked"})
	if _, err := exchange(t, addr, static(revoked, pool)); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	if err := p.ca.RevokeCertificate(revoked.Leaf); err != nil {
		t.Fatal(err)
	}
	if err := p.dir.PublishCRL(p.ca); err != nil {
		t.Fatal(err)
	}
	if err := server.Reload(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		cert tls.Certificate
		want error
	}{
		{"expired", tlsCert(t, p.ca, certs.IssueRequest{Profile: certs.ProfileClient, CommonName: "old", NotBefore: now.Add(-48 * time.Hour), Validity: 24 * time.Hour}), certs.ErrExpired},
		{"not yet valid", tlsCert(t, p.ca, certs.IssueRequest{Profile: certs.ProfileClient, CommonName: "early", NotBefore: now.Add(24 * time.Hour)}), certs.ErrNotYetValid},
		{"unknown CA", tlsCert(t, stranger, certs.IssueRequest{Profile: certs.ProfileClient, CommonName: "alice"}), certs.ErrUnknownCA},
		{"server certificate as client", tlsCert(t, p.ca, certs.IssueRequest{Profile: certs.ProfileServer, CommonName: "s", Hosts: loopback}), certs.ErrWrongUsage},
		{"revoked", revoked, certs.ErrRevoked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := log.count()
			_, err := exchange(t, addr, static(tc.cert, pool))
			if err == nil {
				t.Fatal("client accepted")
			}
			if got := log.since(n); !errors.Is(got, tc.want) {
				t.Fatalf("server refused with %v, want %v (client saw %v)", got, tc.want, err)
			}
		})
	}
	t.Run("no certificate", func(t *testing.T) {
		conf := static(tls.Certificate{}, pool)
		conf.Certificates = nil
		if _, err := exchange(t, addr, conf); err == nil {
			t.Fatal("client without a certificate accepted")
		}
	})
	t.Run("good client still served", func(t *testing.T) {
		good := tlsCert(t, p.ca, certs.IssueRequest{Profile: certs.ProfileClient, CommonName: "bob"})
		if _, err := exchange(t, addr, static(good, pool)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestQUICClientRefusesServers: each bad server certificate makes the dial fail with this
// package's error.
func TestQUICClientRefusesServers(t *testing.T) {
	p := newPKI(t)
	p.save(p.ca, "alice", certs.IssueRequest{Profile: certs.ProfileClient, CommonName: "alice"})
	client := p.reloader("alice", nil)
	stranger, err := certs.NewCA(certs.CAOptions{CommonName: "etcq CA"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	revoked := tlsCert(t, p.ca, certs.IssueRequest{Profile: certs.ProfileServer, CommonName: "revoked", Hosts: loopback})
	if err := p.ca.RevokeCertificate(revoked.Leaf); err != nil {
		t.Fatal(err)
	}
	if err := p.dir.PublishCRL(p.ca); err != nil {
		t.Fatal(err)
	}
	if err := client.Reload(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cert tls.Certificate
		want error
	}{
		{"good", tlsCert(t, p.ca, certs.IssueRequest{Profile: certs.ProfileServer, CommonName: "s", Hosts: loopback}), nil},
		{"expired", tlsCert(t, p.ca, certs.IssueRequest{Profile: certs.ProfileServer, CommonName: "s", Hosts: loopback, NotBefore: now.Add(-48 * time.Hour), Validity: time.Hour}), certs.ErrExpired},
		{"not yet valid", tlsCert(t, p.ca, certs.IssueRequest{Profile: certs.ProfileServer, CommonName: "s", Hosts: loopback, NotBefore: now.Add(time.Hour)}), certs.ErrNotYetValid},
		{"unknown CA", tlsCert(t, stranger, certs.IssueRequest{Profile: certs.ProfileServer, CommonName: "s", Hosts: loopback}), certs.ErrUnknownCA},
		{"missing SAN", tlsCert(t, p.ca, certs.IssueRequest{Profile: certs.ProfileServer, CommonName: "s", Hosts: []string{"10.0.0.1", "elsewhere"}}), certs.ErrMissingSAN},
		{"client certificate as server", tlsCert(t, p.ca, certs.IssueRequest{Profile: certs.ProfileClient, CommonName: "s"}), certs.ErrWrongUsage},
		{"revoked", revoked, certs.ErrRevoked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := serveQUIC(t, &tls.Config{Certificates: []tls.Certificate{tc.cert}, ClientAuth: tls.RequireAnyClientCert, NextProtos: []string{alpn}})
			_, err := exchange(t, addr, client.ClientConfig(&tls.Config{NextProtos: []string{alpn}, ServerName: "127.0.0.1"}))
			if tc.want == nil && err != nil {
				t.Fatal(err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("dial error %v, want %v", err, tc.want)
			}
		})
	}
}

// TestQUICPeers: two members use PeerConfig both to listen and to dial; a client
// certificate cannot pass for a member.
func TestQUICPeers(t *testing.T) {
	p := newPKI(t)
	p.save(p.ca, "m1", certs.IssueRequest{Profile: certs.ProfilePeer, CommonName: "m1", Hosts: loopback})
	p.save(p.ca, "m2", certs.IssueRequest{Profile: certs.ProfilePeer, CommonName: "m2", Hosts: loopback})
	base := &tls.Config{NextProtos: []string{alpn}, ServerName: "127.0.0.1"}
	log := &sink{}
	m1 := p.reloader("m1", log).PeerConfig(base)
	m2 := p.reloader("m2", nil).PeerConfig(base)
	addr1, addr2 := serveQUIC(t, m1), serveQUIC(t, m2)
	if got, err := exchange(t, addr2, m1); err != nil || got.Subject.CommonName != "m2" {
		t.Fatalf("m1 -> m2: %v, %v", got, err)
	}
	if got, err := exchange(t, addr1, m2); err != nil || got.Subject.CommonName != "m1" {
		t.Fatalf("m2 -> m1: %v, %v", got, err)
	}
	intruder := tlsCert(t, p.ca, certs.IssueRequest{Profile: certs.ProfileClient, CommonName: "alice"})
	n := log.count()
	if _, err := exchange(t, addr1, static(intruder, p.ca.Pool())); err == nil {
		t.Fatal("client certificate accepted on the peer port")
	}
	if got := log.since(n); !errors.Is(got, certs.ErrWrongUsage) {
		t.Fatalf("refused with %v, want ErrWrongUsage", got)
	}
}
