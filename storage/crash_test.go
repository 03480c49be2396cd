package storage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash test runs a child process (this test binary, re-executed) that applies raft
// entries to a store as fast as it can, kills it with SIGKILL at a random point, and checks
// that the reopened store holds exactly the entries up to its consistent index: nothing
// half-applied, nothing beyond.

// crashEnv names the directory of the child's store; TestCrashChild does nothing without it.
const crashEnv = "ETCQ_CRASH_CHILD"

func crashKey(i uint64, suffix string) []byte { return fmt.Appendf(nil, "e/%06d/%s", i, suffix) }

// crashPrefix returns the range of every key of entry i.
func crashPrefix(i uint64) (key, end []byte) {
	key = fmt.Appendf(nil, "e/%06d/", i)
	end = bytes.Clone(key)
	end[len(end)-1]++
	return key, end
}

// crashEntry applies raft entry i in write session w. The operations depend on i alone:
// two puts, a txn whose compare fails every third entry, a put or delete of a hot key with
// a long history, and every fourth entry the deletion of an older entry's keys.
func crashEntry(w *Write, i uint64) error {
	v := strconv.AppendUint(nil, i, 10)
	if _, err := w.Put(PutRequest{Key: crashKey(i, "a"), Value: v}); err != nil {
		return err
	}
	if _, err := w.Put(PutRequest{Key: crashKey(i, "b"), Value: v, Lease: int64(i % 3)}); err != nil {
		return err
	}
	want := int64(1)
	if i%3 == 0 {
		want = 2
	}
	if _, err := w.Txn(TxnRequest{
		Compare: []Compare{{Target: TargetVersion, Result: CompareEqual, Key: crashKey(i, "a"), Version: want}},
		Success: []RequestOp{{Put: &PutRequest{Key: []byte("txn/ok"), Value: v}}, {Put: &PutRequest{Key: crashKey(i, "c"), Value: v}}},
		Failure: []RequestOp{{Put: &PutRequest{Key: []byte("txn/fail"), Value: v}}},
	}); err != nil {
		return err
	}
	if i%10 == 0 {
		if _, err := w.DeleteRange(DeleteRangeRequest{Key: []byte("hot")}); err != nil {
			return err
		}
	} else if _, err := w.Put(PutRequest{Key: []byte("hot"), Value: v}); err != nil {
		return err
	}
	if i%4 == 0 && i > 8 {
		key, end := crashPrefix(i - 7)
		if _, err := w.DeleteRange(DeleteRangeRequest{Key: key, RangeEnd: end}); err != nil {
			return err
		}
	}
	return nil
}

// crashApply applies entries from..to to s, one session each, recording the consistent
// index with term 1.
func crashApply(t testing.TB, s *Store, from, to uint64) {
	t.Helper()
	for i := from; i <= to; i++ {
		w := s.Write()
		if err := crashEntry(w, i); err != nil {
			w.End()
			t.Fatalf("entry %d: %v", i, err)
		}
		w.SetConsistentIndex(i, 1)
		w.End()
	}
}

// crashModel computes what the store holds after entries 1..n, independently of it.
type crashModel struct {
	rev int64
	kvs map[string]KeyValue
}

func (m *crashModel) put(k []byte, v []byte, lease int64) {
	kv, ok := m.kvs[string(k)]
	if !ok {
		kv = KeyValue{Key: k, CreateRevision: m.rev}
	}
	kv.ModRevision, kv.Version, kv.Value, kv.Lease = m.rev, kv.Version+1, v, lease
	m.kvs[string(k)] = kv
}

func (m *crashModel) apply(i uint64) {
	v := strconv.AppendUint(nil, i, 10)
	m.rev++
	m.put(crashKey(i, "a"), v, 0)
	m.rev++
	m.put(crashKey(i, "b"), v, int64(i%3))
	want := int64(1)
	if i%3 == 0 {
		want = 2
	}
	m.rev++
	if m.kvs[string(crashKey(i, "a"))].Version == want {
		m.put([]byte("txn/ok"), v, 0)
		m.put(crashKey(i, "c"), v, 0)
	} else {
		m.put([]byte("txn/fail"), v, 0)
	}
	if i%10 == 0 {
		if _, ok := m.kvs["hot"]; ok {
			m.rev++
			delete(m.kvs, "hot")
		}
	} else {
		m.rev++
		m.put([]byte("hot"), v, 0)
	}
	if i%4 == 0 && i > 8 {
		key, end := crashPrefix(i - 7)
		var dels []string
		for k := range m.kvs {
			if k >= string(key) && k < string(end) {
				dels = append(dels, k)
			}
		}
		if len(dels) > 0 {
			m.rev++
			for _, k := range dels {
				delete(m.kvs, k)
			}
		}
	}
}

