package storage

import (
	"path/filepath"
	"testing"
)

func mustOpen(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func TestSmoke(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s := mustOpen(t, path)
	if s.Rev() != 1 {
		t.Fatalf("rev %d", s.Rev())
	}
	r, err := s.Put(PutRequest{Key: []byte("a"), Value: []byte("1")})
	if err != nil || r.Revision != 2 {
		t.Fatalf("put %v %v", r, err)
	}
	s.Put(PutRequest{Key: []byte("a"), Value: []byte("2")})
	s.Put(PutRequest{Key: []byte("b"), Value: []byte("3")})
	g, err := s.Range(RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.KVs) != 2 || string(g.KVs[0].Value) != "2" || g.KVs[0].Version != 2 || g.KVs[0].CreateRevision != 2 {
		t.Fatalf("range %+v", g)
	}
	old, err := s.Range(RangeRequest{Key: []byte("a"), Revision: 2})
	if err != nil || string(old.KVs[0].Value) != "1" {
		t.Fatalf("old %+v %v", old, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, path)
	defer s.Close()
	if s.Rev() != 4 {
		t.Fatalf("rev after reopen %d", s.Rev())
	}
	g, err = s.Range(RangeRequest{Key: []byte("a"), Revision: 2})
	if err != nil || string(g.KVs[0].Value) != "1" {
		t.Fatalf("old after reopen %+v %v", g, err)
	}
}
