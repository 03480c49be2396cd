package certs

import (
	"crypto/x509"
	"fmt"
	"time"
)

// Renew issues a replacement for cert: a new key, and the same common name, DNS and IP SANs
// and profile (ProfileOf). It is how leaves are renewed before they expire and how they are
// re-issued from a new CA during a CA rotation. validity 0 means DefaultLeafValidity.
func (ca *CA) Renew(cert *x509.Certificate, validity time.Duration) (*KeyPair, error) {
	p, ok := ProfileOf(cert)
	if !ok {
		return nil, fmt.Errorf("%w: renew %q: not a server, peer or client certificate", ErrRefused, cert.Subject.CommonName)
	}
	req := IssueRequest{Profile: p, CommonName: cert.Subject.CommonName, Validity: validity}
	req.Hosts = append(req.Hosts, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		req.Hosts = append(req.Hosts, ip.String())
	}
	return ca.Issue(req)
}
