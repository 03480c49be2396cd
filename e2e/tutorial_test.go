package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTutorial runs the seed tutorial's etcdctl session with etcqctl against three member
// processes: put, get (plain, --hex, --print-value-only, --prefix), del, lease grant and a
// leased key, watch, member list and endpoint status as tables, then the fault-tolerance
// walk-through (stop a member, write, its read fails, restart, its read succeeds).
func TestTutorial(t *testing.T) {
	c := newCluster(t, 3)
	c.mustCtl(t, "OK\n", "put", "key1", "bar1")
	c.mustCtl(t, "OK\n", "put", "key2", "bar2")
	c.mustCtl(t, "OK\n", "put", "color", "blue")
	c.mustCtl(t, "key1\nbar1\n", "get", "key1")
	c.mustCtl(t, `\x6b\x65\x79\x31`+"\n"+`\x62\x61\x72\x31`+"\n", "get", "key1", "--hex")
	c.mustCtl(t, "bar1\n", "get", "key1", "--print-value-only")
	c.mustCtl(t, "1\n", "del", "color")
	c.mustCtl(t, "key1\nbar1\nkey2\nbar2\n", "get", "--prefix", "key")

	out, err := c.ctl(t, []string{"lease", "grant", "100"})
	m := regexp.MustCompile(`^lease ([0-9a-f]+) granted with TTL\(100s\)\n$`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("lease grant printed %q (%v)", out, err)
	}
	c.mustCtl(t, "OK\n", "put", "--lease="+m[1], "session", "alive")
	out, err = c.ctl(t, []string{"lease", "timetolive", m[1], "--keys"})
	if err != nil || !strings.Contains(out, "attached keys([session])") {
		t.Fatalf("lease timetolive printed %q (%v)", out, err)
	}

	// A watch sees a put made after it started.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	watch := exec.CommandContext(ctx, filepath.Join(bin, "etcqctl"), "watch", "--prefix", "key")
	watch.Env = c.ctlEnv()
	stdout, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// The watch starts asynchronously: keep writing until it reports one of the writes.
	seen := false
	for attempt := 0; !seen && attempt < 100; attempt++ {
		c.mustCtl(t, "OK\n", "put", "key3", "bar3")
		select {
		case l := <-lines:
			seen = l == "PUT"
		case <-time.After(200 * time.Millisecond):
		}
	}
	_ = watch.Process.Signal(syscall.SIGINT)
	_ = watch.Wait()
	if !seen {
		t.Fatal("etcqctl watch never reported the put")
	}

	out, err = c.ctl(t, []string{"-w", "table", "member", "list"})
	if err != nil || !strings.Contains(out, "|        ID        | STATUS  | NAME |") || strings.Count(out, "| started |") != 3 {
		t.Fatalf("member list table:\n%s(%v)", out, err)
	}
	out, err = c.ctl(t, []string{"-w", "table", "endpoint", "status"})
	leaderRows := regexp.MustCompile(`\|\s+true \|\s+false \|`).FindAllString(out, -1)
	if err != nil || !strings.Contains(out, "| IS LEADER |") || len(leaderRows) != 1 {
		t.Fatalf("endpoint status table:\n%s(%v)", out, err)
	}

	// Fault tolerance.
	stopped := c.members[1]
	c.stop(stopped, syscall.SIGTERM)
	others := []*member{c.members[0], c.members[2]}
	if _, err := c.ctl(t, []string{"put", "foo", "after-stop"}, others...); err != nil {
		t.Fatal("a write with one member of three stopped failed")
	}
	if out, err := c.ctl(t, []string{"get", "foo", "--command-timeout=2s"}, stopped); err == nil {
		t.Fatalf("a read from the stopped member succeeded: %q", out)
	}
	c.start(stopped)
	c.waitServing(ctx, stopped)
	out, err = c.ctl(t, []string{"get", "foo"}, stopped)
	if err != nil || out != "foo\nafter-stop\n" {
		t.Fatalf("read from the restarted member printed %q (%v)", out, err)
	}
}

func (c *cluster) ctlEnv() []string {
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.clientURL())
	}
	return append(os.Environ(),
		"ETCQCTL_ENDPOINTS="+strings.Join(eps, ","),
		"ETCQCTL_CACERT="+filepath.Join(c.pki, "ca-bundle.pem"),
		"ETCQCTL_CERT="+filepath.Join(c.pki, "root.pem"),
		"ETCQCTL_KEY="+filepath.Join(c.pki, "root-key.pem"),
	)
}
