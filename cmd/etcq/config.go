package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// config is everything the daemon is told, by flag, environment or config file. The names
// and meanings are etcd's.
type config struct {
	Name                     string `yaml:"name"`
	DataDir                  string `yaml:"data-dir"`
	ListenClientURLs         string `yaml:"listen-client-urls"`
	AdvertiseClientURLs      string `yaml:"advertise-client-urls"`
	ListenPeerURLs           string `yaml:"listen-peer-urls"`
	InitialAdvertisePeerURLs string `yaml:"initial-advertise-peer-urls"`
	InitialCluster           string `yaml:"initial-cluster"`
	InitialClusterState      string `yaml:"initial-cluster-state"`
	InitialClusterToken      string `yaml:"initial-cluster-token"`
	CertFile                 string `yaml:"cert-file"`
	KeyFile                  string `yaml:"key-file"`
	TrustedCAFile            string `yaml:"trusted-ca-file"`
	PeerCertFile             string `yaml:"peer-cert-file"`
	PeerKeyFile              string `yaml:"peer-key-file"`
	PeerTrustedCAFile        string `yaml:"peer-trusted-ca-file"`
	AutoTLS                  bool   `yaml:"auto-tls"`
	PKIDir                   string `yaml:"pki-dir"`
	Join                     string `yaml:"join"`       // client URL of a member to enroll through (join*.go)
	JoinToken                string `yaml:"join-token"` // etcq1.<id>.<secret>.<ca-pin>
	JoinTokenFile            string `yaml:"join-token-file"`
	QuotaBackendBytes        int64  `yaml:"quota-backend-bytes"`
	SnapshotCount            uint64 `yaml:"snapshot-count"`
	HeartbeatInterval        uint   `yaml:"heartbeat-interval"` // milliseconds
	ElectionTimeout          uint   `yaml:"election-timeout"`   // milliseconds
	AutoCompactionMode       string `yaml:"auto-compaction-mode"`
	AutoCompactionRetention  string `yaml:"auto-compaction-retention"`
	MaxRequestBytes          int    `yaml:"max-request-bytes"`
	MaxTxnOps                int    `yaml:"max-txn-ops"`
	LogLevel                 string `yaml:"log-level"`
	EnablePprof              bool   `yaml:"enable-pprof"`
	BcryptCost               int    `yaml:"bcrypt-cost"`
	AuthTokenTTL             uint   `yaml:"auth-token-ttl"` // seconds
	ConfigFile               string `yaml:"-"`
}

// errUsage marks a problem with how the daemon was invoked.
var errUsage = errors.New("etcq: invalid configuration")

// errHelp: -h was asked for and answered.
var errHelp = errors.New("etcq: help")

func defaultConfig() config {
	return config{
		Name:                     "default",
		ListenClientURLs:         "https://127.0.0.1:2379",
		AdvertiseClientURLs:      "https://127.0.0.1:2379",
		ListenPeerURLs:           "https://127.0.0.1:2380",
		InitialAdvertisePeerURLs: "https://127.0.0.1:2380",
		InitialClusterState:      "new",
		InitialClusterToken:      "etcq-cluster",
		QuotaBackendBytes:        2 << 30,
		SnapshotCount:            10000,
		HeartbeatInterval:        100,
		ElectionTimeout:          1000,
		AutoCompactionMode:       "periodic",
		MaxRequestBytes:          3 << 19,
		MaxTxnOps:                128,
		LogLevel:                 "info",
		BcryptCost:               10,
		AuthTokenTTL:             300,
	}
}

