package node_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"etcq.dev/etcq/node"
)

// gatewayServed is a served member with its gateway.
type gatewayServed struct {
	*served
	gw   *node.Gateway
	base string // https://127.0.0.1:port
}

// serveGateway starts a gateway on s (a single member, with its service).
func serveGateway(t *testing.T, s *served, tweak func(*node.GatewayConfig)) *gatewayServed {
	t.Helper()
	cfg := node.GatewayConfig{Addr: "127.0.0.1:0"}
	if tweak != nil {
		tweak(&cfg)
	}
	gw, err := node.NewGateway(s.svc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Shutdown(context.Background()) })
	return &gatewayServed{served: s, gw: gw, base: "https://" + gw.Addr().String()}
}

// httpClient is an HTTPS client with a certificate for cn; http1 keeps it off HTTP/2.
func (g *gatewayServed) httpClient(t *testing.T, cn string, http1 bool) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: clientTLS(g.pki, g.pki.Client(t, cn)), ForceAttemptHTTP2: !http1}
	if http1 {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetHTTP1(true)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// reply is a response read whole.
type reply struct {
	status int
	proto  int
	header http.Header
	body   string
}

func (g *gatewayServed) do(t *testing.T, c *http.Client, method, path, body string, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t, 20*time.Second), method, g.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return reply{status: resp.StatusCode, proto: resp.ProtoMajor, header: resp.Header, body: string(b)}
}

// post POSTs a JSON body and checks the status and the body (want: exact JSON).
func (g *gatewayServed) post(t *testing.T, c *http.Client, path, body string, status int, want string, hdr ...string) reply {
	t.Helper()
	r := g.do(t, c, http.MethodPost, path, body, hdr...)
	if r.status != status || want != "" && r.body != want {
		t.Fatalf("POST %s %s:\n got %d %s\nwant %d %s", path, body, r.status, r.body, status, want)
	}
	return r
}

// hdr is the JSON of the member's response header at revision rev.
func (g *gatewayServed) hdr(rev int64) string {
	return fmt.Sprintf(`"header":{"cluster_id":"%d","member_id":"%d","revision":"%d","raft_term":"%d"}`,
		g.m.ClusterID(), g.m.ID(), rev, g.m.Term())
}

