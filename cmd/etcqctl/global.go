package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"etcq.dev/etcq/quicclient"
)

// envPrefix prefixes the environment variables that stand for global flags:
// ETCQCTL_ENDPOINTS for --endpoints, ETCQCTL_WRITE_OUT for --write-out, and so on.
const envPrefix = "ETCQCTL"

// envOnly are ETCQCTL_ variables that are no flag but are expected: ETCQCTL_API (scripts
// written for etcdctl set ETCDCTL_API=3) and the watch command's key and range end.
var envOnly = []string{"ETCQCTL_API", "ETCQCTL_WATCH_KEY", "ETCQCTL_WATCH_RANGE_END"}

// globalFlags are etcdctl v3's global flags.
type globalFlags struct {
	endpoints        []string
	dialTimeout      time.Duration
	commandTimeout   time.Duration
	keepAliveTime    time.Duration
	keepAliveTimeout time.Duration

	cacert, cert, key  string
	insecureTransport  bool
	insecureSkipVerify bool

	discoverySrv      string
	discoverySrvName  string
	insecureDiscovery bool

	user, password string

	writeOut string
	hex      bool
	debug    bool
}

func (g *globalFlags) register(fs *pflag.FlagSet) {
	fs.StringSliceVar(&g.endpoints, "endpoints", []string{"127.0.0.1:2379"}, "QUIC endpoints (https://host:port or host:port)")
	fs.BoolVar(&g.debug, "debug", false, "enable client-side debug logging")
	fs.StringVarP(&g.writeOut, "write-out", "w", "simple", "set the output format (fields, json, simple, table)")
	fs.BoolVar(&g.hex, "hex", false, "print byte strings as hex encoded strings")
	fs.DurationVar(&g.dialTimeout, "dial-timeout", 2*time.Second, "dial timeout for client connections")
	fs.DurationVar(&g.commandTimeout, "command-timeout", 5*time.Second, "timeout for short running command (excluding dial timeout)")
	fs.DurationVar(&g.keepAliveTime, "keepalive-time", 2*time.Second, "keepalive time for client connections (accepted for compatibility: QUIC keeps connections alive)")
	fs.DurationVar(&g.keepAliveTimeout, "keepalive-timeout", 6*time.Second, "keepalive timeout for client connections (accepted for compatibility)")
	fs.StringVar(&g.cacert, "cacert", "", "verify certificates of TLS-enabled secure servers using this CA bundle")
	fs.StringVar(&g.cert, "cert", "", "identify secure client using this TLS certificate file")
	fs.StringVar(&g.key, "key", "", "identify secure client using this TLS key file")
	fs.BoolVar(&g.insecureTransport, "insecure-transport", true, "accepted for compatibility and ignored: etcq speaks only mutual TLS")
	fs.BoolVar(&g.insecureSkipVerify, "insecure-skip-tls-verify", false, "skip server certificate verification (CAUTION: this option should be enabled only for testing purposes)")
	fs.StringVarP(&g.discoverySrv, "discovery-srv", "d", "", "domain name to query for SRV records describing cluster endpoints (not supported by etcqctl)")
	fs.StringVar(&g.discoverySrvName, "discovery-srv-name", "", "service name to query when using DNS discovery (not supported by etcqctl)")
	fs.BoolVar(&g.insecureDiscovery, "insecure-discovery", true, "accept insecure SRV records describing cluster endpoints (not supported by etcqctl)")
	fs.StringVar(&g.user, "user", "", "username[:password] for authentication (prompt if password is not supplied)")
	fs.StringVar(&g.password, "password", "", "password for authentication (if this option is used, --user option shouldn't include password)")
}

