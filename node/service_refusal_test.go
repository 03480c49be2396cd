package node_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/vmihailenco/msgpack/v5"

	"etcq.dev/etcq/certs"
	"etcq.dev/etcq/certs/certstest"
	"etcq.dev/etcq/node"
	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/storage"
	"etcq.dev/etcq/wire"
)

// The service's stream error codes (node/service.go), as a client sees them.
const (
	codeBadStream  quic.StreamErrorCode      = 0x101
	codeFrameLimit quic.StreamErrorCode      = 0x102
	codeShutdown   quic.ApplicationErrorCode = 0x100
)

// TLS alerts a server sends when it refuses a client's certificate or protocol (RFC 8446),
// which QUIC carries as the transport error 0x100 + alert.
const (
	alertBadCertificate     = 42
	alertCertificateExpired = 45
	alertUnknownCA          = 48
	alertNoAppProtocol      = 120
	alertCertRequired       = 116
)

// rawDial connects to the service with quic-go directly, with conf's certificates and
// node.ClientALPN unless conf names protocols.
func rawDial(ctx context.Context, s *served, conf *tls.Config) (*quic.Conn, error) {
	conf = conf.Clone()
	if len(conf.NextProtos) == 0 {
		conf.NextProtos = []string{node.ClientALPN}
	}
	conf.ServerName = "127.0.0.1"
	return quic.DialAddr(ctx, s.svc.Addr().String(), conf, &quic.Config{MaxIdleTimeout: 30 * time.Second})
}

// goodRawConn is a raw connection with a valid client certificate.
func goodRawConn(t *testing.T, s *served) *quic.Conn {
	t.Helper()
	qc, err := rawDial(testCtx(t, 10*time.Second), s, clientTLS(s.pki, s.pki.Client(t, "raw")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = qc.CloseWithError(0, "test done") })
	return qc
}

// rawStream is a client stream driven by hand: frames out, responses in.
type rawStream struct {
	t   *testing.T
	str *quic.Stream
	fr  *wire.FrameReader
	enc *wire.Encoder
	dec *wire.Decoder
}

// openRaw opens a stream and writes its kind byte.
func openRaw(t *testing.T, ctx context.Context, qc *quic.Conn, kind wire.StreamKind) *rawStream {
	t.Helper()
	str, err := qc.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := str.Write([]byte{byte(kind)}); err != nil {
		t.Fatal(err)
	}
	if d, ok := ctx.Deadline(); ok {
		// A bound on the whole test, never a timing assertion: a server that never
		// answers fails the test instead of hanging it.
		_ = str.SetReadDeadline(d)
	}
	return &rawStream{t: t, str: str, fr: wire.NewFrameReader(str, wire.DefaultMaxResponseBytes),
		enc: wire.NewEncoder(), dec: wire.NewDecoder()}
}

func (r *rawStream) send(req wire.Request) {
	r.t.Helper()
	frame, err := r.enc.Frame(req)
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(frame)
}

func (r *rawStream) write(b []byte) {
	r.t.Helper()
	if _, err := r.str.Write(b); err != nil {
		r.t.Fatalf("write on stream %d: %v", r.str.StreamID(), err)
	}
}

// recv reads the next response; an error is the stream's end (io.EOF) or failure.
func (r *rawStream) recv() (*wire.Response, error) {
	body, err := r.fr.Next()
	if err != nil {
		return nil, err
	}
	resp := new(wire.Response)
	if err := r.dec.Response(body, resp); err != nil {
		r.t.Fatalf("undecodable response: %v", err)
	}
	return resp, nil
}

func (r *rawStream) mustRecv() *wire.Response {
	r.t.Helper()
	resp, err := r.recv()
	if err != nil {
		r.t.Fatalf("stream %d: reading a response: %v", r.str.StreamID(), err)
	}
	return resp
}

// expectCode reads one response and checks its id and code.
func (r *rawStream) expectCode(id uint64, code wire.Code) *wire.Response {
	r.t.Helper()
	resp := r.mustRecv()
	if resp.ID != id || resp.Code != code {
		r.t.Fatalf("response id %d code %v (%q), want id %d code %v", resp.ID, resp.Code, resp.Message, id, code)
	}
	return resp
}