// TestGatewayKVJSON drives the KV paths and checks the JSON, byte for byte, as etcd's
// gateway prints it: base64 bytes, 64-bit integers as strings, zero fields left out.
func TestGatewayKVJSON(t *testing.T) {
	g := serveGateway(t, serveSingle(t, nil), nil)
	c := g.httpClient(t, "root", false)

	// Seed 000's session (base64 'foo' and 'bar'), on the path etcd 3.3 named /v3alpha.
	g.post(t, c, "/v3alpha/kv/put", `{"key": "Zm9v", "value": "YmFy"}`, 200, "{"+g.hdr(2)+"}")
	r := g.post(t, c, "/v3/kv/range", `{"key": "Zm9v"}`, 200,
		"{"+g.hdr(2)+`,"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1","value":"YmFy"}],"count":"1"}`)
	if r.proto != 2 || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("proto %d, content type %q", r.proto, r.header.Get("Content-Type"))
	}

	// Both spellings of field names, integers as strings or numbers, enums by name or
	// number, URL-safe base64 without padding.
	g.post(t, c, "/v3/kv/put", `{"key":"Zm9vMg","value":"dg==","prev_kv":true}`, 200, "{"+g.hdr(3)+"}")
	g.post(t, c, "/v3/kv/put", `{"key":"Zm9vMg==","value":"dzI=","prevKv":true}`, 200,
		"{"+g.hdr(4)+`,"prev_kv":{"key":"Zm9vMg==","create_revision":"3","mod_revision":"3","version":"1","value":"dg=="}}`)
	g.post(t, c, "/v3/kv/range", `{"key":"Zm9v","range_end":"Zm9w","limit":"1","sort_order":"DESCEND","sortTarget":0,"keys_only":true}`, 200,
		"{"+g.hdr(4)+`,"kvs":[{"key":"Zm9vMg==","create_revision":"3","mod_revision":"4","version":"2"}],"more":true,"count":"2"}`)
	g.post(t, c, "/v3/kv/range", `{"key":"Zm9v","rangeEnd":"Zm9w","count_only":true,"revision":3}`, 200,
		"{"+g.hdr(4)+`,"count":"2"}`)
	g.post(t, c, "/v3/kv/range", `{"key":"bm9uZQ=="}`, 200, "{"+g.hdr(4)+"}")

	// Txn: etcd's doc example, camelCase as it writes it; each response has a header.
	g.post(t, c, "/v3/kv/txn",
		`{"compare":[{"target":"CREATE","key":"Zm9v","createRevision":"2"}],"success":[{"requestPut":{"key":"Zm9v","value":"YmFy"}}]}`, 200,
		"{"+g.hdr(5)+`,"succeeded":true,"responses":[{"response_put":{"header":{"revision":"5"}}}]}`)
	g.post(t, c, "/v3/kv/txn",
		`{"compare":[{"result":"NOT_EQUAL","target":"VALUE","key":"Zm9v","value":"YmFy"}],"success":[],"failure":[{"request_range":{"key":"Zm9v"}},{"request_delete_range":{"key":"Zm9vMg==","prev_kv":true}}]}`, 200,
		"{"+g.hdr(6)+`,"responses":[{"response_range":{"header":{"revision":"6"},"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"5","version":"2","value":"YmFy"}],"count":"1"}},`+
			`{"response_delete_range":{"header":{"revision":"6"},"deleted":"1","prev_kvs":[{"key":"Zm9vMg==","create_revision":"3","mod_revision":"4","version":"2","value":"dzI="}]}}]}`)

	// Delete, compaction, then a read below the compaction.
	g.post(t, c, "/v3/kv/deleterange", `{"key":"Zm9v","prev_kv":true}`, 200,
		"{"+g.hdr(7)+`,"deleted":"1","prev_kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"5","version":"2","value":"YmFy"}]}`)
	g.post(t, c, "/v3/kv/deleterange", `{"key":"Zm9v"}`, 200, "{"+g.hdr(7)+"}")
	g.post(t, c, "/v3/kv/compaction", `{"revision":"6","physical":true}`, 200, "{"+g.hdr(7)+"}")
	r = g.post(t, c, "/v3/kv/range", `{"key":"Zm9v","revision":"3"}`, 400, "")
	wantError(t, r, 11, "compacted")
}

