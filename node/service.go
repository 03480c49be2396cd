package node

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"etcq.dev/etcq/wire"
)

// ClientALPN is the ALPN protocol of client connections.
const ClientALPN = "etcq-client/1"

// JoinALPN is the ALPN protocol of enrollment connections (ServiceConfig.Enroll), the one
// protocol served without a client certificate.
const JoinALPN = "etcq-join/1"

// maxEnrollConns bounds the enrollment connections served at once.
const maxEnrollConns = 8

// Error codes a Service closes connections and resets streams with.
const (
	closeShutdown   quic.ApplicationErrorCode = 0x100 // the member is shutting down
	closeBadStream  quic.StreamErrorCode      = 0x101 // unknown stream kind or no kind in time
	closeFrameLimit quic.StreamErrorCode      = 0x102 // a frame too large even to skip
	closeStreamDone quic.StreamErrorCode      = 0x103 // the server is done with the stream
	closeNotClient  quic.ApplicationErrorCode = 0x104 // not a client connection, or too many enrollments
)

// ServiceConfig configures a member's client service.
type ServiceConfig struct {
	// Addr is the UDP address to listen on ("127.0.0.1:2379"; port 0 picks one), unless
	// Conn is set.
	Addr string
	Conn net.PacketConn
	// TLS is the server side of mutual TLS. It must require and verify client
	// certificates; it may use GetConfigForClient or GetCertificate for hot reload. The
	// service sets the ALPN protocol.
	TLS *tls.Config
	// Limits bound requests (zero fields: etcd's defaults).
	Limits wire.Limits
	// MaxStreams bounds the streams a connection may have open at once (default 32).
	MaxStreams int
	// MaxInFlight bounds the requests one connection may have outstanding (default 4096);
	// beyond it the service stops reading from the connection.
	MaxInFlight int
	// RequestTimeout bounds how long a request may take on the server (default 7 s).
	RequestTimeout time.Duration
	// ProgressInterval is how often watchers that asked for progress notifications get
	// one (default 10 minutes, as etcd).
	ProgressInterval time.Duration
	// StreamKindTimeout bounds the wait for the first byte of a new stream (default 10 s).
	StreamKindTimeout time.Duration
	// CertExpiry, if set, reports when the service's certificate expires (for the
	// etcq_server_certificate_expiry_seconds metric; certs.Reloader.Expiry).
	CertExpiry func() time.Time
	Logger     *slog.Logger

	// Enroll, if set, serves enrollment of new members: connections that offer JoinALPN
	// get EnrollTLS (which must present the member's certificate; no client certificate is
	// asked for), can negotiate nothing but JoinALPN, and are handed to Enroll, never to
	// the client protocol. Every other connection keeps mandatory mutual TLS. Enroll owns
	// the connection until it returns (the service then closes it) and must return once
	// ctx is done. At most 8 enrollment connections are served at once; more are closed.
	Enroll    func(ctx context.Context, conn *quic.Conn)
	EnrollTLS *tls.Config
}

