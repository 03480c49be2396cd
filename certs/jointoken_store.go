package certs

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"syscall"
	"time"
)

// Files of a PKI directory that hold join tokens.
const (
	JoinTokensFile     = "join-tokens.json" // the token records (0600; as secret as the tokens)
	joinTokensLockFile = ".join-tokens.lock"
)

// DefaultJoinTokenTTL is the life of the token an auto-TLS first member prints.
const DefaultJoinTokenTTL = 24 * time.Hour

// joinTokenKeep is how long a record outlives its expiry or revocation (so that list shows
// why a recent join was refused) before a write drops it.
const joinTokenKeep = 7 * 24 * time.Hour

// JoinTokenRecord is what a member keeps of a join token: never the secret.
type JoinTokenRecord struct {
	ID          string    `json:"id"`
	Verifier    string    `json:"verifier"` // hex; derived from the secret, enough to check (and forge) proofs
	CAPin       string    `json:"ca_pin"`   // the pin the token carries, sha256:<hex>
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
	Revoked     time.Time `json:"revoked,omitzero"`
}

// State is "valid", "expired" or "revoked" at now.
func (r *JoinTokenRecord) State(now time.Time) string {
	switch {
	case !r.Revoked.IsZero():
		return "revoked"
	case !now.Before(r.Expires):
		return "expired"
	}
	return "valid"
}

// joinTokenFile is the JSON document of join-tokens.json.
type joinTokenFile struct {
	Version int               `json:"version"`
	Tokens  []JoinTokenRecord `json:"tokens"`
}

// JoinTokenOptions configures Dir.CreateJoinToken.
type JoinTokenOptions struct {
	// TTL is how long the token is valid; it must be positive (every token expires).
	TTL         time.Duration
	Description string
	// Now is the creation time; zero means now. Tests set it to make expired tokens.
	Now time.Time
}

