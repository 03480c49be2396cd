package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ctl runs etcqctl against the given members (all when none are given) with the operator's
// certificate, as the README's export line sets it up, and returns its stdout.
func (c *cluster) ctl(t *testing.T, args []string, ms ...*member) (string, error) {
	t.Helper()
	return c.ctlIn(t, nil, args, ms...)
}

func (c *cluster) ctlIn(t *testing.T, stdin []byte, args []string, ms ...*member) (string, error) {
	t.Helper()
	if len(ms) == 0 {
		ms = c.members
	}
	var eps []string
	for _, m := range ms {
		eps = append(eps, m.clientURL())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "etcqctl"), args...)
	cmd.Env = append(os.Environ(),
		"ETCQCTL_ENDPOINTS="+strings.Join(eps, ","),
		"ETCQCTL_CACERT="+filepath.Join(c.pki, "ca-bundle.pem"),
		"ETCQCTL_CERT="+filepath.Join(c.pki, "root.pem"),
		"ETCQCTL_KEY="+filepath.Join(c.pki, "root-key.pem"),
	)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	if err != nil {
		t.Logf("etcqctl %s: %v; stderr: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), err
}

// mustCtl runs etcqctl and fails the test unless it succeeds with the expected output.
func (c *cluster) mustCtl(t *testing.T, want string, args ...string) {
	t.Helper()
	out, err := c.ctl(t, args)
	if err != nil {
		t.Fatalf("etcqctl %s: %v", strings.Join(args, " "), err)
	}
	if want != "" && out != want {
		t.Fatalf("etcqctl %s printed\n%q\nwant\n%q", strings.Join(args, " "), out, want)
	}
}
