package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// The seed tutorial's session (what an etcd user types), with etcqctl.
func TestTutorialSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"put", "key1", "bar1"}, "OK\n"},
		{[]string{"put", "key2", "bar2"}, "OK\n"},
		{[]string{"put", "color", "blue"}, "OK\n"},
		{[]string{"get", "key1"}, "key1\nbar1\n"},
		{[]string{"get", "key1", "--hex"}, `\x6b\x65\x79\x31` + "\n" + `\x62\x61\x72\x31` + "\n"},
		{[]string{"get", "key1", "--print-value-only"}, "bar1\n"},
		{[]string{"del", "color"}, "1\n"},
		{[]string{"get", "color"}, ""},
		{[]string{"get", "--prefix", "key"}, "key1\nbar1\nkey2\nbar2\n"},
		{[]string{"get", "--prefix=true", "key"}, "key1\nbar1\nkey2\nbar2\n"},
		{[]string{"put", "data1", "Hello World"}, "OK\n"},
		{[]string{"get", "data1"}, "data1\nHello World\n"},
	}
	for _, s := range steps {
		if got := f.ctl(s.args...).must(t); got != s.want {
			t.Errorf("etcqctl %s:\ngot  %q\nwant %q", strings.Join(s.args, " "), got, s.want)
		}
	}
	out := f.ctl("lease", "grant", "100").must(t)
	if !regexp.MustCompile(`^lease [0-9a-f]{16} granted with TTL\(100s\)\n$`).MatchString(out) {
		t.Errorf("lease grant printed %q", out)
	}

	port := strings.TrimPrefix(f.endpoint, "https://127.0.0.1:")
	if len(port) != 5 {
		t.Fatalf("the table below is drawn for a 5-digit port, not %s", port)
	}
	wantMembers := fmt.Sprintf(`+----+---------+------+------------------------+-------------------------+------------+
| ID | STATUS  | NAME |       PEER ADDRS       |      CLIENT ADDRS       | IS LEARNER |
+----+---------+------+------------------------+-------------------------+------------+
|  1 | started |  one | https://127.0.0.1:2380 | https://127.0.0.1:%s |      false |
+----+---------+------+------------------------+-------------------------+------------+
`, port)
	if got := f.ctl("--write-out=table", "member", "list").must(t); got != wantMembers {
		t.Errorf("member list -w table:\n%s\nwant:\n%s", got, wantMembers)
	}
	// The seed's spelling: "-w table" after the command.
	if got := f.ctl("member", "list", "-w", "table").must(t); got != wantMembers {
		t.Errorf("member list -w table:\n%s\nwant:\n%s", got, wantMembers)
	}

	c := f.client()
	st, err := c.Status(testCtx(t), f.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	got := f.ctl("endpoint", "status", "-w", "table").must(t)
	lines := strings.Split(got, "\n")
	if len(lines) != 6 || lines[5] != "" {
		t.Fatalf("endpoint status -w table is not a one-row table:\n%s", got)
	}
	// The layout is TestTablePrinter's; here, the data: the header, the borders, the row.
	if lines[0] != lines[2] || lines[0] != lines[4] || !strings.HasPrefix(lines[0], "+---") {
		t.Errorf("borders:\n%s", got)
	}
	hdr := strings.Split(lines[1], "|")
	for i := range hdr {
		hdr[i] = strings.TrimSpace(hdr[i])
	}
	if want := "|ENDPOINT|ID|VERSION|DB SIZE|IS LEADER|IS LEARNER|RAFT TERM|RAFT INDEX|RAFT APPLIED INDEX|ERRORS|"; strings.Join(hdr, "|") != want {
		t.Errorf("header %q, want %q", strings.Join(hdr, "|"), want)
	}
	cells := strings.Split(lines[3], "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	wantCells := []string{"", f.endpoint, "1", st.Version, cells[4], "true", "false", fmt.Sprint(st.RaftTerm), cells[8], cells[9], "", ""}
	if strings.Join(cells, "|") != strings.Join(wantCells, "|") {
		t.Errorf("row %q, want %q", cells, wantCells)
	}
	if !regexp.MustCompile(`^\d+(\.\d)? [kM]?B$`).MatchString(cells[4]) {
		t.Errorf("db size %q", cells[4])
	}
}

func TestGetOptions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, kv := range [][2]string{{"a", "3"}, {"b", "1"}, {"c", "2"}, {"c", "2b"}, {"d", "0"}} {
		f.ctl("put", kv[0], kv[1]).must(t)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"get", "a", "c"}, "a\n3\nb\n1\n"},
		{[]string{"get", "b", "--from-key"}, "b\n1\nc\n2b\nd\n0\n"},
		{[]string{"get", "", "--prefix", "--limit=2"}, "a\n3\nb\n1\n"},
		{[]string{"get", "", "--from-key", "--keys-only"}, "a\n\nb\n\nc\n\nd\n\n"},
		{[]string{"get", "", "--prefix", "--sort-by=VALUE"}, "d\n0\nb\n1\nc\n2b\na\n3\n"},
		{[]string{"get", "", "--prefix", "--order=DESCEND"}, "d\n0\nc\n2b\nb\n1\na\n3\n"},
		{[]string{"get", "", "--prefix", "--sort-by=MODIFY", "--order=DESCEND", "--limit=1"}, "d\n0\n"},
		{[]string{"get", "", "--prefix", "--sort-by=CREATE", "--order=DESCEND", "--limit=2"}, "d\n0\nc\n2b\n"},
		{[]string{"get", "c", "--rev=4"}, "c\n2\n"},
		{[]string{"get", "c", "--consistency=s"}, "c\n2b\n"},
		{[]string{"get", "", "--prefix", "--print-value-only"}, "3\n1\n2b\n0\n"},
	}
	for _, tc := range tests {
		if got := f.ctl(tc.args...).must(t); got != tc.want {
			t.Errorf("etcqctl %q:\ngot  %q\nwant %q", tc.args, got, tc.want)
		}
	}
}

