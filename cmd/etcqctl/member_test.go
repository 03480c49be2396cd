package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func TestMemberCommands(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	h, err := f.client().Get(testCtx(t), "none")
	if err != nil {
		t.Fatal(err)
	}
	cluster := fmt.Sprintf("%16x", h.Header.ClusterID)

	out := f.ctl("member", "add", "two", "--learner", "--peer-urls=https://127.0.0.2:2380").must(t)
	m := regexp.MustCompile(`^Member ([ 0-9a-f]{16}) added as learner to cluster ` + cluster + "\n\n" +
		`ETCQ_NAME="two"` + "\n" +
		`ETCQ_INITIAL_CLUSTER="(.*)"` + "\n" +
		`ETCQ_INITIAL_ADVERTISE_PEER_URLS="https://127.0.0.2:2380"` + "\n" +
		`ETCQ_INITIAL_CLUSTER_STATE="existing"` + "\n$").FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("member add printed %q", out)
	}
	id := strings.TrimSpace(m[1])
	initial := strings.Split(m[2], ",")
	if len(initial) != 2 || !contains(initial, "one="+peerURL) || !contains(initial, "two=https://127.0.0.2:2380") {
		t.Errorf("ETCQ_INITIAL_CLUSTER=%q", m[2])
	}

	want := fmt.Sprintf("1, started, one, %s, %s, false\n%s, unstarted, two, https://127.0.0.2:2380, , true\n", peerURL, f.endpoint, id)
	if got := sortLines(f.ctl("member", "list").must(t)); got != sortLines(want) {
		t.Errorf("member list:\n%s\nwant:\n%s", got, want)
	}

	out = f.ctl("member", "update", id, "--peer-urls=https://127.0.0.3:2380").must(t)
	if want := fmt.Sprintf("Member %16s updated in cluster %s\n", id, cluster); out != want {
		t.Errorf("member update printed %q, want %q", out, want)
	}
	if got := f.ctl("member", "list").must(t); !strings.Contains(got, id+", unstarted, two, https://127.0.0.3:2380, , true\n") {
		t.Errorf("member list after update:\n%s", got)
	}
	// A learner that never started is not in sync with the leader: no promotion.
	r := f.ctl("member", "promote", id)
	if r.code != exitError || !strings.HasPrefix(r.stderr, "Error: ") {
		t.Errorf("member promote of a learner that never ran: exit %d, %q", r.code, r.stderr)
	}
	out = f.ctl("-w", "json", "member", "remove", id).must(t)
	if want := fmt.Sprintf(`"members":[{"ID":1,"name":"one","peerURLs":["%s"],"clientURLs":["%s"]}]}`, peerURL, f.endpoint); !strings.HasSuffix(out, want+"\n") {
		t.Errorf("member remove -w json printed %q", out)
	}
	r = f.ctl("member", "remove", id)
	if r.code != exitError || !strings.Contains(r.stderr, "not found") && !strings.Contains(r.stderr, "removed") {
		t.Errorf("removing twice: exit %d, %q", r.code, r.stderr)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func sortLines(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i := range lines {
		for j := i + 1; j < len(lines); j++ {
			if lines[j] < lines[i] {
				lines[i], lines[j] = lines[j], lines[i]
			}
		}
	}
	return strings.Join(lines, "\n") + "\n"
}
