package storage

import (
	"bytes"
	"path/filepath"
	"testing"
)

func TestAuxPersistsWithTheSession(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s := mustOpen(t, path)
	w := s.Write()
	w.SetAux("members/1", []byte("one"))
	w.SetAux("members/2", []byte("two"))
	w.SetAux("other", []byte("x"))
	w.SetConsistentIndex(7, 1)
	w.End()
	w = s.Write()
	w.SetAux("members/2", nil)
	w.End()
	if v, ok := s.Aux("members/1"); !ok || string(v) != "one" {
		t.Fatalf("aux before commit: %q %v", v, ok)
	}
	keys, vals := s.AuxPrefix("members/")
	if len(keys) != 1 || keys[0] != "members/1" || string(vals[0]) != "one" {
		t.Fatalf("prefix: %v %q", keys, vals)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, path)
	defer s.Close()
	if _, ok := s.Aux("members/2"); ok {
		t.Fatal("deleted aux value came back")
	}
	if v, _ := s.Aux("other"); !bytes.Equal(v, []byte("x")) {
		t.Fatalf("other: %q", v)
	}
	if rev := s.Rev(); rev != 1 {
		t.Fatalf("aux values moved the revision to %d", rev)
	}

	// They travel in snapshots.
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := snap.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	snap.Close()
	dst := filepath.Join(t.TempDir(), "restored")
	if err := RestoreFile(&buf, dst); err != nil {
		t.Fatal(err)
	}
	r := mustOpen(t, dst)
	defer r.Close()
	if v, _ := r.Aux("members/1"); string(v) != "one" {
		t.Fatalf("restored aux: %q", v)
	}
}
