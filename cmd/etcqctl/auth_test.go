package main

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"etcq.dev/etcq/certs"
)

// step is one etcqctl run and what it must do: exit with code, print out on stdout (byte
// for byte), and print errSub somewhere on stderr. It runs with the fixture's certificate
// (CN tester), or with the flags given.
type step struct {
	flags  []string
	stdin  string
	args   []string
	code   int
	out    string
	errSub string
}

// authTimeout is the --command-timeout of the auth tests: every password is hashed or
// checked with bcrypt at etcd's cost, which takes a second or more under -race.
//
// bcryptHeavy: the tests that hash or check many passwords do not run in parallel with the
// package's other tests. A member gives a request 7 s, bcrypt included, and a -race bcrypt
// on a CPU shared with a dozen tests takes longer. (The fixture's member cannot be told to
// hash at a lower cost from here.)
const authTimeout = "--command-timeout=60s"

func (f *fixture) steps(steps ...step) {
	f.t.Helper()
	for _, s := range steps {
		flags := s.flags
		if flags == nil {
			flags = f.flags()
		}
		r := ctlRun(f.t, s.stdin, slices.Concat(flags, []string{authTimeout}, s.args)...)
		if r.code != s.code || r.stdout != s.out || !strings.Contains(r.stderr, s.errSub) {
			f.t.Fatalf("etcqctl %s:\nexit %d, stdout %q, stderr %q\nwant exit %d, stdout %q, stderr with %q",
				strings.Join(s.args, " "), r.code, r.stdout, r.stderr, s.code, s.out, s.errSub)
		}
	}
}

// rootCert returns the global flags that make etcqctl present a certificate whose CN is
// root: root, without a password (nor the bcrypt it costs).
func (f *fixture) rootCert() []string {
	f.t.Helper()
	files := f.pki.Files(f.t, certs.IssueRequest{Profile: certs.ProfileClient, CommonName: "root"})
	return []string{"--endpoints=" + f.endpoint, "--cacert=" + files.CABundle, "--cert=" + files.Cert, "--key=" + files.Key}
}

// as prefixes args with --user name:password.
func as(user string, args ...string) []string {
	return append([]string{"--user=" + user}, args...)
}

const root = "root:rootpw"

