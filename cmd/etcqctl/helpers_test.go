package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"etcq.dev/etcq/certs"
	"etcq.dev/etcq/certs/certstest"
	"etcq.dev/etcq/node"
	"etcq.dev/etcq/quicclient"
)

// patience bounds every wait of these tests. It only turns a hang into a failure: tests
// wait for events or poll conditions, never for time to pass.
const patience = 20 * time.Second

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

// loneTransport serves a single-member cluster, which has no one to talk to.
type loneTransport struct{}

func (loneTransport) Send([]*raftpb.Message) {}
func (loneTransport) SendSnapshot(_ *raftpb.Message, image io.ReadCloser, _ int64) {
	image.Close()
}
func (loneTransport) AddPeer(uint64, []string) {}
func (loneTransport) RemovePeer(uint64)        {}

// fixture is a one-member cluster with its client service on 127.0.0.1, and the files
// etcqctl needs to talk to it: a client certificate, its key and the cluster CA.
type fixture struct {
	t        *testing.T
	pki      *certstest.PKI
	files    certs.Files
	m        *node.Member
	endpoint string // https://127.0.0.1:port
}

// peerURL is the (unused) peer URL of the fixture's member.
const peerURL = "https://127.0.0.1:2380"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, pki: certstest.New(t)}
	f.files = f.pki.Files(t, certs.IssueRequest{Profile: certs.ProfileClient, CommonName: "tester"})
	f.start(1, "one", t.TempDir(), []node.MemberInfo{{ID: 1, Name: "one", PeerURLs: []string{peerURL}}})
	return f
}

