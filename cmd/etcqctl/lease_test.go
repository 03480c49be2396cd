package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func TestLeaseCommands(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	out := f.ctl("lease", "grant", "600").must(t)
	m := regexp.MustCompile(`^lease ([0-9a-f]{16}) granted with TTL\(600s\)\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("lease grant printed %q", out)
	}
	id := m[1]
	f.ctl("put", "k1", "v", "--lease="+id).must(t)
	f.ctl("put", "k2", "v", "--lease="+id).must(t)

	out = f.ctl("lease", "timetolive", id, "--keys").must(t)
	if !regexp.MustCompile(`^lease ` + id + ` granted with TTL\(600s\), remaining\(\d+s\), attached keys\(\[k1 k2\]\)\n$`).MatchString(out) {
		t.Errorf("timetolive --keys printed %q", out)
	}
	if out := f.ctl("lease", "list").must(t); out != "found 1 leases\n"+id+"\n" {
		t.Errorf("lease list printed %q", out)
	}
	out = f.ctl("lease", "keep-alive", "--once", id).must(t)
	if !regexp.MustCompile(`^lease ` + id + ` keepalived with TTL\(\d+\)\n$`).MatchString(out) {
		t.Errorf("keep-alive --once printed %q", out)
	}
	out = f.ctl("-w", "json", "lease", "keep-alive", "--once", id).must(t)
	if !strings.Contains(out, fmt.Sprintf(`,"ID":%d,"TTL":`, mustHex(t, id))) {
		t.Errorf("keep-alive --once -w json printed %q", out)
	}

	// keep-alive renews until interrupted.
	ka := f.spawn(nil, "lease", "keep-alive", id)
	ka.stdout.wait(t, testCtx(t), "a renewal", func(s string) bool { return strings.HasPrefix(s, "lease "+id+" keepalived with TTL(") })
	if code := ka.stop(t); code != exitSignal {
		t.Errorf("interrupted keep-alive: exit %d", code)
	}

	if out := f.ctl("lease", "revoke", id).must(t); out != "lease "+id+" revoked\n" {
		t.Errorf("lease revoke printed %q", out)
	}
	if out := f.ctl("get", "k", "--prefix").must(t); out != "" {
		t.Errorf("the lease's keys outlived it: %q", out)
	}
	if out := f.ctl("lease", "timetolive", id).must(t); out != "lease "+id+" already expired\n" {
		t.Errorf("timetolive of a revoked lease printed %q", out)
	}
	if out := f.ctl("lease", "list").must(t); out != "found 0 leases\n" {
		t.Errorf("lease list printed %q", out)
	}
	r := f.ctl("lease", "revoke", id)
	if r.code != exitError || !strings.HasPrefix(r.stderr, "Error: failed to revoke lease (") {
		t.Errorf("revoking twice: exit %d, %q", r.code, r.stderr)
	}
	r = f.ctl("lease", "keep-alive", "--once", id)
	if r.code != exitBadConnection || !strings.Contains(r.stderr, "lease not found") {
		t.Errorf("keep-alive of a revoked lease: exit %d, %q", r.code, r.stderr)
	}
}

// A keep-alive whose lease goes away says so and exits 0, as etcdctl. (It finds out at
// its next renewal, a third of the TTL later: the TTL is short.)
func TestLeaseKeepAliveOfRevokedLease(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	out := f.ctl("lease", "grant", "3").must(t)
	id := strings.Fields(out)[1]
	ka := f.spawn(nil, "lease", "keep-alive", id)
	ka.stdout.wait(t, testCtx(t), "a renewal", func(s string) bool { return strings.Contains(s, "keepalived") })
	f.ctl("lease", "revoke", id).must(t)
	if code := ka.exit(t); code != 0 || !strings.HasSuffix(ka.stdout.String(), "lease "+id+" expired or revoked.\n") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, ka.stdout, ka.stderr)
	}
}

func mustHex(t *testing.T, s string) int64 {
	t.Helper()
	var v int64
	if _, err := fmt.Sscanf(s, "%x", &v); err != nil {
		t.Fatal(err)
	}
	return v
}
