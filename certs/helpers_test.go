package certs

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func newTestCA(t testing.TB, cn string) *CA {
	t.Helper()
	ca, err := NewCA(CAOptions{CommonName: cn})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func issueT(t testing.TB, ca *CA, req IssueRequest) *KeyPair {
	t.Helper()
	kp, err := ca.Issue(req)
	if err != nil {
		t.Fatalf("issue %+v: %v", req, err)
	}
	return kp
}

func leafOf(t testing.TB, kp *KeyPair) *x509.Certificate {
	t.Helper()
	c, err := parseCertPEM(kp.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeT(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := writeFileAtomic(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

// wantErr fails unless err wraps want (want nil: err must be nil).
func wantErr(t testing.TB, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("error %v, want %v", err, want)
	}
}

// logSink is a slog.Handler that keeps every record, for tests that check what was logged.
type logSink struct {
	mu      sync.Mutex
	records []slog.Record
}

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, r.Clone())
	return nil
}
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *logSink) WithGroup(string) slog.Handler      { return s }

// find returns the records with message msg.
func (s *logSink) find(msg string) []slog.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []slog.Record
	for _, r := range s.records {
		if r.Message == msg {
			out = append(out, r)
		}
	}
	return out
}

// attr returns the value of attribute key of r.
func attr(r slog.Record, key string) slog.Value {
	var v slog.Value
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value
			return false
		}
		return true
	})
	return v
}

// endpoint writes a key pair, a bundle and a CRL into a temp dir and returns their Files.
func endpoint(t testing.TB, kp *KeyPair, bundle []byte, crl []byte) Files {
	t.Helper()
	dir := t.TempDir()
	f := Files{
		Cert:     filepath.Join(dir, "leaf.pem"),
		Key:      filepath.Join(dir, "leaf-key.pem"),
		CABundle: filepath.Join(dir, "ca-bundle.pem"),
	}
	writeT(t, f.Cert, kp.CertPEM, 0o644)
	writeT(t, f.Key, kp.KeyPEM, 0o600)
	writeT(t, f.CABundle, bundle, 0o644)
	if crl != nil {
		f.CRL = filepath.Join(dir, "crl.pem")
		writeT(t, f.CRL, crl, 0o644)
	}
	return f
}

func chainOf(c ...*x509.Certificate) []*x509.Certificate { return c }
