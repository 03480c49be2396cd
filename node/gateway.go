package node

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"etcq.dev/etcq/wire"
)

// The HTTP/JSON gateway: HTTPS over TCP (HTTP/2 and HTTP/1.1) on a client URL's host and
// port, beside the QUIC service on UDP, so that curl and any HTTP client can talk to a
// member. It runs in the member's process and serves every request through its Service:
// the same operations, the same authentication and RBAC checks, the same limits.
//
// Mutual TLS is mandatory on every path, /health and /metrics included (as etcd with
// --client-cert-auth): the gateway takes the service's TLS configuration, which demands a
// client certificate of the cluster CA. A request runs as the CN of that certificate, or
// as the user of the token in its Authorization header (from /v3/auth/authenticate; the
// bare token as etcd takes it, or "Bearer <token>").
//
// Paths:
//
//	POST /v3/...           etcd's gateway paths and JSON (gateway_v3.go); /v3beta/ and
//	                       /v3alpha/ are aliases, as older etcd releases named them
//	GET|PUT|DELETE /kv/<key>
//	                       the raw value as the body (gateway_plain.go)
//	GET /health            etcd's {"health":"true","reason":""}: 200 when this member has
//	                       a leader and serves reads, 503 otherwise
//	GET /livez, /readyz    Kubernetes-style probes, "ok" or the failed checks
//	GET /metrics           Prometheus text format (metrics.go)
//	GET /debug/pprof/...   Go runtime profiles, with GatewayConfig.EnablePprof only
//
// Errors are etcd's gateway errors: the HTTP status of the gRPC code etcd gives the error,
// and the body {"error": message, "code": gRPC code, "message": message}.
//
// Slow clients are cut off: request headers must arrive within ReadHeaderTimeout, a whole
// non-streaming request within ReadTimeout, each write of a response within WriteTimeout,
// and idle keep-alive connections are closed after IdleTimeout. Request bodies are bounded
// by the service's MaxRequestBytes (as base64 JSON: 4/3 of it, plus slack).

// GatewayConfig configures a member's HTTP/JSON gateway.
type GatewayConfig struct {
	// Addr is the TCP address to listen on; empty: the service's address (the client
	// URL's host and port). Port 0 picks one. Ignored when Listener is set.
	Addr string
	// Listener, if set, is a TCP listener to serve on (the gateway does the TLS).
	Listener net.Listener
	// TLS is the server side of mutual TLS; nil: the service's own configuration. It must
	// require and verify client certificates, as the service's must. The gateway sets the
	// ALPN protocols (h2, http/1.1) and TLS 1.3.
	TLS *tls.Config
	// ReadHeaderTimeout bounds the wait for a request's headers (default 10 s).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds the reading of a whole non-streaming request (default 30 s).
	ReadTimeout time.Duration
	// WriteTimeout bounds each write of a response; a non-streaming response gets the
	// service's request timeout on top (default 30 s).
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle that long (default 2 minutes).
	IdleTimeout time.Duration
	// EnablePprof serves the Go runtime's profiles at /debug/pprof/ (net/http/pprof), as
	// etcd's --enable-pprof; behind the same mutual TLS as every other path.
	EnablePprof bool
	// Logger defaults to the service's.
	Logger *slog.Logger
}

func (c *GatewayConfig) setDefaults(s *Service) {
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 30 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = s.log
	}
	if c.TLS == nil {
		c.TLS = s.cfg.TLS
	}
}

// Gateway serves a member's HTTP/JSON gateway; see the comment above GatewayConfig.
// Create it with NewGateway; stop it with Shutdown, before the Service it serves through.
type Gateway struct {
	s   *Service
	cfg GatewayConfig
	log *slog.Logger
	ln  net.Listener
	srv *http.Server

	// streams is canceled at Shutdown: it ends watch, keep-alive and snapshot streams
	// (clients resume them elsewhere), which would otherwise hold Shutdown forever.
	streams    context.Context
	endStreams context.CancelFunc
	served     chan struct{} // closed when Serve has returned
	stats      gatewayStats
}

// gatewayStats counts what a Gateway has seen, for metrics.
type gatewayStats struct {
	conns, openConns, requests, failed, openStreams atomic.Int64
}