// The RBAC walkthrough of etcd's documentation, with etcdctl's outputs. Most of root's
// steps present a certificate with the CN root rather than the password: bcrypt is slow
// under -race (TestAuthCertificateIdentity is about certificates).
func TestAuthWalkthrough(t *testing.T) {
	// Not parallel: bcrypt (see bcryptHeavy).
	f := newFixture(t)
	rc := f.rootCert()
	alice := func(args ...string) []string { return as("alice:alicepw", args...) }
	f.steps(
		// root, with a password from stdin; auth status before.
		step{stdin: "rootpw\n", args: []string{"user", "add", "root", "--interactive=false"}, out: "User root created\n"},
		step{args: []string{"user", "grant-role", "root", "root"}, out: "Role root is granted to user root\n"},
		step{args: []string{"auth", "status"}, out: "Authentication Status: false\nAuthRevision: 3\n"},
		// --user while auth is disabled: no token, as etcdctl.
		step{args: as(root, "put", "/open", "v"), out: "OK\n"},
		step{args: []string{"auth", "enable"}, out: "Authentication Enabled\n"},
		step{args: []string{"auth", "status"}, out: "Authentication Status: true\nAuthRevision: 4\n"},

		// The fixture's certificate's CN (tester) is no user: denied.
		step{args: []string{"get", "/open"}, code: exitError, errSub: "permission denied"},
		step{args: []string{"user", "add", "mallory:pw"}, code: exitError, errSub: "permission denied"},

		step{args: as(root, "role", "add", "r1"), out: "Role r1 created\n"},
		step{flags: rc, args: []string{"role", "grant-permission", "r1", "readwrite", "/app/", "--prefix"}, out: "Role r1 updated\n"},
		step{flags: rc, args: []string{"role", "get", "r1"}, out: "Role r1\nKV Read:\n\t[/app/, /app0) (prefix /app/)\nKV Write:\n\t[/app/, /app0) (prefix /app/)\n"},
		step{flags: rc, args: []string{"user", "add", "alice:alicepw"}, out: "User alice created\n"},
		step{flags: rc, args: []string{"user", "grant-role", "alice", "r1"}, out: "Role r1 is granted to user alice\n"},
		step{flags: rc, args: []string{"user", "get", "alice"}, out: "User: alice\nRoles: r1\n"},
		step{flags: rc, args: []string{"user", "get", "alice", "--detail"}, out: "User: alice\n\nRole r1\nKV Read:\n\t[/app/, /app0) (prefix /app/)\nKV Write:\n\t[/app/, /app0) (prefix /app/)\n"},
		step{flags: rc, args: []string{"user", "list"}, out: "alice\nroot\n"},
		// root holds the role root, which need not exist (as in etcd).
		step{flags: rc, args: []string{"role", "list"}, out: "r1\n"},

		// alice: within the prefix, and nowhere else.
		step{args: alice("put", "/app/k", "v1"), out: "OK\n"},
		step{args: alice("get", "/app/k"), out: "/app/k\nv1\n"},
		step{args: alice("put", "/other", "v"), code: exitError, errSub: "permission denied"},
		step{args: alice("get", "/open"), code: exitError, errSub: "permission denied"},
		// Every command of a run is alice's, with the one token: a txn reading both.
		step{stdin: "\nget /app/k\n\nget /open\n\n", args: alice("txn"), code: exitError, errSub: "permission denied"},
		// The other spellings of the credentials.
		step{args: []string{"--user=alice", "--password=alicepw", "user", "get", "alice"}, out: "User: alice\nRoles: r1\n"},
		step{stdin: "alicepw\n", args: []string{"--user=alice", "role", "get", "r1"}, out: "Role r1\nKV Read:\n\t[/app/, /app0) (prefix /app/)\nKV Write:\n\t[/app/, /app0) (prefix /app/)\n"},
		// A wrong password fails the connection, as etcdctl's.
		step{args: as("alice:wrong", "get", "/app/k"), code: exitBadConnection, errSub: "authentication failed"},

		// root may do everything.
		step{args: as(root, "put", "/other", "v2"), out: "OK\n"},
		step{flags: rc, args: []string{"get", "/", "--prefix", "--keys-only"}, out: "/app/k\n\n/open\n\n/other\n\n"},
		step{flags: rc, args: []string{"del", "/open"}, out: "1\n"},

		// Taking the permission back.
		step{flags: rc, args: []string{"role", "revoke-permission", "r1", "/app/", "--prefix"}, out: "Permission of range [/app/, /app0) is revoked from role r1\n"},
		step{args: alice("get", "/app/k"), code: exitError, errSub: "permission denied"},
		step{flags: rc, args: []string{"role", "get", "r1"}, out: "Role r1\nKV Read:\nKV Write:\n"},
		step{flags: rc, args: []string{"user", "revoke-role", "alice", "r1"}, out: "Role r1 is revoked from user alice\n"},
		step{flags: rc, args: []string{"user", "get", "alice"}, out: "User: alice\nRoles:\n"},

		// A new password: the old one stops working.
		step{flags: rc, stdin: "newpw\n", args: []string{"user", "passwd", "alice", "--interactive=false"}, out: "Password updated\n"},
		step{args: alice("user", "get", "alice"), code: exitBadConnection, errSub: "authentication failed"},
		step{args: as("alice:newpw", "user", "get", "alice"), out: "User: alice\nRoles:\n"},

		step{flags: rc, args: []string{"user", "delete", "alice"}, out: "User alice deleted\n"},
		step{flags: rc, args: []string{"role", "delete", "r1"}, out: "Role r1 deleted\n"},
		step{flags: rc, args: []string{"role", "get", "r1"}, code: exitError, errSub: "role name not found"},
		step{flags: rc, args: []string{"user", "delete", "root"}, code: exitError, errSub: "root user cannot be deleted"},

		step{args: []string{"auth", "disable"}, code: exitError, errSub: "permission denied"},
		step{args: as(root, "auth", "disable"), out: "Authentication Disabled\n"},
		step{args: []string{"auth", "status"}, out: "Authentication Status: false\nAuthRevision: 14\n"},
		step{args: []string{"get", "/other", "--print-value-only"}, out: "v2\n"},
	)
}

