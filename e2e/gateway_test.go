package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"etcq.dev/etcq/certs"
)

// The HTTP/JSON gateway, driven with curl itself (Debian's curl, which .ci/run installs)
// against three member processes: every path, a streaming watch, RBAC by certificate CN
// and by token, and seed 000's curl session with etcq's URL.

// curlIdentity is the client certificate curl presents.
type curlIdentity struct{ cert, key string }

// rootCurl is the operator's certificate, as auto-TLS made it.
func (c *cluster) rootCurl() curlIdentity {
	return curlIdentity{filepath.Join(c.pki, "root.pem"), filepath.Join(c.pki, "root-key.pem")}
}

// curlAs issues a client certificate for cn from the cluster's CA, as files curl reads.
func (c *cluster) curlAs(t *testing.T, cn string) curlIdentity {
	t.Helper()
	ca, err := certs.Dir(c.pki).LoadCA()
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.Issue(certs.IssueRequest{Profile: certs.ProfileClient, CommonName: cn})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	id := curlIdentity{filepath.Join(dir, cn+".pem"), filepath.Join(dir, cn+"-key.pem")}
	if err := os.WriteFile(id.cert, kp.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(id.key, kp.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return id
}

// curlBin finds curl; the tests need it (apt-get install -y curl; .ci/run does).
func curlBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("these tests drive the gateway with curl, which is not installed: apt-get install -y curl (.ci/run installs it)")
	}
	return p
}

// curlArgs are the TLS arguments of id, then args.
func (c *cluster) curlArgs(id curlIdentity, args ...string) []string {
	return append([]string{"-sS", "--max-time", "20", "--cacert", filepath.Join(c.pki, "ca-bundle.pem"),
		"--cert", id.cert, "--key", id.key}, args...)
}

// curlReply is what one curl printed: the body, the HTTP status and version.
type curlReply struct {
	body    string
	status  int
	version string
}

// curl runs curl as id with args and returns the response.
func (c *cluster) curl(t *testing.T, id curlIdentity, args ...string) curlReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, curlBin(t), c.curlArgs(id, append([]string{"-w", "\n%{http_code} %{http_version}"}, args...)...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	s := string(out)
	i := strings.LastIndexByte(s, '\n')
	var r curlReply
	if _, err := fmt.Sscanf(s[i+1:], "%d %s", &r.status, &r.version); err != nil {
		t.Fatalf("curl %s printed %q", strings.Join(args, " "), s)
	}
	r.body = s[:i]
	return r
}

// post POSTs a JSON body to a gateway path and wants the status; it returns the body.
func (c *cluster) post(t *testing.T, id curlIdentity, m *member, path, body string, status int, hdr ...string) string {
	t.Helper()
	args := []string{"-X", "POST", m.clientURL() + path, "-d", body}
	for _, h := range hdr {
		args = append(args, "-H", h)
	}
	r := c.curl(t, id, args...)
	if r.status != status {
		t.Fatalf("POST %s %s: %d %s, want %d", path, body, r.status, r.body, status)
	}
	return r.body
}

// field reads a field of a JSON object (a path of names) as a string.
func field(t *testing.T, body string, path ...string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("not JSON: %q: %v", body, err)
	}
	for _, p := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = obj[p]
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestGatewayCurlSeedSession: seed 000's curl session, with the URL changed to etcq's
// (HTTPS, the operator's certificate), against a member that is not necessarily the
// leader; then the value through the plain-text API and etcqctl.
func TestGatewayCurlSeedSession(t *testing.T) {
	c := newCluster(t, 3)
	root := c.rootCurl()
	url := c.members[1].clientURL()
	r := c.curl(t, root, "-L", url+"/v3alpha/kv/put", "-X", "POST", "-d", `{"key": "Zm9v", "value": "YmFy"}`)
	if r.status != 200 || r.version != "2" || field(t, r.body, "header", "revision") == "" {
		t.Fatalf("put: %+v", r)
	}
	r = c.curl(t, root, "-L", url+"/v3alpha/kv/range", "-X", "POST", "-d", `{"key": "Zm9v"}`)
	want := regexp.MustCompile(`^\{"header":\{"cluster_id":"\d+","member_id":"\d+","revision":"(\d+)","raft_term":"\d+"\},` +
		`"kvs":\[\{"key":"Zm9v","create_revision":"(\d+)","mod_revision":"\d+","version":"1","value":"YmFy"\}\],"count":"1"\}$`)
	if r.status != 200 || !want.MatchString(r.body) {
		t.Fatalf("range: %+v", r)
	}
	if r := c.curl(t, root, url+"/kv/foo"); r.status != 200 || r.body != "bar" {
		t.Fatalf("plain get: %+v", r)
	}
	c.mustCtl(t, "foo\nbar\n", "get", "foo")
}

