package node

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"etcq.dev/etcq/storage"
)

// TestRestoreDataDir: a snapshot of a member's store becomes the store of a new data dir,
// with its keys and revision, its consistent index back at 0 and no trace of the old
// cluster's membership; an existing data dir is refused, and a damaged snapshot leaves
// nothing behind.
func TestRestoreDataDir(t *testing.T) {
	m, err := New(singleConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	waitLeader(t, m)
	ctx := testContext(t)
	for _, k := range []string{"a", "b", "c"} {
		if _, err := m.Put(ctx, storage.PutRequest{Key: []byte(k), Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	if keys, _ := m.store.AuxPrefix(auxMembers); len(keys) == 0 {
		t.Fatal("the member's store records no membership: nothing for the restore to drop")
	}
	sn, err := m.store.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var image bytes.Buffer
	_, err = sn.WriteTo(&image)
	sn.Close()
	if err != nil {
		t.Fatal(err)
	}
	rev := m.store.Rev()

	dir := filepath.Join(t.TempDir(), "restored")
	st, err := RestoreDataDir(bytes.NewReader(image.Bytes()), dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Revision != rev || st.Keys != 3 {
		t.Fatalf("restored %+v, want revision %d and 3 keys", st, rev)
	}
	s, err := storage.Open(filepath.Join(dir, "member", "db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ci := s.ConsistentIndex(); ci.Index != 0 {
		t.Errorf("restored consistent index %+v, want 0", ci)
	}
	for _, prefix := range []string{auxMembers, auxRemoved, auxRefused} {
		if keys, _ := s.AuxPrefix(prefix); len(keys) != 0 {
			t.Errorf("restored store keeps the old cluster's %q: %q", prefix, keys)
		}
	}
	got, err := s.Range(storage.RangeRequest{Key: []byte("b")})
	if err != nil || len(got.KVs) != 1 || string(got.KVs[0].Value) != "v" {
		t.Errorf("restored b: %+v, %v", got, err)
	}
	s.Close()

	if _, err := RestoreDataDir(bytes.NewReader(image.Bytes()), dir); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("restore into an existing data dir: %v", err)
	}
	damaged := bytes.Clone(image.Bytes())
	damaged[len(damaged)/2] ^= 0xff
	other := filepath.Join(t.TempDir(), "damaged")
	if _, err := RestoreDataDir(bytes.NewReader(damaged), other); err == nil {
		t.Fatal("a damaged snapshot was restored")
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Fatalf("a failed restore left %s behind: %v", other, err)
	}
}