// A user named like the CN of a client certificate is that certificate's user, without a
// password; a certificate with the CN root is root.
func TestAuthCertificateIdentity(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // its certificate's CN is tester
	f.steps(
		step{args: []string{"user", "add", "root", "--no-password"}, out: "User root created\n"},
		step{args: []string{"user", "add", "tester", "--no-password"}, out: "User tester created\n"},
		step{args: []string{"role", "add", "k1rw"}, out: "Role k1rw created\n"},
		step{args: []string{"role", "grant-permission", "k1rw", "ReadWrite", "k1"}, out: "Role k1rw updated\n"},
		step{args: []string{"role", "get", "k1rw"}, out: "Role k1rw\nKV Read:\n\tk1\nKV Write:\n\tk1\n"},
		step{args: []string{"user", "grant-role", "tester", "k1rw"}, out: "Role k1rw is granted to user tester\n"},
		step{args: []string{"auth", "enable"}, out: "Authentication Enabled\n"},

		step{args: []string{"put", "k1", "v"}, out: "OK\n"},
		step{args: []string{"get", "k1"}, out: "k1\nv\n"},
		step{args: []string{"put", "k2", "v"}, code: exitError, errSub: "permission denied"},
		// A user without a password cannot authenticate.
		step{args: as("tester:x", "get", "k1"), code: exitBadConnection, errSub: "user has no password"},
	)
	rc := f.rootCert()
	f.steps(
		step{flags: rc, args: []string{"user", "list"}, out: "root\ntester\n"},
		step{flags: rc, args: []string{"role", "list"}, out: "k1rw\nroot\n"},
		step{flags: rc, args: []string{"auth", "disable"}, out: "Authentication Disabled\n"},
		step{args: []string{"put", "k2", "v"}, out: "OK\n"},
	)
}

// Permissions on a key, a range, every key from a key, a prefix, and the whole key space,
// granted and revoked, as role get and revoke-permission say them.
func TestAuthPermissionRanges(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.steps(
		step{args: []string{"role", "add", "r"}, out: "Role r created\n"},
		step{args: []string{"role", "grant-permission", "r", "read", "k1"}, out: "Role r updated\n"},
		step{args: []string{"role", "grant-permission", "r", "write", "a", "c"}, out: "Role r updated\n"},
		step{args: []string{"role", "grant-permission", "r", "READ", "m", "--from-key"}, out: "Role r updated\n"},
		step{args: []string{"role", "grant-permission", "r", "readwrite", "p/", "--prefix"}, out: "Role r updated\n"},
		step{args: []string{"role", "get", "r"}, out: "Role r\nKV Read:\n\tk1\n\t[m, <open ended>\n\t[p/, p0) (prefix p/)\nKV Write:\n\t[a, c)\n\t[p/, p0) (prefix p/)\n"},
		step{args: []string{"role", "revoke-permission", "r", "k1"}, out: "Permission of key k1 is revoked from role r\n"},
		step{args: []string{"role", "revoke-permission", "r", "a", "c"}, out: "Permission of range [a, c) is revoked from role r\n"},
		step{args: []string{"role", "revoke-permission", "r", "m", "--from-key"}, out: "Permission of range [m, <open ended> is revoked from role r\n"},
		step{args: []string{"role", "revoke-permission", "r", "p/", "--prefix"}, out: "Permission of range [p/, p0) is revoked from role r\n"},
		step{args: []string{"role", "revoke-permission", "r", "p/", "--prefix"}, code: exitError, errSub: "permission is not granted to the role"},
		// The empty key with --prefix: every key.
		step{args: []string{"role", "grant-permission", "r", "read", "", "--prefix"}, out: "Role r updated\n"},
		step{args: []string{"role", "get", "r"}, out: "Role r\nKV Read:\n\t[\x00, <open ended>\nKV Write:\n"},
		step{args: []string{"role", "revoke-permission", "r", "", "--from-key"}, out: "Permission of range [, <open ended> is revoked from role r\n"},
		step{args: []string{"role", "get", "r"}, out: "Role r\nKV Read:\nKV Write:\n"},
	)
}

