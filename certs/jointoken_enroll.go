package certs

import (
	"fmt"
	"time"
)

// Enrollment is what a joining member receives from the member that enrolled it: its two
// certificates (for keys it made itself, NewCSR) and the cluster's trust.
type Enrollment struct {
	Name         string   // the key pair names: <Name> (server) and <Name>-peer (peer)
	Server, Peer KeyPair  // certificates from the member, keys from this machine
	ServerHosts  []string // hosts the server certificate must name (the client URLs')
	PeerHosts    []string // hosts the peer certificate must name (the peer URLs')
	BundlePEM    []byte   // the CAs the cluster trusts
	CRLPEM       []byte   // their CRLs (may be empty)
}

// SaveEnrollment checks what a joining member received and writes it into the directory:
// <Name>.pem/-key.pem, <Name>-peer.pem/-key.pem, ca-bundle.pem and crl.pem. The bundle must
// hold the CA pinned by pin; each certificate must match its key, chain to the bundle, not
// be revoked, have its profile's usages and a SAN for each of its hosts. Nothing is
// written unless all of that holds. Errors: those of Trust.Verify and NewTrust,
// ErrKeyMismatch, ErrPinMismatch.
func (d Dir) SaveEnrollment(e *Enrollment, pin Pin) error {
	if err := checkName(e.Name); err != nil {
		return err
	}
	trust, err := NewTrust(e.BundlePEM, e.CRLPEM)
	if err != nil {
		return fmt.Errorf("certs: enrollment: %w", err)
	}
	pinned := false
	for _, ca := range trust.cas {
		pinned = pinned || CAPin(ca) == pin
	}
	if !pinned {
		return fmt.Errorf("%w: the CA bundle received does not hold the pinned CA %s", ErrPinMismatch, pin)
	}
	now := time.Now()
	for _, c := range []struct {
		kp      *KeyPair
		profile Profile
		hosts   []string
	}{{&e.Server, ProfileServer, e.ServerHosts}, {&e.Peer, ProfilePeer, e.PeerHosts}} {
		cert, err := c.kp.TLSCertificate()
		if err != nil {
			return fmt.Errorf("certs: enrollment: %s certificate: %w", c.profile, err)
		}
		chain, err := parseChain(cert.Certificate)
		if err != nil {
			return err
		}
		for _, h := range append([]string{""}, c.hosts...) {
			if err := trust.verifyAt(chain, c.profile, h, now); err != nil {
				return fmt.Errorf("certs: enrollment: %s certificate: %w", c.profile, err)
			}
		}
	}
	if err := d.SaveKeyPair(e.Name, &e.Server); err != nil {
		return err
	}
	if err := d.SaveKeyPair(e.Name+"-peer", &e.Peer); err != nil {
		return err
	}
	if err := writeFileAtomic(d.Path(BundleFile), e.BundlePEM, certMode); err != nil {
		return err
	}
	return writeFileAtomic(d.Path(CRLFile), e.CRLPEM, certMode)
}

// CheckEnrollmentName reports whether name can name an enrolled member's key pairs
// (<name> and <name>-peer in a PKI directory): a member checks it before it adds the
// member, and the joining machine before it asks.
func CheckEnrollmentName(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return checkName(name + "-peer")
}
