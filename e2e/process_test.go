package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"etcq.dev/etcq/quicclient"
)

// member is one etcq process of a test cluster.
type member struct {
	name                 string
	clientPort, peerPort int
	dataDir              string
	args                 []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	logs *bytes.Buffer
	done chan struct{}
}

func (m *member) clientURL() string { return fmt.Sprintf("https://127.0.0.1:%d", m.clientPort) }
func (m *member) peerURL() string   { return fmt.Sprintf("https://127.0.0.1:%d", m.peerPort) }

// cluster is a set of member processes sharing one auto-TLS PKI directory.
type cluster struct {
	t       *testing.T
	dir     string
	pki     string
	members []*member
}

// freePorts finds n UDP ports free on 127.0.0.1 (the OS picks them; they are released just
// before the members bind them).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var conns []net.PacketConn
	var ports []int
	for range n {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		ports = append(ports, c.LocalAddr().(*net.UDPAddr).Port)
	}
	for _, c := range conns {
		c.Close()
	}
	return ports
}

// newCluster starts size members with --auto-tls on one PKI directory and waits until
// every one serves clients.
func newCluster(t *testing.T, size int, extra ...string) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: skipped with -short")
	}
	dir := t.TempDir()
	c := &cluster{t: t, dir: dir, pki: filepath.Join(dir, "pki")}
	ports := freePorts(t, 2*size)
	var initial []string
	for i := range size {
		m := &member{name: fmt.Sprintf("m%d", i+1), clientPort: ports[2*i], peerPort: ports[2*i+1]}
		m.dataDir = filepath.Join(dir, m.name)
		c.members = append(c.members, m)
		initial = append(initial, m.name+"="+m.peerURL())
	}
	for _, m := range c.members {
		m.args = append([]string{
			"--name", m.name, "--data-dir", m.dataDir, "--auto-tls", "--pki-dir", c.pki,
			"--listen-client-urls", m.clientURL(), "--advertise-client-urls", m.clientURL(),
			"--listen-peer-urls", m.peerURL(), "--initial-advertise-peer-urls", m.peerURL(),
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-token", "e2e",
			"--heartbeat-interval", "50", "--election-timeout", "500",
		}, extra...)
	}
	t.Cleanup(c.stopAll)
	for _, m := range c.members {
		c.start(m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, m := range c.members {
		c.waitServing(ctx, m)
	}
	c.waitPublished(ctx)
	return c
}

// waitPublished waits until every member's client URL is in the member list (members
// publish them through raft once they run).
func (c *cluster) waitPublished(ctx context.Context) {
	c.t.Helper()
	cl, err := c.tryClient(ctx, c.members[0])
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	for {
		ms, err := cl.MemberList(ctx)
		published := 0
		if err == nil {
			for _, m := range ms.Members {
				if len(m.ClientURLs) > 0 {
					published++
				}
			}
		}
		if published == len(c.members) {
			return
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("members never published their client URLs: %+v (%v)", ms, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// start launches m's process.
func (c *cluster) start(m *member) {
	c.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	cmd := exec.Command(filepath.Join(bin, "etcq"), m.args...)
	m.logs = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = m.logs, m.logs
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", m.name, err)
	}
	m.cmd = cmd
	m.done = make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(m.done)
}

// stop sends sig to m's process and waits for it to exit.
func (c *cluster) stop(m *member, sig syscall.Signal) {
	c.t.Helper()
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		c.t.Errorf("%s did not exit on %v", m.name, sig)
	}
	m.mu.Lock()
	m.cmd = nil
	m.mu.Unlock()
}

func (c *cluster) stopAll() {
	for _, m := range c.members {
		c.stop(m, syscall.SIGTERM)
	}
	if c.t.Failed() {
		for _, m := range c.members {
			c.t.Logf("--- logs of %s ---\n%s", m.name, m.logs.String())
		}
	}
}

// tlsConfig is the operator's client configuration (the "root" certificate auto-TLS made).
func (c *cluster) tlsConfig() *tls.Config {
	c.t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(c.pki, "root.pem"), filepath.Join(c.pki, "root-key.pem"))
	if err != nil {
		c.t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(c.pki, "ca-bundle.pem"))
	if err != nil {
		c.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}
}

// client connects to the given members (all when none are given).
func (c *cluster) client(ms ...*member) *quicclient.Client {
	c.t.Helper()
	if len(ms) == 0 {
		ms = c.members
	}
	var eps []string
	for _, m := range ms {
		eps = append(eps, m.clientURL())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := quicclient.New(ctx, quicclient.Config{Endpoints: eps, TLS: c.tlsConfig()})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

// waitServing polls m's status until it reports a leader.
func (c *cluster) waitServing(ctx context.Context, m *member) {
	c.t.Helper()
	for {
		if cl, err := c.tryClient(ctx, m); err == nil {
			st, err := cl.Status(ctx, m.clientURL())
			cl.Close()
			if err == nil && st.Leader != 0 {
				return
			}
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("%s never served with a leader; logs:\n%s", m.name, m.logs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *cluster) tryClient(ctx context.Context, m *member) (*quicclient.Client, error) {
	if _, err := os.Stat(filepath.Join(c.pki, "root.pem")); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return quicclient.New(ctx, quicclient.Config{Endpoints: []string{m.clientURL()}, TLS: c.tlsConfig()})
}