// The output formats of the auth results: etcdctl's json and fields, and no table.
func TestAuthOutputFormats(t *testing.T) {
	// Not parallel: bcrypt (see bcryptHeavy).
	f := newFixture(t)
	f.steps(
		step{args: []string{"role", "add", "r"}, out: "Role r created\n"},
		step{args: []string{"role", "grant-permission", "r", "readwrite", "/app/", "--prefix"}, out: "Role r updated\n"},
		step{args: []string{"role", "grant-permission", "r", "read", "k"}, out: "Role r updated\n"},
		step{args: []string{"user", "add", "u", "--new-user-password=pw"}, out: "User u created\n"},
		step{args: []string{"user", "grant-role", "u", "r"}, out: "Role r is granted to user u\n"},
	)
	hdr := `\{"cluster_id":\d+,"member_id":1,"revision":\d+,"raft_term":\d+\}`
	jsonOut := []struct {
		args []string
		want string // a regexp
	}{
		{[]string{"role", "add", "r2"}, `\{"header":` + hdr + `\}`},
		{[]string{"role", "get", "r"}, `\{"header":` + hdr + `,"perm":\[\{"permType":2,"key":"L2FwcC8=","range_end":"L2FwcDA="\},\{"key":"aw=="\}\]\}`},
		{[]string{"role", "list"}, `\{"header":` + hdr + `,"roles":\["r","r2"\]\}`},
		{[]string{"user", "get", "u"}, `\{"header":` + hdr + `,"roles":\["r"\]\}`},
		{[]string{"user", "list"}, `\{"header":` + hdr + `,"users":\["u"\]\}`},
		{[]string{"auth", "status"}, `\{"header":` + hdr + `,"authRevision":\d+\}`},
		{[]string{"user", "revoke-role", "u", "r"}, `\{"header":` + hdr + `\}`},
	}
	for _, j := range jsonOut {
		out := f.ctl(append([]string{"-w", "json"}, j.args...)...).must(t)
		if !regexp.MustCompile(`^` + j.want + "\n$").MatchString(out) {
			t.Errorf("-w json %s:\n%s\nwant %s", strings.Join(j.args, " "), out, j.want)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Errorf("-w json %s: %v", strings.Join(j.args, " "), err)
		}
	}
	if out := f.ctl(authTimeout, "-w", "json", "user", "add", "root", "--new-user-password=pw").must(t); !strings.HasPrefix(out, `{"header":{`) {
		t.Errorf("-w json user add: %q", out)
	}
	// auth enable and disable print their message whatever the format, as etcdctl's.
	if out := f.ctl("-w", "json", "auth", "enable").must(t); out != "Authentication Enabled\n" {
		t.Errorf("-w json auth enable: %q", out)
	}

	fieldsHdr := `"ClusterID" : \d+\n"MemberID" : 1\n"Revision" : \d+\n"RaftTerm" : \d+\n`
	fieldsOut := []struct {
		args []string
		want string
	}{
		{[]string{"role", "add", "r3"}, fieldsHdr},
		{[]string{"role", "get", "r"}, fieldsHdr + `"PermType" :  READWRITE\n"Key" : "/app/"\n"RangeEnd" : "/app0"\n"PermType" :  READ\n"Key" : "k"\n"RangeEnd" : ""\n`},
		{[]string{"role", "list"}, fieldsHdr + `"Roles" : "r" "r2" "r3" "root"\n`},
	}
	rc := f.rootCert()
	for _, fo := range fieldsOut {
		out := ctlRun(t, "", slices.Concat(rc, []string{"-w", "fields"}, fo.args)...).must(t)
		if !regexp.MustCompile(`^` + fo.want + `$`).MatchString(out) {
			t.Errorf("-w fields %s:\n%s\nwant %s", strings.Join(fo.args, " "), out, fo.want)
		}
	}
	f.steps(
		step{flags: rc, args: []string{"-w", "fields", "user", "list"}, code: exitBadFeature, errSub: "Error: fields not supported as output format\n"},
		step{flags: rc, args: []string{"-w", "fields", "auth", "status"}, code: exitBadFeature, errSub: "Error: fields not supported as output format\n"},
		step{flags: rc, args: []string{"-w", "table", "user", "list"}, code: exitBadFeature, errSub: "Error: table not supported as output format\n"},
		step{flags: rc, args: []string{"-w", "table", "role", "add", "r4"}, code: exitBadFeature, errSub: "Error: table not supported as output format\n"},
		// The table's refusal came after the change, as etcdctl's: r4 exists.
		step{flags: rc, args: []string{"role", "list"}, out: "r\nr2\nr3\nr4\nroot\n"},
	)
}

