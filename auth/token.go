package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"
)

// Token layout. A token is the unpadded base64url encoding of
//
//	byte     tokenVersion (1)
//	u64 BE   the auth revision the token was issued at
//	i64 BE   its expiry, Unix nanoseconds
//	bytes    the user name (the rest up to the MAC)
//	32 bytes HMAC-SHA256 under the state's token key of everything before it
//
// It is stateless: any member verifies any member's token with the replicated key, and
// revocation comes from comparing the issue revision with the replicated state (View).
const (
	tokenVersion  = 1
	tokenHeader   = 1 + 8 + 8
	tokenMACSize  = sha256.Size
	maxTokenChars = 64 << 10 // longer strings are refused before decoding
)

// DefaultTokenTTL is how long a token lives unless the node is told otherwise (etcd's
// default for its tokens).
const DefaultTokenTTL = 5 * time.Minute

var tokenEncoding = base64.RawURLEncoding

// signToken makes the token of user at authRev, expiring at expiry.
func signToken(key []byte, user string, authRev uint64, expiry time.Time) string {
	b := make([]byte, tokenHeader, tokenHeader+len(user)+tokenMACSize)
	b[0] = tokenVersion
	binary.BigEndian.PutUint64(b[1:], authRev)
	binary.BigEndian.PutUint64(b[9:], uint64(expiry.UnixNano()))
	b = append(b, user...)
	return tokenEncoding.EncodeToString(append(b, tokenMAC(key, b)...))
}

// tokenMAC is the MAC of a token's body under key.
func tokenMAC(key, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return mac.Sum(nil)
}

// parseToken checks a token's form and signature and returns what it says. It does not
// look at the clock or the state.
func parseToken(key []byte, token string) (user string, authRev uint64, expiry int64, err error) {
	if len(token) > maxTokenChars {
		return "", 0, 0, fmt.Errorf("%w: %d characters", ErrInvalidToken, len(token))
	}
	b, err := tokenEncoding.DecodeString(token)
	if err != nil {
		return "", 0, 0, fmt.Errorf("%w: not base64url: %w", ErrInvalidToken, err)
	}
	if len(b) < tokenHeader+tokenMACSize || b[0] != tokenVersion {
		return "", 0, 0, fmt.Errorf("%w: malformed", ErrInvalidToken)
	}
	body, sum := b[:len(b)-tokenMACSize], b[len(b)-tokenMACSize:]
	if !hmac.Equal(tokenMAC(key, body), sum) {
		return "", 0, 0, fmt.Errorf("%w: bad signature", ErrInvalidToken)
	}
	return string(body[tokenHeader:]), binary.BigEndian.Uint64(body[1:]),
		int64(binary.BigEndian.Uint64(body[9:])), nil
}
