package certs

import (
	"crypto/tls"
	"fmt"
)

// TLSCertificate parses the pair into a tls.Certificate with Leaf set. CertPEM may hold a
// chain, leaf first. Errors: ErrMalformed, ErrKeyMismatch.
func (kp *KeyPair) TLSCertificate() (tls.Certificate, error) {
	return parseKeyPair(kp.CertPEM, kp.KeyPEM)
}

// parseKeyPair is TLSCertificate for raw PEM.
func parseKeyPair(certPEM, keyPEM []byte) (tls.Certificate, error) {
	chain, err := parseCertsPEM(certPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate: %w", err)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := matchKey(chain[0], key); err != nil {
		return tls.Certificate{}, err
	}
	out := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		out.Certificate = append(out.Certificate, c.Raw)
	}
	return out, nil
}

// LoadKeyPair reads a certificate file and its key file (any paths) and checks that they
// parse and belong together. Errors: ErrUnreadable, ErrInsecureKeyFile, ErrMalformed,
// ErrKeyMismatch.
func LoadKeyPair(certFile, keyFile string) (*KeyPair, error) {
	kp, _, err := readKeyPair(certFile, keyFile)
	return kp, err
}

// readKeyPair reads and parses a certificate and key file pair.
func readKeyPair(certFile, keyFile string) (*KeyPair, tls.Certificate, error) {
	certPEM, err := readFile(certFile)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	keyPEM, err := readKeyFile(keyFile)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	c, err := parseKeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("%s, %s: %w", certFile, keyFile, err)
	}
	return &KeyPair{CertPEM: certPEM, KeyPEM: keyPEM}, c, nil
}