// Arguments and passwords are checked before anything is sent, with etcdctl's messages.
func TestAuthBadArguments(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	bad := func(stdin string, args []string, errSub string) step {
		return step{stdin: stdin, args: args, code: exitBadArgs, errSub: errSub}
	}
	f.steps(
		bad("", []string{"auth", "enable", "x"}, "Error: auth enable command does not accept any arguments\n"),
		bad("", []string{"auth", "disable", "x"}, "Error: auth disable command does not accept any arguments\n"),
		bad("", []string{"auth", "status", "x"}, "Error: auth status command does not accept any arguments\n"),
		bad("", []string{"user", "add"}, "Error: user add command requires user name as its argument\n"),
		bad("", []string{"user", "add", ":pw"}, "Error: empty user name is not allowed\n"),
		bad("", []string{"user", "add", "u", "--interactive=false"}, "Error: failed to read password from stdin: EOF\n"),
		bad("\n", []string{"user", "add", "u"}, "Error: empty password\n"),
		bad("", []string{"user", "delete"}, "Error: user delete command requires user name as its argument\n"),
		bad("", []string{"user", "get", "a", "b"}, "Error: user get command requires user name as its argument\n"),
		bad("", []string{"user", "list", "x"}, "Error: user list command requires no arguments\n"),
		bad("", []string{"user", "passwd"}, "Error: user passwd command requires user name as its argument\n"),
		bad("", []string{"user", "grant-role", "u"}, "Error: user grant command requires user name and role name as its argument\n"),
		bad("", []string{"user", "revoke-role", "u"}, "Error: user revoke-role requires user name and role name as its argument\n"),
		bad("", []string{"role", "add"}, "Error: role add command requires role name as its argument\n"),
		bad("", []string{"role", "delete"}, "Error: role delete command requires role name as its argument\n"),
		bad("", []string{"role", "get"}, "Error: role get command requires role name as its argument\n"),
		bad("", []string{"role", "list", "x"}, "Error: role list command requires no arguments\n"),
		bad("", []string{"role", "grant-permission", "r", "read"}, "Error: role grant command requires role name, permission type, and key [endkey] as its argument\n"),
		bad("", []string{"role", "grant-permission", "r", "rw", "k"}, "Error: invalid permission type: rw\n"),
		bad("", []string{"role", "grant-permission", "r", "read", "k", "--prefix", "--from-key"}, "Error: --from-key and --prefix flags are mutually exclusive\n"),
		bad("", []string{"role", "grant-permission", "r", "read", "a", "b", "--prefix"}, "Error: unexpected endkey argument with --prefix flag\n"),
		bad("", []string{"role", "grant-permission", "r", "read", "a", "b", "--from-key"}, "Error: unexpected endkey argument with --from-key flag\n"),
		bad("", []string{"role", "revoke-permission", "r"}, "Error: role revoke-permission command requires role name and key [endkey] as its argument\n"),
		bad("", []string{"--user=root:", "get", "k"}, `Error: empty password for user "root"`),
		bad("", []string{"--user=:pw", "get", "k"}, "Error: empty user name in --user\n"),
		bad("", []string{"--user=root", "get", "k"}, "Error: failed to read password from stdin: EOF\n"),
		step{args: []string{"--user=root:pw", "bench", "put"}, code: exitBadFeature, errSub: "bench does not support --user"},
	)
	// Nothing of the above reached the cluster.
	if out := f.ctl("user", "list").must(t); out != "" {
		t.Errorf("users: %q", out)
	}
}

