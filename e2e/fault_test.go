package e2e

import (
	"context"
	"syscall"
	"testing"
	"time"

	"etcq.dev/etcq/quicclient"
)

// TestFaultTolerance is the tutorial's walk-through with real processes: stop one member of
// three, write through the others, fail to read from the stopped one, restart it, and read
// the value from it.
func TestFaultTolerance(t *testing.T) {
	c := newCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	all := c.client()
	if _, err := all.Put(ctx, "foo", "bar"); err != nil {
		t.Fatal(err)
	}
	stopped := c.members[1]
	c.stop(stopped, syscall.SIGTERM)

	others := c.client(c.members[0], c.members[2])
	if _, err := others.Put(ctx, "foo", "baz"); err != nil {
		t.Fatalf("write with one member down: %v", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 3*time.Second)
	if cl, err := c.tryClient(short, stopped); err == nil {
		_, err = cl.Get(short, "foo")
		cl.Close()
		if err == nil {
			t.Fatal("a read from the stopped member succeeded")
		}
	}
	cancelShort()

	c.start(stopped)
	c.waitServing(ctx, stopped)
	one := c.client(stopped)
	got, err := one.Get(ctx, "foo", quicclient.WithSerializable())
	for err == nil && (len(got.KVs) != 1 || string(got.KVs[0].Value) != "baz") {
		// Serializable reads see what the member has applied; it is catching up.
		select {
		case <-ctx.Done():
			t.Fatalf("restarted member never caught up: %+v", got)
		case <-time.After(50 * time.Millisecond):
		}
		got, err = one.Get(ctx, "foo", quicclient.WithSerializable())
	}
	if err != nil {
		t.Fatal(err)
	}
	lin, err := one.Get(ctx, "foo")
	if err != nil || len(lin.KVs) != 1 || string(lin.KVs[0].Value) != "baz" {
		t.Fatalf("linearizable read from the restarted member: %+v %v", lin, err)
	}
}