// CreateJoinToken makes a new token for the directory's CA (ca.pem), records it in
// join-tokens.json and returns it: the only time its secret is available.
func (d Dir) CreateJoinToken(opts JoinTokenOptions) (JoinToken, *JoinTokenRecord, error) {
	if opts.TTL <= 0 {
		return JoinToken{}, nil, fmt.Errorf("certs: join token: the time to live must be positive, not %v (every token expires)", opts.TTL)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	caPEM, err := readFile(d.Path(CACertFile))
	if err != nil {
		return JoinToken{}, nil, fmt.Errorf("certs: join token: the directory's CA: %w", err)
	}
	ca, err := parseCertPEM(caPEM)
	if err != nil {
		return JoinToken{}, nil, fmt.Errorf("certs: join token: %s: %w", d.Path(CACertFile), err)
	}
	if !ca.IsCA {
		return JoinToken{}, nil, fmt.Errorf("certs: join token: %s: %w", d.Path(CACertFile), ErrNotCA)
	}
	tok, err := newJoinToken(CAPin(ca))
	if err != nil {
		return JoinToken{}, nil, err
	}
	rec := JoinTokenRecord{
		ID:          tok.ID,
		Verifier:    hex.EncodeToString(tok.verifier()),
		CAPin:       tok.CAPin.String(),
		Description: opts.Description,
		Created:     now.UTC().Truncate(time.Second),
		Expires:     now.Add(opts.TTL).UTC().Truncate(time.Second),
	}
	err = d.updateJoinTokens(func(f *joinTokenFile) error {
		if slices.ContainsFunc(f.Tokens, func(r JoinTokenRecord) bool { return r.ID == rec.ID }) {
			return fmt.Errorf("certs: join token: ID %s already exists", rec.ID) // 2^-64: never
		}
		f.Tokens = append(f.Tokens, rec)
		return nil
	})
	if err != nil {
		return JoinToken{}, nil, err
	}
	return tok, &rec, nil
}

// JoinTokens returns the token records, oldest first. A directory without tokens has none.
func (d Dir) JoinTokens() ([]JoinTokenRecord, error) {
	f, err := d.readJoinTokens()
	if err != nil {
		return nil, err
	}
	return f.Tokens, nil
}

// RevokeJoinToken revokes a token by ID, at once: the next enrollment with it is refused.
// Revoking a revoked token changes nothing. An unknown ID fails with ErrJoinTokenInvalid.
func (d Dir) RevokeJoinToken(id string) (*JoinTokenRecord, error) {
	if err := checkJoinTokenID(id); err != nil {
		return nil, err
	}
	var out JoinTokenRecord
	err := d.updateJoinTokens(func(f *joinTokenFile) error {
		for i := range f.Tokens {
			r := &f.Tokens[i]
			if r.ID != id {
				continue
			}
			if r.Revoked.IsZero() {
				r.Revoked = time.Now().UTC().Truncate(time.Second)
			}
			out = *r
			return nil
		}
		return fmt.Errorf("%w: no token %s in %s", ErrJoinTokenInvalid, id, d.Path(JoinTokensFile))
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// VerifyJoinProof checks that proof proves token id on the session of binding
// (JoinBinding) at now. It reads join-tokens.json afresh, so tokens made or revoked by
// another process apply at once. Errors: ErrJoinTokenInvalid (unknown ID or wrong proof,
// alike), then, for a right proof only, ErrJoinTokenRevoked or ErrJoinTokenExpired; file
// errors (ErrUnreadable, ErrInsecureKeyFile, ErrMalformed).
func (d Dir) VerifyJoinProof(id string, proof, binding []byte, now time.Time) (*JoinTokenRecord, error) {
	if err := checkJoinTokenID(id); err != nil {
		return nil, err
	}
	if len(binding) == 0 {
		return nil, errors.New("certs: join proof: no session binding")
	}
	f, err := d.readJoinTokens()
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(f.Tokens, func(r JoinTokenRecord) bool { return r.ID == id })
	if i < 0 {
		return nil, fmt.Errorf("%w: unknown token %s or wrong secret", ErrJoinTokenInvalid, id)
	}
	rec := f.Tokens[i]
	verifier, err := hex.DecodeString(rec.Verifier)
	if err != nil || len(verifier) == 0 {
		return nil, fmt.Errorf("%w: %s: token %s has no usable verifier", ErrMalformed, d.Path(JoinTokensFile), id)
	}
	if !hmac.Equal(proof, joinProof(verifier, id, binding)) {
		return nil, fmt.Errorf("%w: unknown token %s or wrong secret", ErrJoinTokenInvalid, id)
	}
	if !rec.Revoked.IsZero() {
		return &rec, fmt.Errorf("%w: token %s was revoked at %s", ErrJoinTokenRevoked, id, rec.Revoked.Format(time.RFC3339))
	}
	if !now.Before(rec.Expires) {
		return &rec, fmt.Errorf("%w: token %s expired at %s", ErrJoinTokenExpired, id, rec.Expires.Format(time.RFC3339))
	}
	return &rec, nil
}

// readJoinTokens reads join-tokens.json; a missing file is an empty one. The file is
// refused if group or others may access it, as a key file.
func (d Dir) readJoinTokens() (*joinTokenFile, error) {
	b, err := readKeyFile(d.Path(JoinTokensFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &joinTokenFile{Version: 1}, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeJoinTokens(b, d.Path(JoinTokensFile))
}

// decodeJoinTokens parses the file's contents.
func decodeJoinTokens(b []byte, path string) (*joinTokenFile, error) {
	var f joinTokenFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, path, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("%w: %s: version %d, this build reads 1", ErrMalformed, path, f.Version)
	}
	for _, r := range f.Tokens {
		if err := checkJoinTokenID(r.ID); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, path, err)
		}
	}
	return &f, nil
}

// updateJoinTokens applies change to join-tokens.json under a lock (etcqctl and the daemon
// may write at once), drops records long expired or revoked, and writes the file back
// atomically, 0600.
func (d Dir) updateJoinTokens(change func(*joinTokenFile) error) error {
	if err := os.MkdirAll(string(d), dirMode); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	lock, err := os.OpenFile(d.Path(joinTokensLockFile), os.O_CREATE|os.O_RDWR, keyMode)
	if err != nil {
		return fmt.Errorf("certs: join tokens: lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("certs: join tokens: lock: %w", err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	f, err := d.readJoinTokens()
	if err != nil {
		return err
	}
	if err := change(f); err != nil {
		return err
	}
	cutoff := time.Now().Add(-joinTokenKeep)
	f.Tokens = slices.DeleteFunc(f.Tokens, func(r JoinTokenRecord) bool {
		return r.Expires.Before(cutoff) || !r.Revoked.IsZero() && r.Revoked.Before(cutoff)
	})
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("certs: join tokens: %w", err)
	}
	return writeFileAtomic(d.Path(JoinTokensFile), append(b, '\n'), keyMode)
}
