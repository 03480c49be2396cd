package main

import (
	"fmt"
	"strings"
	"testing"

	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/wire"
)

// -w json prints what etcdctl -w json prints: the gRPC response with etcd's field names,
// integers as numbers, bytes in base64; -w fields one `"Field" : value` per line.
func TestOutputFormats(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ctl("put", "key1", "bar1").must(t) // revision 2
	h, err := f.client().Get(testCtx(t), "none")
	if err != nil {
		t.Fatal(err)
	}
	hdr := func(rev int) string {
		return fmt.Sprintf(`{"cluster_id":%d,"member_id":1,"revision":%d,"raft_term":%d}`, h.Header.ClusterID, rev, h.Header.RaftTerm)
	}
	fields := func(rev int) string {
		return fmt.Sprintf("\"ClusterID\" : %d\n\"MemberID\" : 1\n\"Revision\" : %d\n\"RaftTerm\" : %d\n", h.Header.ClusterID, rev, h.Header.RaftTerm)
	}
	kv1 := `{"key":"a2V5MQ==","create_revision":2,"mod_revision":2,"version":1,"value":"YmFyMQ=="}`
	kv1Fields := "\"Key\" : \"key1\"\n\"CreateRevision\" : 2\n\"ModRevision\" : 2\n\"Version\" : 1\n\"Value\" : \"bar1\"\n\"Lease\" : 0\n"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"get json", []string{"-w", "json", "get", "key1"},
			`{"header":` + hdr(2) + `,"kvs":[` + kv1 + `],"count":1}` + "\n"},
		{"get json, nothing", []string{"-w", "json", "get", "nothing"},
			`{"header":` + hdr(2) + `}` + "\n"},
		{"get fields", []string{"-w", "fields", "get", "key1"},
			fields(2) + kv1Fields + "\"More\" : false\n\"Count\" : 1\n"},
		{"get count-only fields", []string{"-w", "fields", "get", "key", "--prefix", "--count-only"},
			fields(2) + "\"More\" : false\n\"Count\" : 1\n"},
		{"put json prev-kv", []string{"-w", "json", "put", "key1", "bar2", "--prev-kv"},
			`{"header":` + hdr(3) + `,"prev_kv":` + kv1 + `}` + "\n"},
		{"put fields", []string{"-w", "fields", "put", "key2", "x"},
			fields(4)},
		{"del json", []string{"-w", "json", "del", "key2"},
			`{"header":` + hdr(5) + `,"deleted":1}` + "\n"},
		{"del fields prev-kv", []string{"-w", "fields", "del", "nothing", "--prev-kv"},
			fields(5) + "\"Deleted\" : 0\n"},
		{"member list json", []string{"-w", "json", "member", "list"},
			fmt.Sprintf(`{"header":%s,"members":[{"ID":1,"name":"one","peerURLs":["%s"],"clientURLs":["%s"]}]}`+"\n", hdr(5), peerURL, f.endpoint)},
		{"member list json hex", []string{"-w", "json", "--hex", "member", "list"},
			fmt.Sprintf(`{"header":{"cluster_id":"%x","member_id":"1","revision":5,"raft_term":%d},"members":[{"ID":"1","name":"one","peerURLs":["%s"],"clientURLs":["%s"]}]}`+"\n", h.Header.ClusterID, h.Header.RaftTerm, peerURL, f.endpoint)},
		{"member list fields", []string{"-w", "fields", "member", "list"},
			fields(5) + fmt.Sprintf("\"ID\" : 1\n\"Name\" : \"one\"\n\"PeerURL\" : %q\n\"ClientURL\" : %q\n\"IsLearner\" : false\n\n", peerURL, f.endpoint)},
		{"member list simple", []string{"member", "list"},
			fmt.Sprintf("1, started, one, %s, %s, false\n", peerURL, f.endpoint)},
		{"alarm list json", []string{"-w", "json", "alarm", "list"},
			`{"header":` + hdr(5) + `}` + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := f.ctl(tc.args...).must(t); got != tc.want {
				t.Errorf("etcqctl %s:\ngot  %s\nwant %s", strings.Join(tc.args, " "), got, tc.want)
			}
		})
	}
}

