package quicclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"etcq.dev/etcq/wire"
)

// Config configures a Client.
type Config struct {
	// Endpoints are the members' client URLs ("https://127.0.0.1:2379") or host:port pairs.
	Endpoints []string
	// TLS holds the client's certificate and the cluster CA (mutual TLS is mandatory).
	// ServerName defaults to each endpoint's host.
	TLS *tls.Config
	// DialTimeout bounds connecting to one endpoint (default 5 s).
	DialTimeout time.Duration
	// Streams is the number of pooled request streams per connection (default 1). One
	// stream coalesces the requests of concurrent callers, and the member's answers, into
	// the fewest packets (a put load of 10 callers per connection: 2.0 datagrams per
	// request against 5.3 with 4 streams, and about a quarter less CPU); more streams
	// spare small requests the wait behind a large answer or a lost packet.
	Streams int
	// Limits are the server's limits, checked before a request is sent (default: etcd's).
	Limits wire.Limits
	// MaxResponseBytes bounds one response frame (default 1 GiB).
	MaxResponseBytes int
	// Token is sent with every request (see Authenticate).
	Token string
	// Username and Password, if set, authenticate the client once connected (New), and
	// again whenever a member answers that the token is invalid (it expired, or an auth
	// change revoked it): the refused request, which was not applied, is then sent again
	// with the new token, once.
	Username, Password string
	Logger             *slog.Logger
}

// Client talks to an etcq cluster. Its methods are safe for concurrent use. It keeps one
// connection to one member at a time and moves to another member when that one fails or
// has no leader; see the package documentation for what it retries.
type Client struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	active *conn            // the connection requests use
	conns  map[string]*conn // connections by endpoint (active included)
	next   int              // where the next endpoint search starts
	closed bool
	token  string
	// failing holds a token while a failover runs: one at a time, and a caller whose
	// context ends stops waiting for another's.
	failing chan struct{}
	authMu  sync.Mutex // one re-authentication at a time

	watch *watchMux
}

// New connects to one of cfg.Endpoints, preferring a member that has a leader.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, fmt.Errorf("%w: no endpoints", ErrConfig)
	}
	if cfg.TLS == nil {
		return nil, fmt.Errorf("%w: a TLS configuration with a client certificate is required", ErrConfig)
	}
	for _, ep := range cfg.Endpoints {
		if _, err := hostPort(ep); err != nil {
			return nil, err
		}
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.Streams <= 0 {
		cfg.Streams = 1
	}
	if cfg.Limits.MaxRequestBytes <= 0 {
		cfg.Limits.MaxRequestBytes = wire.DefaultMaxRequestBytes
	}
	if cfg.Limits.MaxTxnOps <= 0 {
		cfg.Limits.MaxTxnOps = wire.DefaultMaxTxnOps
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = wire.DefaultMaxResponseBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Client{cfg: cfg, log: cfg.Logger, conns: make(map[string]*conn), token: cfg.Token, failing: make(chan struct{}, 1)}
	c.watch = newWatchMux(c)
	if _, err := c.failover(ctx, nil); err != nil {
		c.Close()
		return nil, err
	}
	if cfg.Username != "" {
		if _, err := c.Authenticate(ctx, cfg.Username, cfg.Password); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// reauthenticate obtains a new token with Config's credentials, unless another caller
// replaced the token stale meanwhile.
func (c *Client) reauthenticate(ctx context.Context, stale string) error {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	c.mu.Lock()
	current := c.token
	c.mu.Unlock()
	if current != stale {
		return nil
	}
	_, err := c.Authenticate(ctx, c.cfg.Username, c.cfg.Password)
	return err
}

// Endpoints returns the configured endpoints.
func (c *Client) Endpoints() []string { return append([]string(nil), c.cfg.Endpoints...) }

// SetToken sets the auth token sent with every request.
func (c *Client) SetToken(token string) {
	c.mu.Lock()
	c.token = token
	c.mu.Unlock()
}

// Close closes every connection; watch channels close.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	conns := c.conns
	c.conns = map[string]*conn{}
	c.active = nil
	c.mu.Unlock()
	c.watch.close()
	for _, cn := range conns {
		cn.close(ErrClosed)
	}
	return nil
}

// current returns the active connection, moving to another member if it has failed.
func (c *Client) current(ctx context.Context) (*conn, error) {
	c.mu.Lock()
	cn, closed := c.active, c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if cn != nil && cn.failed() == nil {
		return cn, nil
	}
	return c.failover(ctx, cn)
}

// failover replaces the connection bad (nil: none yet) with one to the best reachable
// member: the first, in order from the one after bad's, that reports a leader; if none
// does, the first that answers at all.
func (c *Client) failover(ctx context.Context, bad *conn) (*conn, error) {
	select {
	case c.failing <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.failing }()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if c.active != bad && c.active != nil && c.active.failed() == nil {
		cn := c.active // someone else failed over already
		c.mu.Unlock()
		return cn, nil
	}
	if bad != nil {
		c.next = (indexOf(c.cfg.Endpoints, bad.endpoint) + 1) % len(c.cfg.Endpoints)
		// A connection that still works keeps serving what is in flight on it (a member
		// that refused one request may answer the others); only a failed one is dropped.
		if c.conns[bad.endpoint] == bad && bad.failed() != nil {
			delete(c.conns, bad.endpoint)
		}
	}
	start := c.next
	c.mu.Unlock()

	var fallback *conn
	var errs []error
	for i := range c.cfg.Endpoints {
		ep := c.cfg.Endpoints[(start+i)%len(c.cfg.Endpoints)]
		cn, err := c.connTo(ctx, ep)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st, err := c.statusOn(ctx, cn)
		if err != nil {
			errs = append(errs, err)
			var refused *wire.Error
			if !errors.As(err, &refused) {
				c.drop(cn) // the connection is broken; one that answered stays for what is in flight
			}
			continue
		}
		if st.Leader != 0 {
			return c.activate(cn), nil
		}
		if fallback == nil {
			fallback = cn
		}
	}
	if fallback != nil {
		return c.activate(fallback), nil
	}
	return nil, fmt.Errorf("%w: %w", ErrNoEndpoint, errors.Join(errs...))
}

func (c *Client) activate(cn *conn) *conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active = cn
	c.next = indexOf(c.cfg.Endpoints, cn.endpoint)
	return cn
}

// connTo returns the connection to one endpoint, dialing it if needed.
func (c *Client) connTo(ctx context.Context, ep string) (*conn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	cn := c.conns[ep]
	c.mu.Unlock()
	if cn != nil && cn.failed() == nil {
		return cn, nil
	}
	cn, err := c.dial(ctx, ep)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		cn.close(ErrClosed)
		return nil, ErrClosed
	}
	if old := c.conns[ep]; old != nil && old.failed() == nil {
		cn.close(ErrClosed)
		return old, nil
	}
	c.conns[ep] = cn
	return cn, nil
}

