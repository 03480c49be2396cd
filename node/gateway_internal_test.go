package node

import (
	"encoding/json"
	"strings"
	"testing"

	"etcq.dev/etcq/wire"
)

// TestGatewayGRPCCodes: every wire code has the gRPC code etcd gives the same error, and
// the HTTP status grpc-gateway gives that code.
func TestGatewayGRPCCodes(t *testing.T) {
	for c := wire.Code(1); c < 256; c++ {
		if strings.HasPrefix(c.String(), "Code(") {
			continue // no such code
		}
		if _, ok := grpcCodes[c]; !ok {
			t.Errorf("wire code %d (%v) has no gRPC code", c, c)
		}
	}
	for _, tc := range []struct {
		c      wire.Code
		g      grpcCode
		status int
	}{
		{wire.CodeCompacted, 11, 400},
		{wire.CodePermissionDenied, 7, 403},
		{wire.CodeLeaseNotFound, 5, 404},
		{wire.CodeMemberNotFound, 5, 404},
		{wire.CodeBadRequest, 3, 400},
		{wire.CodeNoLeader, 14, 503},
		{wire.CodeTimeout, 14, 503},
		{wire.CodeInvalidToken, 16, 401},
		{wire.CodeTooManyRequests, 8, 429},
		{wire.CodeUnimplemented, 12, 501},
		{wire.CodeAuthNotEnabled, 9, 400},
		{wire.CodeCorrupt, 15, 500},
		{wire.Code(250), 2, 500},
	} {
		if g := grpcCodeOf(tc.c); g != tc.g || g.httpStatus() != tc.status {
			t.Errorf("%v: gRPC %d HTTP %d, want %d %d", tc.c, g, g.httpStatus(), tc.g, tc.status)
		}
	}
}

// TestGatewayJSONNames: protoc's JSON names, which requests may use instead of the proto
// names.
func TestGatewayJSONNames(t *testing.T) {
	for in, want := range map[string]string{
		"range_end": "rangeEnd", "prev_kv": "prevKv", "ID": "ID", "peerURLs": "peerURLs",
		"min_create_revision": "minCreateRevision", "key": "key", "request_delete_range": "requestDeleteRange",
	} {
		if got := jsonName(in); got != want {
			t.Errorf("jsonName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestGatewayDecode reads requests in the forms protobuf's JSON mapping allows.
func TestGatewayDecode(t *testing.T) {
	var j jTxnRequest
	err := decodeOne(strings.NewReader(`{"compare":[{"result":3,"target":"MOD","key":"YQ","mod_revision":5}],
		"success":[{"requestTxn":{"failure":[{"request_put":{"key":"Yg==","lease":"-7","ignore_value":true}}]}}]}`), &j)
	if err != nil {
		t.Fatal(err)
	}
	w := j.wire()
	if len(w.Compare) != 1 || w.Compare[0].Result != wire.CompareNotEqual || w.Compare[0].Target != wire.TargetMod ||
		string(w.Compare[0].Key) != "a" || w.Compare[0].ModRevision != 5 {
		t.Errorf("compare %+v", w.Compare)
	}
	put := w.Success[0].Txn.Failure[0].Put
	if string(put.Key) != "b" || put.Lease != -7 || !put.IgnoreValue {
		t.Errorf("nested put %+v", put)
	}
	for _, bad := range []string{`[]`, `{"compare":{}}`, `{"success":[{"request_put":{"lease":1.5}}]}`, `{} x`} {
		if err := decodeOne(strings.NewReader(bad), &jTxnRequest{}); err == nil {
			t.Errorf("%s: decoded", bad)
		}
	}
	for _, ok := range []string{``, `null`, `{}`, `{"unknown_field":1}`} {
		if err := decodeOne(strings.NewReader(ok), &jTxnRequest{}); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	b, _ := json.Marshal(&jEvent{Type: 1, KV: &jKeyValue{Key: []byte("k"), ModRevision: 1 << 62}})
	if string(b) != `{"type":"DELETE","kv":{"key":"aw==","mod_revision":"4611686018427387904"}}` {
		t.Errorf("event %s", b)
	}
}
