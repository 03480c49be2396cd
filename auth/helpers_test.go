package auth

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"etcq.dev/etcq/rbac"
)

// hashes caches one bcrypt hash per password (at the minimum cost), so that tests do not
// pay bcrypt more than once per password, and ops replayed on two States carry the same
// hash, as they would in a raft log.
var hashes sync.Map

func hashOf(t testing.TB, password string) []byte {
	t.Helper()
	if h, ok := hashes.Load(password); ok {
		return h.([]byte)
	}
	h, err := HashPasswordCost(password, bcrypt.MinCost)
	if err != nil {
		t.Fatalf("HashPasswordCost(%q): %v", password, err)
	}
	h2, _ := hashes.LoadOrStore(password, h)
	return h2.([]byte)
}

// testKey is a fixed token key: tests are deterministic.
var testKey = bytes.Repeat([]byte{0x5a}, TokenKeySize)

// t0 is the tests' "now": the clock is never read.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// must fails the test on an error.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr checks that err matches want (nil for success).
func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s: %v, want success", what, err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s: %v, want %v", what, err, want)
	}
}

// withRoot is a state with user root (password "rootpw", role root), user alice (password
// "alicepw", role app) and user bob (no password, role reader); app may read and write
// /app/, reader may read /app/. Auth is disabled.
func withRoot(t testing.TB) *State {
	t.Helper()
	s := New()
	must(t, s.UserAdd("root", hashOf(t, "rootpw"), false))
	must(t, s.UserGrantRole("root", rbac.RootRole))
	must(t, s.RoleAdd("app"))
	must(t, s.RoleGrantPermission("app", rbac.Permission{Type: rbac.ReadWrite, Key: []byte("/app/"), RangeEnd: rbac.PrefixEnd([]byte("/app/"))}))
	must(t, s.RoleAdd("reader"))
	must(t, s.RoleGrantPermission("reader", rbac.Permission{Type: rbac.Read, Key: []byte("/app/"), RangeEnd: rbac.PrefixEnd([]byte("/app/"))}))
	must(t, s.UserAdd("alice", hashOf(t, "alicepw"), false))
	must(t, s.UserGrantRole("alice", "app"))
	must(t, s.UserAdd("bob", nil, true))
	must(t, s.UserGrantRole("bob", "reader"))
	return s
}

// enabled is withRoot with auth enabled under testKey.
func enabled(t testing.TB) *State {
	t.Helper()
	s := withRoot(t)
	must(t, s.Enable(testKey))
	return s
}

// tokenTTL is the tests' token lifetime.
const tokenTTL = 5 * time.Minute