// The printers' output for results a single member cannot produce (several events, an
// alarm), from constructed responses.
func TestPrintersOnConstructedResults(t *testing.T) {
	t.Parallel()
	h := wire.Header{ClusterID: 7, MemberID: 9, Revision: 12, RaftTerm: 3}
	watch := &quicclient.WatchResponse{Header: h, Events: []wire.Event{
		{Type: wire.EventPut, KV: wire.KeyValue{Key: []byte("k"), Value: []byte("v2"), CreateRevision: 10, ModRevision: 12, Version: 2},
			PrevKV: &wire.KeyValue{Key: []byte("k"), Value: []byte("v1"), CreateRevision: 10, ModRevision: 10, Version: 1}},
		{Type: wire.EventDelete, KV: wire.KeyValue{Key: []byte("gone"), ModRevision: 12}},
	}}
	alarms := &quicclient.AlarmResponse{Header: h, Alarms: []wire.AlarmMember{{MemberID: 13803658152347727308, Alarm: wire.AlarmNoSpace}}}
	txn := &quicclient.TxnResponse{Header: h, Succeeded: true, Responses: []wire.ResponseOp{
		{Put: &wire.PutResponse{}},
		{Range: &wire.RangeResponse{KVs: []wire.KeyValue{{Key: []byte("k"), Value: []byte("v"), CreateRevision: 12, ModRevision: 12, Version: 1}}, Count: 1}},
		{DeleteRange: &wire.DeleteRangeResponse{Deleted: 2}},
	}}
	ttl := &quicclient.LeaseTimeToLiveResponse{Header: h, ID: 0x694d7e5a8c0ff00b, TTL: 95, GrantedTTL: 100, Keys: [][]byte{[]byte("a"), []byte("b")}}
	tests := []struct {
		format string
		print  func(printer) error
		want   string
	}{
		{"simple", func(p printer) error { return p.Watch(watch) }, "PUT\nk\nv1\nk\nv2\nDELETE\ngone\n\n"},
		{"json", func(p printer) error { return p.Watch(watch) },
			`{"Header":{"cluster_id":7,"member_id":9,"revision":12,"raft_term":3},"Events":[` +
				`{"kv":{"key":"aw==","create_revision":10,"mod_revision":12,"version":2,"value":"djI="},"prev_kv":{"key":"aw==","create_revision":10,"mod_revision":10,"version":1,"value":"djE="}},` +
				`{"type":1,"kv":{"key":"Z29uZQ==","mod_revision":12}}],"CompactRevision":0,"Canceled":false,"Created":false}` + "\n"},
		{"fields", func(p printer) error { return p.Watch(watch) },
			"\"ClusterID\" : 7\n\"MemberID\" : 9\n\"Revision\" : 12\n\"RaftTerm\" : 3\n" +
				"\"Type\" : PUT\n\"PrevKey\" : \"k\"\n\"PrevCreateRevision\" : 10\n\"PrevModRevision\" : 10\n\"PrevVersion\" : 1\n\"PrevValue\" : \"v1\"\n\"PrevLease\" : 0\n" +
				"\"Key\" : \"k\"\n\"CreateRevision\" : 10\n\"ModRevision\" : 12\n\"Version\" : 2\n\"Value\" : \"v2\"\n\"Lease\" : 0\n" +
				"\"Type\" : DELETE\n\"Key\" : \"gone\"\n\"CreateRevision\" : 0\n\"ModRevision\" : 12\n\"Version\" : 0\n\"Value\" : \"\"\n\"Lease\" : 0\n"},
		{"simple", func(p printer) error { return p.Alarm(alarms) }, "memberID:13803658152347727308 alarm:NOSPACE \n"},
		{"json", func(p printer) error { return p.Alarm(alarms) },
			`{"header":{"cluster_id":7,"member_id":9,"revision":12,"raft_term":3},"alarms":[{"memberID":13803658152347727308,"alarm":1}]}` + "\n"},
		{"fields", func(p printer) error { return p.Alarm(alarms) },
			"\"ClusterID\" : 7\n\"MemberID\" : 9\n\"Revision\" : 12\n\"RaftTerm\" : 3\n\"MemberID\" : 13803658152347727308\n\"AlarmType\" : NOSPACE\n\n"},
		{"simple", func(p printer) error { return p.Txn(txn) }, "SUCCESS\n\nOK\n\nk\nv\n\n2\n"},
		{"json", func(p printer) error { return p.Txn(txn) },
			`{"header":{"cluster_id":7,"member_id":9,"revision":12,"raft_term":3},"succeeded":true,"responses":[` +
				`{"Response":{"response_put":{"header":{"revision":12}}}},` +
				`{"Response":{"response_range":{"header":{"revision":12},"kvs":[{"key":"aw==","create_revision":12,"mod_revision":12,"version":1,"value":"dg=="}],"count":1}}},` +
				`{"Response":{"response_delete_range":{"header":{"revision":12},"deleted":2}}}]}` + "\n"},
		{"simple", func(p printer) error { return p.TimeToLive(ttl, true) },
			"lease 694d7e5a8c0ff00b granted with TTL(100s), remaining(95s), attached keys([a b])\n"},
		{"simple", func(p printer) error {
			return p.TimeToLive(&quicclient.LeaseTimeToLiveResponse{ID: 0x694d7e5a8c0ff00b, TTL: -1}, false)
		}, "lease 694d7e5a8c0ff00b already expired\n"},
		{"json", func(p printer) error { return p.TimeToLive(ttl, true) },
			`{"cluster_id":7,"member_id":9,"revision":12,"raft_term":3,"id":7587859874551164939,"ttl":95,"granted-ttl":100,"keys":["YQ==","Yg=="]}` + "\n"},
		{"fields", func(p printer) error { return p.TimeToLive(ttl, true) },
			"\"ClusterID\" : 7\n\"MemberID\" : 9\n\"Revision\" : 12\n\"RaftTerm\" : 3\n\"ID\" : 7587859874551164939\n\"TTL\" : 95\n\"GrantedTTL\" : 100\n\"Key\" : \"a\"\n\"Key\" : \"b\"\n"},
		{"json", func(p printer) error {
			return p.Grant(&quicclient.LeaseGrantResponse{Header: h, ID: 0x694d7e5a8c0ff00b, TTL: 100})
		}, `{"cluster_id":7,"member_id":9,"revision":12,"raft_term":3,"ID":7587859874551164939,"TTL":100,"Error":""}` + "\n"},
		{"json", func(p printer) error {
			return p.Leases(&quicclient.LeaseListResponse{Header: h, IDs: []int64{1, 2}})
		}, `{"cluster_id":7,"member_id":9,"revision":12,"raft_term":3,"leases":[{"id":1},{"id":2}]}` + "\n"},
		{"simple", func(p printer) error {
			return p.Leases(&quicclient.LeaseListResponse{Header: h, IDs: []int64{1, 0x694d7e5a8c0ff00b}})
		}, "found 2 leases\n0000000000000001\n694d7e5a8c0ff00b\n"},
		{"simple", func(p printer) error {
			return p.MemberAdd(&quicclient.MemberAddResponse{Header: wire.Header{ClusterID: 0xc9be114fc2da2776}, Member: wire.Member{ID: 0x2be1eb8f84b7f63e, IsLearner: true}})
		}, "Member 2be1eb8f84b7f63e added as learner to cluster c9be114fc2da2776\n"},
		{"simple", func(p printer) error {
			return p.MemberRemove(0x2be1eb8f84b7f63e, &quicclient.MemberListResponse{Header: wire.Header{ClusterID: 0xc9be114fc2da2776}})
		}, "Member 2be1eb8f84b7f63e removed from cluster c9be114fc2da2776\n"},
		{"simple", func(p printer) error { return p.MoveLeader(0x8e9e05c52164694d, 0xfd422379fda50e48, h) },
			"Leadership transferred from 8e9e05c52164694d to fd422379fda50e48\n"},
		{"simple", func(p printer) error {
			return p.DBStatus(dbStatus{Hash: 0xfe01cf57, Revision: 10, TotalKey: 7, TotalSize: 2101248})
		}, "fe01cf57, 10, 7, 2.1 MB\n"},
		{"json", func(p printer) error {
			return p.DBStatus(dbStatus{Hash: 0xfe01cf57, Revision: 10, TotalKey: 7, TotalSize: 2101248})
		}, `{"hash":4261531479,"revision":10,"totalKey":7,"totalSize":2101248}` + "\n"},
		{"fields", func(p printer) error {
			return p.DBStatus(dbStatus{Hash: 0xfe01cf57, Revision: 10, TotalKey: 7, TotalSize: 2101248})
		}, "\"Hash\" : 4261531479\n\"Revision\" : 10\n\"Keys\" : 7\n\"Size\" : 2101248\n"},
		{"simple", func(p printer) error {
			return p.EndpointHealth([]epHealth{{Ep: "a:1", Health: true, Took: "1ms"}, {Ep: "b:2", Error: "boom"}})
		}, "a:1 is healthy: successfully committed proposal: took = 1ms\n[stderr]b:2 is unhealthy: failed to commit proposal: boom\n"},
		{"json", func(p printer) error {
			return p.EndpointHealth([]epHealth{{Ep: "a:1", Health: true, Took: "1ms"}, {Ep: "b:2", Error: "boom"}})
		}, `[{"endpoint":"a:1","health":true,"took":"1ms"},{"endpoint":"b:2","health":false,"took":"","error":"boom"}]` + "\n"},
	}
	for _, tc := range tests {
		var out, errOut strings.Builder
		p, err := newPrinter(tc.format, false, &out, &errOut)
		if err != nil {
			t.Fatal(err)
		}
		if err := tc.print(p); err != nil {
			t.Fatal(err)
		}
		got := out.String()
		if errOut.Len() > 0 {
			got += "[stderr]" + errOut.String()
		}
		if got != tc.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.format, got, tc.want)
		}
	}
}

func TestUnsupportedFormats(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	for _, tc := range []struct {
		format string
		want   string
	}{
		{"protobuf", "protobuf is not supported as output format: etcq speaks msgpack, not gRPC (use -w json)"},
		{"yaml", `unsupported output format "yaml" (use simple, json, table or fields)`},
	} {
		_, err := newPrinter(tc.format, false, &out, &out)
		if exitCodeOf(err) != exitBadFeature || err.Error() != tc.want {
			t.Errorf("-w %s: exit %d, %v", tc.format, exitCodeOf(err), err)
		}
	}
	p, _ := newPrinter("fields", false, &out, &out)
	if err := p.MemberAdd(&quicclient.MemberAddResponse{}); exitCodeOf(err) != exitBadFeature || err.Error() != "fields not supported as output format" {
		t.Errorf("member add -w fields: %v", err)
	}
}
