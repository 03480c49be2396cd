package quicpeer

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
)

// ALPN is the application protocol of member-to-member connections.
const ALPN = "etcq-peer/1"

// checkTLS refuses configs that could not authenticate both directions with the cluster
// CA: no certificate to present, or no CA to verify with (nil pools would mean the
// system roots).
func checkTLS(c *tls.Config) error {
	switch {
	case c == nil:
		return fmt.Errorf("%w: no TLS config", ErrBadConfig)
	case c.GetConfigForClient != nil:
		// The server side is decided per connection; the client side still needs its own.
	case len(c.Certificates) == 0 && c.GetCertificate == nil:
		return fmt.Errorf("%w: TLS config has no certificate to serve", ErrBadConfig)
	case c.ClientCAs == nil:
		return fmt.Errorf("%w: TLS config has no ClientCAs to verify members dialling in", ErrBadConfig)
	}
	switch {
	case len(c.Certificates) == 0 && c.GetClientCertificate == nil:
		return fmt.Errorf("%w: TLS config has no certificate to present when dialling", ErrBadConfig)
	case c.RootCAs == nil && !c.InsecureSkipVerify:
		return fmt.Errorf("%w: TLS config has no RootCAs to verify members dialled", ErrBadConfig)
	}
	return nil
}

// serverTLS derives the listening side's config from the caller's: the peer ALPN,
// mandatory verified client certificates, and no session tickets (a resumed session
// would skip verification against a CA bundle or CRL reloaded since). A GetConfigForClient
// callback keeps working: what it returns gets the same treatment.
func serverTLS(base *tls.Config) *tls.Config {
	c := hardenServer(base.Clone())
	if get := base.GetConfigForClient; get != nil {
		c.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			cc, err := get(hello)
			if err != nil || cc == nil {
				return cc, err
			}
			if cc.ClientCAs == nil {
				return nil, fmt.Errorf("%w: GetConfigForClient returned a config without ClientCAs", ErrBadConfig)
			}
			cc = hardenServer(cc.Clone())
			cc.GetConfigForClient = nil
			return cc, nil
		}
	}
	return c
}

func hardenServer(c *tls.Config) *tls.Config {
	c.NextProtos = []string{ALPN}
	c.ClientAuth = tls.RequireAndVerifyClientCert
	c.SessionTicketsDisabled = true
	c.MinVersion = tls.VersionTLS13
	return c
}

// dialBase is the config to derive a dial to host from.
func (t *Transport) dialBase(host string) *tls.Config {
	if t.cfg.DialTLS != nil {
		if c := t.cfg.DialTLS(host); c != nil {
			return c
		}
	}
	return t.cfg.TLS
}

// clientTLS derives the config for dialling a member at host: the peer ALPN, host as the
// name the member's certificate must be valid for, no session resumption.
func clientTLS(base *tls.Config, host string) *tls.Config {
	c := base.Clone()
	c.NextProtos = []string{ALPN}
	c.ServerName = host
	c.ClientSessionCache = nil
	c.MinVersion = tls.VersionTLS13
	c.GetConfigForClient = nil
	return c
}

// checkIdentity decides whether a connection's certificate may speak for a member whose
// peer URLs have the given hosts: it must have been verified against the cluster CA (the
// TLS layer did that), be a peer certificate (serverAuth: a client-only certificate is not
// a member's), and be valid for one of the hosts, as the member's own dialers would
// require of it.
func checkIdentity(cs tls.ConnectionState, hosts []string) error {
	if len(cs.PeerCertificates) == 0 || len(cs.VerifiedChains) == 0 {
		return fmt.Errorf("%w: no verified certificate", ErrIdentity)
	}
	leaf := cs.PeerCertificates[0]
	if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		return fmt.Errorf("%w: certificate %q is not a peer certificate (no serverAuth usage)", ErrIdentity, leaf.Subject.CommonName)
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) == nil {
			return nil
		}
	}
	return fmt.Errorf("%w: certificate %q is valid for none of the member's hosts %q", ErrIdentity, leaf.Subject.CommonName, hosts)
}
