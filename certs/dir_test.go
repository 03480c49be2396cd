package certs

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestInitDirLayout(t *testing.T) {
	root := filepath.Join(t.TempDir(), "pki")
	d, ca, err := InitDir(root, CAOptions{CommonName: "cluster CA"})
	if err != nil {
		t.Fatal(err)
	}
	if got := mode(t, root); got != 0o700 {
		t.Errorf("dir mode %v", got)
	}
	for file, want := range map[string]fs.FileMode{CACertFile: 0o644, CAKeyFile: 0o600, BundleFile: 0o644, CRLFile: 0o644} {
		if got := mode(t, d.Path(file)); got != want {
			t.Errorf("%s mode %v, want %v", file, got, want)
		}
	}
	bundle, err := d.Bundle()
	if err != nil || len(bundle) != 1 || !bundle[0].Equal(ca.Cert) {
		t.Fatalf("bundle %v, %v", bundle, err)
	}
	tr, err := d.LoadTrust()
	if err != nil || len(tr.CRLs()) != 1 {
		t.Fatalf("trust: %v, %v", tr, err)
	}
	if _, _, err := InitDir(root, CAOptions{}); err == nil {
		t.Fatal("InitDir over an existing CA succeeded")
	}
	// Nothing else was written: no temporary files left behind.
	entries, _ := os.ReadDir(root)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	if want := []string{BundleFile, CAKeyFile, CACertFile, CRLFile}; !slices.Equal(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}
}

func TestDirCARoundTripWithRevocations(t *testing.T) {
	d, ca, err := InitDir(t.TempDir(), CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	leaf := leafOf(t, issueT(t, ca, IssueRequest{Profile: ProfileClient, CommonName: "mallory"}))
	if err := ca.RevokeCertificate(leaf); err != nil {
		t.Fatal(err)
	}
	if err := d.PublishCRL(ca); err != nil {
		t.Fatal(err)
	}
	loaded, err := d.LoadCA()
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Cert.Equal(ca.Cert) || !loaded.IsRevoked(leaf.SerialNumber) {
		t.Fatal("CA or its revocations not restored")
	}
	tr, err := d.LoadTrust()
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, tr.Verify(chainOf(leaf), ProfileClient, ""), ErrRevoked)

	if err := os.Chmod(d.Path(CAKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = d.LoadCA()
	wantErr(t, err, ErrInsecureKeyFile)
	os.Chmod(d.Path(CAKeyFile), 0o600)

	if err := os.Remove(d.Path(CACertFile)); err != nil {
		t.Fatal(err)
	}
	_, err = d.LoadCA()
	wantErr(t, err, ErrUnreadable)
}

func TestDirKeyPairs(t *testing.T) {
	d, ca, err := InitDir(t.TempDir(), CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"member-1", "alice"} {
		if err := d.SaveKeyPair(name, issueT(t, ca, IssueRequest{Profile: ProfileClient, CommonName: name})); err != nil {
			t.Fatal(err)
		}
	}
	if got := mode(t, d.KeyPath("alice")); got != 0o600 {
		t.Fatalf("key mode %v", got)
	}
	kp, err := d.LoadKeyPair("alice")
	if err != nil {
		t.Fatal(err)
	}
	if leafOf(t, kp).Subject.CommonName != "alice" {
		t.Fatal("wrong pair")
	}
	names, err := d.KeyPairNames()
	if err != nil || !slices.Equal(names, []string{"alice", "member-1"}) {
		t.Fatalf("names %v, %v", names, err)
	}
	f := d.Files("alice")
	if f.Cert != d.CertPath("alice") || f.Key != d.KeyPath("alice") || f.CABundle != d.Path(BundleFile) || f.CRL != d.Path(CRLFile) {
		t.Fatalf("Files %+v", f)
	}

	// A key from another pair.
	other, _ := d.LoadKeyPair("member-1")
	writeT(t, d.KeyPath("alice"), other.KeyPEM, 0o600)
	_, err = d.LoadKeyPair("alice")
	wantErr(t, err, ErrKeyMismatch)

	for _, bad := range []string{"", ".", "..", "../x", "a/b", ".hidden", "ca", "ca-bundle", "crl", "ca-next", "ca-old", "x-key"} {
		if err := d.SaveKeyPair(bad, kp); err == nil {
			t.Errorf("SaveKeyPair(%q) accepted", bad)
		}
		if _, err := d.LoadKeyPair(bad); err == nil {
			t.Errorf("LoadKeyPair(%q) accepted", bad)
		}
	}
}

func TestPublishCRLKeepsOtherTrustedCAs(t *testing.T) {
	d, a, err := InitDir(t.TempDir(), CAOptions{CommonName: "etcq CA"})
	if err != nil {
		t.Fatal(err)
	}
	b := newTestCA(t, "etcq CA")
	la := leafOf(t, issueT(t, a, IssueRequest{Profile: ProfileClient, CommonName: "a"}))
	lb := leafOf(t, issueT(t, b, IssueRequest{Profile: ProfileClient, CommonName: "b"}))
	if err := d.SaveBundle(a.Cert, b.Cert, a.Cert); err != nil {
		t.Fatal(err)
	}
	if bundle, _ := d.Bundle(); len(bundle) != 2 {
		t.Fatalf("bundle of %d, want duplicates dropped", len(bundle))
	}
	a.Revoke(la.SerialNumber)
	b.Revoke(lb.SerialNumber)
	if err := d.PublishCRL(a); err != nil {
		t.Fatal(err)
	}
	if err := d.PublishCRL(b); err != nil {
		t.Fatal(err)
	}
	tr, err := d.LoadTrust()
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.CRLs()) != 2 {
		t.Fatalf("%d CRLs, want one per CA", len(tr.CRLs()))
	}
	wantErr(t, tr.Verify(chainOf(la), ProfileClient, ""), ErrRevoked)
	wantErr(t, tr.Verify(chainOf(lb), ProfileClient, ""), ErrRevoked)

	// b leaves the bundle: the next publication drops its CRL.
	if err := d.SaveBundle(a.Cert); err != nil {
		t.Fatal(err)
	}
	if err := d.PublishCRL(a); err != nil {
		t.Fatal(err)
	}
	tr, _ = d.LoadTrust()
	if len(tr.CRLs()) != 1 {
		t.Fatalf("%d CRLs, want 1", len(tr.CRLs()))
	}
	if err := d.SaveBundle(); err == nil {
		t.Fatal("empty bundle accepted")
	}
	if err := d.SaveBundle(la); err == nil {
		t.Fatal("leaf in bundle accepted")
	}
}
