package certstest_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"testing"

	"etcq.dev/etcq/certs"
	"etcq.dev/etcq/certs/certstest"
)

func TestSameCAWithinATest(t *testing.T) {
	first, second := certstest.New(t), certstest.New(t)
	if first != second {
		t.Fatal("New returned two PKIs within one test")
	}
	other := make(chan *certstest.PKI, 1)
	t.Run("sub", func(t *testing.T) { other <- certstest.New(t) })
	if <-other == certstest.New(t) {
		t.Fatal("a subtest shares its parent's PKI")
	}
}

func TestCertificatesVerify(t *testing.T) {
	pki := certstest.New(t)
	pool := pki.CA().Pool()
	for _, tc := range []struct {
		name  string
		cert  tls.Certificate
		usage x509.ExtKeyUsage
		host  string
	}{
		{"server", pki.Server(t, "s1"), x509.ExtKeyUsageServerAuth, "127.0.0.1"},
		{"server-localhost", pki.Server(t, "s1"), x509.ExtKeyUsageServerAuth, "localhost"},
		{"server-ipv6", pki.Server(t, "s1"), x509.ExtKeyUsageServerAuth, "::1"},
		{"server-custom", pki.Server(t, "s1", "m1.example"), x509.ExtKeyUsageServerAuth, "m1.example"},
		{"peer-as-server", pki.Peer(t, "p1"), x509.ExtKeyUsageServerAuth, "127.0.0.1"},
		{"peer-as-client", pki.Peer(t, "p1"), x509.ExtKeyUsageClientAuth, ""},
		{"client", pki.Client(t, "alice"), x509.ExtKeyUsageClientAuth, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cert.Leaf.Verify(x509.VerifyOptions{
				Roots: pool, DNSName: tc.host, KeyUsages: []x509.ExtKeyUsage{tc.usage},
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestMutualTLS is the way other packages use certstest: one server, one client, one CA.
func TestMutualTLS(t *testing.T) {
	pki := certstest.New(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{pki.Server(t, "server")},
		ClientCAs:    pki.CA().Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	gotCN := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			gotCN <- err.Error()
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			gotCN <- err.Error()
			return
		}
		gotCN <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
		_, _ = io.Copy(io.Discard, c)
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{
		Certificates: []tls.Certificate{pki.Client(t, "alice")},
		RootCAs:      pki.CA().Pool(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if cn := <-gotCN; cn != "alice" {
		t.Fatalf("server saw %q, want alice", cn)
	}
}

func TestFilesForAReloader(t *testing.T) {
	pki := certstest.New(t)
	r, err := certs.NewReloader(certs.ReloaderOptions{Files: pki.Files(t, certs.IssueRequest{Profile: certs.ProfilePeer, CommonName: "m1"})})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Certificate(); got.Subject.CommonName != "m1" || len(got.IPAddresses) != 2 {
		t.Fatalf("certificate %q %v", got.Subject.CommonName, got.IPAddresses)
	}
	if err := r.Trust().Verify([]*x509.Certificate{pki.Client(t, "alice").Leaf}, certs.ProfileClient, ""); err != nil {
		t.Fatal(err)
	}
}
