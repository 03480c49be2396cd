package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"etcq.dev/etcq/certs"
	"etcq.dev/etcq/node"
	"etcq.dev/etcq/quicclient"
)

// lockedWriter lets a test read a process's output while the process writes it. The
// buffer is the member's logs buffer, which stopAll prints once the process has exited.
type lockedWriter struct {
	mu  sync.Mutex
	buf *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startWatched is cluster.start with output that can be read while the process runs.
func (c *cluster) startWatched(m *member) *lockedWriter {
	c.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	cmd := exec.Command(filepath.Join(bin, "etcq"), m.args...)
	m.logs = &bytes.Buffer{}
	out := &lockedWriter{buf: m.logs}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", m.name, err)
	}
	m.cmd = cmd
	m.done = make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(m.done)
	return out
}

// poll calls cond until it returns "" (done) or ctx ends, and then fails with its last
// answer.
func poll(ctx context.Context, t *testing.T, what string, cond func() string) {
	t.Helper()
	for {
		why := cond()
		if why == "" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %s", what, why)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// memberArgs are the flags of a member on its own ports and data dir.
func memberArgs(m *member, extra ...string) []string {
	return append([]string{
		"--name", m.name, "--data-dir", m.dataDir,
		"--listen-client-urls", m.clientURL(), "--advertise-client-urls", m.clientURL(),
		"--listen-peer-urls", m.peerURL(), "--initial-advertise-peer-urls", m.peerURL(),
		"--heartbeat-interval", "50", "--election-timeout", "500",
	}, extra...)
}

var joinTokenRE = regexp.MustCompile(`--join-token (etcq1\.[0-9a-f]+\.[A-Za-z0-9_-]+\.[0-9a-f]+)`)

// TestAutoTLSJoinTokenBootstrap bootstraps a 3-member cluster from nothing: the first
// member creates the CA and prints a join token; two machines with nothing but that token
// enroll through it, get their certificates and join through consensus. Tokens with a
// wrong pin, expired or revoked are refused, the first before anything is sent.
func TestAutoTLSJoinTokenBootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: skipped with -short")
	}
	dir := t.TempDir()
	ports := freePorts(t, 8)
	mk := func(i int) *member {
		m := &member{name: fmt.Sprintf("m%d", i+1), clientPort: ports[2*i], peerPort: ports[2*i+1]}
		m.dataDir = filepath.Join(dir, m.name)
		return m
	}
	m1, m2, m3, m4 := mk(0), mk(1), mk(2), mk(3)
	pki := filepath.Join(m1.dataDir, "pki")
	c := &cluster{t: t, dir: dir, pki: pki, members: []*member{m1}}
	t.Cleanup(c.stopAll)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The first member: --auto-tls and nothing else about TLS or the cluster.
	m1.args = memberArgs(m1, "--auto-tls")
	out1 := c.startWatched(m1)
	var token string
	poll(ctx, t, "m1 never printed a join token", func() string {
		if mm := joinTokenRE.FindStringSubmatch(out1.String()); mm != nil {
			token = mm[1]
			return ""
		}
		return "no token in:\n" + out1.String()
	})
	if !strings.Contains(out1.String(), "--join "+m1.clientURL()) {
		t.Fatalf("m1 printed no join command for its client URL:\n%s", out1.String())
	}
	c.waitServing(ctx, m1)
	tok, err := certs.ParseJoinToken(token)
	if err != nil {
		t.Fatal(err)
	}

	// Refusals, on a machine that would be m4. Each leaves the cluster as it was.
	refused := func(name, tokenText, want string) string {
		t.Helper()
		m4.dataDir = filepath.Join(dir, "m4-"+name)
		args := memberArgs(m4, "--auto-tls", "--join", m1.clientURL(), "--join-token", tokenText)
		run, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		var combined bytes.Buffer
		cmd := exec.CommandContext(run, filepath.Join(bin, "etcq"), args...)
		cmd.Stdout, cmd.Stderr = &combined, &combined
		err := cmd.Run()
		if err == nil || run.Err() != nil {
			t.Fatalf("%s: the join did not fail fast (%v):\n%s", name, err, combined.String())
		}
		if !strings.Contains(combined.String(), want) {
			t.Fatalf("%s: output lacks %q:\n%s", name, want, combined.String())
		}
		return combined.String()
	}

	// A tampered pin: refused by the joining machine in the handshake, before it sends
	// anything; the member never sees an enrollment.
	tampered := tok
	tampered.CAPin[len(tampered.CAPin)-1] ^= 0x01
	refused("pin", tampered.String(), "does not match the pinned CA hash")
	if strings.Contains(out1.String(), "enrollment") {
		t.Fatalf("m1 saw an enrollment from a machine with the wrong pin:\n%s", out1.String())
	}

	// An expired token.
	expired, _, err := certs.Dir(pki).CreateJoinToken(certs.JoinTokenOptions{TTL: time.Hour, Now: time.Now().Add(-2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	refused("expired", expired.String(), "join token has expired")

	// A revoked token, made and revoked with etcqctl.
	made, err := exec.CommandContext(ctx, filepath.Join(bin, "etcqctl"), "certs", "token", "create", "--dir", pki, "--ttl", "1h").Output()
	if err != nil {
		t.Fatal(err)
	}
	revokedTok, err := certs.ParseJoinToken(string(made))
	if err != nil {
		t.Fatalf("etcqctl certs token create printed %q: %v", made, err)
	}
	if out, err := exec.CommandContext(ctx, filepath.Join(bin, "etcqctl"), "certs", "token", "revoke", "--dir", pki, revokedTok.ID).CombinedOutput(); err != nil {
		t.Fatalf("revoke: %v: %s", err, out)
	}
	refused("revoked", revokedTok.String(), "join token has been revoked")
	list, err := exec.CommandContext(ctx, filepath.Join(bin, "etcqctl"), "certs", "token", "list", "--dir", pki).Output()
	if err != nil || !strings.Contains(string(list), revokedTok.ID+", revoked") || !strings.Contains(string(list), expired.ID+", expired") ||
		!strings.Contains(string(list), tok.ID+", valid") {
		t.Fatalf("token list: %v\n%s", err, list)
	}

	// Without a certificate, the client port offers enrollment and nothing else.
	noClientProtocolWithoutCertificate(ctx, t, c, m1)

	cl := c.client(m1)
	if ms, err := cl.MemberList(ctx); err != nil || len(ms.Members) != 1 {
		t.Fatalf("after the refusals: %+v %v", ms, err)
	}

	// Two new machines with their own empty data dirs and nothing but the token, at once.
	outs := map[*member]*lockedWriter{}
	for _, m := range []*member{m2, m3} {
		m.args = memberArgs(m, "--auto-tls", "--join", m1.clientURL(), "--join-token", token)
		c.members = append(c.members, m)
		outs[m] = c.startWatched(m)
	}
	for _, m := range []*member{m2, m3} {
		c.waitServing(ctx, m)
		if !strings.Contains(outs[m].String(), "joined the cluster through "+m1.clientURL()) {
			t.Fatalf("%s did not say it joined:\n%s", m.name, outs[m].String())
		}
		if _, err := os.Stat(filepath.Join(m.dataDir, "pki", certs.CAKeyFile)); err == nil {
			t.Fatalf("%s holds the CA key", m.name)
		}
	}

	// All three agree: three voters, each with its client URL published.
	poll(ctx, t, "the cluster never had 3 started voters", func() string {
		ms, err := cl.MemberList(ctx)
		if err != nil {
			return err.Error()
		}
		started := 0
		for _, m := range ms.Members {
			if !m.IsLearner && len(m.ClientURLs) > 0 {
				started++
			}
		}
		if len(ms.Members) != 3 || started != 3 {
			return fmt.Sprintf("%+v", ms.Members)
		}
		return ""
	})
	on3, on2 := c.client(m3), c.client(m2)
	if _, err := on3.Put(ctx, "/joined/by-token", "through m3"); err != nil {
		t.Fatalf("write through m3: %v", err)
	}
	got, err := on2.Get(ctx, "/joined/by-token")
	if err != nil || len(got.KVs) != 1 || string(got.KVs[0].Value) != "through m3" {
		t.Fatalf("read on m2: %+v %v", got, err)
	}

	// A joined member restarts from what it saved, without enrolling again.
	enrollments := strings.Count(out1.String(), "enrollment: enrolled a new member")
	c.stop(m3, syscall.SIGTERM)
	c.startWatched(m3)
	c.waitServing(ctx, m3)
	got, err = c.client(m3).Get(ctx, "/joined/by-token", quicclient.WithSerializable())
	if err != nil || len(got.KVs) != 1 {
		t.Fatalf("read on the restarted m3: %+v %v", got, err)
	}
	if n := strings.Count(out1.String(), "enrollment: enrolled a new member"); n != enrollments {
		t.Fatalf("the restart enrolled again (%d enrollments, %d before)", n, enrollments)
	}
}

// noClientProtocolWithoutCertificate checks that a connection without a client certificate
// never reaches the client protocol: asked for it alone, it is refused; offering enrollment
// too, it gets enrollment.
func noClientProtocolWithoutCertificate(ctx context.Context, t *testing.T, c *cluster, m *member) {
	t.Helper()
	bundle, err := os.ReadFile(filepath.Join(c.pki, certs.BundleFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(bundle)
	addr := strings.TrimPrefix(m.clientURL(), "https://")
	dial := func(protos ...string) (*quic.Conn, error) {
		short, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return quic.DialAddr(short, addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", NextProtos: protos}, nil)
	}
	if conn, err := dial(node.ClientALPN); err == nil {
		short, cancel := context.WithTimeout(ctx, 10*time.Second)
		str, err := conn.OpenStreamSync(short)
		if err == nil {
			_, _ = str.Write([]byte{1})
			_ = str.Close()
			buf := make([]byte, 1)
			if n, err := str.Read(buf); err == nil || n > 0 {
				t.Errorf("a client without a certificate got an answer on the client port")
			}
		}
		cancel()
		conn.CloseWithError(0, "")
	}
	conn, err := dial(node.ClientALPN, node.JoinALPN)
	if err != nil {
		t.Fatalf("dial offering enrollment: %v", err)
	}
	if p := conn.ConnectionState().TLS.NegotiatedProtocol; p != node.JoinALPN {
		t.Errorf("without a certificate, negotiated %q", p)
	}
	conn.CloseWithError(0, "")
	noCert, err := quicclient.New(ctx, quicclient.Config{Endpoints: []string{m.clientURL()}, TLS: &tls.Config{RootCAs: pool}})
	if err == nil {
		short, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = noCert.Get(short, "/")
		cancel()
		noCert.Close()
		if err == nil {
			t.Error("a client without a certificate read")
		}
	}
}
