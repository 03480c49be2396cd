package certs

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestJoinTokenRoundTrip(t *testing.T) {
	ca := newTestCA(t, "ca")
	tok, err := newJoinToken(CAPin(ca.Cert))
	if err != nil {
		t.Fatal(err)
	}
	s := tok.String()
	if !strings.HasPrefix(s, "etcq1.") || strings.Count(s, ".") != 3 {
		t.Fatalf("token %q", s)
	}
	got, err := ParseJoinToken("  " + s + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != tok.ID || !bytes.Equal(got.Secret, tok.Secret) || got.CAPin != tok.CAPin {
		t.Fatalf("parsed %+v, want %+v", got, tok)
	}
	if got.String() != s {
		t.Fatalf("String after parse %q, want %q", got.String(), s)
	}
}

func TestParseJoinTokenRefuses(t *testing.T) {
	ca := newTestCA(t, "ca")
	tok, err := newJoinToken(CAPin(ca.Cert))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok.String(), ".")
	secret := parts[2]
	for name, s := range map[string]string{
		"empty":          "",
		"prefix":         "etcq2." + strings.Join(parts[1:], "."),
		"three parts":    strings.Join(parts[:3], "."),
		"five parts":     tok.String() + ".x",
		"short id":       strings.Join([]string{parts[0], parts[1][:15], parts[2], parts[3]}, "."),
		"upper-case id":  strings.Join([]string{parts[0], strings.ToUpper(parts[1]) + "", parts[2], parts[3]}, "."),
		"short secret":   strings.Join([]string{parts[0], parts[1], parts[2][:42], parts[3]}, "."),
		"padded secret":  strings.Join([]string{parts[0], parts[1], parts[2] + "=", parts[3]}, "."),
		"short pin":      strings.Join([]string{parts[0], parts[1], parts[2], parts[3][:63]}, "."),
		"upper-case pin": strings.Join([]string{parts[0], parts[1], parts[2], strings.ToUpper(parts[3])}, "."),
		"non-hex pin":    strings.Join([]string{parts[0], parts[1], parts[2], "z" + parts[3][1:]}, "."),
	} {
		_, err := ParseJoinToken(s)
		if !errors.Is(err, ErrJoinTokenInvalid) {
			t.Errorf("%s: error %v, want ErrJoinTokenInvalid", name, err)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error quotes the secret: %v", name, err)
		}
	}
}