// start starts a member of the given cluster on dataDir, with its client service, and
// returns a function that stops both (the test's cleanup stops them too).
func (f *fixture) start(id uint64, name, dataDir string, cluster []node.MemberInfo) (stop func()) {
	t := f.t
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.endpoint = "https://" + pc.LocalAddr().String()
	quiet := slog.New(slog.DiscardHandler)
	m, err := node.New(node.Config{
		ID: id, Name: name, DataDir: dataDir,
		InitialCluster: cluster,
		ClientURLs:     []string{f.endpoint},
		Transport:      loneTransport{},
		TickInterval:   10 * time.Millisecond,
		Logger:         quiet,
	})
	if err != nil {
		pc.Close()
		t.Fatal(err)
	}
	var svc *node.Service
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if svc != nil {
				_ = svc.Shutdown(context.Background())
			}
			m.Stop()
		})
	}
	t.Cleanup(stop)
	ctx := testCtx(t)
	for !m.IsLeader() {
		select {
		case <-m.LeaderChanged():
		case <-ctx.Done():
			t.Fatal("no leader")
		}
	}
	svc, err = node.NewService(m, node.ServiceConfig{
		Conn: pc,
		TLS: &tls.Config{
			Certificates: []tls.Certificate{f.pki.Server(t, name)},
			ClientCAs:    f.pki.CA().Pool(),
			ClientAuth:   tls.RequireAndVerifyClientCert,
		},
		Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	// The member publishes its client URL through raft once it leads: wait for it, so
	// that member lists show it.
	for !slices.ContainsFunc(m.Members(), func(mi node.MemberInfo) bool {
		return mi.ID == id && slices.Equal(mi.ClientURLs, []string{f.endpoint})
	}) {
		if ctx.Err() != nil {
			t.Fatal("the member never published its client URL")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return stop
}

// tlsFlags are the flags that make etcqctl trust the cluster and present the client
// certificate.
func (f *fixture) tlsFlags() []string {
	return []string{"--cacert=" + f.files.CABundle, "--cert=" + f.files.Cert, "--key=" + f.files.Key}
}

// flags are the global flags that point etcqctl at the fixture.
func (f *fixture) flags() []string {
	return append([]string{"--endpoints=" + f.endpoint}, f.tlsFlags()...)
}

// client is a Go client of the fixture, to check what etcqctl did.
func (f *fixture) client() *quicclient.Client {
	t := f.t
	t.Helper()
	c, err := quicclient.New(testCtx(t), quicclient.Config{
		Endpoints: []string{f.endpoint},
		TLS:       &tls.Config{Certificates: []tls.Certificate{f.pki.Client(t, "checker")}, RootCAs: f.pki.CA().Pool()},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// mapEnv is an environment made of the given variables only.
func mapEnv(vars map[string]string) env {
	return env{
		lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		environ: func() []string {
			out := make([]string, 0, len(vars))
			for k, v := range vars {
				out = append(out, k+"="+v)
			}
			return out
		},
	}
}

// result is what one run of etcqctl did.
type result struct {
	code           int
	stdout, stderr string
}

// ctl runs etcqctl against the fixture with args after the global flags.
func (f *fixture) ctl(args ...string) result {
	f.t.Helper()
	return ctlRun(f.t, "", append(f.flags(), args...)...)
}

// ctlIn is ctl with stdin.
func (f *fixture) ctlIn(stdin string, args ...string) result {
	f.t.Helper()
	return ctlRun(f.t, stdin, append(f.flags(), args...)...)
}

// ctlRun runs etcqctl in this process with exactly args, in an empty environment.
func ctlRun(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runContext(testCtx(t), mapEnv(nil), args, strings.NewReader(stdin), &out, &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// runWithEnv runs etcqctl in this process with exactly args, in the given environment.
func runWithEnv(t *testing.T, vars map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runContext(testCtx(t), mapEnv(vars), args, strings.NewReader(""), &out, &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// must checks that a run succeeded and returns its stdout.
func (r result) must(t *testing.T) string {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s\nstdout:\n%s", r.code, r.stderr, r.stdout)
	}
	return r.stdout
}

// syncBuffer is an output stream read while a command still writes it. wait blocks until
// what was written satisfies a condition.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	close(b.changed)
	b.changed = make(chan struct{})
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// wait returns the output once cond holds for it; it fails the test if ctx ends first.
func (b *syncBuffer) wait(t *testing.T, ctx context.Context, what string, cond func(string) bool) string {
	t.Helper()
	for {
		b.mu.Lock()
		s, ch := b.buf.String(), b.changed
		b.mu.Unlock()
		if cond(s) {
			return s
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("never saw %s; output so far:\n%s", what, s)
		}
	}
}

// background is a run of a long-running command (watch, lock, elect) that the test
// stops by canceling its context, as Ctrl-C stops etcqctl.
type background struct {
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan int // the exit code
}

// spawn starts etcqctl against the fixture in the background, with stdin.
func (f *fixture) spawn(stdin io.Reader, args ...string) *background {
	f.t.Helper()
	return spawnRun(f.t, mapEnv(nil), stdin, append(f.flags(), args...)...)
}

func spawnRun(t *testing.T, e env, stdin io.Reader, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{stdout: newSyncBuffer(), stderr: newSyncBuffer(), cancel: cancel, done: make(chan int, 1)}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	go func() { b.done <- runContext(ctx, e, args, stdin, b.stdout, b.stderr) }()
	t.Cleanup(func() {
		cancel()
		<-b.done
	})
	return b
}

// stop interrupts the command and returns its exit code.
func (b *background) stop(t *testing.T) int {
	t.Helper()
	b.cancel()
	return b.exit(t)
}

// exit waits for the command to end by itself and returns its exit code.
func (b *background) exit(t *testing.T) int {
	t.Helper()
	select {
	case code := <-b.done:
		b.done <- code // for the cleanup
		return code
	case <-time.After(patience):
		t.Fatalf("the command did not end; stdout:\n%s\nstderr:\n%s", b.stdout, b.stderr)
		return -1
	}
}

// exitCodeOf is the exit code an error from a command ends etcqctl with.
func exitCodeOf(err error) int {
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	if err == nil {
		return exitSuccess
	}
	return exitError
}

func prefixOpts() []quicclient.OpOption {
	return []quicclient.OpOption{quicclient.WithPrefix(), quicclient.WithCountOnly()}
}

// waitRevisionAfter waits until the store's revision passes rev: something was written.
func waitRevisionAfter(t *testing.T, c *quicclient.Client, rev int64) {
	t.Helper()
	for ev := range c.Watch(testCtx(t), "\x00", quicclient.WithFromKey(), quicclient.WithRev(rev+1)) {
		if len(ev.Events) > 0 {
			return
		}
		if ev.Canceled {
			break
		}
	}
	t.Fatalf("nothing was written after revision %d", rev)
}