// putOK sends a put of key on the stream and checks it succeeds.
func (r *rawStream) putOK(id uint64, key string) {
	r.t.Helper()
	r.send(wire.Request{ID: id, Op: wire.OpPut, Body: &wire.PutRequest{Key: []byte(key), Value: []byte("v")}})
	r.expectCode(id, wire.CodeOK)
}

// expectEnd reads until the stream ends, requiring that nothing but error responses come
// first, and returns how it ended (io.EOF or the stream's error).
func (r *rawStream) expectEnd() error {
	r.t.Helper()
	for {
		resp, err := r.recv()
		if err != nil {
			return err
		}
		if resp.Code == wire.CodeOK {
			r.t.Fatalf("a refused stream answered %+v", resp)
		}
	}
}

// streamErr reports err's stream error code, if it is one sent by the server.
func streamErr(err error) (quic.StreamErrorCode, bool) {
	var se *quic.StreamError
	if errors.As(err, &se) && se.Remote {
		return se.ErrorCode, true
	}
	return 0, false
}

// checkServes proves the service still serves a well-behaved client: a new quicclient
// connection writes and reads back a key.
func checkServes(t *testing.T, s *served) {
	t.Helper()
	c := connect(t, s.pki, "good", s.endpoint())
	ctx := testCtx(t, 10*time.Second)
	key := fmt.Sprintf("/good/%d", goodKeys.Add(1))
	if _, err := c.Put(ctx, key, "ok"); err != nil {
		t.Fatalf("a good client after a refusal: %v", err)
	}
	get, err := c.Get(ctx, key)
	if err != nil || len(get.KVs) != 1 || string(get.KVs[0].Value) != "ok" {
		t.Fatalf("a good client after a refusal: get %+v, %v", get, err)
	}
	c.Close()
}

var goodKeys atomic.Int64

// checkRawServes proves a raw connection still serves, on a new stream.
func checkRawServes(t *testing.T, ctx context.Context, qc *quic.Conn) {
	t.Helper()
	r := openRaw(t, ctx, qc, wire.StreamRequests)
	r.putOK(1, fmt.Sprintf("/raw/%d", goodKeys.Add(1)))
	_ = r.str.Close()
}

// absent checks that key was never written, reading the member directly.
func absent(t *testing.T, s *served, key string) {
	t.Helper()
	r, err := s.m.Range(testCtx(t, 10*time.Second), storage.RangeRequest{Key: []byte(key)}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.KVs) != 0 {
		t.Fatalf("%q was written: %+v", key, r.KVs[0])
	}
}

// refusedHandshake checks that conf's connection is refused with the TLS alert, both with
// quic-go directly and through quicclient, and that the service then serves a good client.
// With TLS 1.3 the client's handshake completes before the server has checked the client's
// certificate, so the dial may succeed and the refusal arrive on the first stream.
func refusedHandshake(t *testing.T, s *served, conf *tls.Config, alert uint8, says string) {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	want := quic.TransportErrorCode(0x100 + uint64(alert))
	check := func(what string, err error) {
		t.Helper()
		var te *quic.TransportError
		if !errors.As(err, &te) || te.ErrorCode != want || !te.Remote {
			t.Fatalf("%s: %v, want the server's TLS alert %d (%v)", what, err, alert, want.Message())
		}
		if !strings.Contains(err.Error(), says) {
			t.Fatalf("%s: %q does not say %q", what, err, says)
		}
	}

	qc, err := rawDial(ctx, s, conf)
	if err != nil {
		check("dial", err)
	} else {
		t.Cleanup(func() { _ = qc.CloseWithError(0, "") })
		str, err := qc.OpenStreamSync(ctx)
		if err == nil {
			_ = str.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err = str.Write([]byte{byte(wire.StreamRequests)}); err == nil {
				_, err = io.ReadFull(str, make([]byte, 1))
			}
		}
		check("first stream", err)
	}

	_, err = quicclient.New(ctx, quicclient.Config{Endpoints: []string{s.endpoint()}, TLS: conf})
	if err == nil {
		t.Fatal("quicclient connected")
	}
	check("quicclient.New", err)
	t.Logf("quicclient.New: %v", err)
	checkServes(t, s)
}

