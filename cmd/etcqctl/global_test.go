package main

import (
	"net"
	"strings"
	"testing"

	"etcq.dev/etcq/node"
)

// Exit codes and messages as etcdctl's: 0 ok, 1 error, 2 bad connection, 3 bad input,
// 4 unsupported feature, 128 bad arguments; errors on stderr as "Error: ...".
func TestExitCodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dead := deadEndpoint(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // a substring of stderr
	}{
		{"unknown command", []string{"frobnicate"}, exitError, `Error: unknown command "frobnicate" for "etcqctl"`},
		{"unknown flag", []string{"get", "--frob", "k"}, exitError, "Error: unknown flag: --frob"},
		{"get without a key", []string{"get"}, exitBadArgs, "Error: get command needs one argument as key and an optional argument as range_end\n"},
		{"put without args", []string{"put"}, exitBadArgs, "Error: put command needs 1 argument and input from stdin or 2 arguments\n"},
		{"put without value nor stdin", []string{"put", "k"}, exitBadArgs, "Error: put command needs 1 argument and input from stdin or 2 arguments\n"},
		{"del with three args", []string{"del", "a", "b", "c"}, exitBadArgs, "del command needs one argument"},
		{"prefix and from-key", []string{"get", "k", "--prefix", "--from-key"}, exitBadArgs, "cannot be set at the same time"},
		{"bad consistency", []string{"get", "k", "--consistency=x"}, exitBadFeature, `unknown consistency flag "x"`},
		{"bad lease id", []string{"put", "k", "v", "--lease=zz"}, exitBadArgs, "expecting ID in Hex"},
		{"bad sort", []string{"get", "k", "--sort-by=SIZE"}, exitBadFeature, "bad sort target SIZE"},
		{"print-value-only with json", []string{"-w", "json", "get", "k", "--print-value-only"}, exitBadArgs, "print-value-only is only for `--write-out=simple`"},
		{"count-only with simple", []string{"get", "k", "--count-only"}, exitBadArgs, "--count-only is only for `--write-out=fields`"},
		{"table of a put", []string{"-w", "table", "put", "k", "v"}, exitBadFeature, "Error: table not supported as output format\n"},
		{"protobuf", []string{"-w", "protobuf", "get", "k"}, exitBadFeature, "protobuf is not supported as output format"},
		{"unknown format", []string{"--write-out=xml", "get", "k"}, exitBadFeature, "unsupported output format"},
		{"password without user", []string{"--password=pw", "get", "k"}, exitBadArgs, "Error: --password needs --user"},
		{"discovery", []string{"--discovery-srv=example.com", "get", "k"}, exitBadFeature, "DNS discovery"},
		{"lease grant without ttl", []string{"lease", "grant"}, exitBadArgs, "lease grant command needs TTL argument"},
		{"lease revoke bad id", []string{"lease", "revoke", "xyz"}, exitBadArgs, "bad lease ID arg"},
		{"member remove bad id", []string{"member", "remove", "xyz"}, exitBadArgs, "bad member ID arg"},
		{"member add without urls", []string{"member", "add", "two"}, exitBadArgs, "member peer urls not provided"},
		{"member add with a url argument", []string{"member", "add", "two", "https://10.0.0.2:2380"}, exitBadArgs, "did you mean --peer-urls=https://10.0.0.2:2380"},
		{"member add http", []string{"member", "add", "two", "--peer-urls=http://10.0.0.2:2380"}, exitBadArgs, "only mutual TLS"},
		{"compaction without rev", []string{"compaction"}, exitBadArgs, "compaction command needs 1 argument"},
		{"watch without key", []string{"watch"}, exitBadArgs, "bad number of arguments"},
		{"watch separator without command", []string{"watch", "k", "--"}, exitBadArgs, "found separator --, but no commands"},
		{"watch prefix and range", []string{"watch", "a", "b", "--prefix"}, exitBadArgs, "mutually exclusive"},
		{"lock without name", []string{"lock"}, exitBadArgs, "lock takes a lock name argument"},
		{"elect without proposal", []string{"elect", "e"}, exitBadArgs, "no proposal argument but -l not set"},
		{"snapshot save without file", []string{"snapshot", "save"}, exitBadArgs, "snapshot save expects one argument"},
		{"move-leader bad id", []string{"move-leader", "xyz"}, exitBadArgs, "invalid syntax"},
		{"check perf bad load", []string{"check", "perf", "--load=xxl"}, exitBadFeature, "unknown load option xxl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.ctl(tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("etcqctl %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.stderr)
			}
		})
	}

	// Connection and TLS problems.
	conn := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"unreachable endpoint", append([]string{"--endpoints=" + dead, "--dial-timeout=300ms"}, append(f.tlsFlags(), "get", "k")...), exitBadConnection, "Error: "},
		{"http endpoint", append([]string{"--endpoints=http://127.0.0.1:2379"}, append(f.tlsFlags(), "get", "k")...), exitBadArgs,
			`Error: endpoint "http://127.0.0.1:2379": etcq speaks only mutual TLS`},
		{"no certificate", []string{"--endpoints=" + f.endpoint, "get", "k"}, exitBadArgs, "etcq speaks only mutual TLS: give a client certificate"},
		{"empty cert", append([]string{"--endpoints=" + f.endpoint, "--cert="}, "get", "k"), exitBadArgs, "empty string is passed to --cert option"},
		{"missing key file", []string{"--endpoints=" + f.endpoint, "--cert=" + f.files.Cert, "--key=/nonexistent", "get", "k"}, exitBadArgs, "load client certificate"},
	}
	for _, tc := range conn {
		t.Run(tc.name, func(t *testing.T) {
			r := ctlRun(t, "", tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, tc.code, tc.stderr)
			}
		})
	}
}

