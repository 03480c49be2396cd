package certs

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// DefaultCRLValidity is how far in the future a CRL's NextUpdate is put. etcq distributes
// CRLs as files, not over HTTP, so NextUpdate is informational: a Reloader keeps using a CRL
// past it (and logs a warning) rather than refuse every certificate.
const DefaultCRLValidity = 365 * 24 * time.Hour

// revocation is one revoked serial.
type revocation struct {
	serial *big.Int
	at     time.Time
}

// Revoke adds serial to the CA's revocation list. Revoking a serial twice is a no-op. The
// revocation reaches TLS endpoints when a CRL produced afterwards (CRL, Dir.PublishCRL) is
// installed where their Reloader reads it.
func (ca *CA) Revoke(serial *big.Int) error {
	if serial == nil || serial.Sign() <= 0 {
		return fmt.Errorf("certs: revoke: invalid serial %v", serial)
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	ca.addRevocationLocked(serial, time.Now())
	return nil
}

// RevokeCertificate revokes cert after checking that this CA issued it (ErrUnknownCA if not).
func (ca *CA) RevokeCertificate(cert *x509.Certificate) error {
	if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
		return fmt.Errorf("%w: %q was not issued by CA %q: %w", ErrUnknownCA, cert.Subject.CommonName, ca.Cert.Subject.CommonName, err)
	}
	return ca.Revoke(cert.SerialNumber)
}

// IsRevoked reports whether serial is on the CA's revocation list.
func (ca *CA) IsRevoked(serial *big.Int) bool {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.indexLocked(serial) >= 0
}

// Revoked returns the revoked serials, in the order they were revoked.
func (ca *CA) Revoked() []*big.Int {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	out := make([]*big.Int, len(ca.revoked))
	for i, r := range ca.revoked {
		out[i] = new(big.Int).Set(r.serial)
	}
	return out
}

// CRL returns a new PEM CRL ("X509 CRL") signed by the CA, listing every revoked serial. Each
// call increases the CRL number. ThisUpdate is now (backdated a little), NextUpdate is
// DefaultCRLValidity later.
func (ca *CA) CRL() ([]byte, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	now := time.Now()
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(ca.crlNumber + 1),
		ThisUpdate: now.Add(-backdate).UTC(),
		NextUpdate: now.Add(DefaultCRLValidity).UTC(),
	}
	for _, r := range ca.revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber:   r.serial,
			RevocationTime: r.at.UTC(),
		})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.key)
	if err != nil {
		return nil, fmt.Errorf("certs: CRL of CA %q: %w", ca.Cert.Subject.CommonName, err)
	}
	ca.crlNumber++
	return pem.EncodeToMemory(&pem.Block{Type: pemCRL, Bytes: der}), nil
}

// LoadCRL restores revocations from CRLs this CA produced earlier (a PKI directory keeps
// them in crl.pem). Blocks issued by other CAs are skipped; a block that claims this CA as
// issuer but has a bad signature fails with ErrUnknownCA, and leaves the CA unchanged.
func (ca *CA) LoadCRL(crlPEM []byte) error {
	ders, err := pemBlocks(crlPEM, pemCRL)
	if err != nil {
		return err
	}
	var mine []*x509.RevocationList
	for i, der := range ders {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return fmt.Errorf("%w: CRL #%d: %w", ErrMalformed, i+1, err)
		}
		if !sameIssuer(crl, ca.Cert) {
			continue
		}
		if err := crl.CheckSignatureFrom(ca.Cert); err != nil {
			if isOtherCAWithSameName(crl, ca.Cert) {
				continue
			}
			return fmt.Errorf("%w: CRL #%d is not signed by CA %q: %w", ErrUnknownCA, i+1, ca.Cert.Subject.CommonName, err)
		}
		mine = append(mine, crl)
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	for _, crl := range mine {
		for _, e := range crl.RevokedCertificateEntries {
			ca.addRevocationLocked(e.SerialNumber, e.RevocationTime)
		}
		if crl.Number != nil && crl.Number.IsInt64() && crl.Number.Int64() > ca.crlNumber {
			ca.crlNumber = crl.Number.Int64()
		}
	}
	return nil
}

func (ca *CA) addRevocationLocked(serial *big.Int, at time.Time) {
	if ca.indexLocked(serial) >= 0 {
		return
	}
	ca.revoked = append(ca.revoked, revocation{serial: new(big.Int).Set(serial), at: at})
}

func (ca *CA) indexLocked(serial *big.Int) int {
	return slices.IndexFunc(ca.revoked, func(r revocation) bool { return r.serial.Cmp(serial) == 0 })
}
