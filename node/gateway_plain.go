package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"etcq.dev/etcq/rbac"
	"etcq.dev/etcq/storage"
	"etcq.dev/etcq/wire"
)

// The plain-text key API, which etcd lacks (its users ask for it: etcd issues #9428,
// #13263). The key is the rest of the path after /kv/, percent-decoded and otherwise taken
// as it is: /kv//app/x is the key "/app/x", and so is /kv/%2Fapp%2Fx.
//
//	GET /kv/<key>            the value, raw (application/octet-stream); 404 if there is
//	                         no such key. Headers: X-Etcq-Revision (the store's),
//	                         X-Etcq-Create-Revision, X-Etcq-Mod-Revision, X-Etcq-Version,
//	                         X-Etcq-Lease (when the key has one).
//	GET /kv/<key>?prefix     every key under the prefix (an empty key: every key), as
//	                         text/plain lines "key<TAB>value" (keys and values as they
//	                         are: use the JSON form for binary data), or, with
//	                         Accept: application/json, the JSON of /v3/kv/range.
//	    ?rev=N               read at revision N; ?limit=N at most N keys;
//	    ?serializable        a serializable read (may be stale)
//	PUT /kv/<key>            the body is the value; 204, X-Etcq-Revision. ?lease=ID
//	                         attaches the key to a lease.
//	DELETE /kv/<key>         200 and the number of keys deleted ("1\n"); 404 if none.
//	    ?prefix              every key under the prefix (200 even if none)
//
// Errors are text/plain: the message and a newline, with the HTTP status etcd's gateway
// gives the error. The same checks apply as to /v3/kv/... (RBAC, limits).

func (g *Gateway) plain(w http.ResponseWriter, r *http.Request, key string) {
	q := r.URL.Query()
	prefix := flag(q, "prefix")
	if key == "" && !prefix {
		g.plainError(w, grpcInvalidArgument, "no key: the path is /kv/<key>")
		return
	}
	k, end := []byte(key), []byte(nil)
	if prefix {
		if key == "" {
			k, end = []byte{0}, []byte{0}
		} else {
			end = rbac.PrefixEnd(k)
		}
	}
	c, token := g.caller(r)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(g.s.cfg.RequestTimeout + g.cfg.WriteTimeout))
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		g.plainGet(w, r, c, token, q, k, end, prefix)
	case http.MethodPut:
		value, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(g.s.cfg.Limits.MaxRequestBytes)))
		if err != nil {
			g.plainFail(w, err)
			return
		}
		lease, ok := intParam(w, g, q, "lease")
		if !ok {
			return
		}
		_, rev, err := g.do(r.Context(), c, &wire.Request{Op: wire.OpPut, Token: token,
			Body: &wire.PutRequest{Key: k, Value: value, Lease: lease}})
		if err != nil {
			g.plainFail(w, err)
			return
		}
		w.Header().Set("X-Etcq-Revision", strconv.FormatInt(g.s.header(rev).Revision, 10))
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		resp, rev, err := g.do(r.Context(), c, &wire.Request{Op: wire.OpDeleteRange, Token: token,
			Body: &wire.DeleteRangeRequest{Key: k, RangeEnd: end}})
		if err != nil {
			g.plainFail(w, err)
			return
		}
		deleted := resp.(*wire.DeleteRangeResponse).Deleted
		w.Header().Set("X-Etcq-Revision", strconv.FormatInt(g.s.header(rev).Revision, 10))
		if deleted == 0 && !prefix {
			g.plainError(w, grpcNotFound, "key not found")
			return
		}
		writeText(w, http.StatusOK, fmt.Sprintf("%d\n", deleted))
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, DELETE")
		g.stats.failed.Add(1)
		writeText(w, http.StatusMethodNotAllowed, "method not allowed: use GET, PUT or DELETE\n")
	}
}

func (g *Gateway) plainGet(w http.ResponseWriter, r *http.Request, c *clientConn, token string, q url.Values, k, end []byte, prefix bool) {
	rev, ok := intParam(w, g, q, "rev")
	if !ok {
		return
	}
	limit, ok := intParam(w, g, q, "limit")
	if !ok {
		return
	}
	resp, hrev, err := g.do(r.Context(), c, &wire.Request{Op: wire.OpRange, Token: token, Body: &wire.RangeRequest{
		Key: k, RangeEnd: end, Revision: rev, Limit: limit, Serializable: flag(q, "serializable"),
	}})
	if err != nil {
		g.plainFail(w, err)
		return
	}
	rr := resp.(*wire.RangeResponse)
	header := g.s.header(hrev)
	w.Header().Set("X-Etcq-Revision", strconv.FormatInt(header.Revision, 10))
	switch {
	case !prefix:
		if len(rr.KVs) == 0 {
			g.plainError(w, grpcNotFound, "key not found")
			return
		}
		kv := rr.KVs[0]
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("X-Etcq-Create-Revision", strconv.FormatInt(kv.CreateRevision, 10))
		h.Set("X-Etcq-Mod-Revision", strconv.FormatInt(kv.ModRevision, 10))
		h.Set("X-Etcq-Version", strconv.FormatInt(kv.Version, 10))
		if kv.Lease != 0 {
			h.Set("X-Etcq-Lease", strconv.FormatInt(kv.Lease, 10))
		}
		h.Set("Content-Length", strconv.Itoa(len(kv.Value)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(kv.Value)
	case strings.Contains(r.Header.Get("Accept"), "application/json"):
		writeJSON(w, http.StatusOK, rangeOut(headerOut(header), rr))
	default:
		var b bytes.Buffer
		for _, kv := range rr.KVs {
			b.Write(kv.Key)
			b.WriteByte('\t')
			b.Write(kv.Value)
			b.WriteByte('\n')
		}
		writeText(w, http.StatusOK, b.String())
	}
}

// flag reports whether a query parameter is set (?prefix, ?prefix=true), and not to
// false or 0.
func flag(q url.Values, name string) bool {
	v, ok := q[name]
	if !ok {
		return false
	}
	return len(v) == 0 || v[0] != "false" && v[0] != "0"
}

// intParam reads an integer query parameter (0 if absent); a malformed one is answered
// with 400 and ok false.
func intParam(w http.ResponseWriter, g *Gateway, q url.Values, name string) (int64, bool) {
	s := q.Get(name)
	if s == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		g.plainError(w, grpcInvalidArgument, fmt.Sprintf("?%s=%s: not an integer", name, s))
		return 0, false
	}
	return n, true
}

func (g *Gateway) plainFail(w http.ResponseWriter, err error) {
	_, status, msg := failure(err)
	g.stats.failed.Add(1)
	writeText(w, status, msg+"\n")
}

func (g *Gateway) plainError(w http.ResponseWriter, code grpcCode, msg string) {
	g.stats.failed.Add(1)
	writeText(w, code.httpStatus(), msg+"\n")
}

func writeText(w http.ResponseWriter, status int, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, s)
}

