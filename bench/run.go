package bench

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"etcq.dev/etcq/quicclient"
)

// ErrConfig is returned, wrapped, for settings a run cannot use.
var ErrConfig = errors.New("bench: invalid configuration")

// ErrConnect is returned, wrapped, when the clients cannot connect to the cluster.
var ErrConnect = errors.New("bench: cannot connect")

// Config is what every workload shares: the cluster, the load's shape and the keys and
// values. Zero values take the defaults noted, which are etcd's benchmark's
// (etcqctl bench sets etcd's --val-size default of 8 itself).
type Config struct {
	// Endpoints are the members' client URLs (https://host:port or host:port).
	Endpoints []string
	// TLS is the client side of mutual TLS: a client certificate and the cluster CA.
	TLS *tls.Config
	// DialTimeout bounds connecting one client (5 s).
	DialTimeout time.Duration

	// Conns is how many quicclient.Clients (QUIC connections) are opened (1).
	Conns int
	// Clients is how many goroutines issue requests at once, spread over the conns (1).
	Clients int
	// Total is how many requests are issued in all (10000).
	Total int
	// KeySize (8) is the size of keys in bytes: zero-padded decimal numbers below
	// KeySpaceSize. ValSize is the size of values (0: empty; random bytes otherwise).
	KeySize, ValSize int
	// KeySpaceSize is how many distinct keys are written or read (1).
	KeySpaceSize int
	// SequentialKeys draws keys in order (request i uses key i mod KeySpaceSize) rather
	// than at random.
	SequentialKeys bool
	// TargetLeader sends every request to the leader; otherwise client i starts on
	// endpoint i mod len(Endpoints).
	TargetLeader bool
	// Rate caps the requests per second of all clients together (0: no cap).
	Rate float64
	// Deadline bounds the measured phase (0: none); requests still in flight then are
	// cancelled and not counted.
	Deadline time.Duration

	// Progress, if set, receives progress reports: a bar redrawn in place when
	// ProgressTTY, a line every few seconds otherwise.
	Progress    io.Writer
	ProgressTTY bool
	// Logger receives the clients' logs (discarded by default).
	Logger *slog.Logger
	// Seed seeds the key choices (0: from the clock).
	Seed uint64
}

func (c *Config) setDefaults() error {
	setDefault(&c.DialTimeout, 5*time.Second)
	setDefault(&c.Conns, 1)
	setDefault(&c.Clients, 1)
	setDefault(&c.Total, 10000)
	setDefault(&c.KeySize, 8)
	setDefault(&c.KeySpaceSize, 1)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	switch {
	case len(c.Endpoints) == 0:
		return fmt.Errorf("%w: no endpoints", ErrConfig)
	case c.TLS == nil:
		return fmt.Errorf("%w: a TLS configuration with a client certificate is required", ErrConfig)
	case c.Conns < 0 || c.Clients < 0 || c.Total < 0:
		return fmt.Errorf("%w: --conns, --clients and --total must be positive", ErrConfig)
	case c.KeySize < 1 || c.ValSize < 0 || c.KeySpaceSize < 1:
		return fmt.Errorf("%w: bad --key-size %d, --val-size %d or --key-space-size %d", ErrConfig, c.KeySize, c.ValSize, c.KeySpaceSize)
	case c.Rate < 0 || c.Deadline < 0:
		return fmt.Errorf("%w: --rate and the deadline must not be negative", ErrConfig)
	}
	if n := len(strconv.Itoa(c.KeySpaceSize - 1)); n > c.KeySize {
		return fmt.Errorf("%w: --key-size %d is too small for --key-space-size %d (keys are zero-padded decimal numbers of %d digits)",
			ErrConfig, c.KeySize, c.KeySpaceSize, n)
	}
	return nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// formatKey renders n as a zero-padded decimal number of exactly size bytes.
func formatKey(n uint64, size int) string {
	var tmp [24]byte
	d := strconv.AppendUint(tmp[:0], n, 10)
	b := make([]byte, size)
	for i := range b {
		b[i] = '0'
	}
	copy(b[max(size-len(d), 0):], d)
	return string(b)
}

// session is a run's connected clients.
type session struct {
	cfg       Config
	clients   []*quicclient.Client
	endpoints []string // the endpoint each client started on
	value     string   // random bytes of ValSize
}

// connect opens cfg.Conns clients and warms each with a serializable read.
func connect(ctx context.Context, cfg Config) (*session, error) {
	s := &session{cfg: cfg}
	targets := cfg.Endpoints
	if cfg.TargetLeader {
		l, err := findLeader(ctx, cfg)
		if err != nil {
			return nil, err
		}
		targets = []string{l}
	}
	s.clients = make([]*quicclient.Client, cfg.Conns)
	s.endpoints = make([]string, cfg.Conns)
	errs := make([]error, cfg.Conns)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range s.clients {
		eps := make([]string, len(targets))
		for j := range eps {
			eps[j] = targets[(i+j)%len(targets)]
		}
		s.endpoints[i] = eps[0]
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cctx, cancel := context.WithTimeout(ctx, 2*cfg.DialTimeout)
			defer cancel()
			c, err := quicclient.New(cctx, quicclient.Config{
				Endpoints: eps, TLS: cfg.TLS, DialTimeout: cfg.DialTimeout, Logger: cfg.Logger,
			})
			if err != nil {
				errs[i] = fmt.Errorf("%w: %s: %w", ErrConnect, eps[0], err)
				return
			}
			s.clients[i] = c
			if _, err := c.Get(cctx, "\x00bench-warm-up", quicclient.WithSerializable(), quicclient.WithCountOnly()); err != nil {
				errs[i] = fmt.Errorf("%w: warm-up on %s: %w", ErrConnect, eps[0], err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		s.close()
		return nil, err
	}
	v := make([]byte, cfg.ValSize)
	_, _ = rand.Read(v)
	s.value = string(v)
	return s, nil
}

func (s *session) close() {
	for _, c := range s.clients {
		if c != nil {
			c.Close()
		}
	}
}

// usedEndpoints lists the distinct endpoints the clients started on, in order.
func (s *session) usedEndpoints() []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range s.endpoints {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

// findLeader returns the endpoint whose member is the leader, asking each endpoint's
// member about itself.
func findLeader(ctx context.Context, cfg Config) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 2*cfg.DialTimeout)
	defer cancel()
	c, err := quicclient.New(cctx, quicclient.Config{Endpoints: cfg.Endpoints, TLS: cfg.TLS, DialTimeout: cfg.DialTimeout, Logger: cfg.Logger})
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrConnect, err)
	}
	defer c.Close()
	var errs []error
	for _, ep := range cfg.Endpoints {
		st, err := c.Status(cctx, ep)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ep, err))
			continue
		}
		if st.Leader != 0 && st.Header.MemberID == st.Leader {
			return ep, nil
		}
	}
	return "", fmt.Errorf("%w: no leader among %v: %w", ErrConnect, cfg.Endpoints, errors.Join(errs...))
}

