package certs

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Join tokens let a new machine enroll into a cluster whose CA it has never seen, as
// kubeadm's bootstrap tokens do:
//
//	etcq1.<id>.<secret>.<ca-pin>
//
//	id      16 lower-case hex digits: names the token in the member's records, in logs and
//	        in `etcqctl certs token revoke`; not secret
//	secret  32 random bytes, base64url without padding: never leaves the joining machine
//	ca-pin  64 lower-case hex digits: SHA-256 of the cluster CA's SubjectPublicKeyInfo
//
// The joining machine trusts nothing but the pin: it dials the member with
// JoinClientConfig, which accepts the server only if the chain it presents holds a CA with
// that public key and the leaf chains to it (the member presents leaf + CA for enrollment,
// Reloader.JoinServerConfig); it sends nothing before that check. It then proves it holds
// the secret without sending it: JoinProof is an HMAC, keyed by a key derived from the
// secret, of the TLS session's exported keying material (RFC 5705/8446 exporter, label
// JoinExporterLabel), so a proof is worthless on any other connection and a member that
// is not the pinned cluster's never learns anything it could replay.
//
// The member keeps, per token, only the derived key (the "verifier"), the expiry and the
// revocation, in join-tokens.json in the PKI directory (0600; Dir.CreateJoinToken,
// Dir.RevokeJoinToken, Dir.JoinTokens, and Dir.VerifyJoinProof, which reads the file afresh
// at every enrollment so that etcqctl's changes apply at once). The verifier
// suffices to forge proofs, so the file is as secret as the tokens themselves; it lives
// next to ca-key.pem, which is worth more. What it does not hold is the token string: a
// token is printed once, when it is made, and cannot be printed again.
//
// Tokens are multi-use until they expire or are revoked (kubeadm's model): one token
// can enroll the members of a whole bootstrap. Every token expires; there is no
// never-expiring token. A token pins the CA of ca.pem when it is made, and the member
// presents the CA that signed its own certificate; a CA rotation changes both, so during
// one (once the member's certificate is re-issued by the new CA) and after it, tokens made
// before it no longer match: make new ones after `certs rotate ca finish`.

// JoinTokenPrefix starts every join token; the digit is the format's version.
const JoinTokenPrefix = "etcq1"

// JoinExporterLabel is the TLS exporter label whose keying material a join proof signs.
const JoinExporterLabel = "EXPORTER-etcq-join-1"

const (
	joinTokenIDBytes     = 8
	joinTokenSecretBytes = 32
	joinProofContext     = "etcq-join-proof/1"
	joinVerifierContext  = "etcq-join-verifier/1"
	joinBindingBytes     = 32
)

// Join token errors. A member answers a token it does not know and a wrong proof alike
// (ErrJoinTokenInvalid); it tells of expiry and revocation only to whoever proved to hold
// the secret.
var (
	// ErrJoinTokenInvalid: a token that does not parse, that the member does not know, or
	// whose proof is wrong.
	ErrJoinTokenInvalid = errors.New("certs: invalid join token")
	// ErrJoinTokenExpired: the token's time to live has passed.
	ErrJoinTokenExpired = errors.New("certs: join token has expired")
	// ErrJoinTokenRevoked: the token was revoked.
	ErrJoinTokenRevoked = errors.New("certs: join token has been revoked")
	// ErrPinMismatch: the server presented no CA with the pinned public key, or its
	// certificate does not chain to that CA.
	ErrPinMismatch = errors.New("certs: the server's CA does not match the pinned CA hash")
)

// Pin is the SHA-256 of a CA certificate's SubjectPublicKeyInfo (as kubeadm's
// --discovery-token-ca-cert-hash): it names the CA's key, whatever the certificate's
// other fields or its re-issue.
type Pin [sha256.Size]byte

// CAPin returns the pin of a certificate's public key.
func CAPin(c *x509.Certificate) Pin { return sha256.Sum256(c.RawSubjectPublicKeyInfo) }

// String is "sha256:" followed by the hex digest.
func (p Pin) String() string { return "sha256:" + hex.EncodeToString(p[:]) }

// ParsePin reads a pin written as String writes it, or as bare hex.
func ParsePin(s string) (Pin, error) {
	var p Pin
	h := strings.TrimPrefix(strings.TrimSpace(s), "sha256:")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != len(p) {
		return p, fmt.Errorf("%w: CA pin %q: want sha256: and %d hex digits", ErrMalformed, s, 2*len(p))
	}
	copy(p[:], b)
	return p, nil
}