// wantError checks an etcd gateway error body: code, and error = message containing sub.
func wantError(t *testing.T, r reply, code int, sub string) {
	t.Helper()
	var e struct {
		Error   string `json:"error"`
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(r.body), &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if e.Code != code || e.Error != e.Message || !strings.Contains(e.Message, sub) {
		t.Fatalf("error %d %s: want code %d and a message with %q", r.status, r.body, code, sub)
	}
}

// TestGatewayErrors checks the HTTP status and gRPC code of errors, as etcd's gateway
// answers them.
func TestGatewayErrors(t *testing.T) {
	g := serveGateway(t, serveSingle(t, func(c *node.ServiceConfig) { c.Limits.MaxRequestBytes = 1 << 10 }), nil)
	c := g.httpClient(t, "root", false)
	for _, tc := range []struct {
		method, path, body string
		status, code       int
		sub                string
	}{
		{"POST", "/v3/kv/put", `{"key":`, 400, 3, "malformed JSON"},
		{"POST", "/v3/kv/put", `{"key":"Zm9v"} {}`, 400, 3, "trailing data"},
		{"POST", "/v3/kv/put", `{"key":"not base64!"}`, 400, 3, "base64"},
		{"POST", "/v3/kv/put", `{"key":"Zm9v","lease":"x"}`, 400, 3, "64-bit integer"},
		{"POST", "/v3/kv/put", `{"value":"Zm9v"}`, 400, 3, "key is not provided"},
		{"POST", "/v3/kv/range", `{"key":"Zm9v","sort_order":"SIDEWAYS"}`, 400, 3, "enum"},
		{"POST", "/v3/kv/range", `{"key":"Zm9v","revision":"99"}`, 400, 11, "future revision"},
		{"POST", "/v3/kv/put", `{"key":"Zm9v","value":"` + strings.Repeat("A", 100<<10) + `"}`, 413, 3, "too large"},
		{"POST", "/v3/kv/txn", `{"success":[{}]}`, 400, 3, "exactly one"},
		{"POST", "/v3/lease/revoke", `{"ID":"12345"}`, 404, 5, "lease not found"},
		{"POST", "/v3/cluster/member/remove", `{"ID":"999"}`, 404, 5, "member not found"},
		{"POST", "/v3/auth/authenticate", `{"name":"x","password":"y"}`, 400, 9, "not enabled"},
		{"POST", "/v3/auth/user/get", `{"name":"nobody"}`, 400, 9, "user name not found"},
		{"POST", "/v3/maintenance/alarm", `{"action":"ACTIVATE","memberID":"1","alarm":"BOGUS"}`, 400, 3, "enum"},
		{"POST", "/v3/no/such/path", `{}`, 404, 5, "Not Found"},
		{"GET", "/v3/kv/range", ``, 405, 12, "Method Not Allowed"},
		{"POST", "/nowhere", ``, 404, 5, "Not Found"},
	} {
		r := g.do(t, c, tc.method, tc.path, tc.body)
		if r.status != tc.status {
			t.Errorf("%s %s %.40s: status %d %s, want %d", tc.method, tc.path, tc.body, r.status, r.body, tc.status)
			continue
		}
		wantError(t, r, tc.code, tc.sub)
		if strings.Contains(r.body, `\u003e`) {
			t.Errorf("%s: HTML-escaped JSON: %s", tc.path, r.body)
		}
	}
}

// TestGatewayAuth: under RBAC a request runs as the certificate's CN, or as the user of
// a token from /v3/auth/authenticate; a denied one is etcd's 403.
func TestGatewayAuth(t *testing.T) {
	a := serveWithAuth(t)
	g := serveGateway(t, a.served, nil)
	alice, tool := g.httpClient(t, "alice", false), g.httpClient(t, "tool", true)

	g.post(t, alice, "/v3/kv/put", `{"key":"L2FwcC9hLzE=","value":"dg=="}`, 200, "")
	msg := `permission denied: put \"/app/b/2\" needs write (user \"alice\")`
	g.post(t, alice, "/v3/kv/put", `{"key":"L2FwcC9iLzI=","value":"dg=="}`, 403,
		`{"error":"`+msg+`","code":7,"message":"`+msg+`"}`)
	r := g.post(t, alice, "/v3/kv/range", `{"key":"L2FwcC8=","range_end":"L2FwcDA="}`, 403, "")
	wantError(t, r, 7, "permission denied")
	r = g.post(t, alice, "/v3/kv/compaction", `{"revision":"1"}`, 403, "")
	wantError(t, r, 7, "root")
	r = g.do(t, alice, "PUT", "/kv//app/b/3", "v")
	if r.status != 403 || !strings.HasPrefix(r.body, "permission denied") {
		t.Errorf("plain put denied: %d %q", r.status, r.body)
	}

	// carol has a password and no certificate: she authenticates through tool's.
	r = g.post(t, tool, "/v3/kv/put", `{"key":"L2FwcC9hLzI=","value":"dg=="}`, 403, "")
	wantError(t, r, 7, `user "tool"`)
	r = g.post(t, tool, "/v3/auth/authenticate", `{"name":"carol","password":"carol-pw"}`, 200, "")
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(r.body), &tok); err != nil || tok.Token == "" {
		t.Fatalf("authenticate: %s %v", r.body, err)
	}
	g.post(t, tool, "/v3/kv/put", `{"key":"L2FwcC9hLzI=","value":"dg=="}`, 200, "", "Authorization", tok.Token)
	g.post(t, tool, "/v3/kv/put", `{"key":"L2FwcC9hLzM=","value":"dg=="}`, 200, "", "Authorization", "Bearer "+tok.Token)
	r = g.post(t, tool, "/v3/kv/put", `{"key":"L2FwcC9hLzM=","value":"dg=="}`, 401, "", "Authorization", tok.Token+"x")
	wantError(t, r, 16, "")
	r = g.post(t, tool, "/v3/auth/authenticate", `{"name":"carol","password":"wrong"}`, 400, "")
	wantError(t, r, 3, "")

	// Health needs a certificate, not a user.
	if r := g.do(t, tool, "GET", "/health", ""); r.status != 200 || r.body != `{"health":"true","reason":""}` {
		t.Errorf("health: %d %s", r.status, r.body)
	}
}

