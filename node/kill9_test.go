package node_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"etcq.dev/etcq/node"
	"etcq.dev/etcq/node/nodetest"
	"etcq.dev/etcq/storage"
)

// kill9Configs is the fixed 3-member cluster the child runs and the parent restarts: the
// same IDs, data directories and network names every time.
func kill9Configs(dir string) []node.Config {
	var initial []node.MemberInfo
	for i := uint64(1); i <= 3; i++ {
		initial = append(initial, node.MemberInfo{ID: i, Name: fmt.Sprintf("m%d", i), PeerURLs: []string{fmt.Sprintf("https://m%d.kill9:2380", i)}})
	}
	var cfgs []node.Config
	for _, mi := range initial {
		cfgs = append(cfgs, node.Config{
			ID: mi.ID, Name: mi.Name, DataDir: filepath.Join(dir, mi.Name),
			InitialCluster: initial, ClusterToken: "kill9",
			TickInterval: 10 * time.Millisecond, SnapshotCount: 200, SnapshotCatchUpEntries: 20,
		})
	}
	return cfgs
}

func startKill9Cluster(t *testing.T, dir string) (*nodetest.Network, []*node.Member) {
	net := nodetest.NewNetwork(1, t.Logf)
	var ms []*node.Member
	for _, cfg := range kill9Configs(dir) {
		ep := net.Join(cfg.ID, nil)
		cfg.Transport = ep
		m, err := node.New(cfg)
		if err != nil {
			t.Fatalf("start %s: %v", cfg.Name, err)
		}
		ep.Attach(m)
		ms = append(ms, m)
	}
	return net, ms
}

// TestKill9Child is the child of TestKill9: it runs a 3-member cluster and writes through
// it from several goroutines, printing each acknowledged write, until it is killed.
func TestKill9Child(t *testing.T) {
	dir := os.Getenv("ETCQ_KILL9_DIR")
	if dir == "" {
		return
	}
	_, ms := startKill9Cluster(t, dir)
	out := make(chan string, 1024)
	for w := 0; w < 8; w++ {
		go func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("r%s/w%d/%06d", os.Getenv("ETCQ_KILL9_ROUND"), w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := ms[i%3].Put(ctx, storage.PutRequest{Key: []byte(key), Value: []byte(key)})
				cancel()
				if err == nil {
					out <- key
				}
			}
		}()
	}
	for key := range out {
		fmt.Println("ACK", key)
	}
}

// TestKill9 kills (SIGKILL) a process running a whole 3-member cluster at a random moment
// under write load, several times, and checks after each restart that every write the
// process acknowledged is there, on every member. Nothing is closed or flushed on the
// way down: what survives is what the raft logs and stores had made durable.
func TestKill9(t *testing.T) {
	if os.Getenv("ETCQ_KILL9_DIR") != "" {
		return
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 9))
	dir := t.TempDir()
	acked := map[string]bool{}
	rounds := 3
	if testing.Short() {
		rounds = 1
	}
	rounds, _ = chaosLength(t, rounds, 0)
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Child$", "-test.count=1")
		cmd.Env = append(os.Environ(), "ETCQ_KILL9_DIR="+dir, fmt.Sprintf("ETCQ_KILL9_ROUND=%d", round))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAt := 200 + r.IntN(800)
		sc := bufio.NewScanner(stdout)
		n := 0
		for sc.Scan() && n < killAt {
			if key, ok := strings.CutPrefix(sc.Text(), "ACK "); ok {
				acked[key] = true
				n++
			}
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		for sc.Scan() { // what was printed before the kill was acknowledged too
			if key, ok := strings.CutPrefix(sc.Text(), "ACK "); ok {
				acked[key] = true
			}
		}
		cmd.Wait()
		if n < killAt {
			t.Fatalf("round %d: the child stopped after %d acknowledged writes", round, n)
		}

		net, ms := startKill9Cluster(t, dir)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for _, m := range ms {
			resp, err := m.Range(ctx, storage.RangeRequest{Key: []byte("r"), RangeEnd: []byte("s")}, false)
			if err != nil {
				t.Fatalf("round %d: member %x: %v", round, m.ID(), err)
			}
			have := map[string]bool{}
			for _, kv := range resp.KVs {
				have[string(kv.Key)] = true
			}
			for key := range acked {
				if !have[key] {
					t.Fatalf("round %d: member %x lost acknowledged write %s (%d acknowledged, %d present)", round, m.ID(), key, len(acked), len(have))
				}
			}
		}
		cancel()
		t.Logf("round %d: killed after %d acknowledged writes; all %d acknowledged writes present on every member", round, n, len(acked))
		for _, m := range ms {
			m.Stop()
		}
		net.Close()
	}
}