// auth enable makes root's role; the passwords of a run come from stdin in the order
// etcdctl asks for them: the new user's, then --user's.
func TestAuthPasswordsFromStdin(t *testing.T) {
	// Not parallel: bcrypt (see bcryptHeavy).
	f := newFixture(t)
	rc := f.rootCert()
	f.steps(
		step{args: []string{"user", "add", "root:rootpw"}, out: "User root created\n"},
		// auth enable gives root the role root, which it makes, as etcdctl's.
		step{args: []string{"auth", "enable"}, out: "Authentication Enabled\n"},
		step{flags: rc, args: []string{"user", "get", "root"}, out: "User: root\nRoles: root\n"},
		step{flags: rc, args: []string{"role", "list"}, out: "root\n"},
		step{flags: rc, args: []string{"role", "get", "root"}, out: "Role root\nKV Read:\n\t[, <open ended>\nKV Write:\n\t[, <open ended>\n"},
		step{stdin: "alicepw\nrootpw\n", args: []string{"--user=root", "user", "add", "alice", "--interactive=false"}, out: "User alice created\n"},
		step{stdin: "alicepw\r\n", args: []string{"--user=alice", "user", "get", "alice"}, out: "User: alice\nRoles:\n"},
		step{stdin: "a b c\nrootpw", args: []string{"--user=root", "user", "passwd", "alice"}, out: "Password updated\n"},
		step{args: as("alice:a b c", "user", "get", "alice"), out: "User: alice\nRoles:\n"},
	)
}

// --debug shows every global flag but no password.
func TestAuthDebugHidesPasswords(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--debug", "--user=root:rootpw", "version"},
		{"--debug", "--user=root", "--password=rootpw", "version"},
	} {
		r := ctlRun(t, "", args...)
		if r.code != 0 || !strings.Contains(r.stderr, "ETCQCTL_USER=root") || strings.Contains(r.stderr, "rootpw") ||
			!strings.Contains(r.stderr, "<redacted>\n") {
			t.Errorf("etcqctl %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}

// The environment stands for --user and --password, as ETCDCTL_USER for etcdctl's.
func TestAuthFromEnvironment(t *testing.T) {
	// Not parallel: bcrypt (see bcryptHeavy).
	f := newFixture(t)
	f.steps(
		step{args: []string{"user", "add", "root:rootpw"}, out: "User root created\n"},
		step{args: []string{"auth", "enable"}, out: "Authentication Enabled\n"},
	)
	r := runWithEnv(t, map[string]string{"ETCQCTL_USER": "root", "ETCQCTL_PASSWORD": "rootpw"}, append(f.flags(), authTimeout, "user", "list")...)
	if r.code != 0 || r.stdout != "root\n" {
		t.Errorf("user list with ETCQCTL_USER: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// A client of a run with --user authenticates again every so often, so that a long
// command outlives its token; the refreshes end with the run.
func TestAuthTokenRefresh(t *testing.T) {
	// Not parallel: bcrypt (see bcryptHeavy).
	f := newFixture(t)
	f.steps(
		step{args: []string{"user", "add", "root:rootpw"}, out: "User root created\n"},
		step{args: []string{"auth", "enable"}, out: "Authentication Enabled\n"},
	)
	ctx := testCtx(t)
	a := &app{ctx: ctx, env: mapEnv(nil), stdin: strings.NewReader("")}
	var out, errOut strings.Builder
	a.stdout, a.stderr = &out, &errOut
	root := a.rootCommand()
	root.SetArgs(append(f.flags(), authTimeout, "--user=root:rootpw", "version"))
	if err := root.Execute(); err != nil { // parses the global flags
		t.Fatal(err)
	}
	a.session.every = 100 * time.Millisecond
	defer a.endSession()
	c, err := a.client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	token := func() string {
		a.session.mu.Lock()
		defer a.session.mu.Unlock()
		return a.session.token
	}
	first := token()
	for token() == first {
		if ctx.Err() != nil {
			t.Fatal("the token was never refreshed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := c.UserList(ctx); err != nil {
		t.Fatalf("with a refreshed token: %v", err)
	}
}
