package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"etcq.dev/etcq/node"
)

func TestSnapshotSaveStatusRestore(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, kv := range [][2]string{{"a", "1"}, {"b", "2"}, {"a", "1b"}, {"c", "3"}} {
		f.ctl("put", kv[0], kv[1]).must(t)
	}
	f.ctl("del", "b").must(t)
	f.ctl("compaction", "3").must(t)
	lease := strings.Fields(f.ctl("lease", "grant", "600").must(t))[1]
	f.ctl("put", "leased", "x", "--lease="+lease).must(t) // revision 7
	// A member the snapshot's cluster has: a restored cluster is made of its own members.
	f.ctl("member", "add", "ghost", "--learner", "--peer-urls=https://127.0.0.9:2380").must(t)

	dir := t.TempDir()
	file := filepath.Join(dir, "snap.db")
	if out := f.ctl("snapshot", "save", file).must(t); out != "Snapshot saved at "+file+"\n" {
		t.Errorf("snapshot save printed %q", out)
	}
	if _, err := os.Stat(file + ".part"); !os.IsNotExist(err) {
		t.Errorf("snapshot save left %s.part: %v", file, err)
	}

	out := f.ctl("snapshot", "status", file).must(t)
	m := regexp.MustCompile(`^([0-9a-f]+), 7, 3, (\d+(\.\d)? [kM]?B)\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("snapshot status printed %q, want hash, revision 7, 3 keys, size", out)
	}
	table := f.ctl("-w", "table", "snapshot", "status", file).must(t)
	if !strings.Contains(table, "|   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |") && !strings.Contains(table, "| REVISION | TOTAL KEYS | TOTAL SIZE |") {
		t.Errorf("snapshot status -w table printed\n%s", table)
	}
	if !strings.Contains(table, fmt.Sprintf("| %s |        7 |          3 |", m[1])) {
		t.Errorf("snapshot status -w table printed\n%s", table)
	}
	// Status needs no cluster.
	if r := ctlRun(t, "", "snapshot", "status", file); r.must(t) != out {
		t.Errorf("snapshot status without flags printed %q", r.stdout)
	}

	// Restore into a new data dir and start a new cluster's member from it.
	dataDir := filepath.Join(dir, "two.etcq")
	const twoPeer = "https://127.0.0.1:2390"
	out = ctlRun(t, "", "snapshot", "restore", file, "--data-dir="+dataDir, "--name=two",
		"--initial-cluster=two="+twoPeer, "--initial-advertise-peer-urls="+twoPeer, "--initial-cluster-token=restored").must(t)
	if !strings.HasPrefix(out, "Snapshot "+file+" restored into "+dataDir+" (revision 7, 3 keys)\n") ||
		!strings.Contains(out, "etcq --name two --data-dir "+dataDir+" --initial-cluster two="+twoPeer+" --initial-cluster-token restored --initial-advertise-peer-urls "+twoPeer+" --initial-cluster-state new") {
		t.Errorf("snapshot restore printed %q", out)
	}
	two := &fixture{t: t, pki: f.pki, files: f.files}
	cluster := []node.MemberInfo{{ID: 2, Name: "two", PeerURLs: []string{twoPeer}}}
	stop := two.start(2, "two", dataDir, cluster)
	if got := two.ctl("get", "", "--prefix").must(t); got != "a\n1b\nc\n3\nleased\nx\n" {
		t.Errorf("the restored member holds %q", got)
	}
	if got := two.ctl("member", "list").must(t); got != fmt.Sprintf("2, started, two, %s, %s, false\n", twoPeer, two.endpoint) {
		t.Errorf("the restored cluster's members: %q", got)
	}
	if got := two.ctl("get", "a", "--rev=2").stderr; !strings.Contains(got, "compacted") {
		t.Errorf("the restored member forgot the compaction: %q", got)
	}
	if got := two.ctl("lease", "list").must(t); got != "found 1 leases\n"+lease+"\n" {
		t.Errorf("the restored member's leases: %q", got)
	}
	two.ctl("put", "d", "4").must(t)
	if got := two.ctl("-w", "fields", "get", "d").must(t); !strings.Contains(got, `"ModRevision" : 8`+"\n") {
		t.Errorf("the restored member's revisions do not go on from the snapshot's:\n%s", got)
	}
	// After a restart, the member replays its own log over the restored store: every
	// write is there once.
	stop()
	two.start(2, "two", dataDir, cluster)
	if got := two.ctl("get", "", "--prefix").must(t); got != "a\n1b\nc\n3\nd\n4\nleased\nx\n" {
		t.Errorf("after a restart the restored member holds %q", got)
	}
	if got := two.ctl("-w", "fields", "get", "d").must(t); !strings.Contains(got, `"Revision" : 8`+"\n") || !strings.Contains(got, `"Version" : 1`+"\n") {
		t.Errorf("after a restart:\n%s", got)
	}
}

func TestSnapshotErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ctl("put", "a", "1").must(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "snap.db")
	f.ctl("snapshot", "save", file).must(t)

	r := ctlRun(t, "", append([]string{"--endpoints=" + f.endpoint + "," + f.endpoint}, append(f.tlsFlags(), "snapshot", "save", file)...)...)
	if r.code != exitInterrupted || !strings.Contains(r.stderr, "snapshot must be requested to one selected node") {
		t.Errorf("save from two endpoints: exit %d, %q", r.code, r.stderr)
	}

	existing := t.TempDir()
	r = ctlRun(t, "", "snapshot", "restore", file, "--data-dir="+existing)
	if r.code != exitError || !strings.Contains(r.stderr, "exists") {
		t.Errorf("restore into an existing dir: exit %d, %q", r.code, r.stderr)
	}
	r = ctlRun(t, "", "snapshot", "restore", file, "--data-dir="+filepath.Join(dir, "x"), "--name=x", "--initial-cluster=y=https://127.0.0.1:2380")
	if r.code != exitBadArgs || !strings.Contains(r.stderr, `member "x" is not in --initial-cluster`) {
		t.Errorf("restore of a member outside the cluster: exit %d, %q", r.code, r.stderr)
	}
	r = ctlRun(t, "", "snapshot", "restore", file, "--data-dir="+filepath.Join(dir, "x"), "--initial-advertise-peer-urls=http://127.0.0.1:2380")
	if r.code != exitBadArgs || !strings.Contains(r.stderr, "only mutual TLS") {
		t.Errorf("restore with an http peer URL: exit %d, %q", r.code, r.stderr)
	}

	// A damaged snapshot is refused and leaves nothing behind.
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	bad := filepath.Join(dir, "bad.db")
	if err := os.WriteFile(bad, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := ctlRun(t, "", "snapshot", "status", bad); r.code != exitError || !strings.Contains(r.stderr, "Error: snapshot "+bad) {
		t.Errorf("status of a damaged snapshot: exit %d, %q", r.code, r.stderr)
	}
	target := filepath.Join(dir, "restored")
	if r := ctlRun(t, "", "snapshot", "restore", bad, "--data-dir="+target); r.code != exitError {
		t.Errorf("restore of a damaged snapshot: exit %d, %q", r.code, r.stderr)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Errorf("a failed restore left %s: %v", target, err)
	}
}