// worker is one of the goroutines issuing requests.
type worker struct {
	id  int
	c   *quicclient.Client
	rng *mrand.Rand
	cfg *Config
}

// key returns the key of request ticket (1-based): the next one in order with
// SequentialKeys, a random one otherwise.
func (w *worker) key(ticket int64) string {
	return w.keyIn(ticket, w.cfg.KeySpaceSize)
}

func (w *worker) keyIn(ticket int64, space int) string {
	if w.cfg.SequentialKeys {
		return formatKey(uint64(ticket-1)%uint64(space), w.cfg.KeySize)
	}
	return formatKey(w.rng.Uint64N(uint64(space)), w.cfg.KeySize)
}

// limiter spaces requests evenly at a rate shared by every worker.
type limiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

func newLimiter(rate float64) *limiter {
	if rate <= 0 {
		return nil
	}
	return &limiter{interval: time.Duration(float64(time.Second) / rate)}
}

// wait blocks until the caller's turn, or ctx ends.
func (l *limiter) wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	at := l.next
	l.next = l.next.Add(l.interval)
	l.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// request is one request of a closed-loop workload: it runs the request numbered ticket
// (1-based) on w and returns the kind of operation it was and its error.
type request func(ctx context.Context, w *worker, ticket int64) (op string, err error)

// loop runs cfg.Total requests on cfg.Clients workers, records them into rec (whose start
// is the start of the run) and returns the report.
func (s *session) loop(ctx context.Context, label string, rec *Recorder, do request) *Report {
	cfg := &s.cfg
	runCtx, cancel := context.WithCancel(ctx)
	if cfg.Deadline > 0 {
		runCtx, cancel = context.WithTimeout(ctx, cfg.Deadline)
	}
	defer cancel()
	lim := newLimiter(cfg.Rate)
	var next atomic.Int64
	cpu0 := cpuSeconds()
	start := rec.Start()
	prog := startProgress(cfg.Progress, cfg.ProgressTTY, label, int64(cfg.Total), rec.Done)
	var wg sync.WaitGroup
	for j := range cfg.Clients {
		w := &worker{id: j, c: s.clients[j%len(s.clients)], cfg: cfg, rng: mrand.New(mrand.NewPCG(cfg.Seed, uint64(j)))}
		wg.Go(func() {
			for {
				t := next.Add(1)
				if t > int64(cfg.Total) || runCtx.Err() != nil {
					return
				}
				if lim.wait(runCtx) != nil {
					return
				}
				t0 := time.Now()
				op, err := do(runCtx, w, t)
				t1 := time.Now()
				switch {
				case err == nil:
					rec.Record(op, t1, t1.Sub(t0))
				case runCtx.Err() != nil:
					// Cut short by the deadline or an interrupt: not the cluster's failure.
				default:
					rec.Fail(op, err)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	prog.finish()
	r := NewReport(rec, elapsed)
	r.ClientCPUS = cpuSeconds() - cpu0
	r.DeadlineHit = cfg.Deadline > 0 && runCtx.Err() != nil && ctx.Err() == nil
	r.Interrupted = ctx.Err() != nil
	s.describe(r, label)
	return r
}

// describe fills in the run's settings.
func (s *session) describe(r *Report, workload string) {
	cfg := &s.cfg
	r.Workload = workload
	r.Endpoints = s.usedEndpoints()
	r.TargetLeader = cfg.TargetLeader
	r.Conns, r.Clients, r.Total = cfg.Conns, cfg.Clients, cfg.Total
	r.KeySize, r.ValSize, r.KeySpace = cfg.KeySize, cfg.ValSize, cfg.KeySpaceSize
	r.Rate = cfg.Rate
}
