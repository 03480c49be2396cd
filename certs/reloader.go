package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Default Reloader settings.
const (
	DefaultPollInterval  = time.Second
	DefaultExpiryWarning = 30 * 24 * time.Hour
	// expiryWarningEvery bounds how often the same expiry warning is repeated.
	expiryWarningEvery = 24 * time.Hour
)

// Files names the PEM files of one TLS endpoint.
type Files struct {
	Cert     string // leaf certificate, optionally followed by intermediates
	Key      string // its private key; refused if group- or world-accessible
	CABundle string // the trusted CAs, one or more
	CRL      string // optional: CRLs of the trusted CAs; "" means no revocation checking
}

// ReloaderOptions configures a Reloader.
type ReloaderOptions struct {
	Files
	Logger *slog.Logger // nil: slog.Default()
	// PollInterval is how often handshakes may stat the files to notice changes; 0 means
	// DefaultPollInterval, negative means never (only Reload).
	PollInterval time.Duration
	// ExpiryWarning: a leaf or CA expiring within this is logged at Warn (on load, then at
	// most daily). 0 means DefaultExpiryWarning (30 days).
	ExpiryWarning time.Duration
}

// Reloader holds an endpoint's certificate and trust, re-reads them when their files change
// and hands out tls.Configs (ServerConfig, PeerConfig, ClientConfig) that always use the
// current ones, without a restart. Files are checked by stat at most every PollInterval,
// from within handshakes, and re-read on Reload. A file that fails to load (unreadable,
// malformed, key mismatch, insecure key file, CRL with a bad signature) leaves the last good
// material in place; the error is logged and returned by Reload.
//
// A Reloader is safe for concurrent use. It starts no goroutine and needs no Close.
type Reloader struct {
	opts ReloaderOptions
	log  *slog.Logger

	cur      atomic.Pointer[material]
	lastPoll atomic.Int64 // unix nanoseconds of the last poll

	mu        sync.Mutex // serializes loads; guards the fields below
	stamps    map[string]stamp
	bundlePEM []byte // last good contents
	crlPEM    []byte
	lastWarn  time.Time
}

// material is one immutable generation of what the endpoint uses.
type material struct {
	cert  *tls.Certificate // Leaf set
	trust *Trust
}

// stamp is what stat said about a file, to notice a change.
type stamp struct {
	info os.FileInfo // nil if stat failed
	err  string
}

func (s stamp) same(o stamp) bool {
	if s.info == nil || o.info == nil {
		return s.info == nil && o.info == nil && s.err == o.err
	}
	return os.SameFile(s.info, o.info) && s.info.ModTime().Equal(o.info.ModTime()) && s.info.Size() == o.info.Size()
}

func statFile(path string) stamp {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{err: err.Error()}
	}
	return stamp{info: fi}
}

// NewReloader loads the files once; every one must be good. Errors: those of LoadKeyPair
// and NewTrust (ErrUnreadable, ErrInsecureKeyFile, ErrMalformed, ErrKeyMismatch, ErrNotCA,
// ErrUnknownCA).
func NewReloader(opts ReloaderOptions) (*Reloader, error) {
	if opts.Cert == "" || opts.Key == "" || opts.CABundle == "" {
		return nil, errors.New("certs: reloader: the certificate, key and CA bundle files are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.ExpiryWarning == 0 {
		opts.ExpiryWarning = DefaultExpiryWarning
	}
	r := &Reloader{opts: opts, log: opts.Logger, stamps: map[string]stamp{}}
	for _, f := range r.files() {
		r.stamps[f] = statFile(f)
	}
	_, cert, err := readKeyPair(opts.Cert, opts.Key)
	if err != nil {
		return nil, err
	}
	bundle, err := readFile(opts.CABundle)
	if err != nil {
		return nil, fmt.Errorf("CA bundle: %w", err)
	}
	var crl []byte
	if opts.CRL != "" {
		if crl, err = readFile(opts.CRL); err != nil {
			return nil, fmt.Errorf("CRL: %w", err)
		}
	}
	trust, err := NewTrust(bundle, crl)
	if err != nil {
		return nil, err
	}
	r.bundlePEM, r.crlPEM = bundle, crl
	m := &material{cert: &cert, trust: trust}
	r.cur.Store(m)
	r.lastPoll.Store(time.Now().UnixNano())
	r.mu.Lock()
	r.checkLocked(m, true)
	r.mu.Unlock()
	return r, nil
}

// files lists the watched paths.
func (r *Reloader) files() []string {
	fs := []string{r.opts.Cert, r.opts.Key, r.opts.CABundle}
	if r.opts.CRL != "" {
		fs = append(fs, r.opts.CRL)
	}
	return fs
}

// Reload re-reads every file now. Parts that load replace the current ones; for parts that
// fail, the previous material stays and the error is returned (all of them, joined) and
// logged. Call it on SIGHUP, from a timer, or in tests instead of waiting for a poll.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loadLocked(true)
}

// poll reloads changed files if PollInterval has passed since the last poll. Handshake
// callbacks call it; it never waits for a reload in progress.
func (r *Reloader) poll() {
	if r.opts.PollInterval < 0 {
		return
	}
	now := time.Now().UnixNano()
	last := r.lastPoll.Load()
	if now-last < int64(r.opts.PollInterval) || !r.lastPoll.CompareAndSwap(last, now) {
		return
	}
	if !r.mu.TryLock() {
		return
	}
	defer r.mu.Unlock()
	_ = r.loadLocked(false)
}