// drop forgets a connection that failed.
func (c *Client) drop(cn *conn) {
	c.forget(cn)
	if !cn.draining.Load() {
		// A draining connection closes itself once the member has ended its last
		// stream, so that the answers still travelling on the others arrive.
		cn.close(fmt.Errorf("%w: %s", ErrConnectionLost, cn.endpoint))
	}
}

// retire stops using a connection whose member ended a stream cleanly, which it does when
// it drains the connection: no new requests go on it, and the requests in flight get their
// answers (or learn they were never read) as the member ends the request streams too.
func (c *Client) retire(cn *conn) {
	c.forget(cn)
	cn.beginDrain(fmt.Errorf("%w: %s: the member ended a stream (it is shutting down)", ErrConnectionLost, cn.endpoint))
}

// forget removes cn from the client's connections.
func (c *Client) forget(cn *conn) {
	c.mu.Lock()
	if c.conns[cn.endpoint] == cn {
		delete(c.conns, cn.endpoint)
	}
	if c.active == cn {
		c.active = nil
	}
	c.mu.Unlock()
}

func (c *Client) statusOn(ctx context.Context, cn *conn) (*wire.StatusResponse, error) {
	resp, _, err := cn.roundTrip(ctx, wire.Request{Op: wire.OpStatus, Body: &wire.Empty{}})
	if err != nil {
		return nil, err
	}
	if resp.Code == wire.CodeOK && resp.Op != wire.OpStatus {
		return nil, fmt.Errorf("%w: %s answered Status with %v", ErrProtocol, cn.endpoint, resp.Op)
	}
	if err := resp.Err(); err != nil {
		return nil, err
	}
	return resp.Body.(*wire.StatusResponse), nil
}

// safety says when a request may be sent again after a failure.
type safety int

const (
	// mutating requests are retried only when they surely were not applied: they never
	// left the client, or the member answered that it did nothing.
	mutating safety = iota
	// idempotent requests (reads) are retried after any failure of the connection.
	idempotent
)

// retryable reports whether a member's answer says it did nothing and another member
// might do better.
func retryable(code wire.Code) bool {
	switch code {
	case wire.CodeNoLeader, wire.CodeUnavailable, wire.CodeStopped, wire.CodeNotCapable, wire.CodeDropped:
		return true
	}
	return false
}

// ambiguous reports whether a member's answer leaves the request's outcome unknown: it
// may have been applied. wire files CodeStopped with the codes that say nothing was done,
// but a member that stops while a write it proposed waits to be applied answers that
// write with it too (node.ErrStopped), so a write answered CodeStopped may have been
// applied.
func ambiguous(code wire.Code) bool {
	switch code {
	case wire.CodeTimeout, wire.CodeLeaderChanged, wire.CodeOutcome:
		return true
	}
	return false
}

