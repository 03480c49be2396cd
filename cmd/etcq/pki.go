package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"syscall"

	"etcq.dev/etcq/certs"
)

// tlsSetup is the daemon's TLS material: hot-reloading configurations for the client port
// and for peers.
type tlsSetup struct {
	client, peer *certs.Reloader
	// clientFiles are the files an etcqctl of this member's PKI would use (auto-TLS).
	clientFiles *certs.Files
	// caDir is the auto-TLS PKI directory holding the CA key: this member serves
	// enrollment (enroll.go). freshCA: this process created the CA.
	caDir   certs.Dir
	freshCA bool
}

// loadTLS builds the TLS material from the certificate flags, or, with --auto-tls, from a
// PKI directory it creates on first use.
func loadTLS(c *config, log *slog.Logger) (*tlsSetup, error) {
	if c.AutoTLS {
		return autoTLS(c, log)
	}
	missing := []string{}
	for flag, v := range map[string]string{
		"cert-file": c.CertFile, "key-file": c.KeyFile, "trusted-ca-file": c.TrustedCAFile,
		"peer-cert-file": c.PeerCertFile, "peer-key-file": c.PeerKeyFile, "peer-trusted-ca-file": c.PeerTrustedCAFile,
	} {
		if v == "" {
			missing = append(missing, "--"+flag)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: mutual TLS is mandatory: missing %v (or use --auto-tls to generate a PKI)", errUsage, missing)
	}
	client, err := certs.NewReloader(certs.ReloaderOptions{
		Files:  certs.Files{Cert: c.CertFile, Key: c.KeyFile, CABundle: c.TrustedCAFile, CRL: siblingCRL(c.TrustedCAFile)},
		Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("client certificates: %w", err)
	}
	peer, err := certs.NewReloader(certs.ReloaderOptions{
		Files:  certs.Files{Cert: c.PeerCertFile, Key: c.PeerKeyFile, CABundle: c.PeerTrustedCAFile, CRL: siblingCRL(c.PeerTrustedCAFile)},
		Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("peer certificates: %w", err)
	}
	return &tlsSetup{client: client, peer: peer}, nil
}

// siblingCRL is crl.pem next to a CA bundle, if there is one: certs' directory layout.
func siblingCRL(bundle string) string {
	p := filepath.Join(filepath.Dir(bundle), certs.CRLFile)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// autoTLS makes sure the PKI directory has a CA, a client certificate for operators
// ("root") and this member's server and peer certificates, creating what is missing.
// Several members of a local cluster may start at once on one directory: a file lock
// serializes them.
func autoTLS(c *config, log *slog.Logger) (*tlsSetup, error) {
	dir := c.PKIDir
	if dir == "" {
		dir = filepath.Join(c.DataDir, "pki")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auto-tls: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	d := certs.Dir(dir)
	ca, err := d.LoadCA()
	freshCA := false
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, certs.ErrUnreadable) && !exists(d.Path(certs.CACertFile)) {
		log.Info("auto-tls: creating a new certificate authority", "dir", dir)
		if _, ca, err = certs.InitDir(dir, certs.CAOptions{CommonName: "etcq CA"}); err != nil {
			return nil, fmt.Errorf("auto-tls: %w", err)
		}
		freshCA = true
	} else if err != nil {
		return nil, fmt.Errorf("auto-tls: %w", err)
	}
	issue := func(name string, p certs.Profile, cn string, hosts []string) error {
		if exists(d.CertPath(name)) {
			return nil
		}
		kp, err := ca.Issue(certs.IssueRequest{Profile: p, CommonName: cn, Hosts: hosts})
		if err != nil {
			return fmt.Errorf("auto-tls: issue %s: %w", name, err)
		}
		log.Info("auto-tls: issued a certificate", "file", d.CertPath(name), "profile", p, "cn", cn)
		return d.SaveKeyPair(name, kp)
	}
	local := []string{"localhost", "127.0.0.1", "::1"}
	clientHosts := append(urlHosts(c.AdvertiseClientURLs, c.ListenClientURLs), local...)
	peerHosts := append(urlHosts(c.InitialAdvertisePeerURLs, c.ListenPeerURLs), local...)
	if err := issue("root", certs.ProfileClient, "root", nil); err != nil {
		return nil, err
	}
	if err := issue(c.Name, certs.ProfileServer, c.Name, clientHosts); err != nil {
		return nil, err
	}
	if err := issue(c.Name+"-peer", certs.ProfilePeer, c.Name, peerHosts); err != nil {
		return nil, err
	}
	client, err := certs.NewReloader(certs.ReloaderOptions{Files: d.Files(c.Name), Logger: log})
	if err != nil {
		return nil, err
	}
	peer, err := certs.NewReloader(certs.ReloaderOptions{Files: d.Files(c.Name + "-peer"), Logger: log})
	if err != nil {
		return nil, err
	}
	root := d.Files("root")
	return &tlsSetup{client: client, peer: peer, clientFiles: &root, caDir: d, freshCA: freshCA}, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// urlHosts lists the hosts of comma-separated URL lists.
func urlHosts(lists ...string) []string {
	var hosts []string
	for _, l := range lists {
		urls, _ := parseURLs("", l)
		for _, raw := range urls {
			if u, err := url.Parse(raw); err == nil && u.Hostname() != "" {
				hosts = append(hosts, u.Hostname())
			}
		}
	}
	return hosts
}

// lockDir takes an exclusive lock on dir/.lock until unlock.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("auto-tls: lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("auto-tls: lock %s: %w", dir, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// serverTLSConfig and peerTLSConfig are the configurations the service and the transport
// take.
func (t *tlsSetup) serverTLSConfig() *tls.Config { return t.client.ServerConfig(&tls.Config{}) }

func (t *tlsSetup) peerTLSConfig() *tls.Config { return t.peer.PeerConfig(&tls.Config{}) }

// peerDialConfig is the configuration to dial the member at host: certs verifies the
// server's SAN against the name the config was built with.
func (t *tlsSetup) peerDialConfig(host string) *tls.Config {
	return t.peer.PeerConfig(&tls.Config{ServerName: host})
}
