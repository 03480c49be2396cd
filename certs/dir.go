package certs

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Files of a PKI directory (see the package documentation for the layout).
const (
	CACertFile     = "ca.pem"          // the CA that signs new certificates
	CAKeyFile      = "ca-key.pem"      // its key (0600)
	BundleFile     = "ca-bundle.pem"   // the CAs endpoints trust (several during a rotation)
	CRLFile        = "crl.pem"         // one CRL per trusted CA
	NextCACertFile = "ca-next.pem"     // the CA being rotated in, between Start and Finish
	NextCAKeyFile  = "ca-next-key.pem" // its key (0600)
	OldCACertFile  = "ca-old.pem"      // the CA rotated out by the last FinishCARotation
	OldCAKeyFile   = "ca-old-key.pem"  // its key (0600)
)

// reservedNames cannot name a key pair: their files are the CA's.
var reservedNames = []string{"ca", "ca-bundle", "ca-next", "ca-old", "crl"}

// Dir is a PKI directory: PEM files under one path, keys 0600, the directory 0700.
// Its methods read and write whole files atomically (write, sync, rename), so a Reloader
// watching the files never sees half of one. A Dir does no locking between processes: run
// one writer (an etcqctl certs command, or the auto-TLS bootstrap) at a time.
type Dir string

// Path returns the path of a file in the directory.
func (d Dir) Path(file string) string { return filepath.Join(string(d), file) }

// CertPath is <dir>/<name>.pem.
func (d Dir) CertPath(name string) string { return d.Path(name + ".pem") }

// KeyPath is <dir>/<name>-key.pem.
func (d Dir) KeyPath(name string) string { return d.Path(name + "-key.pem") }

// Files returns the file paths a Reloader for key pair name should watch.
func (d Dir) Files(name string) Files {
	return Files{Cert: d.CertPath(name), Key: d.KeyPath(name), CABundle: d.Path(BundleFile), CRL: d.Path(CRLFile)}
}

// InitDir creates a PKI directory at path (mode 0700) holding a new CA, a bundle trusting
// it and an empty CRL. It refuses a directory that already has a CA.
func InitDir(path string, opts CAOptions) (Dir, *CA, error) {
	d := Dir(path)
	if err := os.MkdirAll(path, dirMode); err != nil {
		return "", nil, fmt.Errorf("certs: init %s: %w", path, err)
	}
	if _, err := os.Stat(d.Path(CACertFile)); err == nil {
		return "", nil, fmt.Errorf("certs: init %s: %s already exists", path, CACertFile)
	}
	ca, err := NewCA(opts)
	if err != nil {
		return "", nil, err
	}
	if err := d.SaveCA(ca); err != nil {
		return "", nil, err
	}
	if err := d.SaveBundle(ca.Cert); err != nil {
		return "", nil, err
	}
	if err := d.PublishCRL(ca); err != nil {
		return "", nil, err
	}
	return d, ca, nil
}

// SaveCA writes ca.pem and ca-key.pem (0600).
func (d Dir) SaveCA(ca *CA) error {
	return d.saveCAFiles(ca, CACertFile, CAKeyFile)
}

// LoadCA reads ca.pem and ca-key.pem and restores the CA's revocations from crl.pem if it
// exists. Errors: ErrUnreadable, ErrInsecureKeyFile, ErrMalformed, ErrNotCA, ErrKeyMismatch.
func (d Dir) LoadCA() (*CA, error) {
	return d.loadCAFiles(CACertFile, CAKeyFile)
}

func (d Dir) saveCAFiles(ca *CA, certFile, keyFile string) error {
	if err := os.MkdirAll(string(d), dirMode); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	// Certificate first: if interrupted in between, the certificate names the CA the
	// files are meant to hold, which FinishCARotation relies on to resume.
	if err := writeFileAtomic(d.Path(certFile), ca.CertPEM, certMode); err != nil {
		return err
	}
	return writeFileAtomic(d.Path(keyFile), ca.KeyPEM, keyMode)
}

func (d Dir) loadCAFiles(certFile, keyFile string) (*CA, error) {
	certPEM, err := readFile(d.Path(certFile))
	if err != nil {
		return nil, err
	}
	keyPEM, err := readKeyFile(d.Path(keyFile))
	if err != nil {
		return nil, err
	}
	ca, err := ParseCA(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Path(certFile), err)
	}
	crl, err := readFile(d.Path(CRLFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ca, nil
	case err != nil:
		return nil, err
	}
	if len(bytes.TrimSpace(crl)) == 0 {
		return ca, nil
	}
	if err := ca.LoadCRL(crl); err != nil {
		return nil, fmt.Errorf("%s: %w", d.Path(CRLFile), err)
	}
	return ca, nil
}