// TestServiceRefusesBadCertificates: clients without a certificate, with one from another
// CA, an expired or not yet valid one, or a server-only one are refused during the TLS
// handshake with the alert that says why, and the service keeps serving good clients.
// A peer certificate (clientAuth and serverAuth, from the cluster CA) is a valid client
// certificate, as etcd accepts it.
func TestServiceRefusesBadCertificates(t *testing.T) {
	s := serveSingle(t, nil)
	now := time.Now()
	t.Run("no-certificate", func(t *testing.T) {
		refusedHandshake(t, s, &tls.Config{RootCAs: s.pki.CA().Pool()}, alertCertRequired, "certificate required")
	})
	t.Run("other-ca", func(t *testing.T) {
		other := certstest.New(t) // a subtest has its own CA
		if other == s.pki {
			t.Fatal("the subtest shares the service's CA")
		}
		cert := other.Client(t, "mallory")
		// Go's client sends no certificate when none is from a CA the server names...
		conf := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: s.pki.CA().Pool()}
		refusedHandshake(t, s, conf, alertCertRequired, "certificate required")
		// ...so force it, as a hostile client would.
		conf = &tls.Config{RootCAs: s.pki.CA().Pool(),
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }}
		refusedHandshake(t, s, conf, alertUnknownCA, "unknown certificate authority")
	})
	t.Run("expired", func(t *testing.T) {
		cert := s.pki.Issue(t, certs.IssueRequest{Profile: certs.ProfileClient, CommonName: "old",
			NotBefore: now.Add(-2 * time.Hour), Validity: time.Hour})
		refusedHandshake(t, s, clientTLS(s.pki, cert), alertCertificateExpired, "expired certificate")
	})
	t.Run("not-yet-valid", func(t *testing.T) {
		cert := s.pki.Issue(t, certs.IssueRequest{Profile: certs.ProfileClient, CommonName: "early",
			NotBefore: now.Add(time.Hour), Validity: time.Hour})
		refusedHandshake(t, s, clientTLS(s.pki, cert), alertCertificateExpired, "expired certificate")
	})
	t.Run("server-certificate", func(t *testing.T) {
		refusedHandshake(t, s, clientTLS(s.pki, s.pki.Server(t, "impostor")), alertBadCertificate, "bad certificate")
	})
	t.Run("peer-certificate", func(t *testing.T) {
		c, err := quicclient.New(testCtx(t, 10*time.Second), quicclient.Config{
			Endpoints: []string{s.endpoint()}, TLS: clientTLS(s.pki, s.pki.Peer(t, "member-2")),
		})
		if err != nil {
			t.Fatalf("a peer certificate as a client: %v", err)
		}
		defer c.Close()
		if _, err := c.Put(testCtx(t, 10*time.Second), "/peer", "ok"); err != nil {
			t.Fatal(err)
		}
	})
}

// TestServiceRefusesWrongALPN: a connection offering another protocol fails its handshake,
// even with a good certificate, and the service keeps serving.
func TestServiceRefusesWrongALPN(t *testing.T) {
	s := serveSingle(t, nil)
	ctx := testCtx(t, 10*time.Second)
	for _, proto := range []string{"etcq-peer/1", "h3", "etcq-client/2"} {
		conf := clientTLS(s.pki, s.pki.Client(t, "alice"))
		conf.NextProtos = []string{proto}
		qc, err := rawDial(ctx, s, conf)
		var te *quic.TransportError
		if err == nil {
			_ = qc.CloseWithError(0, "")
			t.Fatalf("ALPN %q: connected", proto)
		}
		if !errors.As(err, &te) || te.ErrorCode != 0x100+alertNoAppProtocol || !te.Remote {
			t.Fatalf("ALPN %q: %v, want the no_application_protocol alert", proto, err)
		}
	}
	checkServes(t, s)
}

