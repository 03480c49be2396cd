package node_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/storage"
	"etcq.dev/etcq/wire"
)

// startShutdown starts stopping the service; the channel reports Shutdown's result.
func startShutdown(t *testing.T, s *served) <-chan error {
	done := make(chan error, 1)
	ctx := testCtx(t, 10*time.Second)
	go func() { done <- s.svc.Shutdown(ctx) }()
	return done
}

// shutdown stops the service, failing the test if Shutdown does not return (it must end
// every connection and stream, watch streams included) or reports an error.
func shutdown(t *testing.T, s *served) {
	t.Helper()
	waitShutdown(t, startShutdown(t, s))
}

func waitShutdown(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-testCtx(t, 20*time.Second).Done():
		t.Fatal("shutdown did not return")
	}
}

// present checks that key holds a value, reading the member directly.
func present(t *testing.T, s *served, key string) {
	t.Helper()
	r, err := s.m.Range(testCtx(t, 10*time.Second), storage.RangeRequest{Key: []byte(key)}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.KVs) != 1 {
		t.Fatalf("%q was not written", key)
	}
}

// TestServiceShutdownDrains: every request the member has read when Shutdown starts is
// answered before the connection closes; then new connections are refused.
func TestServiceShutdownDrains(t *testing.T) {
	s := serveSingle(t, nil)
	ctx := testCtx(t, 20*time.Second)
	qc := goodRawConn(t, s)
	r := openRaw(t, ctx, qc, wire.StreamRequests)

	// n puts and a marker, in one write: once the marker is answered the member has read
	// (and begun) every put, since it reads a stream in order.
	const n = 300
	const marker = n + 1
	var frames []byte
	enc := wire.NewEncoder()
	for i := range n {
		f, err := enc.Frame(wire.Request{ID: uint64(i + 1), Op: wire.OpPut,
			Body: &wire.PutRequest{Key: fmt.Appendf(nil, "/drain/%03d", i), Value: []byte("v")}})
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, f...)
	}
	f, err := enc.Frame(wire.Request{ID: marker, Op: wire.OpStatus, Body: &wire.Empty{}})
	if err != nil {
		t.Fatal(err)
	}
	r.write(append(frames, f...))

	answered := make(map[uint64]wire.Code)
	for {
		resp := r.mustRecv()
		if resp.ID == marker {
			break
		}
		answered[resp.ID] = resp.Code
	}
	stopped := startShutdown(t, s)
	var end error
	for {
		resp, err := r.recv()
		if err != nil {
			end = err
			break
		}
		answered[resp.ID] = resp.Code
	}
	// As a client should once its streams have ended: close the connection, which lets
	// Shutdown finish.
	_ = qc.CloseWithError(0, "done")
	waitShutdown(t, stopped)
	t.Logf("%d of %d puts answered; the stream ended with %v", len(answered), n, end)
	var appErr *quic.ApplicationError
	if !errors.Is(end, io.EOF) && !(errors.As(end, &appErr) && appErr.ErrorCode == codeShutdown) {
		t.Fatalf("the stream ended with %v, want its end or the shutdown close", end)
	}
	var lost []uint64
	for i := range n {
		code, ok := answered[uint64(i+1)]
		if !ok {
			lost = append(lost, uint64(i+1))
			continue
		}
		if code != wire.CodeOK {
			t.Errorf("put %d, begun before Shutdown: answered %v", i+1, code)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d puts begun before Shutdown were never answered (ids %d...%d); the connection was closed before their answers were delivered",
			len(lost), lost[0], lost[len(lost)-1])
	}
	for i := range n {
		// Every put was read before Shutdown, so every one is applied, answered or not.
		present(t, s, fmt.Sprintf("/drain/%03d", i))
	}

	// The member no longer takes connections: its socket is closed (the port is free)...
	addr := s.svc.Addr().String()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("the service's port is still taken after Shutdown: %v", err)
	}
	_ = pc.Close()
	// ...and a dial finds no one.
	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if qc, err := rawDial(dctx, s, clientTLS(s.pki, s.pki.Client(t, "late"))); err == nil {
		_ = qc.CloseWithError(0, "")
		t.Fatal("dialed a service that was shut down")
	} else {
		t.Logf("dial after shutdown: %v", err)
	}
}

