package certs

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"sync"
	"time"

	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/helpers"
	"github.com/cloudflare/cfssl/initca"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
)

// DefaultCAValidity is a CA's validity when CAOptions.Validity is 0.
const DefaultCAValidity = 10 * 365 * 24 * time.Hour

// DefaultCACommonName is a CA's CN when CAOptions.CommonName is empty.
const DefaultCACommonName = "etcq CA"

// CAOptions configures NewCA.
type CAOptions struct {
	CommonName string        // "": DefaultCACommonName
	Validity   time.Duration // 0: DefaultCAValidity (10 years)
}

// CA is a certificate authority: a self-signed ECDSA P-256 certificate and its key. It
// issues leaf certificates through cfssl's local signer and keeps the list of serials it
// has revoked (see Revoke and CRL). A CA is safe for concurrent use.
//
// Cert, CertPEM and KeyPEM are read-only after construction.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	KeyPEM  []byte

	key    crypto.Signer
	signer *local.Signer

	mu        sync.Mutex   // guards the signer's use and the revocation state below
	revoked   []revocation // ordered by revocation time
	crlNumber int64        // number of the last CRL produced
}

// NewCA creates a new self-signed CA with an ECDSA P-256 key (cfssl initca).
func NewCA(opts CAOptions) (*CA, error) {
	if opts.CommonName == "" {
		opts.CommonName = DefaultCACommonName
	}
	if opts.Validity == 0 {
		opts.Validity = DefaultCAValidity
	}
	if opts.Validity < 0 {
		return nil, fmt.Errorf("certs: new CA: negative validity %v", opts.Validity)
	}
	certPEM, _, keyPEM, err := initca.New(&csr.CertificateRequest{
		CN:         opts.CommonName,
		KeyRequest: &csr.KeyRequest{A: "ecdsa", S: 256},
		CA:         &csr.CAConfig{Expiry: opts.Validity.String()},
	})
	if err != nil {
		return nil, fmt.Errorf("certs: new CA %q: %w", opts.CommonName, err)
	}
	return ParseCA(certPEM, keyPEM)
}

// ParseCA builds a CA from its PEM certificate and PEM private key. It fails with ErrMalformed
// if either does not parse, ErrNotCA if the certificate is not a CA, and ErrKeyMismatch if
// the key is not the certificate's. The revocation list starts empty (see LoadCRL).
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := helpers.ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: CA certificate: %w", ErrMalformed, err)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, fmt.Errorf("%w: %q", ErrNotCA, cert.Subject.CommonName)
	}
	key, err := helpers.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: CA key: %w", ErrMalformed, err)
	}
	if err := matchKey(cert, key); err != nil {
		return nil, fmt.Errorf("CA %q: %w", cert.Subject.CommonName, err)
	}
	policy, err := newSigningPolicy()
	if err != nil {
		return nil, err
	}
	s, err := local.NewSigner(key, cert, signer.DefaultSigAlgo(key), policy)
	if err != nil {
		return nil, fmt.Errorf("certs: CA signer: %w", err)
	}
	return &CA{
		Cert:    cert,
		CertPEM: append([]byte(nil), certPEM...),
		KeyPEM:  append([]byte(nil), keyPEM...),
		key:     key,
		signer:  s,
	}, nil
}

// Pool returns a new pool holding only this CA's certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}
