package storage

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// "A full disk loses nothing": a child process lowers its own file size limit
// (RLIMIT_FSIZE) so that the store's file cannot grow, writes until a commit fails, and
// checks that nothing written is lost, neither while the disk is "full" nor after it has
// room again and the store is reopened.
//
// What bbolt does when its file grows decides where the failure happens:
//
//   - bbolt never writes a page past the end of the file: a commit that needs more room
//     first grows the file with ftruncate (and fsyncs), then writes its pages. With the
//     store's default 2 GiB InitialMmapSize the memory map is larger than bbolt's 16 MiB
//     AllocSize, so every growth adds the needed size plus 16 MiB: a fresh store's file is
//     already 16 MiB + 16 KiB. With a small map, the file grows to the map size, which
//     doubles. Either way a limit just above the current file size makes the commit fail
//     in ftruncate ("grow" and "grow-small-mmap" below).
//   - The file beyond the data is a hole: a real full disk fails the page writes into it
//     (ENOSPC from pwrite), not the ftruncate. A limit below the file size but above the
//     data in use makes the page writes fail with EFBIG instead ("write" below), which
//     is the closer imitation of a full disk.

// diskEnv carries "mode:dir" to the child; TestDiskFullChild does nothing without it.
const diskEnv = "ETCQ_DISK_CHILD"

func TestDiskFull(t *testing.T) {
	for _, mode := range []string{"grow", "grow-small-mmap", "write"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestDiskFullChild$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), diskEnv+"="+mode+":"+dir)
			out, err := cmd.CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte("--- PASS: TestDiskFullChild")) {
				t.Fatalf("child: %v\n%s", err, out)
			}
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, "disk_test.go") {
					t.Log(strings.TrimSpace(line))
				}
			}
			// The parent sees the same store the child left.
			s := mustOpen(t, filepath.Join(dir, "db"))
			defer s.Close()
			n := s.ConsistentIndex().Index
			if n == 0 {
				t.Fatal("the child left no data")
			}
			diskCheck(t, s, int(n))
		})
	}
}

func diskKey(i int) []byte { return fmt.Appendf(nil, "d/%06d", i) }

func diskValue(i int) []byte {
	return bytes.Repeat(fmt.Appendf(nil, "<%06d>", i), 2048) // 16 KiB, overflow pages
}

// diskCheck checks that s holds keys 0..n-1 with their values, and nothing else.
func diskCheck(t testing.TB, s *Store, n int) {
	t.Helper()
	r, err := s.Range(RangeRequest{Key: []byte("d/"), RangeEnd: []byte("d0")})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.KVs) != n {
		t.Fatalf("%d keys, want %d", len(r.KVs), n)
	}
	for i, kv := range r.KVs {
		if !bytes.Equal(kv.Key, diskKey(i)) || !bytes.Equal(kv.Value, diskValue(i)) {
			t.Fatalf("key %d: %q (%d bytes of value), want %q", i, kv.Key, len(kv.Value), diskKey(i))
		}
	}
}

// diskWrite writes keys n..n+7 in one session whose consistent index is the key count.
func diskWrite(t testing.TB, s *Store, n int) int {
	t.Helper()
	w := s.Write()
	defer w.End()
	for range 8 {
		if _, err := w.Put(PutRequest{Key: diskKey(n), Value: diskValue(n)}); err != nil {
			t.Fatal(err)
		}
		n++
	}
	w.SetConsistentIndex(uint64(n), 1)
	return n
}

func diskSetLimit(t testing.TB, cur uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = min(cur, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
}

// TestDiskFullChild is the child of TestDiskFull.
func TestDiskFullChild(t *testing.T) {
	mode, dir, ok := strings.Cut(os.Getenv(diskEnv), ":")
	if !ok {
		return
	}
	// Without this, exceeding the limit kills the process instead of failing the write.
	signal.Ignore(syscall.SIGXFSZ)
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &orig); err != nil {
		t.Fatal(err)
	}
	defer diskSetLimit(t, orig.Max)

	// Only explicit Commit calls commit.
	opts := Options{BatchInterval: time.Hour, BatchLimit: 1 << 30}
	if mode == "grow-small-mmap" {
		opts.InitialMmapSize = 64 << 10
	}
	path := filepath.Join(dir, "db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	n := 0
	for range 4 {
		n = diskWrite(t, s, n)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := s.Size()
	limit := uint64(st.Size()) + 4096 // just above the file
	if mode == "write" {
		limit = uint64(data) + 64<<10 // above the data, below the end of the file
		if limit >= uint64(st.Size()) {
			t.Fatalf("file of %d bytes has no room beyond its %d bytes of data", st.Size(), data)
		}
	}
	t.Logf("%s: file %d bytes, data %d bytes, limit set to %d", mode, st.Size(), data, limit)
	diskSetLimit(t, limit)

	var cerr error
	for cerr == nil {
		if n > 1<<16 {
			t.Fatalf("%d keys (%d bytes of values) committed under a file size limit of %d", n, n*len(diskValue(0)), limit)
		}
		n = diskWrite(t, s, n)
		cerr = s.Commit()
	}
	t.Logf("commit failed after %d keys: %v", n, cerr)
	if !strings.Contains(cerr.Error(), syscall.EFBIG.Error()) {
		t.Fatalf("commit failed, but not for the file size limit: %v", cerr)
	}
	if resize := strings.Contains(cerr.Error(), "resize"); resize != (mode != "write") {
		t.Fatalf("mode %s, yet the failure is %q (growing the file: %v)", mode, cerr, resize)
	}
	if err := s.Err(); err == nil {
		t.Fatal("Err is nil after a failed commit")
	}
	// Writes go on in memory while the disk is full; a retry fails again; reads see all.
	for range 3 {
		n = diskWrite(t, s, n)
	}
	if err := s.Commit(); err == nil {
		t.Fatal("commit succeeded past the file size limit")
	}
	if err := s.Err(); err == nil {
		t.Fatal("Err is nil after a second failed commit")
	}
	diskCheck(t, s, n)
	if ci := s.ConsistentIndex().Index; ci != uint64(n) {
		t.Fatalf("consistent index %d, want %d", ci, n)
	}

	// Room again: the next commit writes everything.
	diskSetLimit(t, orig.Max)
	if err := s.Commit(); err != nil {
		t.Fatalf("commit with room again: %v", err)
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Err after a successful commit: %v", err)
	}
	diskCheck(t, s, n)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path, opts); err != nil {
		t.Fatal(err)
	}
	diskCheck(t, s, n)
	if ci := s.ConsistentIndex().Index; ci != uint64(n) {
		t.Fatalf("consistent index after reopen %d, want %d", ci, n)
	}
	if st, err = os.Stat(path); err != nil {
		t.Fatal(err)
	}
	if uint64(st.Size()) <= limit {
		t.Fatalf("file of %d bytes did not grow past the old limit %d", st.Size(), limit)
	}
	t.Logf("%d keys intact after reopen; file now %d bytes", n, st.Size())
}
