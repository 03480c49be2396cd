package certs

import (
	"bytes"
	"crypto/x509"
)

// A CRL names its issuer by subject only. Two CAs may share a subject (a rotated CA keeps
// its name by default), so the key of a CA, not its name, decides whose CRL it is.

// sameIssuer reports whether crl names ca as its issuer.
func sameIssuer(crl *x509.RevocationList, ca *x509.Certificate) bool {
	return bytes.Equal(crl.RawIssuer, ca.RawSubject)
}

// isOtherCAWithSameName reports whether crl names ca's subject but was produced by another
// key: its authority key identifier differs from ca's subject key identifier.
func isOtherCAWithSameName(crl *x509.RevocationList, ca *x509.Certificate) bool {
	return len(crl.AuthorityKeyId) > 0 && len(ca.SubjectKeyId) > 0 &&
		!bytes.Equal(crl.AuthorityKeyId, ca.SubjectKeyId)
}

// issuerID identifies a CA by subject and public key: the key of revocation lists.
type issuerID string

func idOf(ca *x509.Certificate) issuerID {
	return issuerID(string(ca.RawSubject) + "\x00" + string(ca.RawSubjectPublicKeyInfo))
}
