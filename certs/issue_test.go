package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"net"
	"net/url"
	"slices"
	"testing"
	"time"
)

func TestIssueProfiles(t *testing.T) {
	ca := newTestCA(t, "ca")
	for _, tc := range []struct {
		profile Profile
		ekus    []x509.ExtKeyUsage
	}{
		{ProfileServer, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		{ProfilePeer, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{ProfileClient, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
	} {
		t.Run(string(tc.profile), func(t *testing.T) {
			kp := issueT(t, ca, IssueRequest{
				Profile: tc.profile, CommonName: "member-1",
				Hosts: []string{"127.0.0.1", "::1", "localhost", "member-1.kv.local"},
			})
			c := leafOf(t, kp)
			if c.IsCA {
				t.Fatal("leaf is a CA")
			}
			if c.Subject.CommonName != "member-1" {
				t.Fatalf("CN %q", c.Subject.CommonName)
			}
			if !slices.Equal(c.ExtKeyUsage, tc.ekus) {
				t.Fatalf("EKU %v, want %v", c.ExtKeyUsage, tc.ekus)
			}
			if c.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
				t.Fatal("no digital signature key usage")
			}
			if !slices.Equal(c.DNSNames, []string{"localhost", "member-1.kv.local"}) {
				t.Fatalf("DNS SANs %v", c.DNSNames)
			}
			if len(c.IPAddresses) != 2 || !c.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) || !c.IPAddresses[1].Equal(net.IPv6loopback) {
				t.Fatalf("IP SANs %v", c.IPAddresses)
			}
			if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
				t.Fatalf("key %T, want ECDSA P-256", c.PublicKey)
			}
			if got := c.NotAfter.Sub(c.NotBefore); got < DefaultLeafValidity || got > DefaultLeafValidity+time.Hour {
				t.Fatalf("validity %v, want about a year", got)
			}
			if p, ok := ProfileOf(c); !ok || p != tc.profile {
				t.Fatalf("ProfileOf = %q, %v", p, ok)
			}
			if err := c.CheckSignatureFrom(ca.Cert); err != nil {
				t.Fatal(err)
			}
			if _, err := kp.TLSCertificate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestIssueValidityWindow(t *testing.T) {
	ca, err := NewCA(CAOptions{CommonName: "short CA", Validity: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	c := leafOf(t, issueT(t, ca, IssueRequest{Profile: ProfileClient, CommonName: "x", NotBefore: start, Validity: time.Hour}))
	if !c.NotBefore.Equal(start) || !c.NotAfter.Equal(start.Add(time.Hour)) {
		t.Fatalf("window %v..%v, want %v..%v", c.NotBefore, c.NotAfter, start, start.Add(time.Hour))
	}
	// A leaf never outlives its CA.
	c = leafOf(t, issueT(t, ca, IssueRequest{Profile: ProfileClient, CommonName: "y"}))
	if !c.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Fatalf("leaf ends %v, CA ends %v", c.NotAfter, ca.Cert.NotAfter)
	}
}

func TestIssueRefused(t *testing.T) {
	ca := newTestCA(t, "ca")
	for _, req := range []IssueRequest{
		{Profile: "admin", CommonName: "x"},
		{Profile: ProfileClient},
		{Profile: ProfileClient, CommonName: "x", Validity: -time.Hour},
	} {
		if _, err := ca.Issue(req); !errors.Is(err, ErrRefused) {
			t.Errorf("Issue(%+v) = %v, want ErrRefused", req, err)
		}
	}
}

// csrPEM makes a CSR signed by key with the given template.
func csrPEM(t *testing.T, tmpl *x509.CertificateRequest, key any) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestSignCSR(t *testing.T) {
	ca := newTestCA(t, "ca")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	u, _ := url.Parse("spiffe://evil/admin")
	req := csrPEM(t, &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: "joiner"},
		DNSNames:       []string{"joiner.example"},
		IPAddresses:    []net.IP{net.ParseIP("10.0.0.9")},
		EmailAddresses: []string{"root@example"},
		URIs:           []*url.URL{u},
	}, key)

	t.Run("from CSR", func(t *testing.T) {
		certPEM, err := ca.SignCSR(req, IssueRequest{Profile: ProfilePeer})
		if err != nil {
			t.Fatal(err)
		}
		c, err := parseCertPEM(certPEM)
		if err != nil {
			t.Fatal(err)
		}
		if c.Subject.CommonName != "joiner" || !slices.Equal(c.DNSNames, []string{"joiner.example"}) || len(c.IPAddresses) != 1 {
			t.Fatalf("subject/SANs not taken from the CSR: %q %v %v", c.Subject.CommonName, c.DNSNames, c.IPAddresses)
		}
		if len(c.EmailAddresses) != 0 || len(c.URIs) != 0 {
			t.Fatalf("e-mail/URI SANs copied: %v %v", c.EmailAddresses, c.URIs)
		}
		if !c.PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey) {
			t.Fatal("public key not the CSR's")
		}
	})
	t.Run("overridden", func(t *testing.T) {
		certPEM, err := ca.SignCSR(req, IssueRequest{Profile: ProfileServer, CommonName: "member-4", Hosts: []string{"10.0.0.4", "member-4"}})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := parseCertPEM(certPEM)
		if c.Subject.CommonName != "member-4" || !slices.Equal(c.DNSNames, []string{"member-4"}) || !c.IPAddresses[0].Equal(net.ParseIP("10.0.0.4")) {
			t.Fatalf("override ignored: %q %v %v", c.Subject.CommonName, c.DNSNames, c.IPAddresses)
		}
	})

	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	tampered := append([]byte(nil), req...)
	block, _ := pem.Decode(tampered)
	block.Bytes[len(block.Bytes)-3] ^= 0xff
	tampered = pem.EncodeToMemory(block)
	for _, tc := range []struct {
		name string
		csr  []byte
		req  IssueRequest
		want error
	}{
		{"not PEM", []byte("hello"), IssueRequest{Profile: ProfileClient}, ErrMalformed},
		{"certificate, not CSR", ca.CertPEM, IssueRequest{Profile: ProfileClient}, ErrMalformed},
		{"bad signature", tampered, IssueRequest{Profile: ProfileClient}, ErrMalformed},
		{"unknown profile", req, IssueRequest{Profile: "ca"}, ErrRefused},
		{"weak RSA", csrPEM(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "w"}}, rsaKey), IssueRequest{Profile: ProfileClient}, ErrRefused},
		{"P-224", csrPEM(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "w"}}, p224), IssueRequest{Profile: ProfileClient}, ErrRefused},
		{"no CN", csrPEM(t, &x509.CertificateRequest{}, key), IssueRequest{Profile: ProfileClient}, ErrRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ca.SignCSR(tc.csr, tc.req)
			wantErr(t, err, tc.want)
		})
	}
}

