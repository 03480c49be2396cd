package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"etcq.dev/etcq/quicclient"
)

// TestMemberAddAndJoin grows a running cluster as an etcd operator does: member add, then
// start the new member with --initial-cluster-state existing. The new member catches up,
// is promoted, and serves reads of data written before it existed.
func TestMemberAddAndJoin(t *testing.T) {
	c := newCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cl := c.client()
	for i := range 20 {
		if _, err := cl.Put(ctx, fmt.Sprintf("/join/%02d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	ports := freePorts(t, 2)
	m4 := &member{name: "m4", clientPort: ports[0], peerPort: ports[1]}
	m4.dataDir = filepath.Join(c.dir, m4.name)
	if _, err := cl.MemberAdd(ctx, m4.name, []string{m4.peerURL()}); err != nil {
		t.Fatal(err)
	}
	var initial []string
	for _, m := range append(c.members, m4) {
		initial = append(initial, m.name+"="+m.peerURL())
	}
	m4.args = []string{
		"--name", m4.name, "--data-dir", m4.dataDir, "--auto-tls", "--pki-dir", c.pki,
		"--listen-client-urls", m4.clientURL(), "--advertise-client-urls", m4.clientURL(),
		"--listen-peer-urls", m4.peerURL(), "--initial-advertise-peer-urls", m4.peerURL(),
		"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-token", "e2e",
		"--initial-cluster-state", "existing",
		"--heartbeat-interval", "50", "--election-timeout", "500",
	}
	c.members = append(c.members, m4)
	c.start(m4)
	c.waitServing(ctx, m4)
	one := c.client(m4)
	got, err := one.Get(ctx, "/join/", quicclient.WithPrefix(), quicclient.WithCountOnly())
	if err != nil || got.Count != 20 {
		t.Fatalf("read from the joined member: %+v %v", got, err)
	}
	// The learner is promoted once it has caught up.
	for {
		ms, err := cl.MemberList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		voters := 0
		for _, m := range ms.Members {
			if !m.IsLearner {
				voters++
			}
		}
		if voters == 4 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the new member was never promoted: %+v", ms.Members)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