// JoinToken is a parsed join token.
type JoinToken struct {
	ID     string // 16 lower-case hex digits
	Secret []byte // 32 bytes
	CAPin  Pin
}

// newJoinToken makes a token with a random ID and secret for the CA pinned by pin.
func newJoinToken(pin Pin) (JoinToken, error) {
	id := make([]byte, joinTokenIDBytes)
	secret := make([]byte, joinTokenSecretBytes)
	if _, err := rand.Read(id); err != nil {
		return JoinToken{}, fmt.Errorf("certs: join token: %w", err)
	}
	if _, err := rand.Read(secret); err != nil {
		return JoinToken{}, fmt.Errorf("certs: join token: %w", err)
	}
	return JoinToken{ID: hex.EncodeToString(id), Secret: secret, CAPin: pin}, nil
}

// String is the token's text form, etcq1.<id>.<secret>.<ca-pin>.
func (t JoinToken) String() string {
	return JoinTokenPrefix + "." + t.ID + "." + base64.RawURLEncoding.EncodeToString(t.Secret) + "." + hex.EncodeToString(t.CAPin[:])
}

// ParseJoinToken reads a token's text form. Errors wrap ErrJoinTokenInvalid and never
// quote the secret.
func ParseJoinToken(s string) (JoinToken, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 4 || parts[0] != JoinTokenPrefix {
		return JoinToken{}, fmt.Errorf("%w: want %s.<id>.<secret>.<ca-pin>", ErrJoinTokenInvalid, JoinTokenPrefix)
	}
	var t JoinToken
	if err := checkJoinTokenID(parts[1]); err != nil {
		return JoinToken{}, err
	}
	t.ID = parts[1]
	secret, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(secret) != joinTokenSecretBytes {
		return JoinToken{}, fmt.Errorf("%w: token %s: the secret is not %d base64url bytes", ErrJoinTokenInvalid, t.ID, joinTokenSecretBytes)
	}
	t.Secret = secret
	pin, err := hex.DecodeString(parts[3])
	if err != nil || len(pin) != len(t.CAPin) || strings.ToLower(parts[3]) != parts[3] {
		return JoinToken{}, fmt.Errorf("%w: token %s: the CA pin is not %d lower-case hex digits", ErrJoinTokenInvalid, t.ID, 2*len(t.CAPin))
	}
	copy(t.CAPin[:], pin)
	return t, nil
}

// checkJoinTokenID accepts 16 lower-case hex digits.
func checkJoinTokenID(id string) error {
	if len(id) != 2*joinTokenIDBytes || strings.Trim(id, "0123456789abcdef") != "" {
		return fmt.Errorf("%w: the token ID %q is not %d lower-case hex digits", ErrJoinTokenInvalid, id, 2*joinTokenIDBytes)
	}
	return nil
}

// verifier is the key the member keeps for the token: HMAC-SHA256(secret, context).
func (t JoinToken) verifier() []byte {
	return joinVerifier(t.Secret)
}

func joinVerifier(secret []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(joinVerifierContext))
	return mac.Sum(nil)
}

// Proof proves to hold the token on the TLS session whose keying material binding is
// (JoinBinding of the connection state): HMAC-SHA256(verifier, context, id, binding).
func (t JoinToken) Proof(binding []byte) []byte {
	return joinProof(t.verifier(), t.ID, binding)
}

func joinProof(verifier []byte, id string, binding []byte) []byte {
	mac := hmac.New(sha256.New, verifier)
	mac.Write([]byte(joinProofContext))
	mac.Write([]byte{0})
	mac.Write([]byte(id))
	mac.Write([]byte{0})
	mac.Write(binding)
	return mac.Sum(nil)
}

// JoinBinding exports the keying material of a TLS 1.3 session that a join proof signs.
// Both ends of the connection compute the same bytes; no other connection does.
func JoinBinding(cs tls.ConnectionState) ([]byte, error) {
	if cs.Version != tls.VersionTLS13 {
		return nil, fmt.Errorf("certs: join binding: TLS 1.3 is required, the session is %s", tls.VersionName(cs.Version))
	}
	b, err := cs.ExportKeyingMaterial(JoinExporterLabel, nil, joinBindingBytes)
	if err != nil {
		return nil, fmt.Errorf("certs: join binding: %w", err)
	}
	return b, nil
}