// SaveKeyPair writes <name>.pem and <name>-key.pem (0600), key first.
func (d Dir) SaveKeyPair(name string, kp *KeyPair) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := os.MkdirAll(string(d), dirMode); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	if err := writeFileAtomic(d.KeyPath(name), kp.KeyPEM, keyMode); err != nil {
		return err
	}
	return writeFileAtomic(d.CertPath(name), kp.CertPEM, certMode)
}

// LoadKeyPair reads <name>.pem and <name>-key.pem and checks that they parse and belong
// together. Errors: ErrUnreadable, ErrInsecureKeyFile, ErrMalformed, ErrKeyMismatch.
func (d Dir) LoadKeyPair(name string) (*KeyPair, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return LoadKeyPair(d.CertPath(name), d.KeyPath(name))
}

// KeyPairNames lists the key pairs in the directory: every <name>.pem with a
// <name>-key.pem beside it, except the CA's files. Sorted.
func (d Dir) KeyPairNames() ([]string, error) {
	entries, err := os.ReadDir(string(d))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	var names []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".pem")
		if !ok || checkName(name) != nil {
			continue
		}
		if _, err := os.Stat(d.KeyPath(name)); err == nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// Bundle reads the trusted CAs of ca-bundle.pem.
func (d Dir) Bundle() ([]*x509.Certificate, error) {
	b, err := readFile(d.Path(BundleFile))
	if err != nil {
		return nil, err
	}
	cas, err := parseCertsPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Path(BundleFile), err)
	}
	return cas, nil
}

// SaveBundle replaces ca-bundle.pem with cas (duplicates dropped).
func (d Dir) SaveBundle(cas ...*x509.Certificate) error {
	var uniq []*x509.Certificate
	for _, c := range cas {
		if !c.IsCA {
			return fmt.Errorf("certs: bundle: %w: %q", ErrNotCA, c.Subject.CommonName)
		}
		if !slices.ContainsFunc(uniq, c.Equal) {
			uniq = append(uniq, c)
		}
	}
	if len(uniq) == 0 {
		return errors.New("certs: bundle: refusing to write a bundle that trusts no CA")
	}
	return writeFileAtomic(d.Path(BundleFile), encodeCertsPEM(uniq...), certMode)
}

// LoadTrust reads ca-bundle.pem and crl.pem (which may be missing) into a Trust.
func (d Dir) LoadTrust() (*Trust, error) {
	bundle, err := readFile(d.Path(BundleFile))
	if err != nil {
		return nil, err
	}
	crl, err := readFile(d.Path(CRLFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return NewTrust(bundle, crl)
}

// PublishCRL writes a fresh CRL of ca into crl.pem. The CRLs of the other CAs that are
// still in the bundle are kept (a revocation by the old CA must keep working during a CA
// rotation); CRLs of CAs no longer in the bundle are dropped.
func (d Dir) PublishCRL(ca *CA) error {
	fresh, err := ca.CRL()
	if err != nil {
		return err
	}
	bundle, err := d.Bundle()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	out := append([]byte(nil), fresh...)
	old, err := readFile(d.Path(CRLFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case len(bytes.TrimSpace(old)) > 0:
		kept, err := otherCRLs(old, ca.Cert, bundle)
		if err != nil {
			return fmt.Errorf("%s: %w", d.Path(CRLFile), err)
		}
		out = append(out, kept...)
	}
	return writeFileAtomic(d.Path(CRLFile), out, certMode)
}

// otherCRLs returns the PEM CRLs of crlPEM that were signed by a CA of bundle other than ca.
func otherCRLs(crlPEM []byte, ca *x509.Certificate, bundle []*x509.Certificate) ([]byte, error) {
	ders, err := pemBlocks(crlPEM, pemCRL)
	if err != nil {
		return nil, err
	}
	var out []byte
	for i, der := range ders {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, fmt.Errorf("%w: CRL #%d: %w", ErrMalformed, i+1, err)
		}
		if crl.CheckSignatureFrom(ca) == nil {
			continue
		}
		if slices.ContainsFunc(bundle, func(c *x509.Certificate) bool { return crl.CheckSignatureFrom(c) == nil }) {
			out = append(out, pemEncode(pemCRL, der)...)
		}
	}
	return out, nil
}

// checkName refuses key pair names that are not a plain file name or that collide with the
// CA's files.
func checkName(name string) error {
	switch {
	case name == "", name == ".", name == "..",
		strings.ContainsAny(name, `/\`), strings.HasPrefix(name, "."),
		strings.HasSuffix(name, "-key"), slices.Contains(reservedNames, name):
		return fmt.Errorf("certs: invalid key pair name %q", name)
	}
	return nil
}
