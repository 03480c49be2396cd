package certs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
)

// CA rotation in a PKI directory, in three steps an operator runs while the cluster serves
// (see the package documentation):
//
//	next, _ := dir.StartCARotation(opts) // 1. new CA in ca-next.pem, added to the bundle
//	// ...distribute the bundle; every Reloader now trusts both CAs...
//	for _, name := range names {           // 2. re-issue every leaf from the new CA
//		kp, _ := next.Renew(cert(name), 0)
//		dir.SaveKeyPair(name, kp)
//	}
//	dir.FinishCARotation()                // 3. new CA becomes ca.pem, old CA leaves the bundle

// StartCARotation creates a new CA, saves it as ca-next.pem / ca-next-key.pem and appends it
// to the bundle, which then trusts the old and the new CA. ca.pem still signs until
// FinishCARotation. It refuses to start while a rotation is in progress.
func (d Dir) StartCARotation(opts CAOptions) (*CA, error) {
	if _, err := os.Stat(d.Path(NextCACertFile)); err == nil {
		return nil, fmt.Errorf("certs: a CA rotation is already in progress (%s exists)", d.Path(NextCACertFile))
	}
	bundle, err := d.Bundle()
	if err != nil {
		return nil, err
	}
	next, err := NewCA(opts)
	if err != nil {
		return nil, err
	}
	if err := d.saveCAFiles(next, NextCACertFile, NextCAKeyFile); err != nil {
		return nil, err
	}
	if err := d.SaveBundle(append(bundle, next.Cert)...); err != nil {
		return nil, err
	}
	if err := d.PublishCRL(next); err != nil {
		return nil, err
	}
	return next, nil
}

// LoadNextCA loads the CA being rotated in (ErrNoRotation if none).
func (d Dir) LoadNextCA() (*CA, error) {
	ca, err := d.loadCAFiles(NextCACertFile, NextCAKeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %w", ErrNoRotation, err)
	}
	return ca, err
}

// FinishCARotation makes the next CA the signing CA: the old ca.pem / ca-key.pem are kept as
// ca-old.pem / ca-old-key.pem, the next CA becomes ca.pem / ca-key.pem, the old CA is dropped
// from the bundle and its CRL from crl.pem. Certificates still signed by the old CA are
// refused by every Reloader once the new bundle is loaded. If interrupted, run it again.
func (d Dir) FinishCARotation() error {
	next, err := d.LoadNextCA()
	if err != nil {
		return err
	}
	curPEM, err := readFile(d.Path(CACertFile))
	if err != nil {
		return err
	}
	cur, err := parseCertPEM(curPEM)
	if err != nil {
		return fmt.Errorf("%s: %w", d.Path(CACertFile), err)
	}
	if !cur.Equal(next.Cert) {
		old, err := d.LoadCA()
		if err != nil {
			return err
		}
		if err := d.saveCAFiles(old, OldCACertFile, OldCAKeyFile); err != nil {
			return err
		}
		if err := d.SaveCA(next); err != nil {
			return err
		}
	} else if err := d.SaveCA(next); err != nil { // interrupted between the two files
		return err
	}
	oldPEM, err := readFile(d.Path(OldCACertFile))
	if err != nil {
		return err
	}
	old, err := parseCertPEM(oldPEM)
	if err != nil {
		return fmt.Errorf("%s: %w", d.Path(OldCACertFile), err)
	}
	bundle, err := d.Bundle()
	if err != nil {
		return err
	}
	bundle = slices.DeleteFunc(bundle, old.Equal)
	if !slices.ContainsFunc(bundle, next.Cert.Equal) {
		bundle = append(bundle, next.Cert)
	}
	if err := d.SaveBundle(bundle...); err != nil {
		return err
	}
	if err := d.PublishCRL(next); err != nil {
		return err
	}
	for _, f := range []string{NextCACertFile, NextCAKeyFile} {
		if err := os.Remove(d.Path(f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("certs: %w", err)
		}
	}
	return nil
}
