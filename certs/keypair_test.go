package certs

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestTLSCertificate(t *testing.T) {
	ca := newTestCA(t, "ca")
	a := issueT(t, ca, IssueRequest{Profile: ProfileServer, CommonName: "a", Hosts: []string{"localhost"}})
	b := issueT(t, ca, IssueRequest{Profile: ProfileServer, CommonName: "b", Hosts: []string{"localhost"}})

	c, err := a.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	if c.Leaf == nil || c.Leaf.Subject.CommonName != "a" || len(c.Certificate) != 1 || c.PrivateKey == nil {
		t.Fatalf("incomplete tls.Certificate: %+v", c)
	}
	// A chain (leaf then CA) is accepted and kept in order.
	chained := &KeyPair{CertPEM: append(append([]byte(nil), a.CertPEM...), ca.CertPEM...), KeyPEM: a.KeyPEM}
	if c, err := chained.TLSCertificate(); err != nil || len(c.Certificate) != 2 {
		t.Fatalf("chain: %d certificates, %v", len(c.Certificate), err)
	}

	for _, tc := range []struct {
		name string
		kp   KeyPair
		want error
	}{
		{"key of another cert", KeyPair{a.CertPEM, b.KeyPEM}, ErrKeyMismatch},
		{"garbage cert", KeyPair{[]byte("x"), a.KeyPEM}, ErrMalformed},
		{"garbage key", KeyPair{a.CertPEM, []byte("x")}, ErrMalformed},
		{"key where cert expected", KeyPair{a.KeyPEM, a.KeyPEM}, ErrMalformed},
		{"trailing junk", KeyPair{append(append([]byte(nil), a.CertPEM...), "junk"...), a.KeyPEM}, ErrMalformed},
		{"empty", KeyPair{nil, nil}, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.kp.TLSCertificate()
			wantErr(t, err, tc.want)
		})
	}
}

func TestLoadKeyPairFiles(t *testing.T) {
	ca := newTestCA(t, "ca")
	kp := issueT(t, ca, IssueRequest{Profile: ProfileClient, CommonName: "alice"})
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "alice.pem"), filepath.Join(dir, "alice-key.pem")
	writeT(t, cert, kp.CertPEM, 0o644)
	writeT(t, key, kp.KeyPEM, 0o600)
	if _, err := LoadKeyPair(cert, key); err != nil {
		t.Fatal(err)
	}

	t.Run("missing", func(t *testing.T) {
		_, err := LoadKeyPair(filepath.Join(dir, "nope.pem"), key)
		wantErr(t, err, ErrUnreadable)
		wantErr(t, err, fs.ErrNotExist)
	})
	t.Run("missing key", func(t *testing.T) {
		_, err := LoadKeyPair(cert, filepath.Join(dir, "nope-key.pem"))
		wantErr(t, err, ErrUnreadable)
	})
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o602} {
		t.Run("key mode "+mode.String(), func(t *testing.T) {
			if err := os.Chmod(key, mode); err != nil {
				t.Fatal(err)
			}
			defer os.Chmod(key, 0o600)
			_, err := LoadKeyPair(cert, key)
			wantErr(t, err, ErrInsecureKeyFile)
		})
	}
	t.Run("key mode 0400", func(t *testing.T) {
		if err := os.Chmod(key, 0o400); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(key, 0o600)
		if _, err := LoadKeyPair(cert, key); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads mode 000 files")
		}
		if err := os.Chmod(cert, 0o000); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(cert, 0o644)
		_, err := LoadKeyPair(cert, key)
		wantErr(t, err, ErrUnreadable)
	})
	t.Run("directory", func(t *testing.T) {
		_, err := LoadKeyPair(dir, key)
		wantErr(t, err, ErrUnreadable)
	})
}