// deadEndpoint is a UDP address nothing listens on.
func deadEndpoint(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// Global flags come from ETCQCTL_* variables when not given on the command line, as
// etcdctl's from ETCDCTL_*.
func TestEnvironment(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ctl("put", "k", "v").must(t)
	vars := map[string]string{
		"ETCQCTL_ENDPOINTS": f.endpoint,
		"ETCQCTL_CACERT":    f.files.CABundle,
		"ETCQCTL_CERT":      f.files.Cert,
		"ETCQCTL_KEY":       f.files.Key,
		"ETCQCTL_WRITE_OUT": "fields",
		"ETCQCTL_API":       "3",
	}
	run := func(vars map[string]string, args ...string) result { return runWithEnv(t, vars, args...) }
	r := run(vars, "get", "k")
	if r.code != 0 || !strings.Contains(r.stdout, `"Value" : "v"`) || r.stderr != "" {
		t.Fatalf("get with the environment: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// A flag wins over its variable, with a warning; an unknown variable is warned about.
	vars["ETCQCTL_FROB"] = "1"
	r = run(vars, "-w", "simple", "get", "k")
	if r.stdout != "k\nv\n" {
		t.Errorf("-w simple over ETCQCTL_WRITE_OUT=fields printed %q", r.stdout)
	}
	for _, w := range []string{
		"[WARNING] recognized environment variable ETCQCTL_WRITE_OUT, but unused: shadowed by corresponding flag\n",
		"[WARNING] unrecognized environment variable ETCQCTL_FROB=1\n",
	} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr %q lacks %q", r.stderr, w)
		}
	}
	vars = map[string]string{"ETCQCTL_DIAL_TIMEOUT": "soon"}
	if r := run(vars, "get", "k"); r.code != exitBadArgs || !strings.Contains(r.stderr, "ETCQCTL_DIAL_TIMEOUT") {
		t.Errorf("a bad variable: exit %d, %q", r.code, r.stderr)
	}
}

func TestDebugPrintsFlags(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.ctl("--debug", "get", "k")
	if r.code != 0 || !strings.Contains(r.stderr, "ETCQCTL_ENDPOINTS=["+f.endpoint+"]\n") || !strings.Contains(r.stderr, "ETCQCTL_COMMAND_TIMEOUT=5s\n") {
		t.Errorf("--debug: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestVersionAndHelp(t *testing.T) {
	t.Parallel()
	var out, errOut strings.Builder
	code := run([]string{"version"}, strings.NewReader(""), &out, &errOut)
	r := result{code, out.String(), errOut.String()}
	if r.code != 0 || r.stdout != "etcqctl version: "+node.Version+"\nAPI version: 1\n" {
		t.Errorf("version: exit %d, %q", r.code, r.stdout)
	}
	r = ctlRun(t, "", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "member") || !strings.Contains(r.stdout, "--write-out") {
		t.Errorf("--help: exit %d, %q", r.code, r.stdout)
	}
}
