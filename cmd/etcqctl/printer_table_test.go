package main

import (
	"strings"
	"testing"

	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/wire"
)

// The tables etcdctl prints, byte for byte (its table library's layout: centred
// upper-case headers, cells aligned right, long cells wrapped at spaces).
func TestTablePrinter(t *testing.T) {
	t.Parallel()
	status := func(errs ...string) []epStatus {
		return []epStatus{{Ep: "127.0.0.1:2379", Resp: &quicclient.StatusResponse{
			Header: wire.Header{MemberID: 0x8e9e05c52164694d},
			StatusResponse: wire.StatusResponse{Version: "3.5.0", DBSize: 25000, Leader: 0x8e9e05c52164694d,
				RaftTerm: 2, RaftIndex: 4, RaftAppliedIndex: 4, Errors: errs},
		}}}
	}
	tests := []struct {
		name  string
		print func(p printer) error
		want  string
	}{{
		name: "member list",
		print: func(p printer) error {
			return p.MemberList(&quicclient.MemberListResponse{Members: []wire.Member{
				{ID: 0x8211f1d0f64f3269, Name: "infra1", PeerURLs: []string{"https://127.0.0.1:12380"}, ClientURLs: []string{"https://127.0.0.1:2379"}},
				{ID: 0x91bc3c398fb3c146, Name: "infra2", PeerURLs: []string{"https://127.0.0.1:22380"}, ClientURLs: []string{"https://127.0.0.1:22379"}},
				{ID: 0xfd422379fda50e48, Name: "infra3", PeerURLs: []string{"https://127.0.0.1:32380"}, IsLearner: true},
			}})
		},
		want: `
+------------------+-----------+--------+-------------------------+-------------------------+------------+
|        ID        |  STATUS   |  NAME  |       PEER ADDRS        |      CLIENT ADDRS       | IS LEARNER |
+------------------+-----------+--------+-------------------------+-------------------------+------------+
| 8211f1d0f64f3269 |   started | infra1 | https://127.0.0.1:12380 |  https://127.0.0.1:2379 |      false |
| 91bc3c398fb3c146 |   started | infra2 | https://127.0.0.1:22380 | https://127.0.0.1:22379 |      false |
| fd422379fda50e48 | unstarted | infra3 | https://127.0.0.1:32380 |                         |       true |
+------------------+-----------+--------+-------------------------+-------------------------+------------+
`,
	}, {
		name:  "endpoint status",
		print: func(p printer) error { return p.EndpointStatus(status()) },
		want: `
+----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+
|    ENDPOINT    |        ID        | VERSION | DB SIZE | IS LEADER | IS LEARNER | RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX | ERRORS |
+----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+
| 127.0.0.1:2379 | 8e9e05c52164694d |   3.5.0 |   25 kB |      true |      false |         2 |          4 |                  4 |        |
+----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+
`,
	}, {
		name:  "endpoint status with a long error, wrapped",
		print: func(p printer) error { return p.EndpointStatus(status("memberID:13803658152347727308 alarm:NOSPACE")) },
		// The cell wraps at 30 columns, and its column is 30 wide even though the longer
		// of its lines is 29: the library's quirk.
		want: `
+----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------------------------------+
|    ENDPOINT    |        ID        | VERSION | DB SIZE | IS LEADER | IS LEARNER | RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX |             ERRORS             |
+----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------------------------------+
| 127.0.0.1:2379 | 8e9e05c52164694d |   3.5.0 |   25 kB |      true |      false |         2 |          4 |                  4 |  memberID:13803658152347727308 |
|                |                  |         |         |           |            |           |            |                    |                  alarm:NOSPACE |
+----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------------------------------+
`,
	}, {
		name: "endpoint health",
		print: func(p printer) error {
			return p.EndpointHealth([]epHealth{
				{Ep: "127.0.0.1:2379", Health: true, Took: "2.017613ms"},
				{Ep: "127.0.0.1:22379", Took: "5.001s", Error: "context deadline exceeded"},
			})
		},
		want: `
+-----------------+--------+------------+---------------------------+
|    ENDPOINT     | HEALTH |    TOOK    |           ERROR           |
+-----------------+--------+------------+---------------------------+
|  127.0.0.1:2379 |   true | 2.017613ms |                           |
| 127.0.0.1:22379 |  false |     5.001s | context deadline exceeded |
+-----------------+--------+------------+---------------------------+
`,
	}, {
		name: "endpoint hashkv",
		print: func(p printer) error {
			return p.EndpointHashKV([]epHashKV{{Ep: "127.0.0.1:2379", Resp: &quicclient.HashKVResponse{HashKVResponse: wire.HashKVResponse{Hash: 1084519789}}}})
		},
		want: `
+----------------+------------+
|    ENDPOINT    |    HASH    |
+----------------+------------+
| 127.0.0.1:2379 | 1084519789 |
+----------------+------------+
`,
	}, {
		name: "snapshot status",
		print: func(p printer) error {
			return p.DBStatus(dbStatus{Hash: 0xfe01cf57, Revision: 10, TotalKey: 7, TotalSize: 2101248})
		},
		want: `
+----------+----------+------------+------------+
|   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |
+----------+----------+------------+------------+
| fe01cf57 |       10 |          7 |     2.1 MB |
+----------+----------+------------+------------+
`,
	}, {
		name:  "empty member list",
		print: func(p printer) error { return p.MemberList(&quicclient.MemberListResponse{}) },
		want: `
+----+--------+------+------------+--------------+------------+
| ID | STATUS | NAME | PEER ADDRS | CLIENT ADDRS | IS LEARNER |
+----+--------+------+------------+--------------+------------+
+----+--------+------+------------+--------------+------------+
`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			p, err := newPrinter("table", false, &out, &out)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.print(p); err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimPrefix(tc.want, "\n"); out.String() != want {
				t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
			}
		})
	}
}

