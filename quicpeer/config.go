package quicpeer

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/quic-go/quic-go"
)

// Config configures a Transport. Zero values take the defaults noted.
type Config struct {
	// ID is this member's ID (non-zero). Streams addressed to another ID are refused.
	ID uint64
	// Listen is the UDP address to bind ("127.0.0.1:2380", ":2380", "127.0.0.1:0").
	Listen string
	// TLS holds this member's peer certificate (serverAuth and clientAuth) and the
	// cluster CA, for both directions: ClientCAs to verify members that dial in, RootCAs
	// to verify members dialled. It may use GetCertificate, GetClientCertificate,
	// GetConfigForClient and VerifyConnection for hot reload; the transport clones it,
	// sets the ALPN and, per dial, the ServerName, and requires client certificates.
	TLS *tls.Config
	// DialTLS, if set, returns the config to dial the member at host with (certificate,
	// CA and verification; the transport still sets the ALPN and ServerName). Use it when
	// verification depends on the server name and cannot be derived from a clone of TLS
	// with ServerName changed (certs.Reloader.PeerConfig verifies IP SANs that way).
	DialTLS func(host string) *tls.Config
	// StatelessResetKey lets peers notice at once that this member restarted: keep it
	// secret and the same across restarts (the daemon stores one in its data dir). Nil
	// draws a random one, which only helps within this process's lifetime.
	StatelessResetKey *[32]byte
	// Logger receives the transport's logs, with the key member added (slog.Default()).
	Logger *slog.Logger

	// QueueLen is how many messages may wait for one peer; more are dropped (4096).
	QueueLen int
	// MaxFrameBytes is the largest frame accepted or sent (DefaultMaxFrameBytes).
	MaxFrameBytes int
	// DialTimeout bounds one connection attempt, handshake included (5s).
	DialTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between connection attempts to a peer
	// that cannot be reached (50ms, 2s).
	MinBackoff, MaxBackoff time.Duration
	// HeaderTimeout is how long an accepted stream may take to send its header (10s).
	HeaderTimeout time.Duration
	// KeepAlivePeriod (5s) and IdleTimeout (30s) as quic.Config's.
	KeepAlivePeriod, IdleTimeout time.Duration
}

func (c *Config) validate() error {
	if c.ID == 0 {
		return fmt.Errorf("%w: member ID must not be 0", ErrBadConfig)
	}
	if c.Listen == "" {
		return fmt.Errorf("%w: no listen address", ErrBadConfig)
	}
	if err := checkTLS(c.TLS); err != nil {
		return err
	}
	setDefault(&c.QueueLen, 4096)
	setDefault(&c.MaxFrameBytes, DefaultMaxFrameBytes)
	setDefault(&c.DialTimeout, 5*time.Second)
	setDefault(&c.MinBackoff, 50*time.Millisecond)
	setDefault(&c.MaxBackoff, 2*time.Second)
	setDefault(&c.HeaderTimeout, 10*time.Second)
	setDefault(&c.KeepAlivePeriod, 5*time.Second)
	setDefault(&c.IdleTimeout, 30*time.Second)
	if c.MaxBackoff < c.MinBackoff {
		return fmt.Errorf("%w: max backoff %v below min backoff %v", ErrBadConfig, c.MaxBackoff, c.MinBackoff)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Streams a peer may have open on one connection: its message stream (one per
// connection: a sender whose stream fails replaces the connection) and a few
// concurrent snapshots.
const (
	maxMessageStreams  = 1
	maxSnapshotStreams = 4
)

// quicConfig is the QUIC configuration of both directions (DESIGN.md §4): keep-alive,
// idle timeout, no 0-RTT (replayable, and it arrives before the peer's identity is
// verified), no datagrams, few streams.
func (c *Config) quicConfig() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:  c.DialTimeout,
		MaxIdleTimeout:        c.IdleTimeout,
		KeepAlivePeriod:       c.KeepAlivePeriod,
		MaxIncomingStreams:    maxMessageStreams + maxSnapshotStreams,
		MaxIncomingUniStreams: -1,
		Allow0RTT:             false,
		EnableDatagrams:       false,
	}
}
