package certs

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// newReloaderT builds a Reloader over f that logs into the returned sink and never polls
// (tests call Reload or poll themselves).
func newReloaderT(t *testing.T, f Files) (*Reloader, *logSink) {
	t.Helper()
	sink := &logSink{}
	r, err := NewReloader(ReloaderOptions{Files: f, Logger: slog.New(sink), PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	return r, sink
}

func TestNewReloaderErrors(t *testing.T) {
	ca := newTestCA(t, "ca")
	kp := issueT(t, ca, IssueRequest{Profile: ProfileServer, CommonName: "s", Hosts: []string{"localhost"}})
	other := issueT(t, ca, IssueRequest{Profile: ProfileServer, CommonName: "o", Hosts: []string{"localhost"}})
	crl, _ := ca.CRL()
	good := endpoint(t, kp, ca.CertPEM, crl)

	if _, err := NewReloader(ReloaderOptions{Files: good}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		setup func(f *Files)
		want  error
	}{
		{"missing cert", func(f *Files) { f.Cert += ".nope" }, ErrUnreadable},
		{"missing key", func(f *Files) { f.Key += ".nope" }, ErrUnreadable},
		{"missing bundle", func(f *Files) { f.CABundle += ".nope" }, ErrUnreadable},
		{"missing CRL", func(f *Files) { f.CRL += ".nope" }, ErrUnreadable},
		{"insecure key", func(f *Files) { os.Chmod(f.Key, 0o640) }, ErrInsecureKeyFile},
		{"key mismatch", func(f *Files) { writeT(t, f.Key, other.KeyPEM, 0o600) }, ErrKeyMismatch},
		{"malformed cert", func(f *Files) { writeT(t, f.Cert, []byte("x"), 0o644) }, ErrMalformed},
		{"malformed bundle", func(f *Files) { writeT(t, f.CABundle, []byte("x"), 0o644) }, ErrMalformed},
		{"leaf as bundle", func(f *Files) { writeT(t, f.CABundle, kp.CertPEM, 0o644) }, ErrNotCA},
		{"malformed CRL", func(f *Files) { writeT(t, f.CRL, []byte("x"), 0o644) }, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := endpoint(t, kp, ca.CertPEM, crl)
			tc.setup(&f)
			_, err := NewReloader(ReloaderOptions{Files: f})
			wantErr(t, err, tc.want)
		})
	}
	if _, err := NewReloader(ReloaderOptions{}); err == nil {
		t.Fatal("no files accepted")
	}
}

func TestReloadPicksUpChanges(t *testing.T) {
	ca := newTestCA(t, "ca")
	first := issueT(t, ca, IssueRequest{Profile: ProfilePeer, CommonName: "m1", Hosts: []string{"localhost"}})
	f := endpoint(t, first, ca.CertPEM, nil)
	f.CRL = filepath.Join(filepath.Dir(f.Cert), "crl.pem")
	empty, _ := ca.CRL()
	writeT(t, f.CRL, empty, 0o644)
	r, _ := newReloaderT(t, f)
	if r.Certificate().SerialNumber.Cmp(leafOf(t, first).SerialNumber) != 0 {
		t.Fatal("first certificate not loaded")
	}

	renewed := issueT(t, ca, IssueRequest{Profile: ProfilePeer, CommonName: "m1", Hosts: []string{"localhost"}, Validity: 48 * time.Hour})
	writeT(t, f.Key, renewed.KeyPEM, 0o600)
	writeT(t, f.Cert, renewed.CertPEM, 0o644)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if r.Certificate().SerialNumber.Cmp(leafOf(t, renewed).SerialNumber) != 0 {
		t.Fatal("renewed certificate not loaded")
	}
	if !r.Expiry().Equal(leafOf(t, renewed).NotAfter) {
		t.Fatalf("Expiry %v, want %v", r.Expiry(), leafOf(t, renewed).NotAfter)
	}
	if s := r.SecondsUntilExpiry(); s <= 0 || s > (48*time.Hour).Seconds() {
		t.Fatalf("SecondsUntilExpiry %v", s)
	}

	next := newTestCA(t, "next")
	writeT(t, f.CABundle, append(append([]byte(nil), ca.CertPEM...), next.CertPEM...), 0o644)
	victim := leafOf(t, issueT(t, ca, IssueRequest{Profile: ProfileClient, CommonName: "v"}))
	ca.Revoke(victim.SerialNumber)
	crl, _ := ca.CRL()
	writeT(t, f.CRL, crl, 0o644)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := len(r.Trust().CAs()); n != 2 {
		t.Fatalf("%d CAs after reload, want 2", n)
	}
	wantErr(t, r.Trust().Verify(chainOf(victim), ProfileClient, ""), ErrRevoked)
}

func TestReloadKeepsLastGoodMaterial(t *testing.T) {
	ca := newTestCA(t, "ca")
	kp := issueT(t, ca, IssueRequest{Profile: ProfileServer, CommonName: "s", Hosts: []string{"localhost"}})
	victim := leafOf(t, issueT(t, ca, IssueRequest{Profile: ProfileClient, CommonName: "v"}))
	ca.Revoke(victim.SerialNumber)
	crl, _ := ca.CRL()
	f := endpoint(t, kp, ca.CertPEM, crl)
	r, sink := newReloaderT(t, f)
	serial := r.Certificate().SerialNumber

	other := issueT(t, ca, IssueRequest{Profile: ProfileServer, CommonName: "o", Hosts: []string{"localhost"}})
	stranger := newTestCA(t, "ca") // same name, other key
	strangerCRL, _ := stranger.CRL()
	b, _ := decodePEMForTest(crl)
	b[len(b)-2] ^= 0x55
	for _, tc := range []struct {
		name  string
		spoil func()
		want  error
	}{
		{"malformed cert", func() { writeT(t, f.Cert, []byte("garbage"), 0o644) }, ErrMalformed},
		{"cert without its key", func() { writeT(t, f.Cert, other.CertPEM, 0o644) }, ErrKeyMismatch},
		{"key made world-readable", func() { os.Chmod(f.Key, 0o644) }, ErrInsecureKeyFile},
		{"key deleted", func() { os.Remove(f.Key) }, ErrUnreadable},
		{"bundle malformed", func() { writeT(t, f.CABundle, []byte("garbage"), 0o644) }, ErrMalformed},
		{"CRL malformed", func() { writeT(t, f.CRL, []byte("garbage"), 0o644) }, ErrMalformed},
		{"CRL with bad signature", func() { writeT(t, f.CRL, encodePEMForTest("X509 CRL", b), 0o644) }, ErrUnknownCA},
		{"CRL deleted", func() { os.Remove(f.CRL) }, ErrUnreadable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.spoil()
			err := r.Reload()
			wantErr(t, err, tc.want)
			if r.Certificate().SerialNumber.Cmp(serial) != 0 {
				t.Fatal("certificate replaced by a bad one")
			}
			wantErr(t, r.Trust().Verify(chainOf(victim), ProfileClient, ""), ErrRevoked)
			if n := len(sink.find("certs: reload failed, keeping the previous material")); n == 0 {
				t.Fatal("failure not logged")
			}
			// Repair.
			writeT(t, f.Cert, kp.CertPEM, 0o644)
			writeT(t, f.Key, kp.KeyPEM, 0o600)
			writeT(t, f.CABundle, ca.CertPEM, 0o644)
			writeT(t, f.CRL, crl, 0o644)
			if err := r.Reload(); err != nil {
				t.Fatal(err)
			}
		})
	}

	// A CRL of a CA outside the bundle is not an error: it is ignored.
	writeT(t, f.CRL, append(append([]byte(nil), crl...), strangerCRL...), 0o644)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
}

