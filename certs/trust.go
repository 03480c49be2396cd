package certs

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Trust is what an endpoint trusts: a bundle of CA certificates (several during a CA
// rotation) and the revocations of those CAs' CRLs. It is immutable and safe for concurrent
// use. A Reloader holds the current Trust; Verify is also usable on its own (etcqctl's
// inspect, enrollment).
type Trust struct {
	cas     []*x509.Certificate
	pool    *x509.CertPool
	revoked map[issuerID]map[string]bool // CA -> decimal serial -> revoked
	crls    []*x509.RevocationList       // the CRLs that were applied
}

// NewTrust builds a Trust from a PEM bundle of one or more CA certificates and optional PEM
// CRLs (nil or blank: none; several "X509 CRL" blocks may follow each other, one per CA).
//
// Every bundle certificate must be a CA (ErrNotCA). A CRL whose issuer is not in the bundle
// is ignored (it cannot revoke anything the bundle trusts); a CRL that names a bundle CA but
// carries no valid signature of it fails with ErrUnknownCA. CAs are told apart by key, not
// only by name: a rotated CA may keep its predecessor's name. Malformed PEM or DER fails with
// ErrMalformed.
func NewTrust(bundlePEM, crlPEM []byte) (*Trust, error) {
	cas, err := parseCertsPEM(bundlePEM)
	if err != nil {
		return nil, fmt.Errorf("CA bundle: %w", err)
	}
	t := &Trust{cas: cas, pool: x509.NewCertPool(), revoked: map[issuerID]map[string]bool{}}
	for _, ca := range cas {
		if !ca.IsCA || !ca.BasicConstraintsValid {
			return nil, fmt.Errorf("CA bundle: %w: %q", ErrNotCA, ca.Subject.CommonName)
		}
		t.pool.AddCert(ca)
	}
	if len(bytes.TrimSpace(crlPEM)) == 0 {
		return t, nil
	}
	ders, err := pemBlocks(crlPEM, pemCRL)
	if err != nil {
		return nil, fmt.Errorf("CRL: %w", err)
	}
	for i, der := range ders {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, fmt.Errorf("CRL #%d: %w: %w", i+1, ErrMalformed, err)
		}
		issuer, err := t.crlIssuer(crl)
		if err != nil {
			return nil, fmt.Errorf("CRL #%d: %w", i+1, err)
		}
		if issuer == nil {
			continue
		}
		set := t.revoked[idOf(issuer)]
		if set == nil {
			set = map[string]bool{}
			t.revoked[idOf(issuer)] = set
		}
		for _, e := range crl.RevokedCertificateEntries {
			set[e.SerialNumber.String()] = true
		}
		t.crls = append(t.crls, crl)
	}
	return t, nil
}

// crlIssuer returns the bundle CA that signed crl; nil if the CRL is from a CA outside the
// bundle (none has its issuer name, or those that do have another key identifier); or
// ErrUnknownCA if a bundle CA is named but the signature is not its.
func (t *Trust) crlIssuer(crl *x509.RevocationList) (*x509.Certificate, error) {
	var sigErr error
	for _, ca := range t.cas {
		if !sameIssuer(crl, ca) {
			continue
		}
		err := crl.CheckSignatureFrom(ca)
		if err == nil {
			return ca, nil
		}
		if !isOtherCAWithSameName(crl, ca) {
			sigErr = err
		}
	}
	if sigErr == nil {
		return nil, nil
	}
	return nil, fmt.Errorf("%w: the CRL names CA %q but is not signed by it: %w", ErrUnknownCA, crl.Issuer.CommonName, sigErr)
}

// CAs returns the trusted CA certificates, in bundle order.
func (t *Trust) CAs() []*x509.Certificate { return slices.Clone(t.cas) }

// Pool returns a new pool of the trusted CAs.
func (t *Trust) Pool() *x509.CertPool { return t.pool.Clone() }

// CRLs returns the CRLs in effect (those issued by a trusted CA).
func (t *Trust) CRLs() []*x509.RevocationList { return slices.Clone(t.crls) }