// do sends a request to the active member, failing over and retrying as far as it is safe,
// until ctx is done. The result is the member's response, or an error: a member's refusal
// (a *wire.Error), ErrOutcomeUnknown when a mutating request may or may not have been
// applied, or a connection error.
func (c *Client) do(ctx context.Context, op wire.Op, body any, s safety) (*wire.Response, error) {
	c.mu.Lock()
	token := c.token
	c.mu.Unlock()
	req := wire.Request{Op: op, Token: token, Body: body}
	backoff := 25 * time.Millisecond
	var lastErr error
	reauthed := false
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if attempt > 3*len(c.cfg.Endpoints)+3 {
				return nil, lastErr
			}
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil, errors.Join(ctx.Err(), lastErr)
			}
			backoff = min(2*backoff, time.Second)
		}
		cn, err := c.current(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, ErrClosed) {
				return nil, err
			}
			lastErr = err
			continue
		}
		resp, sent, err := cn.roundTrip(ctx, req)
		if err == nil && resp.Code == wire.CodeOK && resp.Op != op {
			err = fmt.Errorf("%w: %s answered %v with %v", ErrProtocol, cn.endpoint, op, resp.Op)
			c.drop(cn)
		}
		switch {
		case err == nil && resp.Code == wire.CodeOK:
			return resp, nil
		case err == nil && resp.Code == wire.CodeInvalidToken && c.cfg.Username != "" && !reauthed:
			// Refused before anything was done: authenticate again and resend.
			reauthed = true
			if aerr := c.reauthenticate(ctx, req.Token); aerr != nil {
				return nil, fmt.Errorf("%w (authenticating again: %w)", resp.Err(), aerr)
			}
			c.mu.Lock()
			req.Token = c.token
			c.mu.Unlock()
			attempt-- // not a failure of the member: no attempt spent
		case err == nil && s == mutating && ambiguous(resp.Code):
			if resp.Code == wire.CodeOutcome {
				// The member stopped under the request: later requests go to another one.
				_, _ = c.failover(ctx, cn)
			}
			return nil, fmt.Errorf("%w: %w", ErrOutcomeUnknown, resp.Err())
		case err == nil && (retryable(resp.Code) || ambiguous(resp.Code)):
			// Mutating requests got here only when surely not applied.
			lastErr = resp.Err()
			c.log.Debug("member cannot serve; trying another", "endpoint", cn.endpoint, "err", lastErr)
			if _, ferr := c.failover(ctx, cn); ferr != nil && ctx.Err() != nil {
				return nil, lastErr
			}
		case err == nil:
			return nil, resp.Err()
		case errors.Is(err, wire.ErrRequestTooLarge):
			return nil, err
		case ctx.Err() != nil:
			if sent && s == mutating {
				return nil, fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
			}
			return nil, err
		case sent && s == mutating:
			return nil, fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
		default:
			lastErr = err
			c.log.Debug("connection failed; trying another member", "endpoint", cn.endpoint, "err", err)
		}
	}
}

// doOn sends a request to one given endpoint, without failover (Status, HashKV, Defragment
// and Snapshot name their member).
func (c *Client) doOn(ctx context.Context, endpoint string, op wire.Op, body any) (*wire.Response, error) {
	cn, err := c.connTo(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	token := c.token
	c.mu.Unlock()
	resp, _, err := cn.roundTrip(ctx, wire.Request{Op: op, Token: token, Body: body})
	if err == nil && resp.Code == wire.CodeOK && resp.Op != op {
		err = fmt.Errorf("%w: %s answered %v with %v", ErrProtocol, endpoint, op, resp.Op)
		c.drop(cn)
	}
	if err != nil {
		if cn.failed() != nil {
			c.drop(cn)
		}
		return nil, err
	}
	return resp, resp.Err()
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return 0
}

// hostPort turns an endpoint ("https://host:port", "host:port") into host:port. Plain-text
// URLs are refused: etcq speaks nothing but mutual TLS.
func hostPort(ep string) (string, error) {
	if strings.Contains(ep, "://") {
		u, err := url.Parse(ep)
		if err != nil {
			return "", fmt.Errorf("%w: endpoint %q: %w", ErrConfig, ep, err)
		}
		if u.Scheme != "https" {
			return "", fmt.Errorf("%w: endpoint %q: etcq speaks only mutual TLS; use https://", ErrConfig, ep)
		}
		ep = u.Host
	}
	if _, _, err := net.SplitHostPort(ep); err != nil {
		return "", fmt.Errorf("%w: endpoint %q: %w", ErrConfig, ep, err)
	}
	return ep, nil
}

func hostOnly(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}