// TestServiceOversizedFrames: a frame over the limit but small enough to skip is answered
// with CodeRequestTooLarge and the request's id, and the same stream serves on; a frame far
// over the limit gets the stream reset, and the connection serves on a new stream. Nothing
// of either request is applied.
func TestServiceOversizedFrames(t *testing.T) {
	limits := wire.Limits{MaxRequestBytes: 1 << 10, MaxTxnOps: 16}
	s := serveSingle(t, func(c *node.ServiceConfig) { c.Limits = limits })
	ctx := testCtx(t, 10*time.Second)
	qc := goodRawConn(t, s)
	limit := limits.FrameLimit()

	r := openRaw(t, ctx, qc, wire.StreamRequests)
	for i, size := range []int{limit + 1, 2 * limit, 4*limit - 64} {
		id := uint64(1000 + i)
		key := fmt.Sprintf("/big/%d", i)
		frame, err := wire.NewEncoder().Frame(wire.Request{ID: id, Op: wire.OpPut,
			Body: &wire.PutRequest{Key: []byte(key), Value: make([]byte, size)}})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(frame) - wire.FrameHeaderSize; n <= limit || n > 4*limit {
			t.Fatalf("frame of %d bytes: not between the limit %d and 4x", n, limit)
		}
		r.write(frame)
		resp := r.expectCode(id, wire.CodeRequestTooLarge)
		if !strings.Contains(resp.Message, "exceeds the limit") {
			t.Fatalf("the refusal does not say why: %q", resp.Message)
		}
		if !errors.Is(resp.Err(), wire.ErrRequestTooLarge) {
			t.Fatalf("%v does not match ErrRequestTooLarge", resp.Err())
		}
		r.putOK(id+100, "/small")
		absent(t, s, key)
	}

	// Far too large to skip: the head is read, the request refused, the stream reset.
	r2 := openRaw(t, ctx, qc, wire.StreamRequests)
	frame, err := wire.NewEncoder().Frame(wire.Request{ID: 77, Op: wire.OpPut,
		Body: &wire.PutRequest{Key: []byte("/huge"), Value: make([]byte, 4*limit+1)}})
	if err != nil {
		t.Fatal(err)
	}
	// Send the frame from another goroutine: the server stops reading it.
	wrote := make(chan error, 1)
	go func() {
		_, err := r2.str.Write(frame)
		wrote <- err
	}()
	r2.expectCode(77, wire.CodeRequestTooLarge)
	if err := r2.expectEnd(); !errors.Is(err, io.EOF) {
		t.Fatalf("after a refused huge frame the stream ends with %v, want the server's end of stream", err)
	}
	// The server stopped reading (STOP_SENDING): the send side is reset with its code.
	<-r2.str.Context().Done()
	if code, ok := streamErr(context.Cause(r2.str.Context())); !ok || code != codeFrameLimit {
		t.Fatalf("send side of the stream ended with %v, want the server's frame-limit code", context.Cause(r2.str.Context()))
	}
	if err := <-wrote; err != nil {
		if code, ok := streamErr(err); !ok || code != codeFrameLimit {
			t.Fatalf("write of the huge frame: %v", err)
		}
	}
	absent(t, s, "/huge")

	// The first stream and a new one still serve on the same connection.
	r.putOK(5000, "/after")
	checkRawServes(t, ctx, qc)
	checkServes(t, s)
}