// Health. Every probe needs a client certificate (mutual TLS is mandatory on every path)
// but no user: they read nothing of the key space.

// jHealth is etcd's /health body.
type jHealth struct {
	Health string `json:"health"`
	Reason string `json:"reason"`
}

// health serves /health as etcd does: healthy when no alarm is raised (but those named by
// ?exclude=NOSPACE and the like), the member has a leader, and it serves a read
// (linearizable; serializable with ?serializable=true).
func (g *Gateway) health(w http.ResponseWriter, r *http.Request) {
	if !getOnly(w, r) {
		return
	}
	h := jHealth{Health: "true"}
	status := http.StatusOK
	q := r.URL.Query()
	if reason := g.unhealthy(r.Context(), q.Get("serializable") == "true", q["exclude"]); reason != "" {
		h, status = jHealth{Health: "false", Reason: reason}, http.StatusServiceUnavailable
	}
	writeJSON(w, status, &h)
}

// unhealthy says why the member is not healthy, or "".
func (g *Gateway) unhealthy(ctx context.Context, serializable bool, excludeAlarms []string) string {
	m := g.s.m
	for _, a := range m.alarms.list() {
		if !slices.Contains(excludeAlarms, a.Type.String()) {
			return "ALARM " + a.Type.String()
		}
	}
	switch {
	case m.stopped():
		return "MEMBER STOPPED"
	case g.s.draining.Load():
		return "MEMBER STOPPING"
	case m.Leader() == 0:
		return "RAFT NO LEADER"
	}
	if err := g.read(ctx, serializable); err != nil {
		return "RANGE ERROR:" + err.Error()
	}
	return ""
}

// read does a read for the probes, as the member's own (no user, nothing returned).
func (g *Gateway) read(ctx context.Context, serializable bool) error {
	ctx, cancel := context.WithTimeout(ctx, g.s.cfg.RequestTimeout)
	defer cancel()
	_, err := g.s.m.Range(ctx, storage.RangeRequest{Key: []byte("health"), KeysOnly: true, Limit: 1}, serializable)
	return err
}

// probe serves /livez (the member is alive: it serves a serializable read) and /readyz
// (it is ready for clients: its store has no error, it has a leader, and it serves a
// linearizable read), as Kubernetes-style probes: "ok", or the checks with [+] and [-]
// and 503; ?verbose lists the checks either way.
func (g *Gateway) probe(w http.ResponseWriter, r *http.Request, ready bool) {
	if !getOnly(w, r) {
		return
	}
	type check struct {
		name string
		run  func() error
	}
	m := g.s.m
	checks := []check{{"serializable_read", func() error { return g.read(r.Context(), true) }}}
	name := "livez"
	if ready {
		name = "readyz"
		checks = []check{
			{"data_corruption", func() error {
				for _, a := range m.alarms.list() {
					if a.Type == AlarmCorrupt {
						return fmt.Errorf("%w: a CORRUPT alarm is raised for member %x", storage.ErrCorrupt, a.Member)
					}
				}
				return m.store.Err()
			}},
			{"serializable_read", checks[0].run},
			{"has_leader", func() error {
				if m.Leader() == 0 {
					return ErrNoLeader
				}
				return nil
			}},
			{"not_stopping", func() error {
				if g.s.draining.Load() {
					return ErrStopped
				}
				return nil
			}},
			{"linearizable_read", func() error { return g.read(r.Context(), false) }},
		}
	}
	var b strings.Builder
	failed := false
	for _, c := range checks {
		if err := c.run(); err != nil {
			failed = true
			fmt.Fprintf(&b, "[-]%s failed: %v\n", c.name, err)
		} else {
			fmt.Fprintf(&b, "[+]%s ok\n", c.name)
		}
	}
	switch {
	case failed:
		fmt.Fprintf(&b, "%s check failed\n", name)
		writeText(w, http.StatusServiceUnavailable, b.String())
	case flag(r.URL.Query(), "verbose"):
		fmt.Fprintf(&b, "%s check passed\n", name)
		writeText(w, http.StatusOK, b.String())
	default:
		writeText(w, http.StatusOK, "ok\n")
	}
}

// getOnly refuses methods other than GET and HEAD.
func getOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	writeText(w, http.StatusMethodNotAllowed, "method not allowed: use GET\n")
	return false
}