// Verify checks that chain (leaf first, then any intermediates) is fit for profile p now:
//   - the leaf is within its validity (ErrNotYetValid, ErrExpired);
//   - it chains to a trusted CA (ErrUnknownCA);
//   - it is not on a CRL of its issuer (ErrRevoked);
//   - it has p's extended key usages: server = serverAuth, client = clientAuth,
//     peer = both (ErrWrongUsage);
//   - if host is not empty, it has a DNS or IP SAN for host (ErrMissingSAN).
func (t *Trust) Verify(chain []*x509.Certificate, p Profile, host string) error {
	return t.verifyAt(chain, p, host, time.Now())
}

func (t *Trust) verifyAt(chain []*x509.Certificate, p Profile, host string, now time.Time) error {
	if len(chain) == 0 {
		return fmt.Errorf("%w: no certificate presented", ErrUnknownCA)
	}
	usages, ok := profileExtUsages[p]
	if !ok {
		return fmt.Errorf("certs: verify: unknown profile %q", p)
	}
	leaf := chain[0]
	name := leaf.Subject.CommonName
	if now.Before(leaf.NotBefore) {
		return fmt.Errorf("%w: %q is valid from %s", ErrNotYetValid, name, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("%w: %q expired at %s", ErrExpired, name, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	opts := x509.VerifyOptions{
		Roots:         t.pool,
		Intermediates: x509.NewCertPool(),
		CurrentTime:   now,
		KeyUsages:     usages[:1],
	}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	chains, err := leaf.Verify(opts)
	if err != nil {
		return mapVerifyError(name, now, err)
	}
	for _, c := range chains {
		for i := 0; i+1 < len(c); i++ {
			if t.revoked[idOf(c[i+1])][c[i].SerialNumber.String()] {
				return fmt.Errorf("%w: %q (serial %s) by CA %q", ErrRevoked, c[i].Subject.CommonName, formatSerial(c[i].SerialNumber), c[i+1].Subject.CommonName)
			}
		}
	}
	// crypto/x509 takes a certificate without extended key usages as fit for any; a leaf
	// of ours always names them, and a CA is never a leaf.
	if leaf.IsCA {
		return fmt.Errorf("%w: %q is a CA certificate, not a %s certificate", ErrWrongUsage, name, p)
	}
	for _, u := range usages {
		if !slices.Contains(leaf.ExtKeyUsage, u) && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
			return fmt.Errorf("%w: %q lacks %s for a %s certificate", ErrWrongUsage, name, extUsageName(u), p)
		}
	}
	if host != "" {
		if err := leaf.VerifyHostname(normalizeHost(host)); err != nil {
			return fmt.Errorf("%w: %q has no SAN for %q (it has DNS %v, IP %v)", ErrMissingSAN, name, host, leaf.DNSNames, leaf.IPAddresses)
		}
	}
	return nil
}

// mapVerifyError turns crypto/x509's verification errors into this package's sentinels,
// keeping the original in the chain.
func mapVerifyError(name string, now time.Time, err error) error {
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		return fmt.Errorf("%w: %q: %w", ErrUnknownCA, name, err)
	}
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) {
		switch invalid.Reason {
		case x509.Expired:
			if invalid.Cert != nil && now.Before(invalid.Cert.NotBefore) {
				return fmt.Errorf("%w: issuer of %q: %w", ErrNotYetValid, name, err)
			}
			return fmt.Errorf("%w: issuer of %q: %w", ErrExpired, name, err)
		case x509.IncompatibleUsage:
			return fmt.Errorf("%w: %q: %w", ErrWrongUsage, name, err)
		case x509.NotAuthorizedToSign, x509.CANotAuthorizedForThisName, x509.CANotAuthorizedForExtKeyUsage:
			return fmt.Errorf("%w: %q: %w", ErrUnknownCA, name, err)
		}
	}
	return fmt.Errorf("certs: verify %q: %w", name, err)
}

// normalizeHost strips IPv6 brackets and a trailing dot.
func normalizeHost(host string) string {
	host = strings.TrimSuffix(host, ".")
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	return host
}
