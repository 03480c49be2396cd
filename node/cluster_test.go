package node_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"etcq.dev/etcq/node/nodetest"
	"etcq.dev/etcq/storage"
)

func put(t *testing.T, ctx context.Context, c *nodetest.Cluster, id uint64, key, val string) {
	t.Helper()
	if _, err := c.Member(id).Put(ctx, storage.PutRequest{Key: []byte(key), Value: []byte(val)}); err != nil {
		t.Fatalf("put %s on %x: %v", key, id, err)
	}
}

// TestClusterElectsAndReplicates: three members elect one leader; writes through any
// member reach every member.
func TestClusterElectsAndReplicates(t *testing.T) {
	c := nodetest.NewCluster(t, nodetest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, id := range c.Running() {
		put(t, ctx, c, id, fmt.Sprintf("k%d", i), "v")
	}
	c.EnsureSame(ctx)
	for _, id := range c.Running() {
		r, err := c.Member(id).Range(ctx, storage.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l")}, false)
		if err != nil || r.Count != 3 {
			t.Fatalf("member %x: %+v %v", id, r, err)
		}
	}
}
