package auth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"testing"

	"etcq.dev/etcq/rbac"
)

// FuzzDecode feeds Decode arbitrary bytes: it must never panic, must fail with ErrCorrupt
// or succeed, and what it accepts must re-encode to exactly the input and make a usable
// View. Each input is tried as is and with a valid checksum appended, so that the fuzzer
// gets past the CRC into the parser.
func FuzzDecode(f *testing.F) {
	f.Add(New().Encode())
	f.Add(withRoot(f).Encode())
	f.Add(enabled(f).Encode())
	s := New()
	for _, o := range randomOps(f, rand.New(rand.NewPCG(1, 2)), 300) {
		_ = o.apply(s)
	}
	f.Add(s.Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		fixed := binary.BigEndian.AppendUint32(bytes.Clone(data), crc32.Checksum(data, castagnoli))
		for _, b := range [][]byte{data, fixed} {
			s, err := Decode(b)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Decode: %v, not ErrCorrupt", err)
				}
				continue
			}
			if !bytes.Equal(s.Encode(), b) {
				t.Fatalf("accepted %x, which re-encodes to %x", b, s.Encode())
			}
			v := s.View()
			for _, u := range s.UserList() {
				v.Allowed(u, rbac.ReadWrite, []byte("a"), []byte{0})
			}
		}
	})
}

// FuzzVerifyToken feeds a View's token check arbitrary strings (a token comes straight
// from a client's request): it must never panic, and must accept only what was signed.
func FuzzVerifyToken(f *testing.F) {
	s := enabled(f)
	v := s.View()
	good, err := v.IssueToken("alice", t0, tokenTTL)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("")
	f.Add(good[:len(good)-1])
	f.Add(signToken(testKey, "root", v.Revision(), t0.Add(tokenTTL)))
	f.Fuzz(func(t *testing.T, token string) {
		user, rev, err := v.VerifyToken(token, t0)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("VerifyToken: %v, not ErrInvalidToken", err)
			}
			return
		}
		// Accepted: it must carry a valid MAC of exactly what it says.
		raw, derr := tokenEncoding.DecodeString(token)
		if derr != nil || !bytes.Equal(raw[len(raw)-tokenMACSize:], tokenMAC(testKey, raw[:len(raw)-tokenMACSize])) {
			t.Fatalf("accepted %q without a valid signature", token)
		}
		if user == "" || rev == 0 {
			t.Fatalf("accepted %q for user %q at revision %d", token, user, rev)
		}
	})
}
