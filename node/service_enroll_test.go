package node_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"etcq.dev/etcq/certs/certstest"
	"etcq.dev/etcq/node"
	"etcq.dev/etcq/quicclient"
)

// enrollHook answers "enrolled" on the first stream of each enrollment connection and
// counts the connections it got.
type enrollHook struct {
	calls atomic.Int64
}

func (h *enrollHook) serve(ctx context.Context, conn *quic.Conn) {
	h.calls.Add(1)
	str, err := conn.AcceptStream(ctx)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(str, 64))
	_, _ = str.Write([]byte("enrolled"))
	_ = str.Close()
	select {
	case <-conn.Context().Done():
	case <-ctx.Done():
	}
}

// enrollTLS presents the member's certificate; no client certificate is asked for.
func enrollTLS(t *testing.T, pki *certstest.PKI) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{pki.Server(t, "one")}}
}

// dialProtos dials the service with the given ALPN protocols and no client certificate.
func dialProtos(ctx context.Context, s *served, protos ...string) (*quic.Conn, error) {
	return quic.DialAddr(ctx, s.svc.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: protos}, nil)
}

// exchange writes on a new stream and reads the answer to the end.
func exchange(ctx context.Context, conn *quic.Conn) (string, error) {
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return "", err
	}
	if _, err := str.Write([]byte{1, 0, 0, 0, 0}); err != nil {
		return "", err
	}
	_ = str.Close()
	b, err := io.ReadAll(str)
	return string(b), err
}

func TestServiceEnrollDispatchesByALPN(t *testing.T) {
	h := &enrollHook{}
	s := serveSingle(t, func(c *node.ServiceConfig) {
		c.Enroll, c.EnrollTLS = h.serve, enrollTLS(t, certstest.New(t))
	})
	ctx := testCtx(t, 20*time.Second)

	// Enrollment without a client certificate reaches the hook.
	conn, err := dialProtos(ctx, s, node.JoinALPN)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := exchange(ctx, conn); err != nil || got != "enrolled" {
		t.Fatalf("enrollment exchange: %q %v", got, err)
	}
	conn.CloseWithError(0, "")

	// Offering the client protocol too changes nothing: without a certificate, the only
	// protocol a connection can get is enrollment.
	conn, err = dialProtos(ctx, s, node.ClientALPN, node.JoinALPN)
	if err != nil {
		t.Fatal(err)
	}
	if p := conn.ConnectionState().TLS.NegotiatedProtocol; p != node.JoinALPN {
		t.Fatalf("negotiated %q, want %q", p, node.JoinALPN)
	}
	if got, err := exchange(ctx, conn); err != nil || got != "enrolled" {
		t.Fatalf("enrollment exchange: %q %v", got, err)
	}
	conn.CloseWithError(0, "")
	if n := h.calls.Load(); n != 2 {
		t.Fatalf("the hook got %d connections, want 2", n)
	}

	// The client protocol without a certificate is refused, and never reaches the hook.
	conn, err = dialProtos(ctx, s, node.ClientALPN)
	if err == nil {
		if got, err := exchange(ctx, conn); err == nil {
			t.Fatalf("a client without a certificate was answered: %q", got)
		}
		conn.CloseWithError(0, "")
	}
	cl, err := quicclient.New(ctx, quicclient.Config{Endpoints: []string{s.endpoint()}, TLS: &tls.Config{RootCAs: s.pki.CA().Pool()}})
	if err == nil {
		short, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err = cl.Put(short, "k", "v")
		cancel()
		cl.Close()
		if err == nil {
			t.Fatal("a client without a certificate wrote")
		}
	}
	if n := h.calls.Load(); n != 2 {
		t.Fatalf("the hook got %d connections, want 2", n)
	}

	// Mutual TLS clients are served as before.
	c := connect(t, s.pki, "alice", s.endpoint())
	if _, err := c.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("a client with a certificate: %v", err)
	}
}

func TestServiceEnrollOffWithoutHook(t *testing.T) {
	s := serveSingle(t, nil)
	ctx := testCtx(t, 20*time.Second)
	conn, err := dialProtos(ctx, s, node.JoinALPN)
	if err == nil {
		conn.CloseWithError(0, "")
		t.Fatal("enrollment was negotiated by a service without a hook")
	}
	var te *quic.TransportError
	if !errors.As(err, &te) || te.ErrorCode != 0x100+120 {
		t.Fatalf("dial: %v; want a no_application_protocol alert", err)
	}
}

func TestServiceEnrollNeedsTLS(t *testing.T) {
	m := serveSingle(t, nil).m
	h := &enrollHook{}
	for _, c := range []*tls.Config{nil, {}} {
		_, err := node.NewService(m, node.ServiceConfig{
			Addr: "127.0.0.1:0", TLS: serverTLS(t, certstest.New(t), "one"), Enroll: h.serve, EnrollTLS: c,
		})
		if !errors.Is(err, node.ErrBadConfig) {
			t.Fatalf("EnrollTLS %v: %v, want ErrBadConfig", c, err)
		}
	}
}

// TestServiceShutdownEndsEnrollment: Shutdown cancels the hook's context and waits for it.
func TestServiceShutdownEndsEnrollment(t *testing.T) {
	entered := make(chan struct{})
	returned := make(chan struct{})
	hook := func(ctx context.Context, conn *quic.Conn) {
		close(entered)
		<-ctx.Done()
		close(returned)
	}
	s := serveSingle(t, func(c *node.ServiceConfig) { c.Enroll, c.EnrollTLS = hook, enrollTLS(t, certstest.New(t)) })
	ctx := testCtx(t, 20*time.Second)
	conn, err := dialProtos(ctx, s, node.JoinALPN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseWithError(0, "")
	select {
	case <-entered:
	case <-ctx.Done():
		t.Fatal("the hook was never called")
	}
	if err := s.svc.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-returned:
	default:
		t.Fatal("Shutdown returned before the enrollment hook")
	}
}