// envName is the environment variable of a flag: ETCQCTL_DIAL_TIMEOUT for dial-timeout.
func envName(flag string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// setup runs before every command: it reads the ETCQCTL_* variables into the global flags
// not given on the command line (as etcdctl reads ETCDCTL_*), and checks the output format.
func (a *app) setup(cmd *cobra.Command) error {
	fs := cmd.Root().PersistentFlags()
	a.rootFlags = fs
	if err := a.applyEnv(fs); err != nil {
		return err
	}
	if a.g.debug {
		fs.VisitAll(func(f *pflag.Flag) {
			fmt.Fprintf(a.stderr, "%s=%v\n", envName(f.Name), redacted(f))
		})
	}
	if (a.g.user != "" || a.g.password != "") && topCommand(cmd).Name() == "bench" {
		// bench makes its own clients, which cannot authenticate.
		return failf(exitBadFeature, "bench does not support --user and --password: its clients run as the CN of the client certificate (--cert)")
	}
	p, err := newPrinter(a.g.writeOut, a.g.hex, a.stdout, a.stderr)
	if err != nil {
		return err
	}
	a.display = p
	return nil
}

// topCommand is the command under the root that cmd is or belongs to.
func topCommand(cmd *cobra.Command) *cobra.Command {
	for cmd.HasParent() && cmd.Parent().HasParent() {
		cmd = cmd.Parent()
	}
	return cmd
}

// redacted is the value of a global flag as --debug shows it: passwords hidden.
func redacted(f *pflag.Flag) string {
	v := f.Value.String()
	switch f.Name {
	case "password":
		if v != "" {
			v = "<redacted>"
		}
	case "user":
		if name, _, ok := strings.Cut(v, ":"); ok {
			v = name + ":<redacted>"
		}
	}
	return v
}

// applyEnv sets each global flag not given on the command line from its ETCQCTL_*
// variable, and warns about ETCQCTL_* variables it does not know or that a flag shadows.
func (a *app) applyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		name := envName(f.Name)
		v, ok := a.env.lookup(name)
		if !ok || v == "" || err != nil {
			return
		}
		if f.Changed {
			fmt.Fprintf(a.stderr, "[WARNING] recognized environment variable %s, but unused: shadowed by corresponding flag\n", name)
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = failf(exitBadArgs, "invalid value %q for %s: %w", v, name, serr)
		}
	})
	if err != nil {
		return err
	}
	known := map[string]bool{}
	fs.VisitAll(func(f *pflag.Flag) { known[envName(f.Name)] = true })
	for _, kv := range a.env.environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, envPrefix+"_") && !known[name] && !slices.Contains(envOnly, name) {
			fmt.Fprintf(a.stderr, "[WARNING] unrecognized environment variable %s\n", kv)
		}
	}
	return nil
}

// commandCtx bounds one short request by --command-timeout.
// dialCommand dials the endpoints and starts the command's timeout: what most commands need
// for their one request. done ends both.
func (a *app) dialCommand() (*quicclient.Client, context.Context, func(), error) {
	c, err := a.client()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := a.commandCtx()
	return c, ctx, func() { cancel(); c.Close() }, nil
}

func (a *app) commandCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(a.ctx, a.g.commandTimeout)
}

// cleanupCtx bounds a request that releases what a command holds (a lock, a lease) when
// the command ends, however it ends: it outlives the command's context.
func (a *app) cleanupCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(a.ctx), a.g.commandTimeout)
}

// checkEndpoints validates endpoints: https:// URLs or host:port pairs. http:// is refused
// with the reason: etcq speaks nothing but mutual TLS.
func checkEndpoints(eps []string) ([]string, error) {
	var out []string
	for _, ep := range eps {
		ep = strings.TrimSpace(ep)
		if ep == "" {
			continue
		}
		hostport := ep
		if strings.Contains(ep, "://") {
			u, err := url.Parse(ep)
			if err != nil {
				return nil, fmt.Errorf("endpoint %q: %w", ep, err)
			}
			switch u.Scheme {
			case "https":
			case "http":
				return nil, fmt.Errorf("endpoint %q: etcq speaks only mutual TLS (QUIC with TLS 1.3); use https://%s or %s", ep, u.Host, u.Host)
			default:
				return nil, fmt.Errorf("endpoint %q: scheme %q is not supported; use https://host:port or host:port", ep, u.Scheme)
			}
			hostport = u.Host
		}
		if _, _, err := net.SplitHostPort(hostport); err != nil {
			return nil, fmt.Errorf("endpoint %q: %w", ep, err)
		}
		out = append(out, ep)
	}
	if len(out) == 0 {
		return nil, errors.New("no endpoints given")
	}
	return out, nil
}