func crashModelAt(n uint64) *crashModel {
	m := &crashModel{rev: 1, kvs: make(map[string]KeyValue)}
	for i := uint64(1); i <= n; i++ {
		m.apply(i)
	}
	return m
}

// crashCheck checks that s holds exactly the state after entries 1..n.
func crashCheck(t testing.TB, s *Store, n uint64) {
	t.Helper()
	m := crashModelAt(n)
	if s.Rev() != m.rev {
		t.Fatalf("after entry %d: rev %d, want %d", n, s.Rev(), m.rev)
	}
	r, err := s.Range(RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}})
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(m.kvs))
	for k := range m.kvs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := make([]KeyValue, 0, len(keys))
	for _, k := range keys {
		want = append(want, m.kvs[k])
	}
	snapSameKVs(t, fmt.Sprintf("state after entry %d", n), r.KVs, want)
}

// TestCrashChild is the child of TestCrashConsistency: it applies entries after the
// store's consistent index forever, printing "applied <i>" after each session, until it is
// killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		return
	}
	s, err := Open(filepath.Join(dir, "db"), Options{BatchInterval: 5 * time.Millisecond, BatchLimit: 40})
	if err != nil {
		t.Fatal(err)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := s.ConsistentIndex().Index + 1; ; i++ {
		crashApply(t, s, i, i)
		fmt.Fprintf(out, "applied %d\n", i)
		if err := out.Flush(); err != nil {
			t.Fatal(err) // the parent is gone
		}
	}
}

// crashRunChild runs the child on dir until it reports entry target, kills it, and
// returns the last entry it reported.
func crashRunChild(t *testing.T, dir string, target uint64) (last uint64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var other []string
	killed := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		n, ok := strings.CutPrefix(sc.Text(), "applied ")
		if !ok {
			other = append(other, sc.Text())
			continue
		}
		if last, err = strconv.ParseUint(n, 10, 64); err != nil {
			t.Fatalf("child says %q", sc.Text())
		}
		if !killed && last >= target {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	werr := cmd.Wait()
	var ee *exec.ExitError
	if !killed || !errors.As(werr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended on its own after entry %d (waiting for %d): %v\nstdout: %s\nstderr: %s",
			last, target, werr, strings.Join(other, "\n"), stderr.Bytes())
	}
	for _, bad := range []string{"DATA RACE", "panic:", "fatal error"} {
		if strings.Contains(stderr.String(), bad) {
			t.Fatalf("child stderr reports %q:\n%s", bad, stderr.Bytes())
		}
	}
	return last
}

func TestCrashConsistency(t *testing.T) {
	rng := rand.New(rand.NewPCG(snapSeed(t), 0))
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	var durable uint64 // entries a clean close has made durable
	for round := range 4 {
		target := durable + 1 + rng.Uint64N(400)
		last := crashRunChild(t, dir, target)

		s := mustOpen(t, path)
		ci := s.ConsistentIndex()
		t.Logf("round %d: killed once entry %d was reported (the child had reported %d); recovered consistent index %d",
			round, target, last, ci.Index)
		// A session may be committed between its End and its report, hence last+1.
		if ci.Index < durable || ci.Index > last+1 || (ci.Index > 0 && ci.Term != 1) {
			s.Close()
			t.Fatalf("consistent index %+v after a kill; durable before %d, last reported %d", ci, durable, last)
		}
		crashCheck(t, s, ci.Index)

		// Replay goes on from the consistent index, and a clean close keeps it all.
		more := ci.Index + 1 + rng.Uint64N(20)
		crashApply(t, s, ci.Index+1, more)
		crashCheck(t, s, more)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = mustOpen(t, path)
		if got := s.ConsistentIndex(); got != (ConsistentIndex{Index: more, Term: 1}) {
			s.Close()
			t.Fatalf("after a clean close: consistent index %+v, want %d", got, more)
		}
		crashCheck(t, s, more)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		durable = more
	}
}

// TestCrashModel checks the model against a store that never crashes, entry by entry, so
// that a crash test failure cannot come from a wrong model.
func TestCrashModel(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "db"))
	defer s.Close()
	for i := uint64(1); i <= 60; i++ {
		crashApply(t, s, i, i)
		crashCheck(t, s, i)
	}
	if len(crashModelAt(60).kvs) == 0 {
		t.Fatal("empty model")
	}
}