// TestServiceGarbage: random bytes after the stream kind never take the connection down.
// Garbage inside well-formed frames is answered with the decoder's code (CodeBadRequest, or
// CodeUnknownOp when an op number can be read) and the stream goes on; garbage framing ends
// the stream (a refusal, the server's end of stream, or a reset). Unknown stream kinds get
// the stream reset. After all of it the connection and the service still serve.
func TestServiceGarbage(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	s := serveSingle(t, func(c *node.ServiceConfig) { c.Limits.MaxRequestBytes = 1 << 10 })
	ctx := testCtx(t, 20*time.Second)
	qc := goodRawConn(t, s)

	randBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}
	dec := wire.NewDecoder()

	// Garbage in well-formed frames, all on one stream.
	r := openRaw(t, ctx, qc, wire.StreamRequests)
	for i := range 200 {
		body := randBytes(1 + rng.IntN(200))
		if i%2 == 0 {
			// Half look like a request: an array of 4 with a small id and a real op.
			body = append([]byte{0x94, byte(rng.UintN(0x80)), byte(wire.OpPut)}, body...)
		}
		var req wire.Request
		err := dec.Request(body, &req)
		if err == nil {
			continue // a valid request by chance: not garbage
		}
		frame := make([]byte, wire.FrameHeaderSize, wire.FrameHeaderSize+len(body))
		wire.PutFrameHeader(frame, len(body))
		r.write(append(frame, body...))
		resp := r.mustRecv()
		if resp.Code != wire.CodeOf(err) || resp.Code != wire.CodeBadRequest && resp.Code != wire.CodeUnknownOp {
			t.Fatalf("garbage %x: answered %v (%q), want %v for %v", body, resp.Code, resp.Message, wire.CodeOf(err), err)
		}
		wantID := req.ID
		if wantID == 0 {
			wantID, _ = wire.PeekID(body) // refused before decoding: the id it starts with
		}
		if resp.ID != wantID {
			t.Fatalf("garbage %x: answered id %d, want %d", body, resp.ID, wantID)
		}
	}
	r.putOK(1, "/after-garbage")

	// Garbage framing: each on a stream of its own, which the server must end.
	for i := range 30 {
		g := openRaw(t, ctx, qc, wire.StreamRequests)
		g.write(randBytes(1 + rng.IntN(300)))
		_ = g.str.Close()
		err := g.expectEnd()
		if _, reset := streamErr(err); !errors.Is(err, io.EOF) && !reset {
			t.Fatalf("garbage stream %d ended with %v", i, err)
		}
	}

	// Unknown stream kinds.
	for _, kind := range []byte{0, 4, 0x7f, 0xff, byte(rng.UintN(252)) + 4} {
		str, err := qc.OpenStreamSync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_ = str.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := str.Write(append([]byte{kind}, randBytes(8)...)); err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(str)
		if code, ok := streamErr(err); !ok || code != codeBadStream {
			t.Fatalf("stream of kind %d: %v, want a reset with the bad-stream code", kind, err)
		}
	}

	checkRawServes(t, ctx, qc)
	checkServes(t, s)
}

// TestServiceMalformedRequests: a request whose body does not decode for its op is
// answered CodeBadRequest and an unknown op CodeUnknownOp, each with the request's id, on a
// stream that then serves on; requests of a watch or snapshot stream sent on a request
// stream are answered CodeBadStream.
func TestServiceMalformedRequests(t *testing.T) {
	s := serveSingle(t, nil)
	ctx := testCtx(t, 10*time.Second)
	r := openRaw(t, ctx, goodRawConn(t, s), wire.StreamRequests)
	frame := func(v any) []byte {
		body, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		f := make([]byte, wire.FrameHeaderSize, wire.FrameHeaderSize+len(body))
		wire.PutFrameHeader(f, len(body))
		return append(f, body...)
	}
	// Each case has its own id, which a failure names.
	for _, tc := range []struct {
		name string
		id   uint64
		req  any
		code wire.Code
	}{
		{"put-key-is-a-bool", 11, []any{11, wire.OpPut, "", []any{true, []byte("v")}}, wire.CodeBadRequest},
		{"put-body-is-a-string", 12, []any{12, wire.OpPut, "", "key=value"}, wire.CodeBadRequest},
		{"range-limit-is-a-string", 13, []any{13, wire.OpRange, "", []any{[]byte("k"), nil, 0, "ten"}}, wire.CodeBadRequest},
		{"token-is-a-map", 14, []any{14, wire.OpPut, map[string]int{"a": 1}, []any{[]byte("k"), []byte("v")}}, wire.CodeBadRequest},
		{"trailing-bytes", 15, nil, wire.CodeBadRequest},
		{"unknown-op", 16, []any{16, 250, "", []any{1, 2, 3}}, wire.CodeUnknownOp},
		{"op-past-a-byte", 17, []any{17, 258, "", nil}, wire.CodeUnknownOp},
	} {
		var f []byte
		if tc.req == nil {
			good, err := wire.NewEncoder().Frame(wire.Request{ID: tc.id, Op: wire.OpPut, Body: &wire.PutRequest{Key: []byte("/k"), Value: []byte("v")}})
			if err != nil {
				t.Fatal(err)
			}
			f = append(append([]byte(nil), good...), 0xc0)
			wire.PutFrameHeader(f, len(f)-wire.FrameHeaderSize)
		} else {
			f = frame(tc.req)
		}
		r.write(f)
		resp := r.expectCode(tc.id, tc.code)
		if resp.Message == "" || resp.Body != nil {
			t.Fatalf("%s: refusal %+v: no message, or a body", tc.name, resp)
		}
		r.putOK(tc.id+100, "/malformed/after")
	}
	for _, op := range []wire.Op{wire.OpWatchCreate, wire.OpSnapshot} {
		req := wire.Request{ID: 30 + uint64(op), Op: op, Body: wire.NewRequestBody(op)}
		if op == wire.OpWatchCreate {
			req.Body = &wire.WatchCreateRequest{Key: []byte("/k")}
		}
		r.send(req)
		r.expectCode(req.ID, wire.CodeBadStream)
	}
	absent(t, s, "/k")
	r.putOK(99, "/malformed/end")
	checkServes(t, s)
}

