package main

import (
	"regexp"
	"strings"
	"testing"
)

func TestLock(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	holder := f.spawn(nil, "lock", "mylock")
	out := holder.stdout.wait(t, testCtx(t), "the lock's key", func(s string) bool { return strings.Count(s, "\n") == 2 })
	m := regexp.MustCompile(`^(mylock/[0-9a-f]+)\n\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("lock printed %q", out)
	}
	key := m[1]

	// A second locker with a command queues behind the holder.
	script := `echo "$ETCQ_LOCK_KEY $ETCD_LOCK_KEY $ETCQ_LOCK_REV"; exit 7`
	waiter := f.spawn(nil, "lock", "mylock", "--", "sh", "-c", script)
	waitKeys(t, f, "mylock/", 2)
	if s := waiter.stdout.String(); s != "" {
		t.Fatalf("the waiter ran its command while the lock was held: %q", s)
	}
	if code := holder.stop(t); code != 0 {
		t.Errorf("interrupted holder: exit %d, stderr %q", code, holder.stderr)
	}
	// The holder released the lock: the waiter runs its command, releases the lock, and
	// exits with the command's code.
	if code := waiter.exit(t); code != 7 {
		t.Errorf("waiter: exit %d, want the command's 7; stderr %q", code, waiter.stderr)
	}
	fields := strings.Fields(waiter.stdout.String())
	if len(fields) != 3 || fields[0] != fields[1] || !strings.HasPrefix(fields[0], "mylock/") || fields[0] == key {
		t.Errorf("the command saw %q", waiter.stdout)
	}
	waitKeys(t, f, "mylock/", 0)

	// A successful command: exit 0.
	if r := f.ctl("lock", "other", "--", "true"); r.code != 0 {
		t.Errorf("lock with true: exit %d, %q", r.code, r.stderr)
	}
}

func TestElect(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	observer := f.spawn(nil, "elect", "-l", "myelection")
	leader := f.spawn(nil, "elect", "myelection", "p1")
	out := leader.stdout.wait(t, testCtx(t), "the leadership", func(s string) bool { return strings.Count(s, "\n") == 2 })
	if !regexp.MustCompile(`^myelection/[0-9a-f]+\np1\n$`).MatchString(out) {
		t.Fatalf("elect printed %q", out)
	}
	observer.stdout.wait(t, testCtx(t), "the first leader", func(s string) bool { return strings.HasSuffix(s, "\np1\n") })

	second := f.spawn(nil, "elect", "myelection", "p2")
	waitKeys(t, f, "myelection/", 2)
	if s := second.stdout.String(); s != "" {
		t.Fatalf("a second candidate leads alongside the first: %q", s)
	}
	if code := leader.stop(t); code != 0 {
		t.Errorf("the interrupted leader: exit %d, %q", code, leader.stderr)
	}
	second.stdout.wait(t, testCtx(t), "the second leadership", func(s string) bool { return strings.HasSuffix(s, "\np2\n") })
	observer.stdout.wait(t, testCtx(t), "the second leader", func(s string) bool { return strings.HasSuffix(s, "\np2\n") })
	second.stop(t)
	if code := observer.stop(t); code != 0 {
		t.Errorf("the interrupted observer: exit %d", code)
	}
}

// waitKeys waits until n keys exist under prefix.
func waitKeys(t *testing.T, f *fixture, prefix string, n int) {
	t.Helper()
	c := f.client()
	ctx := testCtx(t)
	for {
		resp, err := c.Get(ctx, prefix, prefixOpts()...)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Count == int64(n) {
			return
		}
		waitRevisionAfter(t, c, resp.Header.Revision)
	}
}
