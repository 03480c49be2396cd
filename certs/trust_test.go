package certs

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

func TestTrustVerify(t *testing.T) {
	ca := newTestCA(t, "ca")
	stranger := newTestCA(t, "stranger")
	hosts := []string{"127.0.0.1", "::1", "localhost", "m1.kv.local"}
	cert := func(c *CA, req IssueRequest) []*x509.Certificate {
		return []*x509.Certificate{leafOf(t, issueT(t, c, req))}
	}
	server := cert(ca, IssueRequest{Profile: ProfileServer, CommonName: "s", Hosts: hosts})
	peer := cert(ca, IssueRequest{Profile: ProfilePeer, CommonName: "p", Hosts: hosts})
	client := cert(ca, IssueRequest{Profile: ProfileClient, CommonName: "c"})
	revoked := cert(ca, IssueRequest{Profile: ProfileClient, CommonName: "r"})
	if err := ca.Revoke(revoked[0].SerialNumber); err != nil {
		t.Fatal(err)
	}
	crl, err := ca.CRL()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrust(ca.CertPEM, crl)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.CAs()) != 1 || len(tr.CRLs()) != 1 {
		t.Fatalf("CAs %d, CRLs %d", len(tr.CAs()), len(tr.CRLs()))
	}

	now := time.Now()
	for _, tc := range []struct {
		name  string
		chain []*x509.Certificate
		p     Profile
		host  string
		want  error
	}{
		{"server by IP", server, ProfileServer, "127.0.0.1", nil},
		{"server by IPv6", server, ProfileServer, "::1", nil},
		{"server by bracketed IPv6", server, ProfileServer, "[::1]", nil},
		{"server by name", server, ProfileServer, "m1.kv.local", nil},
		{"server by name with dot", server, ProfileServer, "m1.kv.local.", nil},
		{"peer as server", peer, ProfileServer, "localhost", nil},
		{"peer as peer", peer, ProfilePeer, "", nil},
		{"peer as client", peer, ProfileClient, "", nil},
		{"client", client, ProfileClient, "", nil},

		{"missing SAN", server, ProfileServer, "10.9.9.9", ErrMissingSAN},
		{"missing DNS SAN", server, ProfileServer, "other.kv.local", ErrMissingSAN},
		{"client as server", client, ProfileServer, "", ErrWrongUsage},
		{"server as client", server, ProfileClient, "", ErrWrongUsage},
		{"server as peer", server, ProfilePeer, "", ErrWrongUsage},
		{"client as peer", client, ProfilePeer, "", ErrWrongUsage},
		{"unknown CA", cert(stranger, IssueRequest{Profile: ProfileClient, CommonName: "x"}), ProfileClient, "", ErrUnknownCA},
		{"unknown CA before SAN", cert(stranger, IssueRequest{Profile: ProfileServer, CommonName: "x", Hosts: []string{"a"}}), ProfileServer, "b", ErrUnknownCA},
		{"expired", cert(ca, IssueRequest{Profile: ProfileClient, CommonName: "old", NotBefore: now.Add(-2 * time.Hour), Validity: time.Hour}), ProfileClient, "", ErrExpired},
		{"not yet valid", cert(ca, IssueRequest{Profile: ProfileClient, CommonName: "new", NotBefore: now.Add(time.Hour), Validity: time.Hour}), ProfileClient, "", ErrNotYetValid},
		{"revoked", revoked, ProfileClient, "", ErrRevoked},
		{"no certificate", nil, ProfileClient, "", ErrUnknownCA},
		{"CA itself", []*x509.Certificate{ca.Cert}, ProfileClient, "", ErrWrongUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tr.Verify(tc.chain, tc.p, tc.host), tc.want)
		})
	}
}

func TestTrustBundleOfTwo(t *testing.T) {
	a, b := newTestCA(t, "etcq CA"), newTestCA(t, "etcq CA") // same name, as after a rotation
	ca, cb := leafOf(t, issueT(t, a, IssueRequest{Profile: ProfileClient, CommonName: "x"})), leafOf(t, issueT(t, b, IssueRequest{Profile: ProfileClient, CommonName: "x"}))
	if err := b.Revoke(cb.SerialNumber); err != nil {
		t.Fatal(err)
	}
	// a revokes cb's serial too: it must not matter, a did not issue cb.
	if err := a.Revoke(ca.SerialNumber); err != nil {
		t.Fatal(err)
	}
	crlA, _ := a.CRL()
	crlB, _ := b.CRL()
	bundle := append(append([]byte(nil), a.CertPEM...), b.CertPEM...)

	tr, err := NewTrust(bundle, crlB)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, tr.Verify([]*x509.Certificate{ca}, ProfileClient, ""), nil)
	wantErr(t, tr.Verify([]*x509.Certificate{cb}, ProfileClient, ""), ErrRevoked)

	tr, err = NewTrust(bundle, append(append([]byte(nil), crlA...), crlB...))
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, tr.Verify([]*x509.Certificate{ca}, ProfileClient, ""), ErrRevoked)

	// Only b trusted: a's CRL is ignored, a's certificates unknown.
	tr, err = NewTrust(b.CertPEM, append(append([]byte(nil), crlA...), crlB...))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.CRLs()) != 1 {
		t.Fatalf("%d CRLs applied, want 1", len(tr.CRLs()))
	}
	wantErr(t, tr.Verify([]*x509.Certificate{ca}, ProfileClient, ""), ErrUnknownCA)
}

func TestNewTrustErrors(t *testing.T) {
	ca := newTestCA(t, "ca")
	leaf := issueT(t, ca, IssueRequest{Profile: ProfileClient, CommonName: "x"})
	crl, _ := ca.CRL()
	b, _ := pem.Decode(crl)
	b.Bytes[len(b.Bytes)-2] ^= 0x55
	badSig := pem.EncodeToMemory(b)
	for _, tc := range []struct {
		name        string
		bundle, crl []byte
		want        error
	}{
		{"empty bundle", nil, nil, ErrMalformed},
		{"garbage bundle", []byte("x"), nil, ErrMalformed},
		{"leaf in bundle", append(append([]byte(nil), ca.CertPEM...), leaf.CertPEM...), nil, ErrNotCA},
		{"garbage CRL", ca.CertPEM, []byte("x"), ErrMalformed},
		{"certificate as CRL", ca.CertPEM, ca.CertPEM, ErrMalformed},
		{"CRL with a bad signature", ca.CertPEM, badSig, ErrUnknownCA},
		{"blank CRL is none", ca.CertPEM, []byte("\n \n"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewTrust(tc.bundle, tc.crl)
			wantErr(t, err, tc.want)
		})
	}
}
