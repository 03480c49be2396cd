package certs

import (
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"testing"
)

func parseCRLT(t *testing.T, crlPEM []byte) *x509.RevocationList {
	t.Helper()
	b, _ := pem.Decode(crlPEM)
	if b == nil || b.Type != "X509 CRL" {
		t.Fatalf("not a PEM CRL: %q", crlPEM)
	}
	crl, err := x509.ParseRevocationList(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return crl
}

func TestRevokeAndCRL(t *testing.T) {
	ca := newTestCA(t, "ca")
	a := leafOf(t, issueT(t, ca, IssueRequest{Profile: ProfileClient, CommonName: "a"}))
	b := leafOf(t, issueT(t, ca, IssueRequest{Profile: ProfileClient, CommonName: "b"}))

	empty, err := ca.CRL()
	if err != nil {
		t.Fatal(err)
	}
	crl := parseCRLT(t, empty)
	if err := crl.CheckSignatureFrom(ca.Cert); err != nil {
		t.Fatal(err)
	}
	if len(crl.RevokedCertificateEntries) != 0 || crl.Number.Int64() != 1 {
		t.Fatalf("entries %d, number %v", len(crl.RevokedCertificateEntries), crl.Number)
	}

	if err := ca.RevokeCertificate(a); err != nil {
		t.Fatal(err)
	}
	if err := ca.Revoke(a.SerialNumber); err != nil { // again: no-op
		t.Fatal(err)
	}
	if !ca.IsRevoked(a.SerialNumber) || ca.IsRevoked(b.SerialNumber) {
		t.Fatal("IsRevoked wrong")
	}
	if got := ca.Revoked(); len(got) != 1 || got[0].Cmp(a.SerialNumber) != 0 {
		t.Fatalf("Revoked() = %v", got)
	}
	pemCRL, err := ca.CRL()
	if err != nil {
		t.Fatal(err)
	}
	crl = parseCRLT(t, pemCRL)
	if crl.Number.Int64() != 2 {
		t.Fatalf("CRL number %v, want 2", crl.Number)
	}
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(a.SerialNumber) != 0 {
		t.Fatalf("entries %+v", crl.RevokedCertificateEntries)
	}
	if !crl.NextUpdate.After(crl.ThisUpdate) {
		t.Fatal("NextUpdate not after ThisUpdate")
	}

	// A fresh CA object restores the list and continues the numbering.
	again, err := ParseCA(ca.CertPEM, ca.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	other := newTestCA(t, "ca") // same name, other key: its CRL is skipped
	otherCRL, _ := other.CRL()
	if err := again.LoadCRL(append(append([]byte(nil), otherCRL...), pemCRL...)); err != nil {
		t.Fatal(err)
	}
	if !again.IsRevoked(a.SerialNumber) {
		t.Fatal("revocation not restored")
	}
	next, _ := again.CRL()
	if n := parseCRLT(t, next).Number.Int64(); n != 3 {
		t.Fatalf("CRL number after restore %d, want 3", n)
	}
}

func TestRevokeErrors(t *testing.T) {
	ca := newTestCA(t, "ca")
	other := newTestCA(t, "other")
	foreign := leafOf(t, issueT(t, other, IssueRequest{Profile: ProfileClient, CommonName: "x"}))
	wantErr(t, ca.RevokeCertificate(foreign), ErrUnknownCA)
	if err := ca.Revoke(nil); err == nil {
		t.Fatal("nil serial accepted")
	}
	if err := ca.Revoke(big.NewInt(0)); err == nil {
		t.Fatal("zero serial accepted")
	}
	wantErr(t, ca.LoadCRL([]byte("junk")), ErrMalformed)
	// A CRL naming this CA (same subject and key id) but with a broken signature.
	good, _ := ca.CRL()
	b, _ := pem.Decode(good)
	b.Bytes[len(b.Bytes)-2] ^= 0x55
	wantErr(t, ca.LoadCRL(pem.EncodeToMemory(b)), ErrUnknownCA)
}