// TestGatewayPlainKV drives /kv/<key>.
func TestGatewayPlainKV(t *testing.T) {
	g := serveGateway(t, serveSingle(t, nil), nil)
	for _, http1 := range []bool{false, true} {
		c := g.httpClient(t, "root", http1)
		p := fmt.Sprintf("/http1-%v", http1)
		if r := g.do(t, c, "PUT", "/kv/"+p+"/a", "hello\x00world"); r.status != 204 || r.header.Get("X-Etcq-Revision") == "" {
			t.Fatalf("put: %+v", r)
		}
		r := g.do(t, c, "GET", "/kv/"+p+"/a", "")
		if r.status != 200 || r.body != "hello\x00world" || r.header.Get("X-Etcq-Version") != "1" ||
			r.header.Get("Content-Type") != "application/octet-stream" {
			t.Fatalf("get: %+v", r)
		}
		rev := r.header.Get("X-Etcq-Mod-Revision")
		g.do(t, c, "PUT", "/kv/"+strings.ReplaceAll(p, "/", "%2F")+"%2Fa", "again")
		g.do(t, c, "PUT", "/kv/"+p+"/b", "2")
		if r := g.do(t, c, "GET", "/kv/"+p+"/a?rev="+rev, ""); r.status != 200 || r.body != "hello\x00world" {
			t.Errorf("get at rev %s: %+v", rev, r)
		}
		if r := g.do(t, c, "GET", "/kv/"+p+"/?prefix", ""); r.status != 200 || r.body != p+"/a\tagain\n"+p+"/b\t2\n" {
			t.Errorf("get prefix: %d %q", r.status, r.body)
		}
		r = g.do(t, c, "GET", "/kv/"+p+"/?prefix&limit=1", "", "Accept", "application/json")
		if r.status != 200 || !strings.Contains(r.body, `"more":true,"count":"2"`) || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("get prefix as JSON: %d %s", r.status, r.body)
		}
		if r := g.do(t, c, "GET", "/kv/"+p+"/none", ""); r.status != 404 || r.body != "key not found\n" {
			t.Errorf("get missing: %d %q", r.status, r.body)
		}
		if r := g.do(t, c, "GET", "/kv/"+p+"/a?rev=x", ""); r.status != 400 {
			t.Errorf("bad rev: %d %q", r.status, r.body)
		}
		if r := g.do(t, c, "DELETE", "/kv/"+p+"/a", ""); r.status != 200 || r.body != "1\n" {
			t.Errorf("delete: %d %q", r.status, r.body)
		}
		if r := g.do(t, c, "DELETE", "/kv/"+p+"/a", ""); r.status != 404 {
			t.Errorf("delete missing: %d %q", r.status, r.body)
		}
		if r := g.do(t, c, "DELETE", "/kv/"+p+"?prefix", ""); r.status != 200 || r.body != "1\n" {
			t.Errorf("delete prefix: %d %q", r.status, r.body)
		}
		if r := g.do(t, c, "POST", "/kv/"+p, ""); r.status != 405 {
			t.Errorf("post: %d %q", r.status, r.body)
		}
		if r := g.do(t, c, "PUT", "/kv/big", strings.Repeat("x", 2<<20)); r.status != 413 {
			t.Errorf("put over the limit: %d %q", r.status, r.body)
		}
	}
}

