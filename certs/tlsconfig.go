package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"sync/atomic"
)

// The tls.Configs below never hold a fixed certificate or CA pool: every handshake uses
// the Reloader's current material.
//
// Server side (ServerConfig, and PeerConfig when accepting): GetConfigForClient returns,
// per material generation, a config with the current certificate and ClientCAs (sent to
// the client as the acceptable CAs). It requires a client certificate
// (RequireAnyClientCert) and verifies it in VerifyConnection against the current Trust:
// chain, validity, usages, revocation. crypto/tls calls VerifyConnection on every
// handshake, full or resumed, and aborts the handshake if it fails, so no client is ever
// accepted unverified; doing the verification ourselves rather than through crypto/tls's
// RequireAndVerifyClientCert gives the refusal this package's error, which is logged (the
// client only sees an alert), and re-verifies resumed sessions, which crypto/tls does not.
// The returned config itself keeps RequireAndVerifyClientCert with a snapshot pool, as a
// fail-closed fallback that GetConfigForClient always supersedes.
//
// Client side (ClientConfig, and PeerConfig when dialling): a client config cannot swap
// RootCAs per handshake, so crypto/tls's own verification is turned off
// (InsecureSkipVerify) and replaced, never dropped: VerifyPeerCertificate verifies the chain,
// usages and revocation, and VerifyConnection verifies all of that plus the server's SAN.
// Either failing aborts the handshake.
//
// Whatever the base config holds in NextProtos (ALPN; quic-go requires it), ServerName,
// MinVersion, cipher and curve preferences is kept. A base VerifyConnection runs after a
// successful verification of ours; a base VerifyPeerCertificate runs as crypto/tls runs it
// (on clients, verifiedChains is nil). Certificates, GetCertificate, GetClientCertificate,
// GetConfigForClient, ClientAuth, ClientCAs, RootCAs and InsecureSkipVerify are replaced.
// Do not change them, VerifyConnection or VerifyPeerCertificate on a returned config.

// ServerConfig returns a config for a client-facing listener: clients must present a
// certificate with clientAuth from a trusted CA, not revoked.
func (r *Reloader) ServerConfig(base *tls.Config) *tls.Config {
	c, user := prepare(base)
	r.setServerSide(c, ProfileClient, user)
	return c
}

// PeerConfig returns a config for member-to-member connections, usable both to listen and
// to dial: the other member must present a peer certificate (serverAuth and clientAuth)
// from a trusted CA, not revoked; when dialling, with a SAN for the server name (see
// ClientConfig).
func (r *Reloader) PeerConfig(base *tls.Config) *tls.Config {
	c, user := prepare(base)
	r.setServerSide(c, ProfilePeer, user)
	r.setClientSide(c, ProfilePeer, user)
	return c
}

// ClientConfig returns a config for dialling a server: the server must present a
// certificate with serverAuth from a trusted CA, not revoked, with a DNS or IP SAN for the
// server name. The client presents the Reloader's certificate.
//
// The server name is the SNI the handshake sends, which crypto/tls derives from
// tls.Config.ServerName, except that an IP address is never sent as SNI and crypto/tls
// does not tell VerifyConnection what it was. For an IP address, therefore, set
// base.ServerName to it and build one config per server address; a DNS name works on a
// clone too. A handshake with no server name at all fails (ErrMissingSAN).
func (r *Reloader) ClientConfig(base *tls.Config) *tls.Config {
	c, user := prepare(base)
	r.setClientSide(c, ProfileServer, user)
	return c
}

// prepare clones base (nil: an empty config), keeps at least TLS 1.2, and returns the base's
// VerifyConnection, to be run after ours.
func prepare(base *tls.Config) (*tls.Config, func(tls.ConnectionState) error) {
	var c *tls.Config
	if base == nil {
		c = &tls.Config{}
	} else {
		c = base.Clone()
	}
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	c.Certificates = nil
	return c, c.VerifyConnection
}

// serverConfigCache is the per-handshake config of one material generation.
type serverConfigCache struct {
	m    *material
	conf *tls.Config
}

func (r *Reloader) setServerSide(c *tls.Config, want Profile, user func(tls.ConnectionState) error) {
	verify := func(cs tls.ConnectionState) error {
		if err := r.Trust().Verify(cs.PeerCertificates, want, ""); err != nil {
			r.log.Warn("certs: refused a client certificate", "want", want, "err", err)
			return err
		}
		if user != nil {
			return user(cs)
		}
		return nil
	}
	c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		r.poll()
		return r.cur.Load().cert, nil
	}
	c.ClientAuth = tls.RequireAndVerifyClientCert
	c.ClientCAs = r.Trust().pool // only used if GetConfigForClient were bypassed
	c.VerifyConnection = verify
	c.GetConfigForClient = nil

	template := c.Clone()
	template.GetCertificate = nil
	var cache atomic.Pointer[serverConfigCache]
	c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		r.poll()
		m := r.cur.Load()
		if cc := cache.Load(); cc != nil && cc.m == m {
			return cc.conf, nil
		}
		inner := template.Clone()
		inner.Certificates = []tls.Certificate{*m.cert}
		inner.ClientCAs = m.trust.pool
		inner.ClientAuth = tls.RequireAnyClientCert // verified by VerifyConnection
		cache.Store(&serverConfigCache{m: m, conf: inner})
		return inner, nil
	}
}

func (r *Reloader) setClientSide(c *tls.Config, want Profile, user func(tls.ConnectionState) error) {
	userVPC := c.VerifyPeerCertificate
	configured := normalizeHost(c.ServerName)
	c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		r.poll()
		return r.cur.Load().cert, nil
	}
	// crypto/tls cannot verify against a CA bundle that changes after the config is made;
	// the two callbacks below verify against the current one instead.
	c.InsecureSkipVerify = true
	c.RootCAs = nil
	c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		r.poll()
		chain, err := parseChain(raw)
		if err != nil {
			return err
		}
		if err := r.Trust().Verify(chain, want, ""); err != nil {
			return err
		}
		if userVPC != nil {
			return userVPC(raw, nil)
		}
		return nil
	}
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		host, err := serverName(cs.ServerName, configured)
		if err != nil {
			return err
		}
		if err := r.Trust().Verify(cs.PeerCertificates, want, host); err != nil {
			return err
		}
		if user != nil {
			return user(cs)
		}
		return nil
	}
}

// serverName picks the name to check the server's SAN against: the SNI sent, or, when none
// was sent (an IP address), the ServerName the config was built with if that is an IP
// address too. A configured DNS name with no SNI means the config was cloned and its
// ServerName changed to an address that cannot be known here: refused.
func serverName(sni, configured string) (string, error) {
	if sni != "" {
		return sni, nil
	}
	if configured != "" && net.ParseIP(configured) != nil {
		return configured, nil
	}
	if configured != "" {
		return "", fmt.Errorf("%w: config built for %q dialled an IP address; build one config per address (ClientConfig with ServerName set)", ErrMissingSAN, configured)
	}
	return "", fmt.Errorf("%w: no server name to check the certificate against; set tls.Config.ServerName before calling ClientConfig", ErrMissingSAN)
}

func parseChain(raw [][]byte) ([]*x509.Certificate, error) {
	chain := make([]*x509.Certificate, 0, len(raw))
	for _, der := range raw {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: peer certificate: %w", ErrMalformed, err)
		}
		chain = append(chain, c)
	}
	return chain, nil
}