// TestServiceShutdownClients: many concurrent puts through quicclient while the service
// shuts down. None hangs, and the shutdown leaves none ambiguous: each either succeeds
// (and is applied), or fails with an error that says the member did not apply it (a
// refusal, or no member to send it to), and it is not applied. (A member may still answer
// that a request's outcome is unknown, if its proposal timed out: that is its answer, not
// the shutdown's doing.) Once Shutdown has returned nothing can be applied any more, so
// the puts still retrying then are stopped by their context.
func TestServiceShutdownClients(t *testing.T) {
	s := serveSingle(t, nil)
	c, err := quicclient.New(testCtx(t, 10*time.Second), quicclient.Config{
		Endpoints: []string{s.endpoint()}, TLS: clientTLS(s.pki, s.pki.Client(t, "alice")),
		// After the shutdown every dial waits out this timeout: keep it short.
		DialTimeout: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(testCtx(t, 20*time.Second))
	defer cancel()
	// A watch on the same connection, which the shutdown ends too.
	wch := c.Watch(ctx, "/shutdown/", quicclient.WithPrefix(), quicclient.WithCreatedNotify())
	if wr := <-wch; !wr.Created {
		t.Fatalf("first watch response %+v, want the creation", wr)
	}

	const n = 200
	type result struct {
		key string
		err error
	}
	results := make(chan result, n)
	first := make(chan struct{})
	var once sync.Once
	for i := range n {
		go func() {
			key := fmt.Sprintf("/shutdown/%03d", i)
			_, err := c.Put(ctx, key, "v")
			once.Do(func() { close(first) })
			results <- result{key, err}
		}()
	}
	<-first
	shutdown(t, s)
	cancel()
	var ok, refused, unknown int
	for range n {
		r := <-results
		var we *wire.Error
		switch {
		case r.err == nil:
			ok++
			present(t, s, r.key)
		case errors.As(r.err, &we) && (we.Code == wire.CodeTimeout || we.Code == wire.CodeLeaderChanged || we.Code == wire.CodeOutcome):
			// The member itself answered that the outcome is unknown (its proposal
			// timed out, say): explicit, and nothing to do with the shutdown.
			t.Logf("put %s: the member answered %v", r.key, r.err)
		case errors.Is(r.err, quicclient.ErrOutcomeUnknown):
			unknown++
			if unknown <= 3 {
				t.Errorf("put %s: %v", r.key, r.err)
			}
		default:
			refused++
			absent(t, s, r.key)
		}
	}
	t.Logf("%d puts succeeded, %d not applied, %d of unknown outcome", ok, refused, unknown)
	if unknown > 0 {
		t.Errorf("%d puts of unknown outcome: a graceful shutdown must answer every request it read, and the client must know the others were not", unknown)
	}
}

// TestServiceShutdownEndsWatch: Shutdown ends a watch stream (Shutdown returns), the
// client's watch tries to resume on the only member, and stops when its context ends.
func TestServiceShutdownEndsWatch(t *testing.T) {
	s := serveSingle(t, nil)
	c, err := quicclient.New(testCtx(t, 10*time.Second), quicclient.Config{
		Endpoints: []string{s.endpoint()}, TLS: clientTLS(s.pki, s.pki.Client(t, "alice")),
		DialTimeout: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := testCtx(t, 20*time.Second)
	wctx, stop := context.WithCancel(ctx)
	wch := c.Watch(wctx, "/watched", quicclient.WithCreatedNotify())
	if wr := <-wch; !wr.Created {
		t.Fatalf("first response %+v, want the creation", wr)
	}
	put, err := c.Put(ctx, "/watched", "1")
	if err != nil {
		t.Fatal(err)
	}
	if wr := <-wch; len(wr.Events) != 1 || wr.Events[0].KV.ModRevision != put.Header.Revision {
		t.Fatalf("watch response %+v", wr)
	}

	shutdown(t, s)
	stop()
	for wr := range wch {
		if len(wr.Events) > 0 {
			t.Fatalf("an event after shutdown: %+v", wr)
		}
	}
}

// TestServiceShutdownForcesStragglers: a client that neither ends its streams nor closes
// its connection cannot hold Shutdown beyond its context: the connection is closed with the
// shutdown code.
func TestServiceShutdownForcesStragglers(t *testing.T) {
	s := serveSingle(t, nil)
	ctx := testCtx(t, 10*time.Second)
	qc := goodRawConn(t, s)
	r := openRaw(t, ctx, qc, wire.StreamRequests)
	r.putOK(1, "/straggler")
	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err := s.svc.Shutdown(sctx)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown: %v", err)
	}
	<-qc.Context().Done()
	var appErr *quic.ApplicationError
	if cause := context.Cause(qc.Context()); !errors.As(cause, &appErr) || appErr.ErrorCode != codeShutdown || !appErr.Remote {
		t.Fatalf("the straggler's connection ended with %v, want the member's shutdown code", cause)
	}
}
