package certs

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestInspect(t *testing.T) {
	ca := newTestCA(t, "etcq test CA")
	start := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	kp := issueT(t, ca, IssueRequest{
		Profile: ProfilePeer, CommonName: "member-1",
		Hosts:     []string{"member-1.kv.local", "127.0.0.1", "::1", "localhost"},
		NotBefore: start, Validity: 24 * time.Hour,
	})
	infos, err := Inspect(append(append([]byte(nil), kp.CertPEM...), ca.CertPEM...))
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 {
		t.Fatalf("%d infos", len(infos))
	}
	leaf, cainfo := infos[0], infos[1]
	c := leafOf(t, kp)
	sum := sha256.Sum256(c.Raw)
	check := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("Subject", leaf.Subject, "CN=member-1")
	check("CommonName", leaf.CommonName, "member-1")
	check("Issuer", leaf.Issuer, "CN=etcq test CA")
	check("IsCA", leaf.IsCA, false)
	check("Profile", leaf.Profile, ProfilePeer)
	check("DNSNames", leaf.DNSNames, []string{"member-1.kv.local", "localhost"})
	check("IPAddresses", leaf.IPAddresses, []string{"127.0.0.1", "::1"})
	check("ExtKeyUsage", leaf.ExtKeyUsage, []string{"server auth", "client auth"})
	check("KeyUsage has digital signature", slices.Contains(leaf.KeyUsage, "digital signature"), true)
	check("NotBefore", leaf.NotBefore, start)
	check("NotAfter", leaf.NotAfter, start.Add(24*time.Hour))
	check("PublicKey", leaf.PublicKey, "ECDSA P-256")
	check("Signature", leaf.Signature, "ECDSA-SHA256")
	check("SHA256", strings.ReplaceAll(leaf.SHA256, ":", ""), fmt.Sprintf("%X", sum[:]))
	check("Fingerprint", Fingerprint(c), leaf.SHA256)
	check("Serial", strings.ReplaceAll(leaf.Serial, ":", ""), fmt.Sprintf("%X", c.SerialNumber.Bytes()))
	check("CA IsCA", cainfo.IsCA, true)
	check("CA Profile", cainfo.Profile, Profile(""))
	check("CA KeyUsage has cert sign", slices.Contains(cainfo.KeyUsage, "cert sign"), true)

	want := strings.Join([]string{
		"Subject:       CN=member-1",
		"Issuer:        CN=etcq test CA",
		"Serial:        " + leaf.Serial,
		"CA:            false",
		"Profile:       peer",
		"Not before:    2030-05-06T07:08:09Z",
		"Not after:     2030-05-07T07:08:09Z",
		"DNS names:     member-1.kv.local, localhost",
		"IP addresses:  127.0.0.1, ::1",
		"Key usage:     " + strings.Join(leaf.KeyUsage, ", "),
		"Ext key usage: server auth, client auth",
		"Public key:    ECDSA P-256",
		"Signature:     ECDSA-SHA256",
		"SHA-256:       " + leaf.SHA256,
	}, "\n") + "\n"
	if got := leaf.String(); got != want {
		t.Errorf("String():\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(cainfo.String(), "IP addresses:  -\n") {
		t.Errorf("empty list not shown as -:\n%s", cainfo.String())
	}
}

func TestInspectMalformed(t *testing.T) {
	for _, in := range []string{"", "garbage", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"} {
		_, err := Inspect([]byte(in))
		wantErr(t, err, ErrMalformed)
	}
}
