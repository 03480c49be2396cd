package node_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"etcq.dev/etcq/node"
	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/wire"
)

// limitedClient is a client with its own idea of the server's limits.
func limitedClient(t *testing.T, s *served, limits wire.Limits) *quicclient.Client {
	t.Helper()
	c, err := quicclient.New(testCtx(t, 10*time.Second), quicclient.Config{
		Endpoints: []string{s.endpoint()}, TLS: clientTLS(s.pki, s.pki.Client(t, "limited")), Limits: limits,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// refusedBy reports whether err is a member's refusal (a *wire.Error) rather than the
// client's own.
func refusedBy(err error) bool {
	var we *wire.Error
	return errors.As(err, &we)
}

// TestServiceRequestLimits: a request over MaxRequestBytes is refused by the client before
// it is sent and, from a client that believes in a larger limit, by the member; a txn over
// MaxTxnOps likewise. Nothing of a refused request is applied and the client goes on.
func TestServiceRequestLimits(t *testing.T) {
	limits := wire.Limits{MaxRequestBytes: 1 << 10, MaxTxnOps: 8}
	s := serveSingle(t, func(c *node.ServiceConfig) { c.Limits = limits })
	ctx := testCtx(t, 20*time.Second)
	big := string(make([]byte, 2*limits.FrameLimit()))

	t.Run("client-side-size", func(t *testing.T) {
		c := limitedClient(t, s, limits)
		_, err := c.Put(ctx, "/limits/local", big)
		if !errors.Is(err, wire.ErrRequestTooLarge) || refusedBy(err) || errors.Is(err, quicclient.ErrOutcomeUnknown) {
			t.Fatalf("put over the limit: %v, want the client's own ErrRequestTooLarge", err)
		}
		absent(t, s, "/limits/local")
		if _, err := c.Put(ctx, "/limits/local-small", "v"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("server-side-size", func(t *testing.T) {
		c := limitedClient(t, s, wire.Limits{MaxRequestBytes: 1 << 20})
		_, err := c.Put(ctx, "/limits/remote", big)
		if !errors.Is(err, wire.ErrRequestTooLarge) || !refusedBy(err) || errors.Is(err, quicclient.ErrOutcomeUnknown) {
			t.Fatalf("put over the server's limit: %v, want the member's CodeRequestTooLarge", err)
		}
		absent(t, s, "/limits/remote")
		// The refusal cost neither the stream nor the connection.
		for i := range 8 {
			if _, err := c.Put(ctx, fmt.Sprintf("/limits/remote-small/%d", i), "v"); err != nil {
				t.Fatal(err)
			}
		}
	})

	puts := func(prefix string, n int) []quicclient.Op {
		var ops []quicclient.Op
		for i := range n {
			ops = append(ops, quicclient.OpPut(fmt.Sprintf("%s/%d", prefix, i), "v"))
		}
		return ops
	}
	t.Run("client-side-txn", func(t *testing.T) {
		c := limitedClient(t, s, limits)
		_, err := c.Txn(ctx).Then(puts("/txn/local", limits.MaxTxnOps+1)...).Commit()
		if !errors.Is(err, wire.ErrTooManyOps) || refusedBy(err) {
			t.Fatalf("txn over the limit: %v, want the client's own ErrTooManyOps", err)
		}
		absent(t, s, "/txn/local/0")
		if _, err := c.Txn(ctx).Then(puts("/txn/local-ok", limits.MaxTxnOps)...).Commit(); err != nil {
			t.Fatalf("txn at the limit: %v", err)
		}
	})
	t.Run("server-side-txn", func(t *testing.T) {
		c := limitedClient(t, s, wire.Limits{MaxTxnOps: 1000})
		_, err := c.Txn(ctx).Then(puts("/txn/remote", limits.MaxTxnOps+1)...).Commit()
		if !errors.Is(err, wire.ErrTooManyOps) || !refusedBy(err) || errors.Is(err, quicclient.ErrOutcomeUnknown) {
			t.Fatalf("txn over the server's limit: %v, want the member's CodeTooManyOps", err)
		}
		// Nested txns count too: 4 + 5 puts.
		nested := quicclient.OpTxn(nil, puts("/txn/nested/in", 5), nil)
		_, err = c.Txn(ctx).Then(append(puts("/txn/nested/out", 4), nested)...).Commit()
		if !errors.Is(err, wire.ErrTooManyOps) || !refusedBy(err) {
			t.Fatalf("nested txn over the server's limit: %v, want the member's CodeTooManyOps", err)
		}
		for _, k := range []string{"/txn/remote/0", "/txn/remote/8", "/txn/nested/out/0", "/txn/nested/in/0"} {
			absent(t, s, k)
		}
		if _, err := c.Txn(ctx).Then(puts("/txn/remote-ok", limits.MaxTxnOps)...).Commit(); err != nil {
			t.Fatalf("txn at the limit: %v", err)
		}
	})
	checkServes(t, s)
}

// TestServiceMaxInFlight: with MaxInFlight 4 the member stops reading a connection that has
// 4 requests outstanding, and resumes as they are answered: many more concurrent requests,
// on the client's pooled streams and pipelined on one raw stream, all complete.
func TestServiceMaxInFlight(t *testing.T) {
	s := serveSingle(t, func(c *node.ServiceConfig) { c.MaxInFlight = 4 })
	ctx := testCtx(t, 20*time.Second)
	c := connect(t, s.pki, "busy", s.endpoint())

	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if _, err := c.Put(ctx, fmt.Sprintf("/inflight/%03d", i), "v"); err != nil {
				errs <- err
			}
			if _, err := c.Get(ctx, fmt.Sprintf("/inflight/%03d", i)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	get, err := c.Get(ctx, "/inflight/", quicclient.WithPrefix(), quicclient.WithCountOnly())
	if err != nil || get.Count != n {
		t.Fatalf("count %+v %v, want %d", get, err, n)
	}

	// Pipelined on one stream, written at once: the member reads 4, answers, reads on.
	r := openRaw(t, ctx, goodRawConn(t, s), wire.StreamRequests)
	var frames []byte
	enc := wire.NewEncoder()
	for i := range n {
		f, err := enc.Frame(wire.Request{ID: uint64(i + 1), Op: wire.OpPut,
			Body: &wire.PutRequest{Key: fmt.Appendf(nil, "/pipelined/%03d", i), Value: []byte("v")}})
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, f...)
	}
	r.write(frames)
	seen := make(map[uint64]bool)
	for len(seen) < n {
		resp := r.mustRecv()
		if resp.Code != wire.CodeOK || resp.ID < 1 || resp.ID > n || seen[resp.ID] {
			t.Fatalf("response %+v", resp)
		}
		seen[resp.ID] = true
	}
	checkServes(t, s)
}
