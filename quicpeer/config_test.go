package quicpeer_test

import (
	"crypto/tls"
	"errors"
	"sync/atomic"
	"testing"

	"etcq.dev/etcq/certs/certstest"
	"etcq.dev/etcq/quicpeer"
)

func TestBadConfig(t *testing.T) {
	pki := certstest.New(t)
	cert := pki.Peer(t, "m")
	good := func() quicpeer.Config {
		return quicpeer.Config{ID: 1, Listen: "127.0.0.1:0", TLS: peerTLS(pki, cert)}
	}
	for _, tc := range []struct {
		name string
		edit func(*quicpeer.Config)
	}{
		{"no ID", func(c *quicpeer.Config) { c.ID = 0 }},
		{"no listen address", func(c *quicpeer.Config) { c.Listen = "" }},
		{"bad listen address", func(c *quicpeer.Config) { c.Listen = "nowhere:port" }},
		{"no TLS", func(c *quicpeer.Config) { c.TLS = nil }},
		{"no certificate", func(c *quicpeer.Config) { c.TLS.Certificates = nil }},
		{"no client CAs", func(c *quicpeer.Config) { c.TLS.ClientCAs = nil }},
		{"no root CAs", func(c *quicpeer.Config) { c.TLS.RootCAs = nil }},
		{"backoff bounds", func(c *quicpeer.Config) { c.MinBackoff, c.MaxBackoff = 2, 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good()
			tc.edit(&cfg)
			tr, err := quicpeer.New(cfg)
			if !errors.Is(err, quicpeer.ErrBadConfig) {
				if tr != nil {
					tr.Close()
				}
				t.Fatalf("New: %v, want ErrBadConfig", err)
			}
		})
	}
	tr, err := quicpeer.New(good())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Start(0, newRecorder()); !errors.Is(err, quicpeer.ErrBadConfig) {
		t.Fatalf("Start without a cluster ID: %v", err)
	}
	if err := tr.Start(testCluster, nil); !errors.Is(err, quicpeer.ErrBadConfig) {
		t.Fatalf("Start without a handler: %v", err)
	}
	tr.Close()
	if err := tr.Start(testCluster, newRecorder()); !errors.Is(err, quicpeer.ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
}

// TestTLSCallbacksKept: configs that pick certificates per connection (as a hot-reloading
// caller's do) keep working through the transport's clones, and are called.
func TestTLSCallbacksKept(t *testing.T) {
	pki := certstest.New(t)
	pool := pki.CA().Pool()
	var served, presented atomic.Int64
	reloading := func(cn string) *tls.Config {
		cert := pki.Peer(t, cn)
		return &tls.Config{
			RootCAs: pool,
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
				served.Add(1)
				return &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool}, nil
			},
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				presented.Add(1)
				return &cert, nil
			},
		}
	}
	a := newMember(t, pki, 1, memberOpts{tls: reloading("member-1")})
	b := newMember(t, pki, 2, memberOpts{tls: reloading("member-2")})
	mesh(a, b)
	deliver(t, a, b)
	deliver(t, b, a)
	if served.Load() == 0 || presented.Load() == 0 {
		t.Fatalf("GetConfigForClient called %d times, GetClientCertificate %d", served.Load(), presented.Load())
	}
}