// Results that are no table fail as etcdctl fails them: exitBadFeature.
func TestTablePrinterRefusesNonTabular(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	p, _ := newPrinter("table", false, &out, &out)
	err := p.Put(&quicclient.PutResponse{})
	if code := exitCodeOf(err); code != exitBadFeature {
		t.Fatalf("exit code %d, want %d (%v)", code, exitBadFeature, err)
	}
	if err.Error() != "table not supported as output format" {
		t.Errorf("error %q", err)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q", out.String())
	}
}

func TestWrapString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    string
		lim  int
		want []string
	}{
		{"short", 30, []string{"short"}},
		{"", 30, []string{""}},
		// Two splits cost the same (1+25 and 25+1): the first break wins.
		{"a bb ccc dddd eeeee", 9, []string{"a bb", "ccc dddd", "eeeee"}},
		{"aaaa bb cc dddddd", 6, []string{"aaaa", "bb cc", "dddddd"}},
		// A word longer than the limit becomes the limit.
		{"onewordlongerthanthelimit x", 5, []string{"onewordlongerthanthelimit", "x"}},
		{"onewordlongerthanthelimit xy zz", 5, []string{"onewordlongerthanthelimit", "xy zz"}},
	}
	for _, tc := range tests {
		got := wrapString(tc.s, tc.lim)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("wrapString(%q, %d) = %q, want %q", tc.s, tc.lim, got, tc.want)
		}
	}
}

func TestHeaderTitle(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"raft applied index": "RAFT APPLIED INDEX",
		"hash_revision":      "HASH REVISION",
		"v1.5":               "V1.5",
		"a.b":                "A B",
		"1.5":                "1.5",
		" id ":               "ID",
	} {
		if got := headerTitle(in); got != want {
			t.Errorf("headerTitle(%q) = %q, want %q", in, got, want)
		}
	}
}
