package main

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestWatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ctl("put", "foo", "bar").must(t) // revision 2
	w := f.spawn(nil, "watch", "foo", "--rev=2", "--prev-kv")
	f.ctl("put", "foo", "baz").must(t)
	f.ctl("del", "foo").must(t)
	want := "PUT\nfoo\nbar\nPUT\nfoo\nbar\nfoo\nbaz\nDELETE\nfoo\nbaz\nfoo\n\n"
	w.stdout.wait(t, testCtx(t), "three events", func(s string) bool { return s == want })
	if code := w.stop(t); code != exitSignal {
		t.Errorf("interrupted watch: exit %d", code)
	}

	// --prefix, -w json, from the next revision (5): what it sees does not depend on when
	// the watch is set up.
	w = f.spawn(nil, "-w", "json", "watch", "--prefix", "fo", "--rev=5")
	f.ctl("put", "fox", "1").must(t)
	out := w.stdout.wait(t, testCtx(t), "the event", func(s string) bool { return strings.HasSuffix(s, "\n") })
	if !strings.HasPrefix(out, `{"Header":{"cluster_id":`) || !strings.Contains(out, `"Events":[{"kv":{"key":"Zm94","create_revision":5,"mod_revision":5,"version":1,"value":"MQ=="}}]`) {
		t.Errorf("watch -w json printed %q", out)
	}
	w.stop(t)
}

func TestWatchRunsACommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ctl("put", "k1", "v1").must(t) // revision 2
	f.ctl("put", "k2", "two words").must(t)
	f.ctl("del", "k1").must(t)
	script := `echo "exec $ETCQ_WATCH_REVISION $ETCQ_WATCH_EVENT_TYPE $ETCQ_WATCH_KEY $ETCQ_WATCH_VALUE | $ETCD_WATCH_EVENT_TYPE $ETCD_WATCH_KEY"`
	w := f.spawn(nil, "watch", "--prefix", "k", "--rev=2", "--", "sh", "-c", script)
	execLines := func(s string) []string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "exec ") {
				out = append(out, l)
			}
		}
		return out
	}
	out := w.stdout.wait(t, testCtx(t), "three commands", func(s string) bool { return len(execLines(s)) == 3 })
	got := execLines(out)
	// etcdctl quotes type, key and value; the revision is the response's.
	for i, want := range []string{`"PUT" "k1" "v1" | "PUT" "k1"`, `"PUT" "k2" "two words" | "PUT" "k2"`, `"DELETE" "k1" "" | "DELETE" "k1"`} {
		fields := strings.SplitN(got[i], " ", 3)
		if len(fields) != 3 || fields[2] != want {
			t.Errorf("command %d printed %q, want exec <rev> %s", i, got[i], want)
		}
	}
	w.stop(t)

	// A failing command ends the watch with exit 1, as etcdctl.
	w = f.spawn(nil, "watch", "k2", "--rev=2", "--", "sh", "-c", "exit 3")
	if code := w.exit(t); code != exitError || !strings.Contains(w.stderr.String(), `command ["sh" "-c" "exit 3"] error (exit status 3)`) {
		t.Errorf("failing command: exit %d, stderr %q", code, w.stderr)
	}
}

// A watch whose start revision was compacted is canceled by the server: etcdctl says so
// and exits 5.
func TestWatchCompacted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := range 3 {
		f.ctl("put", "k", fmt.Sprint(i)).must(t)
	}
	f.ctl("compaction", "3").must(t)
	w := f.spawn(nil, "watch", "k", "--rev=1")
	if code := w.exit(t); code != exitInterrupted {
		t.Errorf("exit %d, want %d", code, exitInterrupted)
	}
	if s := w.stderr.String(); !strings.Contains(s, "watch was canceled (") || !strings.Contains(s, "compacted") ||
		!strings.HasSuffix(s, "Error: watch is canceled by the server\n") {
		t.Errorf("stderr %q", s)
	}
}

func TestWatchInteractive(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ctl("put", "a", "1").must(t) // revision 2
	f.ctl("put", "b", "2").must(t)
	in, feed := io.Pipe()
	w := f.spawn(in, "watch", "-i")
	fmt.Fprintln(feed, "watch a --rev=2")
	w.stdout.wait(t, testCtx(t), "a's event", func(s string) bool { return s == "PUT\na\n1\n" })
	fmt.Fprintln(feed, "watch b --rev 3 --prev-kv")
	w.stdout.wait(t, testCtx(t), "b's event", func(s string) bool { return s == "PUT\na\n1\nPUT\nb\n2\n" })
	// progress asks every watch for a progress notification.
	fmt.Fprintln(feed, "progress")
	w.stdout.wait(t, testCtx(t), "two progress notifications", func(s string) bool {
		return s == "PUT\na\n1\nPUT\nb\n2\nprogress notify: 3\nprogress notify: 3\n"
	})
	fmt.Fprintln(feed, "frob")
	w.stderr.wait(t, testCtx(t), "the complaint", func(s string) bool { return s == "Invalid command frob (only support watch)\n" })
	feed.Close()
	if code := w.exit(t); code != exitInvalidInput || !strings.Contains(w.stderr.String(), "Error: error reading watch request line: EOF") {
		t.Errorf("end of input: exit %d, stderr %q", code, w.stderr)
	}
}

func TestWatchKeyFromEnvironment(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ctl("put", "a", "1").must(t) // revision 2
	f.ctl("put", "b", "2").must(t)
	f.ctl("put", "c", "3").must(t)
	w := spawnRun(t, mapEnv(map[string]string{"ETCQCTL_WATCH_KEY": "a", "ETCQCTL_WATCH_RANGE_END": "c"}), nil,
		append(f.flags(), "watch", "--rev=2")...)
	w.stdout.wait(t, testCtx(t), "a and b", func(s string) bool { return s == "PUT\na\n1\nPUT\nb\n2\n" })
	w.stop(t)
	r := runWithEnv(t, map[string]string{"ETCQCTL_WATCH_KEY": "a"}, append(f.flags(), "watch", "b")...)
	if r.code != exitBadArgs || !strings.Contains(r.stderr, "conflicting environment key") {
		t.Errorf("key in both: exit %d, %q", r.code, r.stderr)
	}
}