// bind declares the flags on fs, writing into c.
func (c *config) bind(fs *flag.FlagSet) {
	fs.StringVar(&c.Name, "name", c.Name, "human-readable name of this member")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "path to the data directory (default ${name}.etcq)")
	fs.StringVar(&c.ListenClientURLs, "listen-client-urls", c.ListenClientURLs, "comma-separated https:// URLs to serve clients on (QUIC on UDP)")
	fs.StringVar(&c.AdvertiseClientURLs, "advertise-client-urls", c.AdvertiseClientURLs, "comma-separated client URLs to tell the cluster about")
	fs.StringVar(&c.ListenPeerURLs, "listen-peer-urls", c.ListenPeerURLs, "https:// URL to talk to peers on (QUIC on UDP; one)")
	fs.StringVar(&c.InitialAdvertisePeerURLs, "initial-advertise-peer-urls", c.InitialAdvertisePeerURLs, "this member's peer URLs, as the other members reach it")
	fs.StringVar(&c.InitialCluster, "initial-cluster", c.InitialCluster, "initial cluster: name1=https://host1:2380,name2=https://host2:2380 (default ${name}=${initial-advertise-peer-urls})")
	fs.StringVar(&c.InitialClusterState, "initial-cluster-state", c.InitialClusterState, "new (bootstrap a cluster) or existing (join one)")
	fs.StringVar(&c.InitialClusterToken, "initial-cluster-token", c.InitialClusterToken, "token unique to this cluster, so that two clusters never mix")
	fs.StringVar(&c.CertFile, "cert-file", c.CertFile, "client-port server certificate (PEM)")
	fs.StringVar(&c.KeyFile, "key-file", c.KeyFile, "client-port server key (PEM, mode 0600)")
	fs.StringVar(&c.TrustedCAFile, "trusted-ca-file", c.TrustedCAFile, "CA bundle that client certificates must chain to")
	fs.StringVar(&c.PeerCertFile, "peer-cert-file", c.PeerCertFile, "peer certificate (PEM; serverAuth and clientAuth)")
	fs.StringVar(&c.PeerKeyFile, "peer-key-file", c.PeerKeyFile, "peer key (PEM, mode 0600)")
	fs.StringVar(&c.PeerTrustedCAFile, "peer-trusted-ca-file", c.PeerTrustedCAFile, "CA bundle that peer certificates must chain to")
	fs.BoolVar(&c.AutoTLS, "auto-tls", c.AutoTLS, "generate a CA (or use the one in --pki-dir) and this member's certificates")
	fs.StringVar(&c.PKIDir, "pki-dir", c.PKIDir, "with --auto-tls: the PKI directory, shared by the members of a local cluster (default ${data-dir}/pki)")
	fs.StringVar(&c.Join, "join", c.Join, "enroll through the member at this client URL (https://host:port) and join its cluster: certificates and the member list come from it (needs --join-token)")
	fs.StringVar(&c.JoinToken, "join-token", c.JoinToken, "with --join: the join token a member printed (or etcqctl certs token create made)")
	fs.StringVar(&c.JoinTokenFile, "join-token-file", c.JoinTokenFile, "with --join: a file holding the join token (unlike --join-token, not visible in ps)")
	fs.Int64Var(&c.QuotaBackendBytes, "quota-backend-bytes", c.QuotaBackendBytes, "raise a NOSPACE alarm when the store file grows past this size")
	fs.Uint64Var(&c.SnapshotCount, "snapshot-count", c.SnapshotCount, "applied entries between raft snapshots")
	fs.UintVar(&c.HeartbeatInterval, "heartbeat-interval", c.HeartbeatInterval, "time (in milliseconds) of a heartbeat interval")
	fs.UintVar(&c.ElectionTimeout, "election-timeout", c.ElectionTimeout, "time (in milliseconds) for an election to timeout")
	fs.StringVar(&c.AutoCompactionMode, "auto-compaction-mode", c.AutoCompactionMode, "periodic (retention is a duration) or revision (retention is a revision count)")
	fs.StringVar(&c.AutoCompactionRetention, "auto-compaction-retention", c.AutoCompactionRetention, "history to keep: \"1h\", \"30m\", \"5\" hours when periodic; revisions when revision (empty or 0: off)")
	fs.IntVar(&c.MaxRequestBytes, "max-request-bytes", c.MaxRequestBytes, "largest client request, in bytes")
	fs.IntVar(&c.MaxTxnOps, "max-txn-ops", c.MaxTxnOps, "most operations in one txn")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.IntVar(&c.BcryptCost, "bcrypt-cost", c.BcryptCost, "cost of hashing new passwords (4 to 31): each step doubles the time an authentication takes")
	fs.UintVar(&c.AuthTokenTTL, "auth-token-ttl", c.AuthTokenTTL, "seconds an auth token lives")
	fs.BoolVar(&c.EnablePprof, "enable-pprof", c.EnablePprof, "serve Go runtime profiles at /debug/pprof/ on the HTTPS gateway (mutual TLS, as every path)")
	fs.StringVar(&c.ConfigFile, "config-file", c.ConfigFile, "YAML file with the settings above (flag names as keys); flags and ETCQ_* variables override it")
}

