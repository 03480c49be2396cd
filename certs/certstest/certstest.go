// Package certstest gives tests a throw-away PKI: a CA and certificates issued from it,
// ready to put into tls.Configs. Only Files touches the disk (a t.TempDir()).
//
//	pki := certstest.New(t)
//	srv := pki.Server(t, "member-1")           // SANs 127.0.0.1, ::1, localhost
//	cli := pki.Client(t, "alice")
//	pool := pki.CA().Pool()
//
// Files writes a certificate, key, bundle and CRL to a temp dir for a certs.Reloader.
// Every method fails the test (t.Fatal) on error. A PKI is safe for concurrent use.
package certstest

import (
	"crypto/tls"
	"sync"
	"testing"

	"etcq.dev/etcq/certs"
)

// DefaultHosts are the SANs of Server and Peer certificates when no hosts are given.
var DefaultHosts = []string{"127.0.0.1", "::1", "localhost"}

// PKI is a test CA.
type PKI struct {
	ca *certs.CA
}

// cache holds one PKI per test (keyed by its testing.TB), so helpers that call New
// independently within one test share a CA and trust each other's certificates.
var cache sync.Map // testing.TB -> *PKI

// New returns the test's PKI, creating its CA on first use. Each test (and each subtest)
// gets its own CA; calling New again within the same test returns the same one.
func New(t testing.TB) *PKI {
	t.Helper()
	if p, ok := cache.Load(t); ok {
		return p.(*PKI)
	}
	ca, err := certs.NewCA(certs.CAOptions{CommonName: "etcq test CA " + t.Name()})
	if err != nil {
		t.Fatalf("certstest: new CA: %v", err)
	}
	p, loaded := cache.LoadOrStore(t, &PKI{ca: ca})
	if !loaded {
		t.Cleanup(func() { cache.Delete(t) })
	}
	return p.(*PKI)
}

// CA returns the PKI's certificate authority.
func (p *PKI) CA() *certs.CA { return p.ca }

// Server issues a server certificate (serverAuth) for cn; hosts default to DefaultHosts.
func (p *PKI) Server(t testing.TB, cn string, hosts ...string) tls.Certificate {
	t.Helper()
	return p.Issue(t, certs.IssueRequest{Profile: certs.ProfileServer, CommonName: cn, Hosts: orDefault(hosts)})
}

// Peer issues a peer certificate (serverAuth and clientAuth) for cn; hosts default to
// DefaultHosts.
func (p *PKI) Peer(t testing.TB, cn string, hosts ...string) tls.Certificate {
	t.Helper()
	return p.Issue(t, certs.IssueRequest{Profile: certs.ProfilePeer, CommonName: cn, Hosts: orDefault(hosts)})
}

// Client issues a client certificate (clientAuth) whose identity is cn.
func (p *PKI) Client(t testing.TB, cn string) tls.Certificate {
	t.Helper()
	return p.Issue(t, certs.IssueRequest{Profile: certs.ProfileClient, CommonName: cn})
}

// Issue issues any certificate; use it for expired, not-yet-valid or oddly named ones.
func (p *PKI) Issue(t testing.TB, req certs.IssueRequest) tls.Certificate {
	t.Helper()
	kp, err := p.ca.Issue(req)
	if err != nil {
		t.Fatalf("certstest: issue %s %q: %v", req.Profile, req.CommonName, err)
	}
	c, err := kp.TLSCertificate()
	if err != nil {
		t.Fatalf("certstest: parse %s %q: %v", req.Profile, req.CommonName, err)
	}
	return c
}

// Files issues req and writes it, with this CA as the trusted bundle and an empty CRL,
// into a new t.TempDir() (key 0600): the files a certs.Reloader is built from.
// Hosts default to DefaultHosts for server and peer certificates.
func (p *PKI) Files(t testing.TB, req certs.IssueRequest) certs.Files {
	t.Helper()
	if req.Profile != certs.ProfileClient {
		req.Hosts = orDefault(req.Hosts)
	}
	kp, err := p.ca.Issue(req)
	if err != nil {
		t.Fatalf("certstest: issue %s %q: %v", req.Profile, req.CommonName, err)
	}
	d := certs.Dir(t.TempDir())
	if err := d.SaveKeyPair("leaf", kp); err != nil {
		t.Fatalf("certstest: %v", err)
	}
	if err := d.SaveBundle(p.ca.Cert); err != nil {
		t.Fatalf("certstest: %v", err)
	}
	if err := d.PublishCRL(p.ca); err != nil {
		t.Fatalf("certstest: %v", err)
	}
	return d.Files("leaf")
}

func orDefault(hosts []string) []string {
	if len(hosts) == 0 {
		return DefaultHosts
	}
	return hosts
}
