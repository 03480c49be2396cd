package main

import (
	"reflect"
	"strings"
	"testing"

	"etcq.dev/etcq/quicclient"
)

func TestTxnFromStdin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ctl("put", "key1", "v1").must(t)
	// etcdctl's README example.
	in := `mod("key1") > "0"

put key1 "overwrote-key1"

put key1 "created-key1"
put key2 "some extra key"

`
	if got := f.ctlIn(in, "txn").must(t); got != "SUCCESS\n\nOK\n" {
		t.Errorf("txn: %q", got)
	}
	if got := f.ctl("get", "key1", "--print-value-only").must(t); got != "overwrote-key1\n" {
		t.Errorf("after the txn key1 = %q", got)
	}
	// The failure branch, several compares, a get with flags, and the end of the input
	// ending the last section.
	in = `value("key1") = "overwrote-key1"
version("key1") = "9"

del key1

put key2 "some extra key"
get key --prefix --keys-only`
	if got := f.ctlIn(in, "txn").must(t); got != "FAILURE\n\nOK\n\nkey1\n\nkey2\n\n" {
		t.Errorf("txn: %q", got)
	}
	// Interactive mode prompts for each section.
	in = "create(\"key2\") != \"0\"\n\nget key2\n\n\n"
	want := "compares:\nsuccess requests (get, put, del):\nfailure requests (get, put, del):\nSUCCESS\n\nkey2\nsome extra key\n"
	if got := f.ctlIn(in, "txn", "-i").must(t); got != want {
		t.Errorf("txn -i:\ngot  %q\nwant %q", got, want)
	}
	r := f.ctlIn("mod(\"key1\") >> \"0\"\n\n\n\n", "txn")
	if r.code != exitInvalidInput || !strings.Contains(r.stderr, "malformed comparison") {
		t.Errorf("a bad compare: exit %d, %q", r.code, r.stderr)
	}
	r = f.ctlIn("\nfrob key1\n\n\n", "txn")
	if r.code != exitInvalidInput || !strings.Contains(r.stderr, "invalid txn request: frob key1") {
		t.Errorf("a bad request: exit %d, %q", r.code, r.stderr)
	}
	r = f.ctl("txn", "extra")
	if r.code != exitBadArgs || r.stderr != "Error: txn command does not accept argument\n" {
		t.Errorf("txn with an argument: exit %d, %q", r.code, r.stderr)
	}
}

func TestParseCompare(t *testing.T) {
	t.Parallel()
	q := quicclient.Compare
	tests := []struct {
		line string
		want quicclient.Cmp
	}{
		{`mod("key1") > "0"`, q(quicclient.ModRevision("key1"), ">", int64(0))},
		{`m("k") < "12"`, q(quicclient.ModRevision("k"), "<", int64(12))},
		{`val("k") = "v w"`, q(quicclient.Value("k"), "=", "v w")},
		{`value("k\"q") != ""`, q(quicclient.Value(`k"q`), "!=", "")},
		{`ver("k") = "3"`, q(quicclient.Version("k"), "=", int64(3))},
		{`version("k") = "3"`, q(quicclient.Version("k"), "=", int64(3))},
		{`c("k") = "5"`, q(quicclient.CreateRevision("k"), "=", int64(5))},
		{`create("k") > "5"`, q(quicclient.CreateRevision("k"), ">", int64(5))},
		{`lease("k") = "694d7e5a8c0ff00b"`, q(quicclient.LeaseValue("k"), "=", int64(0x694d7e5a8c0ff00b))},
	}
	for _, tc := range tests {
		got, err := parseCompare(tc.line)
		if err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: parsed as %+v, want %+v", tc.line, got, tc.want)
		}
	}
	for _, bad := range []string{
		`mod "k" > "0"`,
		`mod("k") >= "0"`,
		`mod("k") > "x"`,
		`lease("k") = "xyz"`,
		`size("k") = "1"`,
		`mod("k") >`,
	} {
		if _, err := parseCompare(bad); err == nil {
			t.Errorf("%s: parsed", bad)
		}
	}
}

func TestArgify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want []string
	}{
		{`put key1 "overwrote-key1"`, []string{"put", "key1", "overwrote-key1"}},
		{`put k "a \"quoted\" value"`, []string{"put", "k", `a "quoted" value`}},
		{`put k 'single quoted'`, []string{"put", "k", "single quoted"}},
		{`get  k   --prefix`, []string{"get", "k", "--prefix"}},
		{`put k "tab\there"`, []string{"put", "k", "tab\there"}},
	}
	for _, tc := range tests {
		got, err := argify(tc.line)
		if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("argify(%q) = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
}

func TestParseRequestOp(t *testing.T) {
	t.Parallel()
	for _, good := range []string{"get k", "get k --prefix --limit=3", "put k v", "put k v --lease=1f", "del k", "del k --prefix", "del a b"} {
		if _, err := parseRequestOp(good); err != nil {
			t.Errorf("%s: %v", good, err)
		}
	}
	for _, bad := range []string{"get", "put k", "put k v --lease=xyz", "frob k", "get k --nosuchflag", "help get", "del k --prefix --from-key"} {
		if _, err := parseRequestOp(bad); err == nil {
			t.Errorf("%s: parsed", bad)
		}
	}
}
