package storage

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
)

// TestLeaseKeys follows keys through puts with and without leases, lease changes,
// ignore_lease, deletes, txns and lease revokes, and finds the same attachments after a
// reopen (the index is rebuilt from the records).
func TestLeaseKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustPut := func(key string, lease int64) {
		t.Helper()
		if _, err := s.Put(PutRequest{Key: []byte(key), Value: []byte("v"), Lease: lease}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(s *Store, lease int64, want ...string) {
		t.Helper()
		got := fmt.Sprintf("%q", s.LeaseKeys(lease))
		w := make([][]byte, len(want))
		for i, k := range want {
			w[i] = []byte(k)
		}
		if exp := fmt.Sprintf("%q", w); got != exp {
			t.Fatalf("lease %d keys = %s, want %s", lease, got, exp)
		}
	}
	mustPut("a", 7)
	mustPut("b", 7)
	mustPut("c", 8)
	mustPut("d", 0)
	mustPut("b", 8) // moves to lease 8
	if _, err := s.Put(PutRequest{Key: []byte("c"), Value: []byte("x"), IgnoreLease: true}); err != nil {
		t.Fatal(err)
	}
	check(s, 7, "a")
	check(s, 8, "b", "c")
	if _, err := s.DeleteRange(DeleteRangeRequest{Key: []byte("c")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Txn(TxnRequest{Success: []RequestOp{{Put: &PutRequest{Key: []byte("d"), Lease: 7}}}}); err != nil {
		t.Fatal(err)
	}
	check(s, 7, "a", "d")
	check(s, 8, "b")
	w := s.Write()
	if n, err := w.DeleteKeys(s.LeaseKeys(7)); err != nil || n != 2 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	w.End()
	check(s, 7)
	mustPut("e", 9)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	check(s2, 7)
	check(s2, 8, "b")
	check(s2, 9, "e")
}

// TestLeaseExists refuses puts with unknown leases, alone and in a txn, where nothing of
// the txn is applied.
func TestLeaseExists(t *testing.T) {
	known := map[int64]bool{1: true}
	s, err := Open(filepath.Join(t.TempDir(), "db"), Options{LeaseExists: func(id int64) bool { return known[id] }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Put(PutRequest{Key: []byte("k"), Lease: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(PutRequest{Key: []byte("k"), Lease: 2}); !errors.Is(err, ErrLeaseNotFound) {
		t.Fatalf("put with an unknown lease: %v", err)
	}
	rev := s.Rev()
	_, err = s.Txn(TxnRequest{Success: []RequestOp{
		{Put: &PutRequest{Key: []byte("x")}},
		{Put: &PutRequest{Key: []byte("y"), Lease: 3}},
	}})
	if !errors.Is(err, ErrLeaseNotFound) || s.Rev() != rev {
		t.Fatalf("txn with an unknown lease: %v, revision %d -> %d", err, rev, s.Rev())
	}
	// The branch not taken may name anything.
	if _, err := s.Txn(TxnRequest{Failure: []RequestOp{{Put: &PutRequest{Key: []byte("y"), Lease: 3}}}, Success: []RequestOp{{Put: &PutRequest{Key: []byte("z")}}}}); err != nil {
		t.Fatal(err)
	}
}