func TestSignCSRRefusesCARequest(t *testing.T) {
	ca := newTestCA(t, "ca")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	// A CSR asking for basicConstraints CA:TRUE.
	bc, err := asn1.Marshal(struct{ IsCA bool }{true})
	if err != nil {
		t.Fatal(err)
	}
	req := csrPEM(t, &x509.CertificateRequest{
		Subject:         pkix.Name{CommonName: "sub CA"},
		ExtraExtensions: []pkix.Extension{{Id: []int{2, 5, 29, 19}, Critical: true, Value: bc}},
	}, key)
	_, err = ca.SignCSR(req, IssueRequest{Profile: ProfileServer})
	wantErr(t, err, ErrRefused)
}

func TestRenew(t *testing.T) {
	ca := newTestCA(t, "ca")
	old := leafOf(t, issueT(t, ca, IssueRequest{Profile: ProfilePeer, CommonName: "m1", Hosts: []string{"m1.local", "10.1.2.3"}, Validity: time.Hour}))
	next := newTestCA(t, "next")
	kp, err := next.Renew(old, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := leafOf(t, kp)
	if c.Subject.CommonName != "m1" || !slices.Equal(c.DNSNames, old.DNSNames) || !c.IPAddresses[0].Equal(old.IPAddresses[0]) {
		t.Fatalf("renewed %q %v %v", c.Subject.CommonName, c.DNSNames, c.IPAddresses)
	}
	if p, _ := ProfileOf(c); p != ProfilePeer {
		t.Fatalf("profile %q", p)
	}
	if c.CheckSignatureFrom(next.Cert) != nil {
		t.Fatal("not signed by the renewing CA")
	}
	if c.PublicKey.(*ecdsa.PublicKey).Equal(old.PublicKey) {
		t.Fatal("key reused")
	}
	if _, err := ca.Renew(ca.Cert, 0); !errors.Is(err, ErrRefused) {
		t.Fatalf("renewing a CA: %v", err)
	}
}
