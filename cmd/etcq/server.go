package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"etcq.dev/etcq/node"
	"etcq.dev/etcq/quicpeer"
	"etcq.dev/etcq/wire"
)

// server is a running member: its transport, the member and its client services.
type server struct {
	log       *slog.Logger
	member    *node.Member
	transport *quicpeer.Transport
	services  []*node.Service
	gateways  []*node.Gateway
	stopAux   context.CancelFunc
}

// start builds and starts the member described by cfg.
func start(cfg config, log *slog.Logger, stdout io.Writer) (*server, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = cfg.Name + ".etcq"
	}
	peerURLs, err := parseURLs("initial-advertise-peer-urls", cfg.InitialAdvertisePeerURLs)
	if err != nil {
		return nil, err
	}
	listenPeer, err := parseURLs("listen-peer-urls", cfg.ListenPeerURLs)
	if err != nil {
		return nil, err
	}
	if len(listenPeer) != 1 {
		return nil, fmt.Errorf("%w: --listen-peer-urls: etcq listens for peers on one socket; give one URL", errUsage)
	}
	listenClients, err := parseURLs("listen-client-urls", cfg.ListenClientURLs)
	if err != nil {
		return nil, err
	}
	advertise, err := parseURLs("advertise-client-urls", cfg.AdvertiseClientURLs)
	if err != nil {
		return nil, err
	}
	// A member that joins by enrollment learns the members from the cluster (join.go).
	joining := wantsJoin(&cfg)
	var initial []node.MemberInfo
	var self *node.MemberInfo
	var join bool
	if !joining {
		if initial, self, join, err = initialCluster(&cfg, peerURLs); err != nil {
			return nil, err
		}
	}
	electionTicks, err := cfg.electionTicks()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	clusterID := node.ClusterIDFor(cfg.InitialClusterToken)
	var joined *joinState
	var tlsSetup *tlsSetup
	if joining {
		if joined, err = joinCluster(&cfg, peerURLs, advertise, log); err != nil {
			return nil, err
		}
		initial, self = joined.initial()
		join, clusterID, cfg.InitialClusterToken = true, joined.ClusterID, joined.ClusterToken
		tlsSetup, err = joinedTLS(&cfg, joined, log)
	} else {
		tlsSetup, err = loadTLS(&cfg, log)
	}
	if err != nil {
		return nil, err
	}
	resetKey, err := statelessResetKey(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	transport, err := quicpeer.New(quicpeer.Config{
		ID: self.ID, Listen: hostPort(listenPeer[0]), TLS: tlsSetup.peerTLSConfig(),
		DialTLS:           tlsSetup.peerDialConfig,
		StatelessResetKey: resetKey, Logger: log,
	})
	if err != nil {
		return nil, explainListen("--listen-peer-urls "+listenPeer[0], err)
	}
	member, err := node.New(node.Config{
		ID: self.ID, Name: cfg.Name, DataDir: cfg.DataDir,
		InitialCluster: initial, ClusterToken: cfg.InitialClusterToken, Join: join,
		ClusterID:  clusterID,
		ClientURLs: advertise, Transport: transport,
		TickInterval: cfg.tickInterval(), ElectionTicks: electionTicks, HeartbeatTicks: 1,
		SnapshotCount: cfg.SnapshotCount, QuotaBackendBytes: cfg.QuotaBackendBytes,
		// The raft entry of a request carries a little more than the client's bytes.
		MaxRequestBytes: cfg.MaxRequestBytes + 4096,
		BcryptCost:      cfg.BcryptCost,
		AuthTokenTTL:    time.Duration(cfg.AuthTokenTTL) * time.Second,
		Logger:          log,
	})
	if err != nil {
		transport.Close()
		return nil, err
	}
	if err := transport.Start(member.ClusterID(), member); err != nil {
		member.Stop()
		transport.Close()
		return nil, err
	}
	s := &server{log: log, member: member, transport: transport}
	enroll, enrollTLS := enrollHook(tlsSetup, member, cfg.InitialClusterToken, log)
	for _, u := range listenClients {
		svc, err := node.NewService(member, node.ServiceConfig{
			Addr: hostPort(u), TLS: tlsSetup.serverTLSConfig(), CertExpiry: tlsSetup.client.Expiry,
			Limits: wire.Limits{MaxRequestBytes: cfg.MaxRequestBytes, MaxTxnOps: cfg.MaxTxnOps},
			Logger: log,
			Enroll: enroll, EnrollTLS: enrollTLS,
		})
		if err != nil {
			s.stop()
			return nil, explainListen("--listen-client-urls "+u, err)
		}
		s.services = append(s.services, svc)
	}
	// The HTTP/JSON gateway (node/gateway.go): HTTPS on TCP at each client URL's address,
	// beside the QUIC service on UDP, with the service's mutual TLS.
	for _, svc := range s.services {
		gw, err := node.NewGateway(svc, node.GatewayConfig{Logger: log, EnablePprof: cfg.EnablePprof})
		if err != nil {
			s.stop()
			return nil, explainListen("--listen-client-urls "+svc.Addr().String()+" (HTTPS gateway on TCP)", err)
		}
		s.gateways = append(s.gateways, gw)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopAux = cancel
	if err := startCompactor(ctx, member, cfg.AutoCompactionMode, cfg.AutoCompactionRetention, log); err != nil {
		s.stop()
		return nil, err
	}
	log.Info("serving clients", "name", cfg.Name, "id", fmt.Sprintf("%x", self.ID), "cluster", fmt.Sprintf("%x", member.ClusterID()), "client_urls", advertise, "peer_urls", peerURLs)
	if tlsSetup.clientFiles != nil {
		f := tlsSetup.clientFiles
		fmt.Fprintf(stdout, "etcq %s is up. Talk to it with:\n  export ETCQCTL_ENDPOINTS=%s ETCQCTL_CACERT=%s ETCQCTL_CERT=%s ETCQCTL_KEY=%s\n",
			cfg.Name, strings.Join(advertise, ","), abs(f.CABundle), abs(f.Cert), abs(f.Key))
	}
	if err := announceJoin(stdout, &cfg, advertise, tlsSetup, joined); err != nil {
		log.Error("cannot make a join token", "err", err)
	}
	return s, nil
}

// initialCluster reads the members of a new cluster, or of the cluster a member added by
// hand joins (--initial-cluster-state existing), from --initial-cluster.
func initialCluster(cfg *config, peerURLs []string) (initial []node.MemberInfo, self *node.MemberInfo, join bool, err error) {
	if cfg.InitialCluster == "" {
		var parts []string
		for _, u := range peerURLs {
			parts = append(parts, cfg.Name+"="+u)
		}
		cfg.InitialCluster = strings.Join(parts, ",")
	}
	cluster, err := parseInitialCluster(cfg.InitialCluster)
	if err != nil {
		return nil, nil, false, err
	}
	for _, cm := range cluster {
		initial = append(initial, node.MemberInfo{ID: node.MemberIDFor(cm.name, cm.urls, cfg.InitialClusterToken), Name: cm.name, PeerURLs: cm.urls})
	}
	for i, cm := range cluster {
		if cm.name == cfg.Name {
			self = &initial[i]
		}
	}
	if self == nil {
		return nil, nil, false, fmt.Errorf("%w: --initial-cluster has no entry for --name %q", errUsage, cfg.Name)
	}
	if !sameURLs(self.PeerURLs, peerURLs) {
		return nil, nil, false, fmt.Errorf("%w: --initial-cluster gives %s the peer URLs %v, but --initial-advertise-peer-urls says %v", errUsage, cfg.Name, self.PeerURLs, peerURLs)
	}
	switch cfg.InitialClusterState {
	case "new":
	case "existing":
		join = true
	default:
		return nil, nil, false, fmt.Errorf("%w: --initial-cluster-state %q: use new or existing", errUsage, cfg.InitialClusterState)
	}
	return initial, self, join, nil
}

// stop drains the client services, stops the member (which hands leadership over if it
// leads) and closes the transport.
func (s *server) stop() {
	if s.stopAux != nil {
		s.stopAux()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, gw := range s.gateways {
		if err := gw.Shutdown(ctx); err != nil {
			s.log.Warn("gateway shutdown", "err", err)
		}
	}
	for _, svc := range s.services {
		if err := svc.Shutdown(ctx); err != nil {
			s.log.Warn("client service shutdown", "err", err)
		}
	}
	s.member.Stop()
	s.transport.Close()
	s.log.Info("stopped")
}

func sameURLs(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// explainListen turns a bind failure into a message an operator can act on.
func explainListen(what string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%s: the port is in use (is another etcq or etcd running there?): %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// statelessResetKey is kept in the data dir, so peers notice a restart at once.
func statelessResetKey(dataDir string) (*[32]byte, error) {
	path := filepath.Join(dataDir, "stateless-reset-key")
	var key [32]byte
	b, err := os.ReadFile(path)
	if err == nil && len(b) == len(key) {
		copy(key[:], b)
		return &key, nil
	}
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, key[:], 0o600); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	return &key, nil
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
