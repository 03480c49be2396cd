package certs

import (
	"crypto/x509"
	"fmt"

	"github.com/cloudflare/cfssl/config"
)

// Profile names a signing profile: the key usages a certificate gets.
type Profile string

// The three profiles of an etcq cluster.
const (
	// ProfileServer: a member's client-facing certificate (serverAuth).
	ProfileServer Profile = "server"
	// ProfilePeer: a member's peer certificate, used both to accept and to dial other
	// members (serverAuth and clientAuth).
	ProfilePeer Profile = "peer"
	// ProfileClient: a user's or tool's certificate; its CN is the identity (clientAuth).
	ProfileClient Profile = "client"
)

// profileExtUsages is the single table of what each profile may do.
var profileExtUsages = map[Profile][]x509.ExtKeyUsage{
	ProfileServer: {x509.ExtKeyUsageServerAuth},
	ProfilePeer:   {x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	ProfileClient: {x509.ExtKeyUsageClientAuth},
}

// valid reports whether p is one of the known profiles.
func (p Profile) valid() bool {
	_, ok := profileExtUsages[p]
	return ok
}

// signingPolicy is the cfssl policy for the profiles. "expiry" is only cfssl's default: Issue
// and SignCSR always pass NotBefore/NotAfter explicitly.
const signingPolicy = `{
  "signing": {
    "default": {"usages": ["digital signature"], "expiry": "8760h"},
    "profiles": {
      "server": {"usages": ["digital signature", "key encipherment", "server auth"], "expiry": "8760h"},
      "peer":   {"usages": ["digital signature", "key encipherment", "server auth", "client auth"], "expiry": "8760h"},
      "client": {"usages": ["digital signature", "key encipherment", "client auth"], "expiry": "8760h"}
    }
  }
}`

// newSigningPolicy parses signingPolicy and restricts, for every profile, what a CSR may
// put into a certificate: its subject, public key and DNS/IP SANs, never e-mail or URI SANs
// and never its own choice of signature algorithm.
func newSigningPolicy() (*config.Signing, error) {
	cfg, err := config.LoadConfig([]byte(signingPolicy))
	if err != nil {
		return nil, fmt.Errorf("certs: signing policy: %w", err)
	}
	whitelist := &config.CSRWhitelist{
		Subject:            true,
		PublicKeyAlgorithm: true,
		PublicKey:          true,
		DNSNames:           true,
		IPAddresses:        true,
	}
	for _, p := range cfg.Signing.Profiles {
		p.CSRWhitelist = whitelist
	}
	cfg.Signing.Default.CSRWhitelist = whitelist
	return cfg.Signing, nil
}
