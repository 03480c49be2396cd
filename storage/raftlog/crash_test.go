package raftlog

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The kill -9 test runs the test binary again as a child (TestKill9Child, which does
// nothing unless these variables are set). The child appends to the log and prints each
// index once Save has returned; the parent SIGKILLs it at a random moment and checks that
// the reopened log holds every printed index.
const (
	envChildDir  = "RAFTLOG_KILL9_DIR"
	envChildSeed = "RAFTLOG_KILL9_SEED"
	envSeed      = "RAFTLOG_KILL9_PARENT_SEED" // set to replay a failed run
)

// snapEvery is how often (in entries) the child takes a snapshot and releases.
const snapEvery = 300

func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(envSeed); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (replay with %s=%d)", seed, envSeed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()

	var printed, snapped uint64 // the highest index and snapshot the children reported
	for round := range 4 {
		killAfter := 20 + rng.IntN(1500) // lines read before the kill
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Child$", "-test.count=1")
		cmd.Env = append(os.Environ(), envChildDir+"="+dir, fmt.Sprintf("%s=%d", envChildSeed, rng.Uint64()))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		lines, killed := 0, false
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 2 || (f[0] != "saved" && f[0] != "snap") {
				continue // the testing package's own output
			}
			n, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				t.Fatalf("child printed %q", sc.Text())
			}
			if f[0] == "saved" {
				printed = max(printed, n)
			} else {
				snapped = max(snapped, n)
			}
			if lines++; lines == killAfter {
				// Keep reading: what the child printed before dying counts too.
				_ = cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
		err = cmd.Wait()
		if !killed {
			t.Fatalf("round %d: child exited before the kill (after %d lines): %v", round, lines, err)
		}
		t.Logf("round %d: killed after %d lines; printed up to %d, snapshot %d", round, lines, printed, snapped)

		l, st := mustOpen(t, dir, testOptions(t))
		snapIdx := st.Snapshot.GetMetadata().GetIndex()
		if snapIdx < snapped {
			t.Fatalf("round %d: snapshot %d, but the child saved %d", round, snapIdx, snapped)
		}
		last := snapIdx
		if n := len(st.Entries); n > 0 {
			last = st.Entries[n-1].GetIndex()
		}
		if last < printed {
			t.Fatalf("round %d: log ends at %d, but the child printed %d as saved", round, last, printed)
		}
		checkEntries(t, st.Entries, entries(snapIdx+1, last, 1))
		if st.HardState.GetCommit() < printed {
			t.Fatalf("round %d: commit %d < printed %d", round, st.HardState.GetCommit(), printed)
		}
		mustClose(t, l)
	}
}

// TestKill9Child is the child of TestKill9: it appends entries (term 1, random batches)
// forever, committing each batch, and prints "saved <last index>" after each Save and
// "snap <index>" after each SaveSnapshot + Release.
func TestKill9Child(t *testing.T) {
	dir := os.Getenv(envChildDir)
	if dir == "" {
		t.Skip("helper process of TestKill9")
	}
	seed, _ := strconv.ParseUint(os.Getenv(envChildSeed), 10, 64)
	rng := rand.New(rand.NewPCG(seed, 1))
	opts := testOptions(t)
	opts.KeepSnapshots = 2
	l, st, err := Open(dir, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: Open:", err)
		os.Exit(2)
	}
	last := st.Snapshot.GetMetadata().GetIndex()
	if n := len(st.Entries); n > 0 {
		last = st.Entries[n-1].GetIndex()
	}
	w := bufio.NewWriter(os.Stdout)
	for {
		n := 1 + uint64(rng.IntN(8))
		if err := l.Save(hardState(1, 1, last+n), entries(last+1, last+n, 1)); err != nil {
			fmt.Fprintln(os.Stderr, "child: Save:", err)
			os.Exit(2)
		}
		prev := last
		last += n
		fmt.Fprintf(w, "saved %d\n", last)
		if last/snapEvery != prev/snapEvery {
			if err := l.SaveSnapshot(snapshot(last, 1, fmt.Sprint("state at ", last))); err != nil {
				fmt.Fprintln(os.Stderr, "child: SaveSnapshot:", err)
				os.Exit(2)
			}
			if err := l.Release(last); err != nil {
				fmt.Fprintln(os.Stderr, "child: Release:", err)
				os.Exit(2)
			}
			fmt.Fprintf(w, "snap %d\n", last)
		}
		// One write(2) per Save: a line is out only once its Save has returned.
		if err := w.Flush(); err != nil {
			os.Exit(3)
		}
	}
}