func TestPutAndDelOptions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if got := f.ctlIn("from stdin", "put", "k").must(t); got != "OK\n" {
		t.Errorf("put from stdin: %q", got)
	}
	if got := f.ctl("get", "k", "--print-value-only").must(t); got != "from stdin\n" {
		t.Errorf("value put from stdin: %q", got)
	}
	if got := f.ctl("put", "k", "v2", "--prev-kv").must(t); got != "OK\nk\nfrom stdin\n" {
		t.Errorf("put --prev-kv: %q", got)
	}
	grant := f.ctl("lease", "grant", "600").must(t)
	id := strings.Fields(grant)[1]
	f.ctl("put", "k", "--ignore-value", "--lease="+id).must(t)
	if got := f.ctl("get", "k", "-w", "fields").must(t); !strings.Contains(got, `"Value" : "v2"`) || strings.Contains(got, `"Lease" : 0`+"\n") {
		t.Errorf("put --ignore-value --lease kept the value, set the lease? %s", got)
	}
	if got := f.ctl("put", "k", "v3", "--ignore-lease").must(t); got != "OK\n" {
		t.Errorf("put --ignore-lease: %q", got)
	}
	if got := f.ctl("lease", "timetolive", id, "--keys").must(t); !strings.HasSuffix(got, ", attached keys([k])\n") {
		t.Errorf("put --ignore-lease dropped the lease: %q", got)
	}
	// A value that begins with '-' follows "--".
	f.ctl("put", "neg", "--", "-5").must(t)
	if got := f.ctl("get", "neg", "--print-value-only").must(t); got != "-5\n" {
		t.Errorf("value -5: %q", got)
	}
	for _, k := range []string{"p/1", "p/2", "p/3", "q"} {
		f.ctl("put", k, "x"+k).must(t)
	}
	if got := f.ctl("del", "p/1", "--prev-kv").must(t); got != "1\np/1\nxp/1\n" {
		t.Errorf("del --prev-kv: %q", got)
	}
	if got := f.ctl("del", "p/", "--prefix").must(t); got != "2\n" {
		t.Errorf("del --prefix: %q", got)
	}
	if got := f.ctl("del", "neg", "q").must(t); got != "1\n" { // [neg, q): neg only
		t.Errorf("del range: %q", got)
	}
	if got := f.ctl("del", "", "--from-key").must(t); got != "2\n" { // k and q
		t.Errorf("del --from-key: %q", got)
	}
}

func TestCompaction(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := range 4 {
		f.ctl("put", "k", fmt.Sprint(i)).must(t)
	}
	if got := f.ctl("compaction", "3").must(t); got != "compacted revision 3\n" {
		t.Errorf("compaction: %q", got)
	}
	if got := f.ctl("compaction", "--physical", "4").must(t); got != "compacted revision 4\n" {
		t.Errorf("compaction --physical: %q", got)
	}
	r := f.ctl("get", "k", "--rev=2")
	if r.code != exitError || !strings.Contains(r.stderr, "compacted") || !strings.HasPrefix(r.stderr, "Error: ") {
		t.Errorf("get of a compacted revision: exit %d, stderr %q", r.code, r.stderr)
	}
}
