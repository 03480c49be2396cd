package certs_test

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"

	"github.com/quic-go/quic-go"

	"etcq.dev/etcq/certs"
)

// TestRotationWithoutRestart follows the documented procedure on a running QUIC server:
// renew the leaves, add a new CA to the bundle, re-issue every leaf from it, drop the old
// CA, revoke a client. The server is never restarted; a connection opened at the start keeps
// working throughout; every stage is checked with fresh handshakes. Reloads are explicit
// (Reload), standing in for the poll.
func TestRotationWithoutRestart(t *testing.T) {
	p := newPKI(t)
	p.save(p.ca, "server", certs.IssueRequest{Profile: certs.ProfileServer, CommonName: "server", Hosts: loopback})
	p.save(p.ca, "alice", certs.IssueRequest{Profile: certs.ProfileClient, CommonName: "alice"})
	log := &sink{}
	server := p.reloader("server", log)
	alice := p.reloader("alice", nil)
	addr := serveQUIC(t, server.ServerConfig(&tls.Config{NextProtos: []string{alpn}}))
	aliceConf := alice.ClientConfig(&tls.Config{NextProtos: []string{alpn}, ServerName: "127.0.0.1"})
	reload := func() {
		t.Helper()
		for _, r := range []*certs.Reloader{server, alice} {
			if err := r.Reload(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// served checks a fresh handshake by alice, and that the server presents its current
	// certificate.
	served := func(stage string) {
		t.Helper()
		got, err := exchange(t, addr, aliceConf)
		if err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
		if got.SerialNumber.Cmp(server.Certificate().SerialNumber) != 0 {
			t.Fatalf("%s: server presented serial %v, its current certificate is %v", stage, got.SerialNumber, server.Certificate().SerialNumber)
		}
	}
	refused := func(stage string, conf *tls.Config, want error) {
		t.Helper()
		n := log.count()
		if _, err := exchange(t, addr, conf); err == nil {
			t.Fatalf("%s: accepted", stage)
		}
		if got := log.since(n); !errors.Is(got, want) {
			t.Fatalf("%s: refused with %v, want %v", stage, got, want)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), hangGuard)
	defer cancel()
	long, err := quic.DialAddr(ctx, addr, aliceConf, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer long.CloseWithError(0, "")
	stillUp := func(stage string) {
		t.Helper()
		if err := ping(ctx, long); err != nil {
			t.Fatalf("%s: the long-lived connection broke: %v", stage, err)
		}
	}
	served("start")
	stillUp("start")
	oldCAClient := tlsCert(t, p.ca, certs.IssueRequest{Profile: certs.ProfileClient, CommonName: "legacy"})
	oldCAClientConf := static(oldCAClient, p.ca.Pool())

	// 1. Leaf renewal from the same CA.
	before := server.Certificate().SerialNumber
	for _, name := range []string{"server", "alice"} {
		kp, err := p.dir.LoadKeyPair(name)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := kp.TLSCertificate()
		renewed, err := p.ca.Renew(cert.Leaf, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.dir.SaveKeyPair(name, renewed); err != nil {
			t.Fatal(err)
		}
	}
	reload()
	if server.Certificate().SerialNumber.Cmp(before) == 0 {
		t.Fatal("server certificate not renewed")
	}
	served("after leaf renewal")
	stillUp("after leaf renewal")

	// 2. Add the new CA to the bundle.
	next, err := p.dir.StartCARotation(certs.CAOptions{CommonName: "etcq CA"})
	if err != nil {
		t.Fatal(err)
	}
	reload()
	if n := len(server.Trust().CAs()); n != 2 {
		t.Fatalf("server trusts %d CAs, want 2", n)
	}
	served("both CAs trusted")
	stillUp("both CAs trusted")

	// 3. Re-issue every leaf from the new CA.
	for _, name := range []string{"server", "alice"} {
		kp, _ := p.dir.LoadKeyPair(name)
		cert, _ := kp.TLSCertificate()
		reissued, err := next.Renew(cert.Leaf, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.dir.SaveKeyPair(name, reissued); err != nil {
			t.Fatal(err)
		}
	}
	reload()
	if err := server.Certificate().CheckSignatureFrom(next.Cert); err != nil {
		t.Fatal("server certificate not re-issued from the new CA")
	}
	served("leaves from the new CA")
	stillUp("leaves from the new CA")
	// A client that never got the new bundle no longer trusts the server (which is why the
	// bundle goes out first); one that did, but still holds an old-CA certificate, is
	// served while both CAs are trusted...
	if _, err := exchange(t, addr, oldCAClientConf); err == nil {
		t.Fatal("a client trusting only the old CA accepted a new-CA server")
	}
	legacyBoth := static(oldCAClient, server.Trust().Pool())
	if _, err := exchange(t, addr, legacyBoth); err != nil {
		t.Fatalf("old-CA client during the rotation: %v", err)
	}

	// 4. Drop the old CA.
	if err := p.dir.FinishCARotation(); err != nil {
		t.Fatal(err)
	}
	reload()
	if n := len(server.Trust().CAs()); n != 1 {
		t.Fatalf("server trusts %d CAs, want 1", n)
	}
	served("old CA dropped")
	stillUp("old CA dropped")
	// ...and refused once the old CA is dropped.
	refused("old-CA client after the rotation", legacyBoth, certs.ErrUnknownCA)

	// 5. Revoke alice with the new CA.
	ca, err := p.dir.LoadCA()
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.RevokeCertificate(alice.Certificate()); err != nil {
		t.Fatal(err)
	}
	if err := p.dir.PublishCRL(ca); err != nil {
		t.Fatal(err)
	}
	reload()
	refused("revoked alice", aliceConf, certs.ErrRevoked)
	bob := tlsCert(t, ca, certs.IssueRequest{Profile: certs.ProfileClient, CommonName: "bob"})
	if _, err := exchange(t, addr, static(bob, ca.Pool())); err != nil {
		t.Fatalf("bob after alice's revocation: %v", err)
	}
	stillUp("end") // established connections are not cut; new handshakes are checked
}