// NewGateway starts serving the gateway of the member s serves.
func NewGateway(s *Service, cfg GatewayConfig) (*Gateway, error) {
	cfg.setDefaults(s)
	if cfg.TLS == nil {
		return nil, fmt.Errorf("%w: the gateway needs a TLS configuration", ErrBadConfig)
	}
	tlsConf, err := gatewayTLS(cfg.TLS)
	if err != nil {
		return nil, err
	}
	ln := cfg.Listener
	if ln == nil {
		addr := cfg.Addr
		if addr == "" {
			addr = s.Addr().String()
		}
		if ln, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("node: gateway: listen on %s: %w", addr, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{
		s: s, cfg: cfg, log: cfg.Logger.With("member", fmt.Sprintf("%x", s.m.ID()), "gateway", ln.Addr().String()),
		ln: ln, streams: ctx, endStreams: cancel, served: make(chan struct{}),
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	g.srv = &http.Server{
		Handler:           g,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		Protocols:         protocols,
		ConnState:         g.connState,
		// Failed handshakes (no certificate, a wrong CA) are the clients' problem.
		ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
	}
	statsFor(s.m).add(s, g)
	go func() {
		defer close(g.served)
		if err := g.srv.Serve(tls.NewListener(ln, tlsConf)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.log.Error("gateway stopped serving", "err", err)
		}
	}()
	return g, nil
}

// gatewayProtos are the ALPN protocols of the gateway.
var gatewayProtos = []string{"h2", "http/1.1"}

// gatewayTLS prepares the gateway's mutual-TLS configuration from the service's: the same
// refusal of a configuration that does not verify client certificates, HTTP's protocols.
func gatewayTLS(base *tls.Config) (*tls.Config, error) {
	c, err := serverTLS(base, gatewayProtos[0])
	if err != nil {
		return nil, err
	}
	c.NextProtos = gatewayProtos
	if get := c.GetConfigForClient; get != nil {
		c.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			cc, err := get(hello)
			if err != nil || cc == nil {
				return cc, err
			}
			cc = cc.Clone()
			cc.NextProtos = gatewayProtos
			return cc, nil
		}
	}
	return c, nil
}

// Addr is the TCP address the gateway listens on.
func (g *Gateway) Addr() net.Addr { return g.ln.Addr() }

// Shutdown stops the gateway: it stops accepting connections, ends the streams (watches
// resume on another member), waits for the requests in flight until ctx is done, and
// then closes every connection.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.endStreams()
	err := g.srv.Shutdown(ctx)
	if err != nil {
		_ = g.srv.Close()
		err = fmt.Errorf("node: gateway shutdown: %w", err)
	}
	<-g.served
	statsFor(g.s.m).remove(g.s, g)
	return err
}

func (g *Gateway) connState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		g.stats.conns.Add(1)
		g.stats.openConns.Add(1)
	case http.StateClosed, http.StateHijacked:
		g.stats.openConns.Add(-1)
	}
}

// v3Prefixes are the path prefixes of etcd's gateway: /v3/, and the names etcd 3.3 and
// 3.4 used (seed tutorials still show /v3alpha/).
var v3Prefixes = []string{"/v3/", "/v3beta/", "/v3alpha/"}

// ServeHTTP routes a request. The paths are matched as they are, never cleaned: a key of
// /kv/ may hold any bytes, slashes included.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.stats.requests.Add(1)
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		// Never: the TLS configuration demands a verified certificate.
		g.writeJSONError(w, grpcUnauthenticated, "a client certificate is required")
		return
	}
	p := r.URL.Path
	switch p {
	case "/health":
		g.health(w, r)
		return
	case "/livez", "/readyz":
		g.probe(w, r, p == "/readyz")
		return
	case "/metrics":
		g.serveMetrics(w, r)
		return
	}
	if g.cfg.EnablePprof && strings.HasPrefix(p, "/debug/pprof/") {
		servePprof(w, r)
		return
	}
	if key, ok := strings.CutPrefix(p, "/kv/"); ok {
		g.plain(w, r, key)
		return
	}
	for _, prefix := range v3Prefixes {
		if name, ok := strings.CutPrefix(p, prefix); ok {
			g.v3(w, r, name)
			return
		}
	}
	g.writeJSONError(w, grpcNotFound, "Not Found")
}

// caller is who a request runs as: a client "connection" of the service with the
// certificate's CN as its identity, and the token of the Authorization header.
func (g *Gateway) caller(r *http.Request) (*clientConn, string) {
	cn := r.TLS.PeerCertificates[0].Subject.CommonName
	c := &clientConn{s: g.s, identity: cn, log: g.log.With("client", cn, "remote", r.RemoteAddr)}
	token := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(token) > 7 && strings.EqualFold(token[:7], "bearer ") {
		token = strings.TrimSpace(token[7:])
	}
	return c, token
}