// loadConfig reads the configuration: defaults, then the config file, then ETCQ_*
// environment variables, then flags (each overrides what comes before).
func loadConfig(args []string, env func(string) string, stderr io.Writer) (config, error) {
	c := defaultConfig()
	fs := flag.NewFlagSet("etcq", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.bind(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, errHelp
		}
		return c, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	file := c.ConfigFile
	if file == "" {
		file = env("ETCQ_CONFIG_FILE")
	}
	base := defaultConfig()
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return c, fmt.Errorf("%w: config file: %w", errUsage, err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&base); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("%w: config file %s: %w", errUsage, file, err)
		}
	}
	// Re-apply: file values as defaults, then the environment, then the flags given.
	final := base
	fs2 := flag.NewFlagSet("etcq", flag.ContinueOnError)
	fs2.SetOutput(io.Discard)
	final.bind(fs2)
	var err error
	fs2.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] {
			return
		}
		name := "ETCQ_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := env(name); v != "" {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%w: %s=%q: %w", errUsage, name, v, e)
			}
		}
	})
	if err != nil {
		return c, err
	}
	fs.Visit(func(f *flag.Flag) {
		if err == nil {
			if e := fs2.Set(f.Name, f.Value.String()); e != nil {
				err = fmt.Errorf("%w: --%s: %w", errUsage, f.Name, e)
			}
		}
	})
	if err == nil {
		err = final.readJoinTokenFile()
	}
	return final, err
}

// readJoinTokenFile sets the join token from --join-token-file, if given.
func (c *config) readJoinTokenFile() error {
	if c.JoinTokenFile == "" {
		return nil
	}
	if c.JoinToken != "" {
		return fmt.Errorf("%w: give --join-token or --join-token-file, not both", errUsage)
	}
	b, err := os.ReadFile(c.JoinTokenFile)
	if err != nil {
		return fmt.Errorf("%w: --join-token-file: %w", errUsage, err)
	}
	c.JoinToken = strings.TrimSpace(string(b))
	if c.JoinToken == "" {
		return fmt.Errorf("%w: --join-token-file %s is empty", errUsage, c.JoinTokenFile)
	}
	return nil
}

// clusterMember is one entry of --initial-cluster.
type clusterMember struct {
	name string
	urls []string
}

// parseInitialCluster parses "name=url,name=url2,other=url3" (a name may repeat, one
// entry per URL, as etcd).
func parseInitialCluster(s string) ([]clusterMember, error) {
	var out []clusterMember
	index := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, u, ok := strings.Cut(part, "=")
		if !ok || name == "" || u == "" {
			return nil, fmt.Errorf("%w: --initial-cluster entry %q is not name=url", errUsage, part)
		}
		if err := checkURL("--initial-cluster", u); err != nil {
			return nil, err
		}
		if i, ok := index[name]; ok {
			out[i].urls = append(out[i].urls, u)
			continue
		}
		index[name] = len(out)
		out = append(out, clusterMember{name: name, urls: []string{u}})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: --initial-cluster is empty", errUsage)
	}
	return out, nil
}

// parseURLs splits a comma-separated URL list and checks each.
func parseURLs(flagName, s string) ([]string, error) {
	var out []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		if err := checkURL(flagName, u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: --%s is empty", errUsage, flagName)
	}
	return out, nil
}

// checkURL accepts https://host:port only: etcq speaks nothing but mutual TLS.
func checkURL(flagName, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: --%s %q: %w", errUsage, strings.TrimPrefix(flagName, "--"), raw, err)
	}
	switch {
	case u.Scheme == "http":
		return fmt.Errorf("%w: --%s %q: plain-text http:// is refused: etcq serves clients and peers only over mutual TLS (QUIC), so use https://", errUsage, strings.TrimPrefix(flagName, "--"), raw)
	case u.Scheme != "https":
		return fmt.Errorf("%w: --%s %q: the scheme must be https://", errUsage, strings.TrimPrefix(flagName, "--"), raw)
	case u.Port() == "":
		return fmt.Errorf("%w: --%s %q: a port is required", errUsage, strings.TrimPrefix(flagName, "--"), raw)
	}
	if _, err := strconv.Atoi(u.Port()); err != nil {
		return fmt.Errorf("%w: --%s %q: bad port", errUsage, strings.TrimPrefix(flagName, "--"), raw)
	}
	return nil
}

// hostPort is the host:port of an https:// URL.
func hostPort(raw string) string {
	u, _ := url.Parse(raw)
	return u.Host
}

// tickInterval and electionTicks translate etcd's millisecond settings.
func (c *config) tickInterval() time.Duration {
	return time.Duration(c.HeartbeatInterval) * time.Millisecond
}

func (c *config) electionTicks() (int, error) {
	if c.HeartbeatInterval == 0 || c.ElectionTimeout < 5*c.HeartbeatInterval {
		return 0, fmt.Errorf("%w: --election-timeout (%d ms) must be at least 5 times --heartbeat-interval (%d ms)", errUsage, c.ElectionTimeout, c.HeartbeatInterval)
	}
	return int(c.ElectionTimeout / c.HeartbeatInterval), nil
}
