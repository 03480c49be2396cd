package storage

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
)

// TestDefragShrinksAndKeepsEverything fills the store, deletes and compacts most of it,
// defragments, and finds the file smaller, every live key and the history above the
// compaction intact, watchers served and writes accepted afterwards, also after a reopen.
func TestDefragShrinksAndKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	val := bytes.Repeat([]byte("v"), 1024)
	for i := range 3000 {
		if _, err := s.Put(PutRequest{Key: []byte(fmt.Sprintf("k%05d", i)), Value: val}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteRange(DeleteRangeRequest{Key: []byte("k00100"), RangeEnd: []byte("k9")}); err != nil {
		t.Fatal(err)
	}
	done, err := s.Compact(s.Rev())
	if err != nil {
		t.Fatal(err)
	}
	<-done
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	ws := s.NewWatchStream(0)
	defer ws.Close()
	if _, err := ws.Watch(WatchRequest{ID: AutoWatchID, Key: []byte("k"), RangeEnd: []byte("l")}); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Size()
	hashBefore, err := s.HashKV(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Defrag(); err != nil {
		t.Fatal(err)
	}
	after, _ := s.Size()
	if after >= before {
		t.Fatalf("file grew or stayed: %d -> %d bytes", before, after)
	}
	hashAfter, err := s.HashKV(0)
	if err != nil || hashAfter != hashBefore {
		t.Fatalf("history hash %+v before, %+v after (%v)", hashBefore, hashAfter, err)
	}
	r, err := s.Range(RangeRequest{Key: []byte("k"), RangeEnd: []byte("l"), CountOnly: true})
	if err != nil || r.Count != 100 {
		t.Fatalf("live keys after defrag: %+v %v", r, err)
	}
	put, err := s.Put(PutRequest{Key: []byte("k99999"), Value: []byte("new")})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case wr := <-ws.C():
		if len(wr.Events) != 1 || wr.Events[0].KV.ModRevision != put.Revision {
			t.Fatalf("watch after defrag: %+v", wr)
		}
	default:
		// Delivery happens when the write ends; it has ended.
		t.Fatal("watcher got nothing for a write after defrag")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if r, err := s2.Range(RangeRequest{Key: []byte("k"), RangeEnd: []byte("l"), CountOnly: true}); err != nil || r.Count != 101 {
		t.Fatalf("live keys after reopen: %+v %v", r, err)
	}
}