// loadLocked reloads the leaf and/or the trust if forced or if their files changed.
func (r *Reloader) loadLocked(force bool) error {
	old := r.cur.Load()
	next := *old
	var errs []error

	leafChanged := r.touchedLocked(r.opts.Cert, r.opts.Key)
	if force || leafChanged {
		if _, cert, err := readKeyPair(r.opts.Cert, r.opts.Key); err != nil {
			errs = append(errs, fmt.Errorf("certificate: %w", err))
		} else {
			next.cert = &cert
		}
	}

	trustFiles := []string{r.opts.CABundle}
	if r.opts.CRL != "" {
		trustFiles = append(trustFiles, r.opts.CRL)
	}
	if r.touchedLocked(trustFiles...) || force {
		trust, err := r.loadTrustLocked()
		errs = append(errs, err...)
		if trust != nil {
			next.trust = trust
		}
	}

	changed := next.cert != old.cert || next.trust != old.trust
	if changed {
		r.cur.Store(&next)
	}
	err := errors.Join(errs...)
	if err != nil {
		r.log.Error("certs: reload failed, keeping the previous material", "err", err)
	}
	r.checkLocked(r.cur.Load(), changed)
	return err
}

// touchedLocked stats paths, records the stamps and reports whether any changed.
func (r *Reloader) touchedLocked(paths ...string) bool {
	changed := false
	for _, p := range paths {
		s := statFile(p)
		if !s.same(r.stamps[p]) {
			changed = true
		}
		r.stamps[p] = s
	}
	return changed
}

// loadTrustLocked reads the bundle and CRL files and builds a Trust, falling back to the
// last good contents of whichever file is bad. It returns nil if nothing usable is new.
func (r *Reloader) loadTrustLocked() (*Trust, []error) {
	var errs []error
	bundle, err := readFile(r.opts.CABundle)
	if err == nil {
		_, err = NewTrust(bundle, nil)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("CA bundle: %w", err))
		bundle = r.bundlePEM
	}
	crl := r.crlPEM
	if r.opts.CRL != "" {
		fresh, err := readFile(r.opts.CRL)
		var t *Trust
		if err == nil {
			t, err = NewTrust(bundle, fresh)
		}
		if err == nil {
			r.bundlePEM, r.crlPEM = bundle, fresh
			return t, errs
		}
		errs = append(errs, fmt.Errorf("CRL: %w", err))
	}
	t, err := NewTrust(bundle, crl)
	if err != nil {
		// The new bundle and the old CRL do not fit together: keep the old trust whole
		// rather than drop revocations.
		return nil, append(errs, fmt.Errorf("CA bundle with the previous CRL: %w", err))
	}
	r.bundlePEM, r.crlPEM = bundle, crl
	return t, errs
}

// checkLocked logs what changed, a leaf the bundle does not trust, and expiry warnings.
func (r *Reloader) checkLocked(m *material, changed bool) {
	now := time.Now()
	leaf := m.cert.Leaf
	if changed {
		r.log.Info("certs: loaded TLS material", "cn", leaf.Subject.CommonName, "serial", formatSerial(leaf.SerialNumber),
			"not_after", leaf.NotAfter, "cas", len(m.trust.cas), "crls", len(m.trust.crls))
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: m.trust.pool, Intermediates: intermediates(m.cert),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, CurrentTime: now}); err != nil {
			r.log.Warn("certs: this endpoint's own certificate is not trusted by its CA bundle", "cn", leaf.Subject.CommonName, "err", err)
		}
	}
	if !changed && now.Sub(r.lastWarn) < expiryWarningEvery {
		return
	}
	warned := false
	if left := leaf.NotAfter.Sub(now); left < r.opts.ExpiryWarning {
		r.log.Warn("certs: certificate expires soon", "cn", leaf.Subject.CommonName, "file", r.opts.Cert, "not_after", leaf.NotAfter, "left", left.Round(time.Second))
		warned = true
	}
	for _, ca := range m.trust.cas {
		if left := ca.NotAfter.Sub(now); left < r.opts.ExpiryWarning {
			r.log.Warn("certs: trusted CA expires soon", "cn", ca.Subject.CommonName, "file", r.opts.CABundle, "not_after", ca.NotAfter, "left", left.Round(time.Second))
			warned = true
		}
	}
	if warned {
		r.lastWarn = now
	}
}

func intermediates(c *tls.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, der := range c.Certificate[1:] {
		if ic, err := x509.ParseCertificate(der); err == nil {
			p.AddCert(ic)
		}
	}
	return p
}

// Certificate returns the current leaf certificate.
func (r *Reloader) Certificate() *x509.Certificate { return r.cur.Load().cert.Leaf }

// Trust returns the current trust (CA bundle and CRLs).
func (r *Reloader) Trust() *Trust { return r.cur.Load().trust }

// Expiry returns when the current leaf certificate expires: the value for a metric.
func (r *Reloader) Expiry() time.Time { return r.cur.Load().cert.Leaf.NotAfter }

// SecondsUntilExpiry is Expiry as a gauge value (negative once expired).
func (r *Reloader) SecondsUntilExpiry() float64 { return time.Until(r.Expiry()).Seconds() }