// TestGatewayWatch streams a watch over HTTP/2 with the request body kept open (create,
// events, cancel), and over HTTP/1.1 as curl sends it (one request, then the stream).
func TestGatewayWatch(t *testing.T) {
	g := serveGateway(t, serveSingle(t, nil), nil)
	root := g.httpClient(t, "root", false)
	ctx := testCtx(t, 30*time.Second)

	pr, pw := io.Pipe()
	req, _ := http.NewRequestWithContext(ctx, "POST", g.base+"/v3/watch", pr)
	respC := make(chan *http.Response, 1)
	go func() {
		resp, err := root.Do(req)
		if err != nil {
			t.Error(err)
			close(respC)
			return
		}
		respC <- resp
	}()
	fmt.Fprintln(pw, `{"create_request":{"key":"dw==","prev_kv":true}}`)
	resp := <-respC
	if resp == nil {
		t.FailNow()
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	next := func(want string) {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("stream ended (%v); want %s", lines.Err(), want)
		}
		if got := lines.Text(); got != want {
			t.Fatalf("stream line\n got %s\nwant %s", got, want)
		}
	}
	next(`{"result":{` + g.hdr(1) + `,"created":true}}`)
	g.post(t, root, "/v3/kv/put", `{"key":"dw==","value":"MQ=="}`, 200, "")
	next(`{"result":{` + g.hdr(2) + `,"events":[{"kv":{"key":"dw==","create_revision":"2","mod_revision":"2","version":"1","value":"MQ=="}}]}}`)
	g.post(t, root, "/v3/kv/deleterange", `{"key":"dw=="}`, 200, "")
	next(`{"result":{` + g.hdr(3) + `,"events":[{"type":"DELETE","kv":{"key":"dw==","mod_revision":"3"},` +
		`"prev_kv":{"key":"dw==","create_revision":"2","mod_revision":"2","version":"1","value":"MQ=="}}]}}`)
	// A second watcher from the past, then cancel the first.
	fmt.Fprintln(pw, `{"create_request":{"key":"dw==","start_revision":"2","watch_id":"7"}}`)
	next(`{"result":{` + g.hdr(3) + `,"watch_id":"7","created":true}}`)
	next(`{"result":{` + g.hdr(3) + `,"watch_id":"7","events":[{"kv":{"key":"dw==","create_revision":"2","mod_revision":"2","version":"1","value":"MQ=="}},{"type":"DELETE","kv":{"key":"dw==","mod_revision":"3"}}]}}`)
	fmt.Fprintln(pw, `{"cancel_request":{"watch_id":"0"}}`)
	next(`{"result":{` + g.hdr(3) + `,"canceled":true,"cancel_reason":"watcher canceled"}}`)
	fmt.Fprintln(pw, `{"create_request":{"key":`)
	pw.Close()
	if !lines.Scan() || !strings.Contains(lines.Text(), `"grpc_code":3`) {
		t.Fatalf("malformed watch request: %s %v", lines.Text(), lines.Err())
	}
	if lines.Scan() {
		t.Fatalf("the stream went on after a malformed request: %s", lines.Text())
	}

	// HTTP/1.1, the whole request first, as curl -N -d sends it.
	h1 := g.httpClient(t, "root", true)
	req, _ = http.NewRequestWithContext(ctx, "POST", g.base+"/v3/watch", strings.NewReader(`{"create_request":{"key":"eA=="}}`))
	resp, err := h1.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 1 {
		t.Fatalf("proto %s", resp.Proto)
	}
	lines = bufio.NewScanner(resp.Body)
	next(`{"result":{` + g.hdr(3) + `,"created":true}}`)
	g.post(t, root, "/v3/kv/put", `{"key":"eA==","value":"MQ=="}`, 200, "")
	next(`{"result":{` + g.hdr(4) + `,"events":[{"kv":{"key":"eA==","create_revision":"4","mod_revision":"4","version":"1","value":"MQ=="}}]}}`)

	// Shutdown ends the stream.
	if err := g.gw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if lines.Scan() {
		t.Fatalf("line after shutdown: %s", lines.Text())
	}
}

