package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"testing"
	"time"
)

func TestNewCA(t *testing.T) {
	ca := newTestCA(t, "test CA")
	c := ca.Cert
	if !c.IsCA || !c.BasicConstraintsValid {
		t.Fatal("not a CA")
	}
	if c.Subject.CommonName != "test CA" {
		t.Fatalf("CN %q", c.Subject.CommonName)
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("key %T, want ECDSA P-256", c.PublicKey)
	}
	if c.KeyUsage&x509.KeyUsageCertSign == 0 || c.KeyUsage&x509.KeyUsageCRLSign == 0 {
		t.Fatalf("key usage %v lacks cert sign or CRL sign", keyUsageNames(c.KeyUsage))
	}
	if got := c.NotAfter.Sub(c.NotBefore); got < DefaultCAValidity || got > DefaultCAValidity+time.Hour {
		t.Fatalf("validity %v, want about %v", got, DefaultCAValidity)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool()}); err != nil {
		t.Fatalf("CA does not verify against its own pool: %v", err)
	}
}

func TestNewCADefaultsAndValidity(t *testing.T) {
	ca, err := NewCA(CAOptions{Validity: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if ca.Cert.Subject.CommonName != DefaultCACommonName {
		t.Fatalf("CN %q", ca.Cert.Subject.CommonName)
	}
	if got := ca.Cert.NotAfter.Sub(ca.Cert.NotBefore); got < 48*time.Hour || got > 49*time.Hour {
		t.Fatalf("validity %v, want about 48h", got)
	}
	if _, err := NewCA(CAOptions{Validity: -time.Hour}); err == nil {
		t.Fatal("negative validity accepted")
	}
}

func TestParseCA(t *testing.T) {
	ca := newTestCA(t, "a")
	other := newTestCA(t, "b")
	leaf := issueT(t, ca, IssueRequest{Profile: ProfileClient, CommonName: "alice"})

	again, err := ParseCA(ca.CertPEM, ca.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	// The parsed CA signs certificates that the original's pool trusts.
	kp := issueT(t, again, IssueRequest{Profile: ProfileClient, CommonName: "bob"})
	if _, err := leafOf(t, kp).Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name         string
		certPEM, key []byte
		want         error
	}{
		{"garbage cert", []byte("nope"), ca.KeyPEM, ErrMalformed},
		{"garbage key", ca.CertPEM, []byte("nope"), ErrMalformed},
		{"leaf as CA", leaf.CertPEM, leaf.KeyPEM, ErrNotCA},
		{"other key", ca.CertPEM, other.KeyPEM, ErrKeyMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCA(tc.certPEM, tc.key)
			wantErr(t, err, tc.want)
		})
	}
}
