package certs

import (
	"errors"
	"os"
	"testing"
)

func TestDirCARotation(t *testing.T) {
	d, old, err := InitDir(t.TempDir(), CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SaveKeyPair("m1", issueT(t, old, IssueRequest{Profile: ProfilePeer, CommonName: "m1", Hosts: []string{"127.0.0.1"}})); err != nil {
		t.Fatal(err)
	}
	if _, err := d.LoadNextCA(); !errors.Is(err, ErrNoRotation) {
		t.Fatalf("LoadNextCA before a rotation: %v", err)
	}
	if err := d.FinishCARotation(); !errors.Is(err, ErrNoRotation) {
		t.Fatalf("FinishCARotation before a rotation: %v", err)
	}

	next, err := d.StartCARotation(CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.StartCARotation(CAOptions{}); err == nil {
		t.Fatal("second StartCARotation succeeded")
	}
	if got := mode(t, d.Path(NextCAKeyFile)); got != 0o600 {
		t.Fatalf("next key mode %v", got)
	}
	tr, err := d.LoadTrust()
	if err != nil || len(tr.CAs()) != 2 {
		t.Fatalf("bundle during rotation: %v, %v", tr, err)
	}
	oldLeaf := leafOf(t, mustLoad(t, d, "m1"))
	wantErr(t, tr.Verify(chainOf(oldLeaf), ProfilePeer, "127.0.0.1"), nil)
	// Still signing with the old CA until Finish.
	if cur, _ := d.LoadCA(); !cur.Cert.Equal(old.Cert) {
		t.Fatal("ca.pem changed at Start")
	}

	loadedNext, err := d.LoadNextCA()
	if err != nil || !loadedNext.Cert.Equal(next.Cert) {
		t.Fatalf("LoadNextCA: %v", err)
	}
	kp, err := loadedNext.Renew(oldLeaf, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SaveKeyPair("m1", kp); err != nil {
		t.Fatal(err)
	}
	newLeaf := leafOf(t, kp)
	// Revocation by the old CA still works during the rotation.
	old.Revoke(oldLeaf.SerialNumber)
	if err := d.PublishCRL(old); err != nil {
		t.Fatal(err)
	}
	tr, _ = d.LoadTrust()
	wantErr(t, tr.Verify(chainOf(oldLeaf), ProfilePeer, ""), ErrRevoked)
	wantErr(t, tr.Verify(chainOf(newLeaf), ProfilePeer, ""), nil)

	if err := d.FinishCARotation(); err != nil {
		t.Fatal(err)
	}
	cur, err := d.LoadCA()
	if err != nil || !cur.Cert.Equal(next.Cert) {
		t.Fatalf("ca.pem after Finish: %v", err)
	}
	archived, err := d.loadCAFiles(OldCACertFile, OldCAKeyFile)
	if err != nil || !archived.Cert.Equal(old.Cert) {
		t.Fatalf("ca-old.pem: %v", err)
	}
	for _, f := range []string{NextCACertFile, NextCAKeyFile} {
		if _, err := os.Stat(d.Path(f)); !os.IsNotExist(err) {
			t.Fatalf("%s left behind: %v", f, err)
		}
	}
	tr, err = d.LoadTrust()
	if err != nil || len(tr.CAs()) != 1 || !tr.CAs()[0].Equal(next.Cert) || len(tr.CRLs()) != 1 {
		t.Fatalf("trust after Finish: %v", err)
	}
	wantErr(t, tr.Verify(chainOf(oldLeaf), ProfilePeer, ""), ErrUnknownCA)
	wantErr(t, tr.Verify(chainOf(newLeaf), ProfilePeer, "127.0.0.1"), nil)
}

func TestFinishCARotationResumes(t *testing.T) {
	d, old, err := InitDir(t.TempDir(), CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	next, err := d.StartCARotation(CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Interrupted after archiving the old CA and writing the new ca.pem, before the key.
	if err := d.saveCAFiles(old, OldCACertFile, OldCAKeyFile); err != nil {
		t.Fatal(err)
	}
	writeT(t, d.Path(CACertFile), next.CertPEM, 0o644)
	if err := d.FinishCARotation(); err != nil {
		t.Fatal(err)
	}
	cur, err := d.LoadCA()
	if err != nil || !cur.Cert.Equal(next.Cert) {
		t.Fatalf("after resume: %v", err)
	}
	if b, _ := d.Bundle(); len(b) != 1 || !b[0].Equal(next.Cert) {
		t.Fatal("old CA still in the bundle")
	}
}

func mustLoad(t *testing.T, d Dir, name string) *KeyPair {
	t.Helper()
	kp, err := d.LoadKeyPair(name)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}