// do serves one request through the service, as the QUIC service's handle does: refused
// while the service drains, bounded by its request timeout. The error is a *wire.Error.
func (g *Gateway) do(ctx context.Context, c *clientConn, req *wire.Request) (any, int64, error) {
	if !g.s.begin() {
		return nil, 0, wire.Errorf(wire.CodeUnavailable, "member is shutting down; the request was not served")
	}
	defer g.s.inflight.Done()
	ctx, cancel := context.WithTimeout(ctx, g.s.cfg.RequestTimeout)
	defer cancel()
	body, rev, err := g.s.do(ctx, c, req)
	if err != nil {
		we := toWireError(err)
		if we.Code == wire.CodeInternal {
			c.log.Warn("gateway request failed", "op", req.Op.String(), "err", err)
		}
		return nil, 0, we
	}
	return body, rev, nil
}

// jsonLimit bounds a JSON request body: the member's request limit as base64, and slack
// for the rest of the JSON.
func (g *Gateway) jsonLimit() int64 {
	return int64(g.s.cfg.Limits.MaxRequestBytes)/3*4 + 64<<10
}

// failure turns an error of a request into its gRPC code, HTTP status and message.
func failure(err error) (code grpcCode, status int, msg string) {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return grpcInvalidArgument, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("request is too large: the body exceeds %d bytes", tooLarge.Limit)
	case errors.Is(err, errBadJSON):
		return grpcInvalidArgument, http.StatusBadRequest, err.Error()
	}
	we := toWireError(err)
	code = grpcCodeOf(we.Code)
	return code, code.httpStatus(), we.Error()
}

// fail answers a request with err as etcd's gateway does.
func (g *Gateway) fail(w http.ResponseWriter, err error) {
	code, status, msg := failure(err)
	g.stats.failed.Add(1)
	writeJSON(w, status, &jError{Error: msg, Code: code, Message: msg})
}

func (g *Gateway) writeJSONError(w http.ResponseWriter, code grpcCode, msg string) {
	g.stats.failed.Add(1)
	writeJSON(w, code.httpStatus(), &jError{Error: msg, Code: code, Message: msg})
}

// writeJSON writes v as the whole response, compact and without a trailing newline, as
// etcd's gateway does.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshalJSON(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = marshalJSON(&jError{Error: err.Error(), Code: grpcInternal, Message: err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// marshalJSON is json.Marshal without the escaping of <, > and & (which etcd's gateway
// does not do either).
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// jResult is one message of a stream, as grpc-gateway wraps it.
type jResult struct {
	Result any `json:"result"`
}

// lineWriter writes the messages of a streaming response, one JSON object per line, each
// flushed at once and within the write timeout.
type lineWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	started bool
}

func (g *Gateway) newLineWriter(w http.ResponseWriter, rc *http.ResponseController) *lineWriter {
	return &lineWriter{w: w, rc: rc, timeout: g.cfg.WriteTimeout}
}

func (lw *lineWriter) write(v any) error {
	b, err := marshalJSON(v)
	if err != nil {
		return err
	}
	if !lw.started {
		lw.w.Header().Set("Content-Type", "application/json")
		lw.w.WriteHeader(http.StatusOK)
		lw.started = true
	}
	_ = lw.rc.SetWriteDeadline(time.Now().Add(lw.timeout))
	// An idle stream keeps no deadline: over HTTP/2 one that expires resets the stream.
	defer func() { _ = lw.rc.SetWriteDeadline(time.Time{}) }()
	if _, err := lw.w.Write(append(b, '\n')); err != nil {
		return err
	}
	return lw.rc.Flush()
}

// messageLimit bounds each JSON message of a streamed request body: reset it after each.
type messageLimit struct {
	r     io.Reader
	n     int64
	limit int64
}

func (l *messageLimit) Read(p []byte) (int, error) {
	if l.n >= l.limit {
		return 0, &http.MaxBytesError{Limit: l.limit}
	}
	if rest := l.limit - l.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	return n, err
}

// reset starts a new message; what the decoder has buffered belongs to it already.
func (l *messageLimit) reset(dec *json.Decoder) {
	if b, ok := dec.Buffered().(interface{ Len() int }); ok {
		l.n = int64(b.Len())
		return
	}
	l.n = 0
}