// TestGatewayLeaseClusterMaintenanceAuth drives the remaining unary paths and the
// keep-alive and snapshot streams.
func TestGatewayLeaseClusterMaintenanceAuth(t *testing.T) {
	s := serveSingle(t, nil)
	node.FastPasswords(s.m)
	g := serveGateway(t, s, nil)
	c := g.httpClient(t, "root", false)

	g.post(t, c, "/v3/lease/grant", `{"TTL":60,"ID":"100"}`, 200, "{"+g.hdr(1)+`,"ID":"100","TTL":"60"}`)
	g.post(t, c, "/v3/kv/put", `{"key":"bA==","value":"dg==","lease":"100"}`, 200, "")
	g.post(t, c, "/v3/lease/timetolive", `{"ID":"100","keys":true}`, 200, "")
	r := g.post(t, c, "/v3/kv/lease/timetolive", `{"ID":100,"keys":true}`, 200, "")
	if !strings.Contains(r.body, `"ID":"100","TTL":"`) || !strings.Contains(r.body, `"grantedTTL":"60","keys":["bA=="]}`) {
		t.Errorf("timetolive: %s", r.body)
	}
	g.post(t, c, "/v3/lease/timetolive", `{"ID":"5"}`, 200, "{"+g.hdr(2)+`,"ID":"5","TTL":"-1"}`)
	g.post(t, c, "/v3/lease/leases", ``, 200, "{"+g.hdr(2)+`,"leases":[{"ID":"100"}]}`)
	g.post(t, c, "/v3/kv/lease/leases", `{}`, 200, "{"+g.hdr(2)+`,"leases":[{"ID":"100"}]}`)
	r = g.post(t, c, "/v3/lease/keepalive", `{"ID":"100"}`+"\n"+`{"ID":"5"}`, 200, "")
	if r.body != `{"result":{`+g.hdr(2)+`,"ID":"100","TTL":"60"}}`+"\n"+`{"result":{`+g.hdr(2)+`,"ID":"5"}}`+"\n" {
		t.Errorf("keepalive: %s", r.body)
	}
	g.post(t, c, "/v3/kv/lease/revoke", `{"ID":"100"}`, 200, "{"+g.hdr(3)+"}")
	g.post(t, c, "/v3/lease/leases", ``, 200, "{"+g.hdr(3)+"}")

	r = g.post(t, c, "/v3/cluster/member/list", `{"linearizable":true}`, 200, "")
	if !strings.Contains(r.body, `"members":[{"ID":"1","name":"one","peerURLs":["https://127.0.0.1:2380"]}]`) {
		t.Errorf("member list: %s", r.body)
	}
	r = g.post(t, c, "/v3/cluster/member/add", `{"peerURLs":["https://127.0.0.1:2390"],"isLearner":true,"name":"two"}`, 200, "")
	var added struct {
		Member struct {
			ID        string
			IsLearner bool
		}
	}
	if err := json.Unmarshal([]byte(r.body), &added); err != nil || !added.Member.IsLearner || added.Member.ID == "" {
		t.Fatalf("member add: %s %v", r.body, err)
	}
	g.post(t, c, "/v3/cluster/member/update", `{"ID":"`+added.Member.ID+`","peerURLs":["https://127.0.0.1:2391"]}`, 200, "")
	r = g.post(t, c, "/v3/cluster/member/promote", `{"ID":"`+added.Member.ID+`"}`, 400, "")
	wantError(t, r, 9, "")
	g.post(t, c, "/v3/cluster/member/remove", `{"ID":"`+added.Member.ID+`"}`, 200,
		"{"+g.hdr(3)+`,"members":[{"ID":"1","name":"one","peerURLs":["https://127.0.0.1:2380"]}]}`)

	r = g.post(t, c, "/v3/maintenance/status", ``, 200, "")
	for _, want := range []string{`"version":"` + node.Version + `"`, `"dbSize":"`, `"leader":"1"`, `"raftIndex":"`, `"raftAppliedIndex":"`, `"dbSizeInUse":"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("status %s: no %s", r.body, want)
		}
	}
	g.post(t, c, "/v3/maintenance/alarm", `{"action":"GET"}`, 200, "{"+g.hdr(3)+"}")
	g.post(t, c, "/v3/maintenance/defragment", ``, 200, "{"+g.hdr(3)+"}")
	if r := g.post(t, c, "/v3/maintenance/hash", ``, 200, ""); !strings.Contains(r.body, `"hash":`) {
		t.Errorf("hash: %s", r.body)
	}
	if r := g.post(t, c, "/v3/maintenance/hashkv", `{"revision":"3"}`, 200, ""); !strings.Contains(r.body, `"hash_revision":"3"`) {
		t.Errorf("hashkv: %s", r.body)
	}
	r = g.post(t, c, "/v3/maintenance/snapshot", ``, 200, "")
	snap := strings.Split(strings.TrimSuffix(r.body, "\n"), "\n")
	for i, line := range snap {
		last := i == len(snap)-1
		if !strings.HasPrefix(line, `{"result":{`+g.hdr(3)+`,`) || !strings.HasSuffix(line, `,"version":"`+node.Version+`"}}`) ||
			strings.Contains(line, `"remaining_bytes"`) == last || !strings.Contains(line, `"blob":"`) {
			t.Errorf("snapshot line %d of %d: %.200s", i+1, len(snap), line)
		}
	}

	// Auth: users, roles, permissions, enable, status, disable.
	steps := []struct{ path, body, want string }{
		{"/v3/auth/user/add", `{"name":"root","options":{"no_password":true}}`, "{" + g.hdr(3) + "}"},
		{"/v3/auth/user/add", `{"name":"u","password":"pw"}`, ""},
		{"/v3/auth/role/add", `{"name":"r"}`, ""},
		{"/v3/auth/role/grant", `{"name":"r","perm":{"permType":"READWRITE","key":"YQ==","range_end":"Yg=="}}`, ""},
		{"/v3/auth/role/get", `{"role":"r"}`, "{" + g.hdr(3) + `,"perm":[{"permType":"READWRITE","key":"YQ==","range_end":"Yg=="}]}`},
		{"/v3/auth/user/grant", `{"user":"u","role":"r"}`, ""},
		{"/v3/auth/user/grant", `{"user":"root","role":"root"}`, ""},
		{"/v3/auth/user/get", `{"name":"u"}`, "{" + g.hdr(3) + `,"roles":["r"]}`},
		{"/v3/auth/user/list", ``, "{" + g.hdr(3) + `,"users":["root","u"]}`},
		{"/v3/auth/role/list", ``, "{" + g.hdr(3) + `,"roles":["r"]}`},
		{"/v3/auth/user/changepw", `{"name":"u","password":"pw2"}`, ""},
		{"/v3/auth/role/revoke", `{"role":"r","key":"YQ==","range_end":"Yg=="}`, ""},
		{"/v3/auth/user/revoke", `{"name":"u","role":"r"}`, ""},
		{"/v3/auth/enable", ``, ""},
		{"/v3/auth/authenticate", `{"name":"u","password":"pw2"}`, ""},
		{"/v3/auth/user/delete", `{"name":"u"}`, ""},
		{"/v3/auth/role/delete", `{"role":"r"}`, ""},
		{"/v3/auth/disable", ``, ""},
	}
	for _, st := range steps {
		g.post(t, c, st.path, st.body, 200, st.want)
	}
	r = g.post(t, c, "/v3/auth/status", ``, 200, "")
	if !strings.HasPrefix(r.body, "{"+g.hdr(3)+`,"authRevision":"`) {
		t.Errorf("auth status: %s", r.body)
	}
}

