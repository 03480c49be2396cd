package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSnapshotSaveRestore saves a snapshot of a running cluster with etcqctl, restores it
// into three fresh data directories, starts a new cluster from them, and finds the data,
// then writes to the new cluster.
func TestSnapshotSaveRestore(t *testing.T) {
	old := newCluster(t, 3)
	for i := range 50 {
		old.mustCtl(t, "OK\n", "put", fmt.Sprintf("/snap/%02d", i), fmt.Sprintf("v%d", i))
	}
	file := filepath.Join(t.TempDir(), "backup.db")
	out, err := old.ctl(t, []string{"snapshot", "save", file}, old.members[0])
	if err != nil || !strings.Contains(out, "Snapshot saved at "+file) {
		t.Fatalf("snapshot save printed %q (%v)", out, err)
	}
	old.stopAll()

	// A new cluster on new ports, restored from the file; it keeps the old PKI.
	ports := freePorts(t, 6)
	fresh := &cluster{t: t, dir: t.TempDir(), pki: old.pki}
	var initial []string
	for i := range 3 {
		m := &member{name: fmt.Sprintf("r%d", i+1), clientPort: ports[2*i], peerPort: ports[2*i+1]}
		m.dataDir = filepath.Join(fresh.dir, m.name)
		fresh.members = append(fresh.members, m)
		initial = append(initial, m.name+"="+m.peerURL())
	}
	for _, m := range fresh.members {
		out, err := fresh.ctl(t, []string{"snapshot", "restore", file, "--name", m.name, "--data-dir", m.dataDir,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-token", "restored",
			"--initial-advertise-peer-urls", m.peerURL()})
		if err != nil {
			t.Fatalf("snapshot restore for %s: %v (%s)", m.name, err, out)
		}
		m.args = []string{
			"--name", m.name, "--data-dir", m.dataDir, "--auto-tls", "--pki-dir", fresh.pki,
			"--listen-client-urls", m.clientURL(), "--advertise-client-urls", m.clientURL(),
			"--listen-peer-urls", m.peerURL(), "--initial-advertise-peer-urls", m.peerURL(),
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-token", "restored",
			"--heartbeat-interval", "50", "--election-timeout", "500",
		}
	}
	t.Cleanup(fresh.stopAll)
	for _, m := range fresh.members {
		fresh.start(m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, m := range fresh.members {
		fresh.waitServing(ctx, m)
	}
	fresh.waitPublished(ctx)
	out, err = fresh.ctl(t, []string{"get", "/snap/", "--prefix", "--count-only", "-w", "fields"})
	if err != nil || !strings.Contains(out, `"Count" : 50`) {
		t.Fatalf("restored cluster count: %q (%v)", out, err)
	}
	fresh.mustCtl(t, "/snap/07\nv7\n", "get", "/snap/07")
	fresh.mustCtl(t, "OK\n", "put", "/snap/new", "after-restore")
	out, err = fresh.ctl(t, []string{"-w", "table", "member", "list"})
	if err != nil || strings.Count(out, "| started |") != 3 || !strings.Contains(out, "r1") {
		t.Fatalf("restored cluster members:\n%s(%v)", out, err)
	}
}
