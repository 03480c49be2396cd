package certs

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"time"

	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/signer"
)

// DefaultLeafValidity is a leaf certificate's validity when IssueRequest.Validity is 0.
const DefaultLeafValidity = 365 * 24 * time.Hour

// backdate is how far before "now" a certificate's NotBefore is put, so that members whose
// clocks lag a little accept it at once.
const backdate = 5 * time.Minute

// IssueRequest describes a leaf certificate to issue (Issue) or a CSR to sign (SignCSR).
type IssueRequest struct {
	Profile    Profile
	CommonName string   // the identity; Issue requires it, SignCSR uses the CSR's if empty
	Hosts      []string // DNS names and IP addresses, which become SANs; SignCSR uses the CSR's if empty

	Validity time.Duration // 0: DefaultLeafValidity (1 year)
	// NotBefore is the start of validity; zero means now minus a small backdate. Tests set
	// it to make expired or not-yet-valid certificates. The validity ends at NotBefore +
	// Validity (now + Validity when NotBefore is zero), but never after the CA's own end.
	NotBefore time.Time
}

// KeyPair is a PEM certificate and its PEM private key.
type KeyPair struct {
	CertPEM []byte
	KeyPEM  []byte
}

// Issue generates a new ECDSA P-256 key and a CSR for it (cfssl csr.ParseRequest) and signs
// it with req's profile: server = serverAuth; client = clientAuth; peer = serverAuth +
// clientAuth.
func (ca *CA) Issue(req IssueRequest) (*KeyPair, error) {
	if req.CommonName == "" {
		return nil, fmt.Errorf("%w: empty common name", ErrRefused)
	}
	csrPEM, keyPEM, err := csr.ParseRequest(&csr.CertificateRequest{
		CN:         req.CommonName,
		Hosts:      req.Hosts,
		KeyRequest: &csr.KeyRequest{A: "ecdsa", S: 256},
	})
	if err != nil {
		return nil, fmt.Errorf("certs: issue %s certificate %q: new key and CSR: %w", req.Profile, req.CommonName, err)
	}
	certPEM, err := ca.SignCSR(csrPEM, req)
	if err != nil {
		return nil, err
	}
	return &KeyPair{CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// SignCSR signs a PEM certificate signing request with req's profile and returns the PEM
// certificate. The certificate takes its public key from the CSR and, unless req overrides
// them, its subject and DNS/IP SANs; e-mail and URI SANs and CA requests are never honoured.
// A server enrolling a remote member should set req.CommonName and req.Hosts itself.
//
// Errors: ErrMalformed (not a CSR, bad signature), ErrRefused (unknown profile, a CA
// request, a weak key, no common name).
func (ca *CA) SignCSR(csrPEM []byte, req IssueRequest) ([]byte, error) {
	if !req.Profile.valid() {
		return nil, fmt.Errorf("%w: unknown profile %q", ErrRefused, req.Profile)
	}
	parsed, err := parseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	if req.CommonName == "" && parsed.Subject.CommonName == "" {
		return nil, fmt.Errorf("%w: empty common name", ErrRefused)
	}
	notBefore, notAfter, err := ca.window(req, time.Now())
	if err != nil {
		return nil, err
	}
	sr := signer.SignRequest{
		Hosts:     req.Hosts,
		Request:   string(csrPEM),
		Profile:   string(req.Profile),
		NotBefore: notBefore,
		NotAfter:  notAfter,
	}
	if req.CommonName != "" {
		sr.Subject = &signer.Subject{CN: req.CommonName}
	}
	ca.mu.Lock()
	certPEM, err := ca.signer.Sign(sr)
	ca.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("certs: sign %s certificate %q: %w", req.Profile, req.CommonName, err)
	}
	return certPEM, nil
}

// window computes a certificate's validity period from req.
func (ca *CA) window(req IssueRequest, now time.Time) (notBefore, notAfter time.Time, err error) {
	validity := req.Validity
	if validity == 0 {
		validity = DefaultLeafValidity
	}
	if validity < 0 {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: negative validity %v", ErrRefused, validity)
	}
	if req.NotBefore.IsZero() {
		notBefore, notAfter = now.Add(-backdate), now.Add(validity)
	} else {
		notBefore, notAfter = req.NotBefore, req.NotBefore.Add(validity)
	}
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	if !notAfter.After(notBefore) {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: validity would end (%v) before it starts (%v)", ErrRefused, notAfter, notBefore)
	}
	return notBefore.UTC(), notAfter.UTC(), nil
}

// parseCSR parses a PEM CSR, checks its signature and refuses weak keys and requests for a
// CA certificate (cfssl would drop the request; refusing says so).
func parseCSR(csrPEM []byte) (*x509.CertificateRequest, error) {
	ders, err := pemBlocks(csrPEM, pemCSR)
	if err != nil {
		return nil, err
	}
	if len(ders) != 1 {
		return nil, fmt.Errorf("%w: %d CSRs where one was expected", ErrMalformed, len(ders))
	}
	c, err := x509.ParseCertificateRequest(ders[0])
	if err != nil {
		return nil, fmt.Errorf("%w: CSR: %w", ErrMalformed, err)
	}
	if err := c.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: CSR signature: %w", ErrMalformed, err)
	}
	if err := checkPublicKey(c.PublicKey); err != nil {
		return nil, err
	}
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidBasicConstraints) {
			continue
		}
		var bc struct {
			IsCA       bool `asn1:"optional"`
			MaxPathLen int  `asn1:"optional,default:-1"`
		}
		if _, err := asn1.Unmarshal(ext.Value, &bc); err != nil {
			return nil, fmt.Errorf("%w: CSR basic constraints: %w", ErrMalformed, err)
		}
		if bc.IsCA {
			return nil, fmt.Errorf("%w: the CSR asks for a CA certificate", ErrRefused)
		}
	}
	return c, nil
}

var oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}

// checkPublicKey accepts ECDSA on P-256/P-384/P-521, Ed25519 and RSA of 2048 bits or more.
func checkPublicKey(pub any) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return fmt.Errorf("%w: ECDSA curve %s", ErrRefused, k.Curve.Params().Name)
	case ed25519.PublicKey:
		return nil
	case *rsa.PublicKey:
		if k.N.BitLen() >= 2048 {
			return nil
		}
		return fmt.Errorf("%w: RSA key of %d bits", ErrRefused, k.N.BitLen())
	}
	return fmt.Errorf("%w: public key type %T", ErrRefused, pub)
}
