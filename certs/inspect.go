package certs

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// Info describes a certificate for humans and tools (etcqctl certs inspect).
type Info struct {
	Subject     string // RFC 2253 form, e.g. "CN=member-1"
	CommonName  string
	Issuer      string // RFC 2253 form
	Serial      string // colon-separated hex
	IsCA        bool
	Profile     Profile // server, peer or client, from the extended key usages; "" if none fits
	DNSNames    []string
	IPAddresses []string
	KeyUsage    []string // "digital signature", "key encipherment", "cert sign", "crl sign", ...
	ExtKeyUsage []string // "server auth", "client auth", ...
	NotBefore   time.Time
	NotAfter    time.Time
	PublicKey   string // "ECDSA P-256", "RSA 2048", "Ed25519"
	Signature   string // signature algorithm
	SHA256      string // fingerprint of the DER certificate, colon-separated upper-case hex
}

// Inspect describes every certificate of a PEM file, in file order. Errors: ErrMalformed.
func Inspect(certPEM []byte) ([]*Info, error) {
	certs, err := parseCertsPEM(certPEM)
	if err != nil {
		return nil, err
	}
	out := make([]*Info, len(certs))
	for i, c := range certs {
		out[i] = InspectCertificate(c)
	}
	return out, nil
}

// InspectCertificate describes a parsed certificate.
func InspectCertificate(c *x509.Certificate) *Info {
	info := &Info{
		Subject:    c.Subject.String(),
		CommonName: c.Subject.CommonName,
		Issuer:     c.Issuer.String(),
		Serial:     formatSerial(c.SerialNumber),
		IsCA:       c.IsCA,
		DNSNames:   slices.Clone(c.DNSNames),
		KeyUsage:   keyUsageNames(c.KeyUsage),
		NotBefore:  c.NotBefore.UTC(),
		NotAfter:   c.NotAfter.UTC(),
		PublicKey:  publicKeyName(c.PublicKey),
		Signature:  c.SignatureAlgorithm.String(),
		SHA256:     Fingerprint(c),
	}
	if p, ok := ProfileOf(c); ok {
		info.Profile = p
	}
	for _, ip := range c.IPAddresses {
		info.IPAddresses = append(info.IPAddresses, ip.String())
	}
	for _, u := range c.ExtKeyUsage {
		info.ExtKeyUsage = append(info.ExtKeyUsage, extUsageName(u))
	}
	return info
}

// String renders the Info as aligned "Field: value" lines; the format is stable.
func (i *Info) String() string {
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%-14s %s\n", k+":", v) }
	list := func(s []string) string {
		if len(s) == 0 {
			return "-"
		}
		return strings.Join(s, ", ")
	}
	line("Subject", i.Subject)
	line("Issuer", i.Issuer)
	line("Serial", i.Serial)
	line("CA", fmt.Sprint(i.IsCA))
	if i.Profile != "" {
		line("Profile", string(i.Profile))
	} else {
		line("Profile", "-")
	}
	line("Not before", i.NotBefore.Format(time.RFC3339))
	line("Not after", i.NotAfter.Format(time.RFC3339))
	line("DNS names", list(i.DNSNames))
	line("IP addresses", list(i.IPAddresses))
	line("Key usage", list(i.KeyUsage))
	line("Ext key usage", list(i.ExtKeyUsage))
	line("Public key", i.PublicKey)
	line("Signature", i.Signature)
	line("SHA-256", i.SHA256)
	return b.String()
}

// Fingerprint is the SHA-256 of the DER certificate as colon-separated upper-case hex.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return colonHex(sum[:])
}

// ProfileOf tells which profile a leaf certificate was issued with, from its extended key
// usages; ok is false for a CA or a certificate that fits none.
func ProfileOf(c *x509.Certificate) (p Profile, ok bool) {
	if c.IsCA {
		return "", false
	}
	server := slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	client := slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	switch {
	case server && client:
		return ProfilePeer, true
	case server:
		return ProfileServer, true
	case client:
		return ProfileClient, true
	}
	return "", false
}

func formatSerial(n *big.Int) string {
	if n == nil {
		return ""
	}
	return colonHex(n.Bytes())
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(parts, ":")
}

// keyUsageNames uses cfssl's names for key usages, in bit order.
func keyUsageNames(ku x509.KeyUsage) []string {
	names := []string{
		"digital signature", "content commitment", "key encipherment", "data encipherment",
		"key agreement", "cert sign", "crl sign", "encipher only", "decipher only",
	}
	var out []string
	for bit, name := range names {
		if ku&(1<<bit) != 0 {
			out = append(out, name)
		}
	}
	return out
}

func extUsageName(u x509.ExtKeyUsage) string {
	switch u {
	case x509.ExtKeyUsageAny:
		return "any"
	case x509.ExtKeyUsageServerAuth:
		return "server auth"
	case x509.ExtKeyUsageClientAuth:
		return "client auth"
	case x509.ExtKeyUsageCodeSigning:
		return "code signing"
	case x509.ExtKeyUsageEmailProtection:
		return "email protection"
	case x509.ExtKeyUsageTimeStamping:
		return "timestamping"
	case x509.ExtKeyUsageOCSPSigning:
		return "ocsp signing"
	}
	return fmt.Sprintf("ext key usage %d", u)
}

func publicKeyName(pub any) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}
