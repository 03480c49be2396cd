package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"etcq.dev/etcq/quicclient"
)

// TestCertificateRotation renews every leaf certificate, then rotates the CA, on a running
// three-member cluster under a steady write load, with no restart and no failed request;
// new connections work at every step with the current files; and a revoked client
// certificate is refused afterwards.
func TestCertificateRotation(t *testing.T) {
	c := newCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	writer := c.client()
	var writes, failures atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := writer.Put(ctx, fmt.Sprintf("/load/%d", i%100), "v"); err != nil {
				failures.Add(1)
				t.Errorf("write %d during rotation: %v", i, err)
			}
			writes.Add(1)
		}
	})

	leaves := []string{"root"}
	for _, m := range c.members {
		leaves = append(leaves, m.name, m.name+"-peer")
	}
	step := func(what string, args ...string) {
		t.Helper()
		before := writes.Load()
		if out, err := c.ctl(t, append(args, "--dir", c.pki)); err != nil {
			t.Fatalf("%s: %v (%s)", what, err, out)
		}
		// Every member serves a new connection made with the files as they are now.
		c.freshConnections(t, ctx, what)
		for writes.Load() < before+10 {
			select {
			case <-ctx.Done():
				t.Fatalf("writes stalled after %s", what)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	step("renewing every leaf", append([]string{"certs", "rotate", "leaf"}, leaves...)...)
	step("adding a new CA", "certs", "rotate", "ca", "start", "--cn", "etcq CA 2")
	step("re-issuing every leaf from the new CA", append([]string{"certs", "rotate", "leaf"}, leaves...)...)
	step("dropping the old CA", "certs", "rotate", "ca", "finish")
	close(stop)
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d of %d writes failed during the rotation", failures.Load(), writes.Load())
	}
	t.Logf("%d writes during the rotation, none failed", writes.Load())

	// A client certificate that works, revoked, is refused at its next connection.
	if out, err := c.ctl(t, []string{"certs", "issue", "client", "mallory", "--dir", c.pki}); err != nil {
		t.Fatalf("issue: %v (%s)", err, out)
	}
	if _, err := c.clientWith(ctx, "mallory"); err != nil {
		t.Fatalf("mallory before revocation: %v", err)
	}
	if out, err := c.ctl(t, []string{"certs", "revoke", filepath.Join(c.pki, "mallory.pem"), "--dir", c.pki}); err != nil {
		t.Fatalf("revoke: %v (%s)", err, out)
	}
	// Members notice the new CRL within their reload interval.
	for {
		cl, err := c.clientWith(ctx, "mallory")
		if err != nil {
			break
		}
		cl.Close()
		select {
		case <-ctx.Done():
			t.Fatal("a revoked client certificate is still accepted")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// clientWith connects to every member with the client certificate NAME from the PKI
// directory and the current CA bundle, and checks the connection with a write.
func (c *cluster) clientWith(ctx context.Context, name string) (*quicclient.Client, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(c.pki, name+".pem"), filepath.Join(c.pki, name+"-key.pem"))
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(filepath.Join(c.pki, "ca-bundle.pem"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.clientURL())
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cl, err := quicclient.New(dctx, quicclient.Config{Endpoints: eps, TLS: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}})
	if err != nil {
		return nil, err
	}
	if _, err := cl.Put(dctx, "/probe/"+name, "x"); err != nil {
		cl.Close()
		return nil, err
	}
	return cl, nil
}

// freshConnections checks that each member accepts a new connection made with the
// operator's current certificate and bundle. Members reload their files at most once a
// second, so a member still presenting what it loaded before the change gets a few tries.
func (c *cluster) freshConnections(t *testing.T, ctx context.Context, after string) {
	t.Helper()
	for _, m := range c.members {
		for attempt := 0; ; attempt++ {
			cl, err := c.tryClient(ctx, m)
			if err == nil {
				_, err = cl.Put(ctx, "/probe/"+m.name, "x")
				cl.Close()
			}
			if err == nil {
				break
			}
			if attempt == 50 {
				t.Fatalf("after %s, %s refuses a new connection: %v", after, m.name, err)
			}
			select {
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}
