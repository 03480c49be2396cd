package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func TestEndpointCommands(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ctl("put", "k", "v").must(t)
	c := f.client()
	st, err := c.Status(testCtx(t), f.endpoint)
	if err != nil {
		t.Fatal(err)
	}

	out := f.ctl("endpoint", "health").must(t)
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(f.endpoint) + ` is healthy: successfully committed proposal: took = \S+\n$`).MatchString(out) {
		t.Errorf("endpoint health printed %q", out)
	}
	out = f.ctl("endpoint", "health", "-w", "json").must(t)
	if !regexp.MustCompile(`^\[\{"endpoint":"` + regexp.QuoteMeta(f.endpoint) + `","health":true,"took":"\S+"\}\]\n$`).MatchString(out) {
		t.Errorf("endpoint health -w json printed %q", out)
	}

	out = f.ctl("endpoint", "status").must(t)
	fields := strings.Split(strings.TrimSuffix(out, "\n"), ", ")
	if len(fields) != 10 || fields[0] != f.endpoint || fields[1] != "1" || fields[2] != st.Version || fields[4] != "true" ||
		fields[5] != "false" || fields[6] != fmt.Sprint(st.RaftTerm) || fields[9] != "" {
		t.Errorf("endpoint status printed %q", out)
	}
	out = f.ctl("endpoint", "status", "-w", "json").must(t)
	if !strings.HasPrefix(out, `[{"Endpoint":"`+f.endpoint+`","Status":{"header":{"cluster_id":`) || !strings.Contains(out, `"version":"`+st.Version+`","dbSize":`) {
		t.Errorf("endpoint status -w json printed %q", out)
	}

	h, err := c.HashKV(testCtx(t), f.endpoint, 0)
	if err != nil {
		t.Fatal(err)
	}
	if out := f.ctl("endpoint", "hashkv").must(t); out != fmt.Sprintf("%s, %d\n", f.endpoint, h.Hash) {
		t.Errorf("endpoint hashkv printed %q, want hash %d", out, h.Hash)
	}
	if out := f.ctl("endpoint", "hashkv", "--rev=1").must(t); out == fmt.Sprintf("%s, %d\n", f.endpoint, h.Hash) {
		t.Errorf("endpoint hashkv --rev=1 hashed the whole history: %q", out)
	}

	// --cluster finds the endpoints in the member list: given any member's endpoint (here
	// spelled host:port), it reports every member under its advertised URL.
	hostPort := strings.TrimPrefix(f.endpoint, "https://")
	r := ctlRun(t, "", append([]string{"--endpoints=" + hostPort}, append(f.tlsFlags(), "endpoint", "status", "--cluster")...)...)
	if !strings.HasPrefix(r.must(t), f.endpoint+", 1, ") {
		t.Errorf("endpoint status --cluster printed %q", r.stdout)
	}
	r = ctlRun(t, "", append([]string{"--endpoints=" + hostPort}, append(f.tlsFlags(), "endpoint", "health", "--cluster")...)...)
	if !strings.HasPrefix(r.must(t), f.endpoint+" is healthy") {
		t.Errorf("endpoint health --cluster printed %q", r.stdout)
	}
}

// An endpoint that does not answer makes status and health fail with exit 1, after
// reporting the others.
func TestEndpointUnreachable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dead := deadEndpoint(t)
	args := append([]string{"--endpoints=" + f.endpoint + "," + dead, "--dial-timeout=300ms", "--command-timeout=1s"}, f.tlsFlags()...)

	r := ctlRun(t, "", append(args, "endpoint", "status")...)
	if r.code != exitError || !strings.HasPrefix(r.stdout, f.endpoint+", 1, ") || !strings.HasPrefix(r.stderr, "Failed to get the status of endpoint "+dead+" (") {
		t.Errorf("status: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = ctlRun(t, "", append(args, "endpoint", "health")...)
	if r.code != exitError || !strings.HasPrefix(r.stdout, f.endpoint+" is healthy") ||
		!strings.HasPrefix(r.stderr, dead+" is unhealthy: failed to commit proposal: ") || !strings.HasSuffix(r.stderr, "Error: unhealthy cluster\n") {
		t.Errorf("health: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = ctlRun(t, "", append(args, "-w", "table", "endpoint", "health")...)
	if r.code != exitError || !strings.Contains(r.stdout, " "+dead+" |  false |") {
		t.Errorf("health -w table: exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestMaintenanceCommands(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if out := f.ctl("alarm", "list").must(t); out != "" {
		t.Errorf("alarm list printed %q", out)
	}
	// The single member leads: moving leadership to itself is a no-op that succeeds.
	if out := f.ctl("move-leader", "1").must(t); out != "Leadership transferred from 1 to 1\n" {
		t.Errorf("move-leader printed %q", out)
	}
	r := f.ctl("move-leader", "2")
	if r.code != exitError || !strings.HasPrefix(r.stderr, "Error: ") {
		t.Errorf("move-leader to a stranger: exit %d, %q", r.code, r.stderr)
	}
	// defrag reports each member; a member that cannot defragment fails the command.
	r = f.ctl("defrag")
	switch {
	case r.code == 0 && regexp.MustCompile(`^Finished defragmenting etcq member\[`+regexp.QuoteMeta(f.endpoint)+`\]\. took \S+\n$`).MatchString(r.stdout):
	case r.code == exitError && strings.HasPrefix(r.stderr, "Failed to defragment etcq member["+f.endpoint+"]. took "):
	default:
		t.Errorf("defrag: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