func TestPinParse(t *testing.T) {
	ca := newTestCA(t, "ca")
	p := CAPin(ca.Cert)
	for _, s := range []string{p.String(), strings.TrimPrefix(p.String(), "sha256:")} {
		got, err := ParsePin(s)
		if err != nil || got != p {
			t.Fatalf("ParsePin(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParsePin("sha256:abcd"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short pin: %v", err)
	}
	// The pin names the key: a CA re-issued with the same key keeps it, another key not.
	other := newTestCA(t, "ca")
	if CAPin(other.Cert) == p {
		t.Fatal("two CAs with the same pin")
	}
}

func TestJoinProofIsBoundToSessionAndSecret(t *testing.T) {
	ca := newTestCA(t, "ca")
	tok, _ := newJoinToken(CAPin(ca.Cert))
	b1, b2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	p := tok.Proof(b1)
	if !bytes.Equal(p, joinProof(tok.verifier(), tok.ID, b1)) {
		t.Fatal("the verifier does not check the token's own proof")
	}
	if bytes.Equal(p, tok.Proof(b2)) {
		t.Fatal("a proof does not depend on the session binding")
	}
	other := tok
	other.Secret = bytes.Repeat([]byte{9}, 32)
	if bytes.Equal(p, other.Proof(b1)) {
		t.Fatal("a proof does not depend on the secret")
	}
	renamed := tok
	renamed.ID = "0000000000000000"
	if bytes.Equal(p, renamed.Proof(b1)) {
		t.Fatal("a proof does not depend on the token ID")
	}
}

// tokenDir is a PKI directory with a CA.
func tokenDir(t *testing.T) (Dir, *CA) {
	t.Helper()
	d, ca, err := InitDir(filepath.Join(t.TempDir(), "pki"), CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d, ca
}

func TestJoinTokenStore(t *testing.T) {
	d, ca := tokenDir(t)
	if recs, err := d.JoinTokens(); err != nil || len(recs) != 0 {
		t.Fatalf("a fresh directory lists %v, %v", recs, err)
	}
	tok, rec, err := d.CreateJoinToken(JoinTokenOptions{TTL: time.Hour, Description: "for m2"})
	if err != nil {
		t.Fatal(err)
	}
	if tok.CAPin != CAPin(ca.Cert) || rec.CAPin != CAPin(ca.Cert).String() || rec.ID != tok.ID {
		t.Fatalf("token %+v, record %+v", tok, rec)
	}
	st, err := os.Stat(d.Path(JoinTokensFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v", err, st.Mode())
	}
	raw, _ := os.ReadFile(d.Path(JoinTokensFile))
	if bytes.Contains(raw, []byte(tok.String())) || bytes.Contains(raw, []byte(strings.Split(tok.String(), ".")[2])) {
		t.Fatal("the token file holds the secret")
	}

	now := time.Now()
	binding := bytes.Repeat([]byte{7}, 32)
	if _, err := d.VerifyJoinProof(tok.ID, tok.Proof(binding), binding, now); err != nil {
		t.Fatalf("a valid token: %v", err)
	}
	// Multi-use: the same token proves again (another session).
	b2 := bytes.Repeat([]byte{8}, 32)
	if _, err := d.VerifyJoinProof(tok.ID, tok.Proof(b2), b2, now); err != nil {
		t.Fatalf("the token's second use: %v", err)
	}
	// A proof of another session, of another secret, of an unknown ID: alike.
	wrong := tok
	wrong.Secret = bytes.Repeat([]byte{1}, 32)
	unknown := tok
	unknown.ID = "00000000000000ff"
	for name, c := range map[string]struct {
		id    string
		proof []byte
	}{
		"replayed on another session": {tok.ID, tok.Proof(b2)},
		"wrong secret":                {tok.ID, wrong.Proof(binding)},
		"unknown id":                  {unknown.ID, unknown.Proof(binding)},
		"no proof":                    {tok.ID, nil},
	} {
		if _, err := d.VerifyJoinProof(c.id, c.proof, binding, now); !errors.Is(err, ErrJoinTokenInvalid) {
			t.Errorf("%s: %v, want ErrJoinTokenInvalid", name, err)
		}
	}

	// Expiry: told only to the holder of the secret.
	later := rec.Expires.Add(time.Second)
	if _, err := d.VerifyJoinProof(tok.ID, tok.Proof(binding), binding, later); !errors.Is(err, ErrJoinTokenExpired) {
		t.Fatalf("after expiry: %v", err)
	}
	if _, err := d.VerifyJoinProof(tok.ID, wrong.Proof(binding), binding, later); !errors.Is(err, ErrJoinTokenInvalid) {
		t.Fatalf("after expiry, wrong secret: %v", err)
	}

	// Revocation applies at once, and twice is fine.
	tok2, _, err := d.CreateJoinToken(JoinTokenOptions{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r, err := d.RevokeJoinToken(tok.ID)
		if err != nil || r.Revoked.IsZero() {
			t.Fatalf("revoke: %+v %v", r, err)
		}
	}
	if _, err := d.VerifyJoinProof(tok.ID, tok.Proof(binding), binding, now); !errors.Is(err, ErrJoinTokenRevoked) {
		t.Fatalf("revoked: %v", err)
	}
	if _, err := d.VerifyJoinProof(tok2.ID, tok2.Proof(binding), binding, now); err != nil {
		t.Fatalf("revoking one token touched another: %v", err)
	}
	if _, err := d.RevokeJoinToken(unknown.ID); !errors.Is(err, ErrJoinTokenInvalid) {
		t.Fatalf("revoke unknown: %v", err)
	}
	if _, err := d.RevokeJoinToken("nope"); !errors.Is(err, ErrJoinTokenInvalid) {
		t.Fatalf("revoke malformed: %v", err)
	}

	recs, err := d.JoinTokens()
	if err != nil || len(recs) != 2 {
		t.Fatalf("list: %v %v", recs, err)
	}
	if recs[0].State(now) != "revoked" || recs[1].State(now) != "valid" || recs[1].State(recs[1].Expires) != "expired" {
		t.Fatalf("states %q %q", recs[0].State(now), recs[1].State(now))
	}
	if recs[0].Description != "for m2" {
		t.Fatalf("description %q", recs[0].Description)
	}
}

func TestJoinTokenStoreRefuses(t *testing.T) {
	d, _ := tokenDir(t)
	for _, ttl := range []time.Duration{0, -time.Second} {
		if _, _, err := d.CreateJoinToken(JoinTokenOptions{TTL: ttl}); err == nil {
			t.Fatalf("TTL %v accepted", ttl)
		}
	}
	if _, _, err := Dir(t.TempDir()).CreateJoinToken(JoinTokenOptions{TTL: time.Hour}); !errors.Is(err, ErrUnreadable) {
		t.Fatalf("no CA: %v", err)
	}
	tok, _, err := d.CreateJoinToken(JoinTokenOptions{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d.Path(JoinTokensFile), 0o644); err != nil {
		t.Fatal(err)
	}
	b := bytes.Repeat([]byte{1}, 32)
	if _, err := d.VerifyJoinProof(tok.ID, tok.Proof(b), b, time.Now()); !errors.Is(err, ErrInsecureKeyFile) {
		t.Fatalf("world-readable token file: %v", err)
	}
	writeT(t, d.Path(JoinTokensFile), []byte(`{"version":2,"tokens":[]}`), 0o600)
	if _, err := d.JoinTokens(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("version 2: %v", err)
	}
	writeT(t, d.Path(JoinTokensFile), []byte(`{"version":1,"tokens":[{"id":"x"}]}`), 0o600)
	if _, err := d.JoinTokens(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad id: %v", err)
	}
	if _, err := d.VerifyJoinProof(tok.ID, tok.Proof(b), nil, time.Now()); err == nil {
		t.Fatal("a proof without a session binding was accepted")
	}
}

func TestJoinTokenStorePrunesOldRecords(t *testing.T) {
	d, _ := tokenDir(t)
	old, _, err := d.CreateJoinToken(JoinTokenOptions{TTL: time.Hour, Now: time.Now().Add(-30 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	recent, _, err := d.CreateJoinToken(JoinTokenOptions{TTL: time.Hour, Now: time.Now().Add(-2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := d.JoinTokens()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	if len(ids) != 1 || ids[0] != recent.ID {
		t.Fatalf("kept %v; want only %s (not the month-old %s)", ids, recent.ID, old.ID)
	}
}

// enrollmentFor issues what a member would answer a joining machine.
func enrollmentFor(t *testing.T, ca *CA, name string) *Enrollment {
	t.Helper()
	csrS, keyS, err := NewCSR(name, []string{"10.0.0.2"})
	if err != nil {
		t.Fatal(err)
	}
	csrP, keyP, err := NewCSR(name, []string{"10.0.0.2"})
	if err != nil {
		t.Fatal(err)
	}
	certS, err := ca.SignCSR(csrS, IssueRequest{Profile: ProfileServer, CommonName: name, Hosts: []string{"10.0.0.2", "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	certP, err := ca.SignCSR(csrP, IssueRequest{Profile: ProfilePeer, CommonName: name, Hosts: []string{"10.0.0.2"}})
	if err != nil {
		t.Fatal(err)
	}
	crl, err := ca.CRL()
	if err != nil {
		t.Fatal(err)
	}
	return &Enrollment{
		Name:   name,
		Server: KeyPair{CertPEM: certS, KeyPEM: keyS}, Peer: KeyPair{CertPEM: certP, KeyPEM: keyP},
		ServerHosts: []string{"10.0.0.2"}, PeerHosts: []string{"10.0.0.2"},
		BundlePEM: ca.CertPEM, CRLPEM: crl,
	}
}

func TestSaveEnrollment(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	pin := CAPin(ca.Cert)
	d := Dir(filepath.Join(t.TempDir(), "pki"))
	if err := d.SaveEnrollment(enrollmentFor(t, ca, "m2"), pin); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"m2", "m2-peer"} {
		if _, err := d.LoadKeyPair(name); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r, err := NewReloader(ReloaderOptions{Files: d.Files(name)})
		if err != nil {
			t.Fatalf("%s: a Reloader of what was saved: %v", name, err)
		}
		if r.Certificate().Subject.CommonName != "m2" {
			t.Fatalf("%s: CN %q", name, r.Certificate().Subject.CommonName)
		}
	}
	if st, _ := os.Stat(d.KeyPath("m2")); st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", st.Mode())
	}
}

func TestSaveEnrollmentRefuses(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	pin := CAPin(ca.Cert)
	rogue := newTestCA(t, "cluster CA")
	cases := map[string]struct {
		change func(e *Enrollment)
		want   error
	}{
		"bundle without the pinned CA": {func(e *Enrollment) { e.BundlePEM = rogue.CertPEM; e.CRLPEM = nil }, ErrPinMismatch},
		"certificate of another CA": {func(e *Enrollment) {
			e.Server = enrollmentFor(t, rogue, "m2").Server
		}, ErrUnknownCA},
		"certificate for another key": {func(e *Enrollment) {
			e.Peer.KeyPEM = e.Server.KeyPEM
		}, ErrKeyMismatch},
		"no SAN for a client URL host": {func(e *Enrollment) { e.ServerHosts = append(e.ServerHosts, "10.9.9.9") }, ErrMissingSAN},
		"server certificate as peer":   {func(e *Enrollment) { e.Peer = e.Server }, ErrWrongUsage},
		"revoked": {func(e *Enrollment) {
			c, _ := parseCertPEM(e.Server.CertPEM)
			if err := ca.RevokeCertificate(c); err != nil {
				t.Fatal(err)
			}
			e.CRLPEM, _ = ca.CRL()
		}, ErrRevoked},
		"malformed bundle": {func(e *Enrollment) { e.BundlePEM = []byte("junk") }, ErrMalformed},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			e := enrollmentFor(t, ca, "m2")
			c.change(e)
			d := Dir(filepath.Join(t.TempDir(), "pki"))
			err := d.SaveEnrollment(e, pin)
			wantErr(t, err, c.want)
			if entries, _ := os.ReadDir(string(d)); len(entries) != 0 {
				t.Fatalf("files written despite the refusal: %v", entries)
			}
		})
	}
	if err := Dir(t.TempDir()).SaveEnrollment(&Enrollment{Name: "ca"}, pin); err == nil {
		t.Fatal("a reserved name was accepted")
	}
}

func TestVerifyPinnedChain(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	pin := CAPin(ca.Cert)
	rogue := newTestCA(t, "cluster CA") // same name, another key
	now := time.Now()
	leaf := func(c *CA, req IssueRequest) []byte {
		if req.Profile == "" {
			req.Profile = ProfileServer
		}
		if req.CommonName == "" {
			req.CommonName = "m1"
		}
		if req.Hosts == nil {
			req.Hosts = []string{"127.0.0.1", "m1.example"}
		}
		c0, err := parseCertPEM(issueT(t, c, req).CertPEM)
		if err != nil {
			t.Fatal(err)
		}
		return c0.Raw
	}
	good := leaf(ca, IssueRequest{})
	cases := map[string]struct {
		chain [][]byte
		host  string
		want  error
	}{
		"leaf and pinned CA":           {[][]byte{good, ca.Cert.Raw}, "127.0.0.1", nil},
		"by DNS name":                  {[][]byte{good, ca.Cert.Raw}, "m1.example", nil},
		"leaf alone":                   {[][]byte{good}, "127.0.0.1", ErrPinMismatch},
		"another CA":                   {[][]byte{leaf(rogue, IssueRequest{}), rogue.Cert.Raw}, "127.0.0.1", ErrPinMismatch},
		"rogue leaf with the real CA":  {[][]byte{leaf(rogue, IssueRequest{}), ca.Cert.Raw}, "127.0.0.1", ErrUnknownCA},
		"wrong host":                   {[][]byte{good, ca.Cert.Raw}, "10.1.1.1", ErrMissingSAN},
		"client certificate as server": {[][]byte{leaf(ca, IssueRequest{Profile: ProfileClient}), ca.Cert.Raw}, "127.0.0.1", ErrWrongUsage},
		"expired": {[][]byte{leaf(ca, IssueRequest{NotBefore: now.Add(-48 * time.Hour), Validity: time.Hour}), ca.Cert.Raw},
			"127.0.0.1", ErrExpired},
		"nothing":  {nil, "127.0.0.1", ErrPinMismatch},
		"not DER":  {[][]byte{[]byte("junk")}, "127.0.0.1", ErrMalformed},
		"CA alone": {[][]byte{ca.Cert.Raw}, "127.0.0.1", ErrPinMismatch},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := VerifyPinnedChain(c.chain, pin, c.host, now)
			wantErr(t, err, c.want)
			if c.want != nil && c.want != ErrPinMismatch && c.want != ErrMalformed && !errors.Is(err, ErrPinMismatch) {
				t.Fatalf("%v does not wrap ErrPinMismatch", err)
			}
		})
	}
}

func TestNewCSR(t *testing.T) {
	csrPEM, keyPEM, err := NewCSR("m2", []string{"10.0.0.2", "m2.example"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseCSR(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject.CommonName != "m2" || len(c.IPAddresses) != 1 || len(c.DNSNames) != 1 {
		t.Fatalf("CSR %+v", c.Subject)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !key.Public().(*ecdsa.PublicKey).Equal(c.PublicKey) {
		t.Fatal("the key is not the CSR's")
	}
	if _, _, err := NewCSR("", nil); !errors.Is(err, ErrRefused) {
		t.Fatalf("empty CN: %v", err)
	}
}

// FuzzParseJoinToken: the token comes from a flag or the environment.
func FuzzParseJoinToken(f *testing.F) {
	f.Add("etcq1.0123456789abcdef." + strings.Repeat("A", 43) + "." + strings.Repeat("ab", 32))
	f.Add("etcq1...")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseJoinToken(s)
		if err != nil {
			if !errors.Is(err, ErrJoinTokenInvalid) {
				t.Fatalf("error %v does not wrap ErrJoinTokenInvalid", err)
			}
			return
		}
		again, err := ParseJoinToken(tok.String())
		if err != nil || again.ID != tok.ID || !bytes.Equal(again.Secret, tok.Secret) || again.CAPin != tok.CAPin {
			t.Fatalf("round trip of %q: %+v %v", s, again, err)
		}
	})
}

// FuzzDecodeJoinTokens: join-tokens.json is read from disk at every enrollment.
func FuzzDecodeJoinTokens(f *testing.F) {
	good, _ := json.Marshal(joinTokenFile{Version: 1, Tokens: []JoinTokenRecord{{ID: "0123456789abcdef", Verifier: "00", Expires: time.Unix(1e9, 0)}}})
	f.Add(good)
	f.Add([]byte(`{"version":1,"tokens":null}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := decodeJoinTokens(b, "join-tokens.json")
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		for _, r := range file.Tokens {
			if checkJoinTokenID(r.ID) != nil {
				t.Fatalf("accepted a record with ID %q", r.ID)
			}
		}
	})
}