func (c *ServiceConfig) setDefaults() {
	if c.Limits.MaxRequestBytes <= 0 {
		c.Limits.MaxRequestBytes = wire.DefaultMaxRequestBytes
	}
	if c.Limits.MaxTxnOps <= 0 {
		c.Limits.MaxTxnOps = wire.DefaultMaxTxnOps
	}
	if c.MaxStreams <= 0 {
		c.MaxStreams = 32
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 4096
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 7 * time.Second
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = 10 * time.Minute
	}
	if c.StreamKindTimeout <= 0 {
		c.StreamKindTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Service serves a member's clients over QUIC: see the package documentation for the
// protocol. Create it with NewService; stop it with Shutdown.
type Service struct {
	m   *Member
	cfg ServiceConfig
	log *slog.Logger
	tr  *quic.Transport
	ln  *quic.Listener
	udp net.PacketConn // the socket, if the service opened it

	ctx    context.Context // canceled when the service stops
	cancel context.CancelFunc

	draining atomic.Bool
	inflight sync.WaitGroup // requests being served
	conns    sync.WaitGroup // connection goroutines
	acceptWG sync.WaitGroup

	mu    sync.Mutex
	open  map[*clientConn]struct{}
	stats serviceStats

	enrollSlots chan struct{} // one per enrollment connection being served
}

// serviceStats counts what a Service has seen, for metrics and tests.
type serviceStats struct {
	conns, streams, requests, refusedFrames atomic.Int64
}

// NewService starts serving m's clients.
func NewService(m *Member, cfg ServiceConfig) (*Service, error) {
	cfg.setDefaults()
	if cfg.TLS == nil {
		return nil, fmt.Errorf("%w: the client service needs a TLS configuration", ErrBadConfig)
	}
	tlsConf, err := serverTLS(cfg.TLS, ClientALPN)
	if err != nil {
		return nil, err
	}
	if tlsConf, err = withEnrollment(tlsConf, &cfg); err != nil {
		return nil, err
	}
	conn := cfg.Conn
	var own net.PacketConn
	if conn == nil {
		udp, err := net.ListenPacket("udp", cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("node: listen for clients on %s: %w", cfg.Addr, err)
		}
		conn, own = udp, udp
	}
	var resetKey quic.StatelessResetKey
	_, _ = rand.Read(resetKey[:])
	tr := &quic.Transport{Conn: conn, StatelessResetKey: &resetKey}
	ln, err := tr.Listen(tlsConf, &quic.Config{
		MaxIncomingStreams:    int64(cfg.MaxStreams),
		MaxIncomingUniStreams: -1,
		KeepAlivePeriod:       5 * time.Second,
		MaxIdleTimeout:        30 * time.Second,
	})
	if err != nil {
		if own != nil {
			own.Close()
		}
		return nil, fmt.Errorf("node: listen for clients: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{
		m: m, cfg: cfg, log: cfg.Logger.With("member", fmt.Sprintf("%x", m.ID())),
		tr: tr, ln: ln, udp: own, ctx: ctx, cancel: cancel,
		open:        make(map[*clientConn]struct{}),
		enrollSlots: make(chan struct{}, maxEnrollConns),
	}
	s.acceptWG.Add(1)
	go s.accept()
	return s, nil
}

// serverTLS prepares a server-side mutual-TLS configuration for proto, refusing one that
// does not verify client certificates.
func serverTLS(base *tls.Config, proto string) (*tls.Config, error) {
	c := base.Clone()
	c.NextProtos = []string{proto}
	c.MinVersion = tls.VersionTLS13
	if c.GetConfigForClient == nil && !verifiesClients(c) {
		return nil, fmt.Errorf("%w: client TLS must require and verify client certificates (mutual TLS is mandatory)", ErrBadConfig)
	}
	if get := c.GetConfigForClient; get != nil {
		c.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			cc, err := get(hello)
			if err != nil || cc == nil {
				return cc, err
			}
			if !verifiesClients(cc) {
				return nil, errors.New("node: refusing a TLS configuration that does not verify client certificates")
			}
			cc = cc.Clone()
			cc.NextProtos = []string{proto}
			cc.MinVersion = tls.VersionTLS13
			return cc, nil
		}
	}
	return c, nil
}

// withEnrollment makes a client config that hands connections offering JoinALPN the
// enrollment config instead (cfg.Enroll set); otherwise it returns client unchanged. The
// enrollment config lists JoinALPN alone, so a connection that gets it can negotiate
// nothing else.
func withEnrollment(client *tls.Config, cfg *ServiceConfig) (*tls.Config, error) {
	if cfg.Enroll == nil {
		return client, nil
	}
	e := cfg.EnrollTLS
	if e == nil || len(e.Certificates) == 0 && e.GetCertificate == nil {
		return nil, fmt.Errorf("%w: enrollment needs a TLS configuration with the member's certificate", ErrBadConfig)
	}
	enroll := e.Clone()
	enroll.NextProtos = []string{JoinALPN}
	enroll.MinVersion = tls.VersionTLS13
	enroll.ClientAuth = tls.NoClientCert
	enroll.SessionTicketsDisabled = true
	enroll.GetConfigForClient = nil
	c := client.Clone()
	next := client.GetConfigForClient
	c.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if slices.Contains(hello.SupportedProtos, JoinALPN) {
			return enroll, nil
		}
		if next != nil {
			return next(hello)
		}
		return nil, nil // c itself: mutual TLS
	}
	return c, nil
}

// verifiesClients reports whether c demands a client certificate and verifies it: by
// crypto/tls against ClientCAs, or by its own VerifyConnection (a hot-reloading CA bundle).
func verifiesClients(c *tls.Config) bool {
	return c.ClientAuth == tls.RequireAndVerifyClientCert ||
		c.ClientAuth == tls.RequireAnyClientCert && c.VerifyConnection != nil
}

// Addr is the address the service listens on.
func (s *Service) Addr() net.Addr { return s.ln.Addr() }

func (s *Service) accept() {
	defer s.acceptWG.Done()
	for {
		conn, err := s.ln.Accept(s.ctx)
		if err != nil {
			return
		}
		// Only a mutually authenticated etcq-client/1 connection reaches the client protocol.
		if cs := conn.ConnectionState().TLS; cs.NegotiatedProtocol != ClientALPN || len(cs.PeerCertificates) == 0 {
			if cs.NegotiatedProtocol == JoinALPN && s.cfg.Enroll != nil {
				s.enroll(conn)
				continue
			}
			_ = conn.CloseWithError(closeNotClient, "not a client connection")
			continue
		}
		c := newClientConn(s, conn)
		s.mu.Lock()
		if s.draining.Load() {
			s.mu.Unlock()
			_ = conn.CloseWithError(closeShutdown, "member is shutting down")
			continue
		}
		s.open[c] = struct{}{}
		s.conns.Add(1)
		s.mu.Unlock()
		s.stats.conns.Add(1)
		go func() {
			defer s.conns.Done()
			c.serve()
			s.mu.Lock()
			delete(s.open, c)
			s.mu.Unlock()
		}()
	}
}

// enroll hands an enrollment connection to cfg.Enroll, unless too many are being served
// or the service is draining.
func (s *Service) enroll(conn *quic.Conn) {
	select {
	case s.enrollSlots <- struct{}{}:
	default:
		_ = conn.CloseWithError(closeNotClient, "too many enrollments at once")
		return
	}
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		<-s.enrollSlots
		_ = conn.CloseWithError(closeShutdown, "member is shutting down")
		return
	}
	s.conns.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.conns.Done()
		defer func() { <-s.enrollSlots }()
		s.cfg.Enroll(s.ctx, conn)
		_ = conn.CloseWithError(0, "")
	}()
}