// TestServiceStreamFlood: a connection may not open more streams than MaxStreams; streams
// that never say their kind are closed after StreamKindTimeout, which gives the connection
// its streams back; other connections are served throughout.
func TestServiceStreamFlood(t *testing.T) {
	const maxStreams = 8
	s := serveSingle(t, func(c *node.ServiceConfig) {
		c.MaxStreams = maxStreams
		c.StreamKindTimeout = 200 * time.Millisecond
	})
	ctx := testCtx(t, 20*time.Second)

	// A connection holding every stream it may open, all busy.
	busy := goodRawConn(t, s)
	var held []*rawStream
	for range maxStreams {
		held = append(held, openRaw(t, ctx, busy, wire.StreamRequests))
	}
	for i := range 10 * maxStreams {
		if _, err := busy.OpenStream(); !errors.As(err, new(*quic.StreamLimitReachedError)) {
			t.Fatalf("stream %d past the limit: %v, want StreamLimitReachedError", maxStreams+i, err)
		}
	}
	// Blocked until a stream is given back.
	waiting := make(chan *quic.Stream, 1)
	go func() {
		str, err := busy.OpenStreamSync(ctx)
		if err != nil {
			t.Error(err)
		}
		waiting <- str
	}()
	checkServes(t, s)
	for i, r := range held {
		r.putOK(uint64(i+1), fmt.Sprintf("/held/%d", i))
	}
	held[0].str.CancelRead(0)
	_ = held[0].str.Close()
	if _, err := held[0].recv(); err == nil {
		t.Fatal("response after close")
	}
	str := <-waiting
	if str == nil {
		t.FailNow()
	}
	str.CancelWrite(0)
	str.CancelRead(0)

	// A connection whose streams never say their kind: the server sees them (opening a
	// stream opens every lower one) and closes each after StreamKindTimeout.
	idle := goodRawConn(t, s)
	var silent []*quic.Stream
	for range maxStreams {
		str, err := idle.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		silent = append(silent, str)
	}
	if _, err := idle.OpenStream(); !errors.As(err, new(*quic.StreamLimitReachedError)) {
		t.Fatalf("stream past the limit: %v", err)
	}
	// Make the server see them all: a kind byte on the last one opens the others.
	last := silent[maxStreams-1]
	if _, err := last.Write([]byte{byte(wire.StreamRequests)}); err != nil {
		t.Fatal(err)
	}
	for i, str := range silent[:maxStreams-1] {
		_ = str.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := str.Read(make([]byte, 1))
		if code, ok := streamErr(err); !ok || code != codeBadStream {
			t.Fatalf("silent stream %d: %v, want a reset with the bad-stream code", i, err)
		}
		<-str.Context().Done() // the reset also cancels the send side
	}
	// The refused streams are given back: new ones open and serve.
	for range maxStreams - 1 {
		checkRawServes(t, ctx, idle)
	}
	checkServes(t, s)
}