func TestPollNoticesChangedFiles(t *testing.T) {
	ca := newTestCA(t, "ca")
	first := issueT(t, ca, IssueRequest{Profile: ProfileServer, CommonName: "s", Hosts: []string{"localhost"}})
	f := endpoint(t, first, ca.CertPEM, nil)
	r, err := NewReloader(ReloaderOptions{Files: f, Logger: slog.New(&logSink{}), PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	second := issueT(t, ca, IssueRequest{Profile: ProfileServer, CommonName: "s2", Hosts: []string{"localhost"}})
	writeT(t, f.Key, second.KeyPEM, 0o600)
	writeT(t, f.Cert, second.CertPEM, 0o644)

	r.poll() // within the interval: nothing happens
	if r.Certificate().Subject.CommonName != "s" {
		t.Fatal("poll reloaded within its interval")
	}
	r.lastPoll.Store(0) // the interval has passed
	r.poll()
	if r.Certificate().Subject.CommonName != "s2" {
		t.Fatal("poll missed the change")
	}
	// Unchanged files are not re-read: a bad file that has not changed since is not retried.
	writeT(t, f.Cert, []byte("garbage"), 0o644)
	r.lastPoll.Store(0)
	r.poll()
	r.lastPoll.Store(0)
	r.poll()
	if r.Certificate().Subject.CommonName != "s2" {
		t.Fatal("bad file replaced the certificate")
	}

	disabled, err := NewReloader(ReloaderOptions{Files: f.withCert(t, first), Logger: slog.New(&logSink{}), PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	writeT(t, disabled.opts.Cert, second.CertPEM, 0o644)
	writeT(t, disabled.opts.Key, second.KeyPEM, 0o600)
	disabled.lastPoll.Store(0)
	disabled.poll()
	if disabled.Certificate().Subject.CommonName != "s" {
		t.Fatal("polling not disabled")
	}
}

// withCert returns Files in a new directory holding kp and f's bundle.
func (f Files) withCert(t *testing.T, kp *KeyPair) Files {
	t.Helper()
	bundle, err := os.ReadFile(f.CABundle)
	if err != nil {
		t.Fatal(err)
	}
	return endpoint(t, kp, bundle, nil)
}

func TestExpiryWarning(t *testing.T) {
	ca := newTestCA(t, "ca")
	soon := issueT(t, ca, IssueRequest{Profile: ProfileServer, CommonName: "soon", Hosts: []string{"localhost"}, Validity: 10 * 24 * time.Hour})
	r, sink := newReloaderT(t, endpoint(t, soon, ca.CertPEM, nil))
	recs := sink.find("certs: certificate expires soon")
	if len(recs) != 1 {
		t.Fatalf("%d expiry warnings, want 1", len(recs))
	}
	if recs[0].Level != slog.LevelWarn || attr(recs[0], "cn").String() != "soon" {
		t.Fatalf("warning %v %v", recs[0].Level, attr(recs[0], "cn"))
	}
	if !r.Expiry().Equal(leafOf(t, soon).NotAfter) {
		t.Fatal("Expiry")
	}

	later := issueT(t, ca, IssueRequest{Profile: ProfileServer, CommonName: "later", Hosts: []string{"localhost"}})
	_, sink = newReloaderT(t, endpoint(t, later, ca.CertPEM, nil))
	if n := len(sink.find("certs: certificate expires soon")); n != 0 {
		t.Fatalf("%d warnings for a certificate valid a year", n)
	}

	shortCA, err := NewCA(CAOptions{CommonName: "short", Validity: 5 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	leaf := issueT(t, shortCA, IssueRequest{Profile: ProfileServer, CommonName: "x", Hosts: []string{"localhost"}})
	_, sink = newReloaderT(t, endpoint(t, leaf, shortCA.CertPEM, nil))
	if n := len(sink.find("certs: trusted CA expires soon")); n != 1 {
		t.Fatalf("%d CA expiry warnings, want 1", n)
	}
}

func TestOwnCertificateNotTrustedIsLogged(t *testing.T) {
	ca, other := newTestCA(t, "ca"), newTestCA(t, "other")
	kp := issueT(t, ca, IssueRequest{Profile: ProfileServer, CommonName: "s", Hosts: []string{"localhost"}})
	_, sink := newReloaderT(t, endpoint(t, kp, other.CertPEM, nil))
	if n := len(sink.find("certs: this endpoint's own certificate is not trusted by its CA bundle")); n != 1 {
		t.Fatalf("%d warnings, want 1", n)
	}
}

func decodePEMForTest(data []byte) ([]byte, error) {
	ders, err := pemBlocks(data, pemCRL)
	if err != nil {
		return nil, err
	}
	if len(ders) != 1 {
		return nil, errors.New("want one block")
	}
	return ders[0], nil
}

func encodePEMForTest(typ string, der []byte) []byte { return pemEncode(typ, der) }