// begin registers a request in flight, unless the service is draining.
func (s *Service) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining.Load() {
		return false
	}
	s.inflight.Add(1)
	return true
}

// Shutdown stops the service gracefully: it stops accepting connections and requests
// (new requests are refused with CodeUnavailable, which clients may retry elsewhere),
// waits until the requests in flight are answered or ctx is done, then closes every
// connection (watchers resume on another member) and the socket.
func (s *Service) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining.Store(true)
	s.mu.Unlock()
	_ = s.ln.Close()
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("node: client service shutdown: %w", ctx.Err())
	}
	// Let every connection deliver its answers before it is closed.
	s.mu.Lock()
	open := make([]*clientConn, 0, len(s.open))
	for c := range s.open {
		open = append(open, c)
	}
	s.mu.Unlock()
	var drained sync.WaitGroup
	for _, c := range open {
		drained.Add(1)
		go func() { defer drained.Done(); c.drain(ctx) }()
	}
	drained.Wait()
	// Close before cancel: once s.ctx is canceled a connection's serve returns and drops
	// it from s.open, and a connection dropped before this loop would never be closed
	// (its client would hang until its idle timeout).
	s.mu.Lock()
	for c := range s.open {
		_ = c.conn.CloseWithError(closeShutdown, "member is shutting down")
	}
	s.mu.Unlock()
	s.cancel()
	s.acceptWG.Wait()
	s.conns.Wait()
	_ = s.tr.Close()
	if s.udp != nil {
		_ = s.udp.Close()
	}
	return err
}