// TestGatewayCurlEveryPath drives every path of the gateway with curl.
func TestGatewayCurlEveryPath(t *testing.T) {
	c := newCluster(t, 3)
	root := c.rootCurl()
	m := c.members[0]

	// KV.
	c.post(t, root, m, "/v3/kv/put", `{"key":"`+b64("/a/1")+`","value":"`+b64("one")+`"}`, 200)
	c.post(t, root, m, "/v3/kv/put", `{"key":"`+b64("/a/2")+`","value":"`+b64("two")+`"}`, 200)
	body := c.post(t, root, m, "/v3/kv/range", `{"key":"`+b64("/a/")+`","range_end":"`+b64("/a0")+`","keys_only":true}`, 200)
	if field(t, body, "count") != "2" || !strings.Contains(body, `"kvs":[{"key":"`+b64("/a/1")+`","create_revision"`) {
		t.Fatalf("range: %s", body)
	}
	body = c.post(t, root, m, "/v3/kv/txn", `{"compare":[{"target":"VALUE","key":"`+b64("/a/1")+`","value":"`+b64("one")+`"}],`+
		`"success":[{"request_put":{"key":"`+b64("/a/3")+`","value":"`+b64("three")+`"}}],"failure":[{"request_range":{"key":"`+b64("/a/1")+`"}}]}`, 200)
	if field(t, body, "succeeded") != "true" || !strings.Contains(body, `"responses":[{"response_put":{"header":{"revision":"`) {
		t.Fatalf("txn: %s", body)
	}
	rev, _ := strconv.Atoi(field(t, body, "header", "revision"))
	body = c.post(t, root, m, "/v3/kv/deleterange", `{"key":"`+b64("/a/2")+`","prev_kv":true}`, 200)
	if field(t, body, "deleted") != "1" || !strings.Contains(body, `"value":"`+b64("two")+`"`) {
		t.Fatalf("deleterange: %s", body)
	}
	c.post(t, root, m, "/v3/kv/compaction", fmt.Sprintf(`{"revision":"%d","physical":true}`, rev), 200)
	body = c.post(t, root, m, "/v3/kv/range", fmt.Sprintf(`{"key":"%s","revision":"%d"}`, b64("/a/1"), rev-1), 400)
	if field(t, body, "code") != "11" || !strings.Contains(field(t, body, "message"), "compacted") {
		t.Fatalf("range below the compaction: %s", body)
	}

	// Plain text.
	if r := c.curl(t, root, "-X", "PUT", "--data-binary", "hello world", m.clientURL()+"/kv/greeting"); r.status != 204 {
		t.Fatalf("plain put: %+v", r)
	}
	if r := c.curl(t, root, c.members[2].clientURL()+"/kv/greeting"); r.status != 200 || r.body != "hello world" {
		t.Fatalf("plain get: %+v", r)
	}
	if r := c.curl(t, root, m.clientURL()+"/kv//a/?prefix"); r.status != 200 || r.body != "/a/1\tone\n/a/3\tthree\n" {
		t.Fatalf("plain get prefix: %+v", r)
	}
	if r := c.curl(t, root, "-H", "Accept: application/json", m.clientURL()+"/kv//a/?prefix"); r.status != 200 || field(t, r.body, "count") != "2" {
		t.Fatalf("plain get prefix as JSON: %+v", r)
	}
	if r := c.curl(t, root, "-X", "DELETE", m.clientURL()+"/kv/greeting"); r.status != 200 || r.body != "1\n" {
		t.Fatalf("plain delete: %+v", r)
	}
	if r := c.curl(t, root, m.clientURL()+"/kv/greeting"); r.status != 404 {
		t.Fatalf("plain get after delete: %+v", r)
	}

	// Leases, on etcd's paths and its /v3/kv/lease/ aliases.
	body = c.post(t, root, m, "/v3/lease/grant", `{"TTL":"120"}`, 200)
	id := field(t, body, "ID")
	if id == "" || field(t, body, "TTL") != "120" {
		t.Fatalf("lease grant: %s", body)
	}
	c.post(t, root, m, "/v3/kv/put", `{"key":"`+b64("/leased")+`","lease":"`+id+`"}`, 200)
	body = c.post(t, root, m, "/v3/lease/keepalive", `{"ID":"`+id+`"}`, 200)
	if field(t, body, "result", "ID") != id || field(t, body, "result", "TTL") != "120" {
		t.Fatalf("keepalive: %s", body)
	}
	body = c.post(t, root, m, "/v3/lease/timetolive", `{"ID":"`+id+`","keys":true}`, 200)
	if field(t, body, "grantedTTL") != "120" || field(t, body, "keys") != `["`+b64("/leased")+`"]` {
		t.Fatalf("timetolive: %s", body)
	}
	c.post(t, root, m, "/v3/kv/lease/timetolive", `{"ID":"`+id+`"}`, 200)
	for _, p := range []string{"/v3/lease/leases", "/v3/kv/lease/leases"} {
		if body := c.post(t, root, m, p, `{}`, 200); field(t, body, "leases") != `[{"ID":"`+id+`"}]` {
			t.Fatalf("%s: %s", p, body)
		}
	}
	c.post(t, root, m, "/v3/kv/lease/revoke", `{"ID":"`+id+`"}`, 200)
	body = c.post(t, root, m, "/v3/lease/revoke", `{"ID":"`+id+`"}`, 404)
	if field(t, body, "code") != "5" {
		t.Fatalf("revoke again: %s", body)
	}

	// Cluster. A learner's promotion is checked by the leader: ask it.
	body = c.post(t, root, m, "/v3/maintenance/status", ``, 200)
	leader := field(t, body, "leader")
	if leader == "" || field(t, body, "dbSize") == "" {
		t.Fatalf("status: %s", body)
	}
	var leaderM *member
	var target string
	for i, mm := range c.members {
		if field(t, c.post(t, root, mm, "/v3/maintenance/status", ``, 200), "header", "member_id") == leader {
			leaderM = mm
			target = field(t, c.post(t, root, c.members[(i+1)%3], "/v3/maintenance/status", ``, 200), "header", "member_id")
		}
	}
	if leaderM == nil {
		t.Fatalf("no member has the leader's ID %s", leader)
	}
	body = c.post(t, root, m, "/v3/cluster/member/list", `{}`, 200)
	var list struct {
		Members []struct {
			ID         string
			Name       string
			ClientURLs []string
		}
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list.Members) != 3 || len(list.Members[0].ClientURLs) != 1 {
		t.Fatalf("member list: %s %v", body, err)
	}
	spare := freePorts(t, 1)[0]
	body = c.post(t, root, m, "/v3/cluster/member/add", fmt.Sprintf(`{"peerURLs":["https://127.0.0.1:%d"],"isLearner":true,"name":"spare"}`, spare), 200)
	added := field(t, body, "member", "ID")
	if added == "" || field(t, body, "member", "isLearner") != "true" {
		t.Fatalf("member add: %s", body)
	}
	c.post(t, root, m, "/v3/cluster/member/update", fmt.Sprintf(`{"ID":"%s","peerURLs":["https://127.0.0.1:%d"]}`, added, spare), 200)
	body = c.post(t, root, leaderM, "/v3/cluster/member/promote", `{"ID":"`+added+`"}`, 400)
	if field(t, body, "code") != "9" {
		t.Fatalf("promote of a learner that never started: %s", body)
	}
	c.post(t, root, m, "/v3/cluster/member/remove", `{"ID":"`+added+`"}`, 200)

	// Maintenance.
	c.post(t, root, m, "/v3/maintenance/alarm", `{"action":"GET"}`, 200)
	c.post(t, root, m, "/v3/maintenance/defragment", ``, 200)
	if body := c.post(t, root, m, "/v3/maintenance/hash", ``, 200); field(t, body, "hash") == "" {
		t.Fatalf("hash: %s", body)
	}
	body = c.post(t, root, m, "/v3/maintenance/hashkv", fmt.Sprintf(`{"revision":"%d"}`, rev), 200)
	if field(t, body, "hash") == "" || field(t, body, "hash_revision") != fmt.Sprint(rev) || field(t, body, "compact_revision") != fmt.Sprint(rev) {
		t.Fatalf("hashkv: %s", body)
	}
	c.snapshotWithCurl(t, root, m)
	c.post(t, root, leaderM, "/v3/maintenance/transfer-leadership", `{"targetID":"`+target+`"}`, 200)
	if got := field(t, c.post(t, root, leaderM, "/v3/maintenance/status", ``, 200), "leader"); got != target {
		t.Fatalf("leader after the transfer: %s, want %s", got, target)
	}

	// Health, probes, metrics.
	for path, want := range map[string]string{"/health": `{"health":"true","reason":""}`, "/livez": "ok\n", "/readyz": "ok\n"} {
		if r := c.curl(t, root, m.clientURL()+path); r.status != 200 || r.body != want {
			t.Errorf("%s: %+v", path, r)
		}
	}
	r := c.curl(t, root, m.clientURL()+"/metrics")
	for _, want := range []string{"\netcd_server_has_leader 1\n", "\netcd_mvcc_db_total_size_in_bytes ", "\netcd_server_proposals_applied_total ",
		"\netcd_disk_wal_fsync_duration_seconds_bucket{le=", "\netcd_debugging_mvcc_watcher_total ", "\netcq_client_quic_connections_total "} {
		if !strings.Contains(r.body, want) {
			t.Errorf("metrics: no %q", want)
		}
	}
	// HTTP/1.1 too.
	if r := c.curl(t, root, "--http1.1", m.clientURL()+"/health"); r.status != 200 || r.version != "1.1" {
		t.Errorf("health over HTTP/1.1: %+v", r)
	}
	// No certificate, no answer, on any path.
	cmd := exec.Command(curlBin(t), "-sS", "--max-time", "20", "--cacert", filepath.Join(c.pki, "ca-bundle.pem"), m.clientURL()+"/health")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("curl without a client certificate got an answer: %s", out)
	}

	// Auth: root, a role for /app/, a certificate user and a password user; enabled.
	for _, step := range []struct{ path, body string }{
		{"/v3/auth/user/add", `{"name":"root","options":{"no_password":true}}`},
		{"/v3/auth/user/grant", `{"user":"root","role":"root"}`},
		{"/v3/auth/role/add", `{"name":"app"}`},
		{"/v3/auth/role/grant", `{"name":"app","perm":{"permType":"READWRITE","key":"` + b64("/app/") + `","range_end":"` + b64("/app0") + `"}}`},
		{"/v3/auth/user/add", `{"name":"alice","options":{"no_password":true}}`},
		{"/v3/auth/user/grant", `{"user":"alice","role":"app"}`},
		{"/v3/auth/user/add", `{"name":"carol","password":"first"}`},
		{"/v3/auth/user/changepw", `{"name":"carol","password":"carol-pw"}`},
		{"/v3/auth/user/grant", `{"user":"carol","role":"app"}`},
		{"/v3/auth/role/add", `{"name":"spare"}`},
		{"/v3/auth/user/add", `{"name":"tmp","options":{"no_password":true}}`},
		{"/v3/auth/user/grant", `{"user":"tmp","role":"spare"}`},
		{"/v3/auth/user/revoke", `{"name":"tmp","role":"spare"}`},
		{"/v3/auth/user/delete", `{"name":"tmp"}`},
		{"/v3/auth/role/grant", `{"name":"spare","perm":{"key":"` + b64("x") + `"}}`},
		{"/v3/auth/role/revoke", `{"role":"spare","key":"` + b64("x") + `"}`},
		{"/v3/auth/role/delete", `{"role":"spare"}`},
		{"/v3/auth/enable", ``},
	} {
		c.post(t, root, m, step.path, step.body, 200)
	}
	if body := c.post(t, root, m, "/v3/auth/status", ``, 200); field(t, body, "enabled") != "true" {
		t.Fatalf("auth status: %s", body)
	}
	if body := c.post(t, root, m, "/v3/auth/user/list", ``, 200); field(t, body, "users") != `["alice","carol","root"]` {
		t.Fatalf("user list: %s", body)
	}
	if body := c.post(t, root, m, "/v3/auth/role/list", ``, 200); field(t, body, "roles") != `["app"]` {
		t.Fatalf("role list: %s", body)
	}
	if body := c.post(t, root, m, "/v3/auth/user/get", `{"name":"alice"}`, 200); field(t, body, "roles") != `["app"]` {
		t.Fatalf("user get: %s", body)
	}
	if body := c.post(t, root, m, "/v3/auth/role/get", `{"role":"app"}`, 200); field(t, body, "perm") != `[{"key":"`+b64("/app/")+`","permType":"READWRITE","range_end":"`+b64("/app0")+`"}]` {
		t.Fatalf("role get: %s", body)
	}

	// alice, by her certificate's CN: /app/ only. A denied request is etcd's 403.
	alice := c.curlAs(t, "alice")
	c.post(t, alice, m, "/v3/kv/put", `{"key":"`+b64("/app/x")+`","value":"`+b64("1")+`"}`, 200)
	msg := `permission denied: put \"/a/9\" needs write (user \"alice\")`
	if body := c.post(t, alice, m, "/v3/kv/put", `{"key":"`+b64("/a/9")+`","value":"`+b64("1")+`"}`, 403); body != `{"error":"`+msg+`","code":7,"message":"`+msg+`"}` {
		t.Fatalf("denied put: %s", body)
	}
	if r := c.curl(t, alice, m.clientURL()+"/kv//a/1"); r.status != 403 {
		t.Fatalf("denied plain get: %+v", r)
	}
	if body := c.post(t, alice, m, "/v3/auth/user/list", ``, 403); field(t, body, "code") != "7" {
		t.Fatalf("denied user list: %s", body)
	}

	// carol, by password: a token from authenticate, on a certificate that is no user.
	tool := c.curlAs(t, "tool")
	c.post(t, tool, m, "/v3/kv/put", `{"key":"`+b64("/app/y")+`"}`, 403)
	body = c.post(t, tool, m, "/v3/auth/authenticate", `{"name":"carol","password":"carol-pw"}`, 200)
	token := field(t, body, "token")
	if token == "" {
		t.Fatalf("authenticate: %s", body)
	}
	c.post(t, tool, c.members[2], "/v3/kv/put", `{"key":"`+b64("/app/y")+`","value":"`+b64("2")+`"}`, 200, "Authorization: "+token)
	if r := c.curl(t, tool, "-H", "Authorization: Bearer "+token, c.members[1].clientURL()+"/kv//app/y"); r.status != 200 || r.body != "2" {
		t.Fatalf("plain get with a token: %+v", r)
	}
	if body := c.post(t, tool, m, "/v3/kv/range", `{"key":"`+b64("/app/y")+`"}`, 401, "Authorization: "+token+"x"); field(t, body, "code") != "16" {
		t.Fatalf("bad token: %s", body)
	}
	c.post(t, root, m, "/v3/auth/disable", ``, 200)
}

