package certs

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/cloudflare/cfssl/helpers"
)

// PEM block types this package reads and writes.
const (
	pemCertificate = "CERTIFICATE"
	pemCRL         = "X509 CRL"
	pemCSR         = "CERTIFICATE REQUEST"
)

// pemBlocks splits data into PEM blocks of type want. Anything else in data (another block
// type, or text that is not PEM) is ErrMalformed; so is data with no block at all.
func pemBlocks(data []byte, want string) ([][]byte, error) {
	var ders [][]byte
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != want && !(want == pemCSR && b.Type == "NEW "+pemCSR) {
			return nil, fmt.Errorf("%w: PEM block %q where %q was expected", ErrMalformed, b.Type, want)
		}
		ders = append(ders, b.Bytes)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: data that is not PEM after %d %q block(s)", ErrMalformed, len(ders), want)
	}
	if len(ders) == 0 {
		return nil, fmt.Errorf("%w: no %q PEM block", ErrMalformed, want)
	}
	return ders, nil
}

// parseCertsPEM parses one or more PEM certificates, in file order.
func parseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	ders, err := pemBlocks(data, pemCertificate)
	if err != nil {
		return nil, err
	}
	certs := make([]*x509.Certificate, 0, len(ders))
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate #%d: %w", ErrMalformed, i+1, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// parseCertPEM parses exactly one PEM certificate.
func parseCertPEM(data []byte) (*x509.Certificate, error) {
	certs, err := parseCertsPEM(data)
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("%w: %d certificates where one was expected", ErrMalformed, len(certs))
	}
	return certs[0], nil
}

// encodeCertsPEM encodes certificates as consecutive PEM blocks.
func encodeCertsPEM(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&buf, &pem.Block{Type: pemCertificate, Bytes: c.Raw})
	}
	return buf.Bytes()
}

// pemEncode encodes one PEM block.
func pemEncode(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// parseKeyPEM parses a PEM private key (PKCS#8, PKCS#1 or SEC 1 "EC PRIVATE KEY").
func parseKeyPEM(data []byte) (crypto.Signer, error) {
	key, err := helpers.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%w: private key: %w", ErrMalformed, err)
	}
	return key, nil
}

// matchKey fails with ErrKeyMismatch unless key is the private half of cert's public key.
func matchKey(cert *x509.Certificate, key crypto.Signer) error {
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return fmt.Errorf("%w (certificate %q)", ErrKeyMismatch, cert.Subject.CommonName)
	}
	return nil
}
