package quicclient_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"etcq.dev/etcq/certs"
	"etcq.dev/etcq/node"
	"etcq.dev/etcq/quicclient"
)

// Example connects with a client certificate, writes two keys and reads them back by
// prefix.
func Example() {
	// A member started in this process stands in for a cluster; a program would know its
	// endpoints and where its certificates are.
	pki, endpoint, stop := exampleCluster()
	defer stop()

	cert, err := tls.LoadX509KeyPair(filepath.Join(pki, "client.pem"), filepath.Join(pki, "client-key.pem"))
	if err != nil {
		log.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(pki, "ca.pem"))
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := quicclient.New(ctx, quicclient.Config{
		Endpoints: []string{endpoint},
		TLS:       &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if _, err := c.Put(ctx, "/config/feature-x", "on"); err != nil {
		log.Fatal(err)
	}
	if _, err := c.Put(ctx, "/config/log-level", "debug"); err != nil {
		log.Fatal(err)
	}
	resp, err := c.Get(ctx, "/config/", quicclient.WithPrefix())
	if err != nil {
		log.Fatal(err)
	}
	for _, kv := range resp.KVs {
		fmt.Printf("%s = %s\n", kv.Key, kv.Value)
	}
	// Output:
	// /config/feature-x = on
	// /config/log-level = debug
}

// exampleCluster starts what the example expects to find: a one-member cluster serving
// clients on 127.0.0.1 with mutual TLS, and a PKI directory holding the cluster's CA
// (ca.pem) and a client certificate (client.pem, client-key.pem), as `etcqctl certs`
// writes them. It returns the directory, the member's endpoint, and a function that
// stops the member and removes its files.
func exampleCluster() (pkiDir, endpoint string, stop func()) {
	tmp, err := os.MkdirTemp("", "etcq-example-")
	if err != nil {
		log.Fatal(err)
	}
	dir, ca, err := certs.InitDir(filepath.Join(tmp, "pki"), certs.CAOptions{})
	if err != nil {
		log.Fatal(err)
	}
	client, err := ca.Issue(certs.IssueRequest{Profile: certs.ProfileClient, CommonName: "example"})
	if err != nil {
		log.Fatal(err)
	}
	if err := dir.SaveKeyPair("client", client); err != nil {
		log.Fatal(err)
	}
	server, err := ca.Issue(certs.IssueRequest{Profile: certs.ProfileServer, CommonName: "one", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		log.Fatal(err)
	}
	serverCert, err := server.TLSCertificate()
	if err != nil {
		log.Fatal(err)
	}

	quiet := slog.New(slog.DiscardHandler)
	m, err := node.New(node.Config{
		ID: 1, Name: "one", DataDir: filepath.Join(tmp, "data"),
		InitialCluster: []node.MemberInfo{{ID: 1, Name: "one", PeerURLs: []string{"https://127.0.0.1:2380"}}},
		Transport:      loneTransport{},
		TickInterval:   10 * time.Millisecond,
		Logger:         quiet,
	})
	if err != nil {
		log.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for !m.IsLeader() {
		select {
		case <-m.LeaderChanged():
		case <-deadline:
			log.Fatal("the example member elected no leader")
		}
	}
	svc, err := node.NewService(m, node.ServiceConfig{
		Addr: "127.0.0.1:0",
		TLS: &tls.Config{
			Certificates: []tls.Certificate{serverCert},
			ClientCAs:    ca.Pool(),
			ClientAuth:   tls.RequireAndVerifyClientCert,
		},
		Logger: quiet,
	})
	if err != nil {
		log.Fatal(err)
	}
	return string(dir), "https://" + svc.Addr().String(), func() {
		_ = svc.Shutdown(context.Background())
		m.Stop()
		os.RemoveAll(tmp)
	}
}

// loneTransport is the raft transport of a cluster of one member, which has no one to
// talk to.
type loneTransport struct{}

func (loneTransport) Send([]*raftpb.Message) {}
func (loneTransport) SendSnapshot(_ *raftpb.Message, image io.ReadCloser, _ int64) {
	image.Close()
}
func (loneTransport) AddPeer(uint64, []string) {}
func (loneTransport) RemovePeer(uint64)        {}
