package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cloudflare/cfssl/csr"
)

// JoinClientConfig returns the config a joining machine dials a member with. It presents
// no certificate and trusts no CA bundle: the server is accepted only if VerifyPinnedChain
// accepts the chain it presents for pin and base.ServerName (which must be set: the host
// dialled, a DNS name or an IP address). crypto/tls runs the check when the server's
// certificate arrives, before the client sends anything but its hello, and aborts the
// handshake if it fails. Sessions are never resumed. base's NextProtos are kept.
//
// verified, if not nil, receives the outcome of the check (nil when it passed), so the
// caller can tell a pin mismatch from a network failure whatever error the transport
// wraps it in.
func JoinClientConfig(base *tls.Config, pin Pin, verified func(error)) (*tls.Config, error) {
	c, _ := prepare(base)
	host := normalizeHost(c.ServerName)
	if host == "" {
		return nil, fmt.Errorf("%w: JoinClientConfig needs base.ServerName", ErrMissingSAN)
	}
	c.MinVersion = tls.VersionTLS13
	c.InsecureSkipVerify = true // replaced by the pin check below, never dropped
	c.RootCAs = nil
	c.GetClientCertificate = nil
	c.ClientSessionCache = nil
	c.VerifyConnection = nil
	c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		err := VerifyPinnedChain(raw, pin, host, time.Now())
		if verified != nil {
			verified(err)
		}
		return err
	}
	return c, nil
}

// VerifyPinnedChain checks a server's DER chain (leaf first) against a pinned CA: some
// certificate of the chain must be a CA whose public key has the pin (ErrPinMismatch),
// and the leaf must chain to it, be valid now, have serverAuth and a SAN for host (the
// errors of Trust.Verify). Other certificates of the chain may serve as intermediates.
func VerifyPinnedChain(raw [][]byte, pin Pin, host string, now time.Time) error {
	chain, err := parseChain(raw)
	if err != nil {
		return err
	}
	if len(chain) == 0 {
		return fmt.Errorf("%w: the server presented no certificate", ErrPinMismatch)
	}
	var pinned *x509.Certificate
	var others []*x509.Certificate
	var seen []string
	for _, c := range chain[1:] {
		if c.IsCA && c.BasicConstraintsValid && CAPin(c) == pin && pinned == nil {
			pinned = c
			continue
		}
		if c.IsCA {
			seen = append(seen, fmt.Sprintf("%q %s", c.Subject.CommonName, CAPin(c)))
		}
		others = append(others, c)
	}
	if pinned == nil {
		if len(seen) == 0 {
			return fmt.Errorf("%w: the server presented no CA certificate with its own (is it an etcq member that accepts enrollment?); want %s", ErrPinMismatch, pin)
		}
		return fmt.Errorf("%w: it presented %s; want %s", ErrPinMismatch, strings.Join(seen, ", "), pin)
	}
	t := &Trust{cas: []*x509.Certificate{pinned}, pool: x509.NewCertPool(), revoked: map[issuerID]map[string]bool{}}
	t.pool.AddCert(pinned)
	if err := t.verifyAt(append([]*x509.Certificate{chain[0]}, others...), ProfileServer, host, now); err != nil {
		return fmt.Errorf("%w: the server's certificate against the pinned CA: %w", ErrPinMismatch, err)
	}
	return nil
}

// JoinServerConfig returns the config a member serves enrollment with: it presents the
// current leaf followed by the bundle CA that signed it (the joining machine has no CA
// bundle; it checks the CA against its pin), asks for no client certificate, and issues
// no session tickets. Only the enrollment protocol may be served with it: everything else
// demands mutual TLS (ServerConfig). The leaf and CA follow reloads. base's NextProtos
// are kept.
func (r *Reloader) JoinServerConfig(base *tls.Config) *tls.Config {
	c, _ := prepare(base)
	c.MinVersion = tls.VersionTLS13
	c.ClientAuth = tls.NoClientCert
	c.ClientCAs = nil
	c.SessionTicketsDisabled = true
	c.GetConfigForClient = nil
	c.VerifyConnection = nil
	c.VerifyPeerCertificate = nil
	type cached struct {
		m    *material
		cert *tls.Certificate
	}
	var cache atomic.Pointer[cached]
	c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		r.poll()
		m := r.cur.Load()
		if cc := cache.Load(); cc != nil && cc.m == m {
			return cc.cert, nil
		}
		cert := withIssuer(m)
		cache.Store(&cached{m: m, cert: cert})
		return cert, nil
	}
	return c
}

// withIssuer is m's certificate chain with the trusted CA that signed its last
// certificate appended, unless the chain already ends with a trusted CA.
func withIssuer(m *material) *tls.Certificate {
	out := *m.cert
	out.Certificate = append([][]byte(nil), m.cert.Certificate...)
	top := m.cert.Leaf
	if n := len(m.cert.Certificate); n > 1 {
		c, err := x509.ParseCertificate(m.cert.Certificate[n-1])
		if err != nil {
			return &out
		}
		top = c
	}
	for _, ca := range m.trust.cas {
		if top.Equal(ca) {
			return &out
		}
	}
	for _, ca := range m.trust.cas {
		if top.CheckSignatureFrom(ca) == nil {
			out.Certificate = append(out.Certificate, ca.Raw)
			break
		}
	}
	return &out
}

// NewCSR generates an ECDSA P-256 key and a PEM certificate signing request for it with
// common name cn and hosts as DNS/IP SANs (cfssl csr), for CA.SignCSR on another machine:
// the key never leaves this one.
func NewCSR(cn string, hosts []string) (csrPEM, keyPEM []byte, err error) {
	if cn == "" {
		return nil, nil, fmt.Errorf("%w: empty common name", ErrRefused)
	}
	csrPEM, keyPEM, err = csr.ParseRequest(&csr.CertificateRequest{
		CN:         cn,
		Hosts:      hosts,
		KeyRequest: &csr.KeyRequest{A: "ecdsa", S: 256},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("certs: new key and CSR for %q: %w", cn, err)
	}
	return csrPEM, keyPEM, nil
}