// tlsConfig is the client side of mutual TLS from --cert, --key and --cacert.
func (a *app) tlsConfig() (*tls.Config, error) {
	g := &a.g
	if g.cert == "" || g.key == "" {
		return nil, errors.New("etcq speaks only mutual TLS: give a client certificate and its key with --cert and --key (or ETCQCTL_CERT and ETCQCTL_KEY), and the cluster CA with --cacert")
	}
	cert, err := tls.LoadX509KeyPair(g.cert, g.key)
	if err != nil {
		return nil, fmt.Errorf("load client certificate %s and key %s: %w", g.cert, g.key, err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	if g.cacert != "" {
		pem, err := os.ReadFile(g.cacert)
		if err != nil {
			return nil, fmt.Errorf("read CA bundle: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("read CA bundle %s: no PEM certificate in it", g.cacert)
		}
		conf.RootCAs = pool
	}
	conf.InsecureSkipVerify = g.insecureSkipVerify
	return conf, nil
}

// checkGlobal refuses what etcqctl accepts as a flag but cannot do.
func (a *app) checkGlobal() error {
	g := &a.g
	for _, f := range []struct{ name, val string }{{"cert", g.cert}, {"key", g.key}, {"cacert", g.cacert}} {
		if f.val == "" && a.changed(f.name) {
			return failf(exitBadArgs, "empty string is passed to --%s option", f.name)
		}
	}
	if g.password != "" && g.user == "" {
		return failf(exitBadArgs, "--password needs --user: the name of the user whose password it is")
	}
	if g.discoverySrv != "" {
		return failf(exitBadFeature, "DNS discovery (--discovery-srv) is not supported by etcqctl; give --endpoints")
	}
	return nil
}

// changed reports whether a global flag was given on the command line or by its
// environment variable.
func (a *app) changed(name string) bool {
	return a.rootFlags != nil && a.rootFlags.Changed(name)
}

// clientEndpoints returns the validated --endpoints.
func (a *app) clientEndpoints() ([]string, error) {
	eps, err := checkEndpoints(a.g.endpoints)
	if err != nil {
		return nil, fail(exitBadArgs, err)
	}
	return eps, nil
}

// client connects to endpoints (default: --endpoints). The caller closes it. Bad flags
// end the command with exitBadArgs, an unreachable cluster with exitBadConnection.
func (a *app) client(endpoints ...string) (*quicclient.Client, error) {
	if err := a.checkGlobal(); err != nil {
		return nil, err
	}
	if len(endpoints) == 0 {
		eps, err := a.clientEndpoints()
		if err != nil {
			return nil, err
		}
		endpoints = eps
	} else if _, err := checkEndpoints(endpoints); err != nil {
		return nil, fail(exitBadArgs, err)
	}
	conf, err := a.tlsConfig()
	if err != nil {
		return nil, fail(exitBadArgs, err)
	}
	if err := a.loadCredentials(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(a.ctx, a.g.dialTimeout*time.Duration(len(endpoints)+1))
	defer cancel()
	c, err := quicclient.New(ctx, quicclient.Config{
		Endpoints:   endpoints,
		TLS:         conf,
		DialTimeout: a.g.dialTimeout,
		Logger:      a.logger(),
	})
	if err != nil {
		return nil, fail(exitBadConnection, err)
	}
	if err := a.login(c); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// logger is the client library's logger: debug records on stderr with --debug, nothing
// otherwise.
func (a *app) logger() *slog.Logger {
	if a.g.debug {
		return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
