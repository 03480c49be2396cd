package node

import (
	"context"
	"io"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"etcq.dev/etcq/storage"
)

// nopTransport serves a single-member cluster, which has no one to talk to.
type nopTransport struct{}

func (nopTransport) Send([]*raftpb.Message) {}
func (nopTransport) SendSnapshot(_ *raftpb.Message, image io.ReadCloser, _ int64) {
	image.Close()
}
func (nopTransport) AddPeer(uint64, []string) {}
func (nopTransport) RemovePeer(uint64)        {}

func singleConfig(dir string) Config {
	return Config{
		ID:                     1,
		Name:                   "one",
		DataDir:                dir,
		InitialCluster:         []MemberInfo{{ID: 1, Name: "one", PeerURLs: []string{"https://127.0.0.1:2380"}}},
		Transport:              nopTransport{},
		TickInterval:           10 * time.Millisecond,
		SnapshotCount:          50,
		SnapshotCatchUpEntries: 10,
	}
}

func waitLeader(t *testing.T, m *Member) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !m.IsLeader() {
		select {
		case <-m.LeaderChanged():
		case <-deadline:
			t.Fatal("no leader")
		}
	}
}

// TestSingleMemberWriteReadRestart writes through raft, reads linearizably, takes raft
// snapshots along the way, and finds everything after a restart.
func TestSingleMemberWriteReadRestart(t *testing.T) {
	dir := t.TempDir()
	m, err := New(singleConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	waitLeader(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 120; i++ {
		if _, err := m.Put(ctx, storage.PutRequest{Key: []byte("k"), Value: []byte{byte(i)}}); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	r, err := m.Range(ctx, storage.RangeRequest{Key: []byte("k")}, false)
	if err != nil || len(r.KVs) != 1 || r.KVs[0].Version != 120 || r.KVs[0].Value[0] != 119 {
		t.Fatalf("range: %+v %v", r, err)
	}
	rev := m.Store().Rev()
	m.Stop()

	m, err = New(singleConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	waitLeader(t, m)
	r, err = m.Range(ctx, storage.RangeRequest{Key: []byte("k")}, false)
	if err != nil || len(r.KVs) != 1 || r.KVs[0].Version != 120 {
		t.Fatalf("range after restart: %+v %v", r, err)
	}
	if got := m.Store().Rev(); got != rev {
		t.Fatalf("revision after restart %d, want %d", got, rev)
	}
	if ms := m.Members(); len(ms) != 1 || ms[0].ID != 1 || ms[0].Name != "one" {
		t.Fatalf("members: %+v", ms)
	}
}