// TestGatewayHealthMetricsTLS checks the probes, the metrics and the TLS rules.
func TestGatewayHealthMetricsTLS(t *testing.T) {
	g := serveGateway(t, serveSingle(t, nil), nil)
	c := g.httpClient(t, "anyone", true)
	for path, want := range map[string]string{
		"/health":                   `{"health":"true","reason":""}`,
		"/health?serializable=true": `{"health":"true","reason":""}`,
		"/livez":                    "ok\n",
		"/readyz":                   "ok\n",
		"/readyz?verbose":           "[+]data_corruption ok\n[+]serializable_read ok\n[+]has_leader ok\n[+]not_stopping ok\n[+]linearizable_read ok\nreadyz check passed\n",
	} {
		if r := g.do(t, c, "GET", path, ""); r.status != 200 || r.body != want {
			t.Errorf("%s: %d %q", path, r.status, r.body)
		}
	}
	if r := g.do(t, c, "POST", "/health", ""); r.status != 405 {
		t.Errorf("POST /health: %d", r.status)
	}

	// An alarm makes the member unhealthy, as in etcd, unless excluded; puts are refused
	// with etcd's ResourceExhausted.
	root := g.httpClient(t, "root", false)
	g.post(t, root, "/v3/maintenance/alarm", `{"action":"ACTIVATE","memberID":"1","alarm":"NOSPACE"}`, 200,
		"{"+g.hdr(1)+`,"alarms":[{"memberID":"1","alarm":"NOSPACE"}]}`)
	if r := g.do(t, c, "GET", "/health", ""); r.status != 503 || r.body != `{"health":"false","reason":"ALARM NOSPACE"}` {
		t.Errorf("health with an alarm: %d %s", r.status, r.body)
	}
	if r := g.do(t, c, "GET", "/health?exclude=NOSPACE", ""); r.status != 200 {
		t.Errorf("health excluding the alarm: %d %s", r.status, r.body)
	}
	wantError(t, g.post(t, root, "/v3/kv/put", `{"key":"YQ=="}`, 429, ""), 8, "NOSPACE")
	g.post(t, root, "/v3/maintenance/alarm", `{"action":"DEACTIVATE","memberID":"1","alarm":"NOSPACE"}`, 200, "")
	if r := g.do(t, c, "GET", "/health", ""); r.status != 200 {
		t.Errorf("health after the alarm: %d %s", r.status, r.body)
	}

	// A QUIC client, so that the QUIC counts move.
	qc := connect(t, g.pki, "root", g.endpoint())
	if _, err := qc.Put(testCtx(t, 10*time.Second), "k", "v"); err != nil {
		t.Fatal(err)
	}
	r := g.do(t, c, "GET", "/metrics", "")
	if r.status != 200 || r.header.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("metrics: %d %s", r.status, r.header)
	}
	for _, want := range []string{
		"etcd_server_has_leader 1\n", "etcd_server_is_leader 1\n", "etcd_server_leader_changes_seen_total 1\n",
		"etcd_server_proposals_committed_total ", "etcd_server_proposals_applied_total ", "etcd_server_proposals_pending 0\n",
		"etcd_mvcc_db_total_size_in_bytes ", "etcd_mvcc_db_total_size_in_use_in_bytes ",
		"etcd_debugging_mvcc_watcher_total 0\n", "etcd_mvcc_watcher_total 0\n", "etcq_leases 0\n",
		"# TYPE etcd_disk_wal_fsync_duration_seconds histogram\n", `etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} `,
		"etcq_client_quic_connections 1\n", "etcq_client_quic_connections_total 1\n", "\netcq_gateway_connections ",
		"# TYPE go_goroutines gauge\n",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("metrics: no %q", want)
		}
	}
	sample := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*\})? (\+Inf|-Inf|NaN|-?[0-9.e+-]+)$`)
	for _, line := range strings.Split(strings.TrimSuffix(r.body, "\n"), "\n") {
		if !strings.HasPrefix(line, "# HELP ") && !strings.HasPrefix(line, "# TYPE ") && !sample.MatchString(line) {
			t.Errorf("metrics line %q is not in the text format", line)
		}
	}

	// Mutual TLS on every path: no certificate, no HTTP.
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: g.pki.CA().Pool()}}}
	if resp, err := noCert.Get(g.base + "/health"); err == nil {
		resp.Body.Close()
		t.Fatalf("a client without a certificate got %s", resp.Status)
	}
	// Nor plain HTTP.
	if resp, err := http.Get("http://" + g.gw.Addr().String() + "/health"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("plain HTTP got %s", resp.Status)
		}
	}

	// A configuration that does not demand client certificates is refused.
	if _, err := node.NewGateway(g.svc, node.GatewayConfig{Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{g.pki.Server(t, "one")}}}); err == nil {
		t.Fatal("a gateway without client certificates started")
	}
}

// TestGatewayPprof: the runtime's profiles are served with EnablePprof only.
func TestGatewayPprof(t *testing.T) {
	s := serveSingle(t, nil)
	off := serveGateway(t, s, nil)
	if r := off.do(t, off.httpClient(t, "anyone", true), "GET", "/debug/pprof/", ""); r.status != 404 {
		t.Fatalf("pprof without EnablePprof: %d %s", r.status, r.body)
	}
	on := serveGateway(t, s, func(c *node.GatewayConfig) { c.EnablePprof = true })
	c := on.httpClient(t, "anyone", true)
	if r := on.do(t, c, "GET", "/debug/pprof/", ""); r.status != 200 || !strings.Contains(r.body, "goroutine") {
		t.Fatalf("pprof index: %d %.200s", r.status, r.body)
	}
	if r := on.do(t, c, "GET", "/debug/pprof/goroutine?debug=1", ""); r.status != 200 || !strings.Contains(r.body, "goroutine profile: total") {
		t.Fatalf("goroutine profile: %d %.200s", r.status, r.body)
	}
	if r := on.do(t, c, "GET", "/debug/pprof/cmdline", ""); r.status != 200 || r.body == "" {
		t.Fatalf("cmdline: %d %q", r.status, r.body)
	}
}