// snapshotWithCurl downloads a snapshot as JSON lines with curl, decodes it, and checks
// it with etcqctl snapshot status.
func (c *cluster) snapshotWithCurl(t *testing.T, id curlIdentity, m *member) {
	t.Helper()
	body := c.post(t, id, m, "/v3/maintenance/snapshot", ``, 200)
	var blob []byte
	var total string
	for i, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		var msg struct {
			Result struct {
				RemainingBytes string `json:"remaining_bytes"`
				Blob           []byte `json:"blob"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(line), &msg); err != nil {
			t.Fatalf("snapshot line %d: %v", i, err)
		}
		if i == 0 {
			total = msg.Result.RemainingBytes
		}
		blob = append(blob, msg.Result.Blob...)
		if msg.Result.RemainingBytes == "" && i == 0 {
			total = "0"
		}
	}
	if n, _ := strconv.Atoi(total); len(blob) == 0 || n != 0 && len(blob) <= n {
		t.Fatalf("snapshot: %d bytes, first remaining %s", len(blob), total)
	}
	file := filepath.Join(t.TempDir(), "snap.db")
	if err := os.WriteFile(file, blob, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := c.ctl(t, []string{"snapshot", "status", file}); err != nil {
		t.Fatalf("snapshot status of the downloaded snapshot: %v %s", err, out)
	}
}

// curlStream starts curl -N on a streaming path and returns its lines; the process is
// stopped (by PID) when the test ends.
func (c *cluster) curlStream(t *testing.T, id curlIdentity, url, body string, extra ...string) *bufio.Scanner {
	t.Helper()
	args := c.curlArgs(id, append(extra, "-N", "-X", "POST", url, "-d", body)...)
	cmd := exec.Command(curlBin(t), args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return bufio.NewScanner(out)
}

// nextLine reads the next line of a stream, failing the test if it ends first.
func nextLine(t *testing.T, lines *bufio.Scanner) string {
	t.Helper()
	if !lines.Scan() {
		t.Fatalf("the stream ended: %v", lines.Err())
	}
	return lines.Text()
}

// TestGatewayCurlWatch streams a watch with curl -N (over HTTP/2 and HTTP/1.1) while
// other curls write, and a watch denied under RBAC.
func TestGatewayCurlWatch(t *testing.T) {
	c := newCluster(t, 3)
	root := c.rootCurl()
	m := c.members[0]
	for _, proto := range []string{"--http2", "--http1.1"} {
		key := b64("/w" + proto)
		lines := c.curlStream(t, root, c.members[1].clientURL()+"/v3/watch", `{"create_request":{"key":"`+key+`","prev_kv":true}}`, proto)
		line := nextLine(t, lines)
		if field(t, line, "result", "created") != "true" || field(t, line, "result", "header", "revision") == "" {
			t.Fatalf("%s: watch created: %s", proto, line)
		}
		for i := range 3 {
			val := b64(fmt.Sprint(i))
			body := c.post(t, root, m, "/v3/kv/put", `{"key":"`+key+`","value":"`+val+`"}`, 200)
			rev := field(t, body, "header", "revision")
			line := nextLine(t, lines)
			want := `"events":[{"kv":{"key":"` + key + `","create_revision":"`
			if !strings.Contains(line, want) || field(t, line, "result", "header", "revision") != rev ||
				!strings.Contains(line, `"mod_revision":"`+rev+`","version":"`+fmt.Sprint(i+1)+`","value":"`+val+`"}`) {
				t.Fatalf("%s: event %d: %s", proto, i, line)
			}
			if i > 0 && !strings.Contains(line, `"prev_kv":{"key":"`+key+`"`) {
				t.Fatalf("%s: event %d without prev_kv: %s", proto, i, line)
			}
		}
		c.post(t, root, m, "/v3/kv/deleterange", `{"key":"`+key+`"}`, 200)
		if line := nextLine(t, lines); !strings.Contains(line, `"events":[{"type":"DELETE","kv":{"key":"`+key+`","mod_revision":"`) {
			t.Fatalf("%s: delete event: %s", proto, line)
		}
	}

	// Under RBAC, a watch of a range bob may not read is created and canceled at once
	// with the reason, as etcd answers it; one he may read streams.
	for _, step := range []struct{ path, body string }{
		{"/v3/auth/user/add", `{"name":"root","options":{"no_password":true}}`},
		{"/v3/auth/user/grant", `{"user":"root","role":"root"}`},
		{"/v3/auth/role/add", `{"name":"reader"}`},
		{"/v3/auth/role/grant", `{"name":"reader","perm":{"permType":"READ","key":"` + b64("/pub/") + `","range_end":"` + b64("/pub0") + `"}}`},
		{"/v3/auth/user/add", `{"name":"bob","options":{"no_password":true}}`},
		{"/v3/auth/user/grant", `{"user":"bob","role":"reader"}`},
		{"/v3/auth/enable", ``},
	} {
		c.post(t, root, m, step.path, step.body, 200)
	}
	bob := c.curlAs(t, "bob")
	denied := c.curlStream(t, bob, m.clientURL()+"/v3/watch", `{"create_request":{"key":"`+b64("/secret")+`"}}`)
	line := nextLine(t, denied)
	if field(t, line, "result", "created") != "true" || field(t, line, "result", "canceled") != "true" ||
		!strings.HasPrefix(field(t, line, "result", "cancel_reason"), "permission denied") {
		t.Fatalf("denied watch: %s", line)
	}
	allowed := c.curlStream(t, bob, m.clientURL()+"/v3/watch", `{"create_request":{"key":"`+b64("/pub/")+`","range_end":"`+b64("/pub0")+`"}}`)
	if line := nextLine(t, allowed); field(t, line, "result", "created") != "true" || field(t, line, "result", "canceled") != "" {
		t.Fatalf("allowed watch: %s", line)
	}
	c.post(t, root, m, "/v3/kv/put", `{"key":"`+b64("/pub/n")+`","value":"`+b64("news")+`"}`, 200)
	if line := nextLine(t, allowed); !strings.Contains(line, `"value":"`+b64("news")+`"`) {
		t.Fatalf("allowed watch event: %s", line)
	}
	if body := c.post(t, bob, m, "/v3/kv/put", `{"key":"`+b64("/pub/n")+`"}`, 403); field(t, body, "code") != "7" {
		t.Fatalf("bob's put: %s", body)
	}
}
