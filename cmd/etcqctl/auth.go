package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/wire"
)

// The auth, user and role commands (etcdctl's, in auth.go, user.go and role.go), who the
// other commands run as (--user and --password), reading passwords, and the auth results'
// printers.
//
// A command runs as the CN of the client certificate unless --user names a user: then the
// first client of the run authenticates once, every client of the run sends the token it
// got, and each refreshes it while it lives, so that a long command (watch, lock, lease
// keep-alive) outlives the token's expiry. While auth is disabled the server refuses to
// authenticate; the command then runs as the certificate's CN, as etcdctl runs without a
// token.

func (a *app) authCommands() []*cobra.Command {
	return []*cobra.Command{a.authCommand(), a.userCommand(), a.roleCommand()}
}

func (a *app) authCommand() *cobra.Command {
	ac := &cobra.Command{
		Use:   "auth <enable or disable>",
		Short: "Enable or disable authentication",
	}
	ac.AddCommand(a.authEnableCommand(), a.authDisableCommand(), a.authStatusCommand())
	return ac
}

func (a *app) authEnableCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "enable",
		Short: "Enables authentication",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 0 {
				return failf(exitBadArgs, "auth enable command does not accept any arguments")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := a.commandCtx()
			defer cancel()
			if err := enableAuth(ctx, c); err != nil {
				return fail(exitError, err)
			}
			// Plain text whatever the output format, as etcdctl's.
			fmt.Fprintln(a.stdout, "Authentication Enabled")
			return nil
		},
	}
}

// enableAuth enables auth. As etcdctl does, when the user root lacks the role root it
// creates the role (unless it exists), grants it to root and tries again.
func enableAuth(ctx context.Context, c *quicclient.Client) error {
	_, err := c.AuthEnable(ctx)
	if !errors.Is(err, wire.ErrRootRoleMissing) {
		return err
	}
	if _, err := c.RoleAdd(ctx, rootName); err != nil && !errors.Is(err, wire.ErrRoleExists) {
		return err
	}
	if _, err := c.UserGrantRole(ctx, rootName, rootName); err != nil {
		return err
	}
	_, err = c.AuthEnable(ctx)
	return err
}

// rootName is the name of the root user and of the root role.
const rootName = "root"

func (a *app) authDisableCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "disable",
		Short: "Disables authentication",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 0 {
				return failf(exitBadArgs, "auth disable command does not accept any arguments")
			}
			c, ctx, done, err := a.dialCommand()
			if err != nil {
				return err
			}
			defer done()
			_, err = c.AuthDisable(ctx)
			if err != nil {
				return fail(exitError, err)
			}
			fmt.Fprintln(a.stdout, "Authentication Disabled")
			return nil
		},
	}
}

func (a *app) authStatusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Returns authentication status",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 0 {
				return failf(exitBadArgs, "auth status command does not accept any arguments")
			}
			c, ctx, done, err := a.dialCommand()
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.AuthStatus(ctx)
			if err != nil {
				return fail(exitError, err)
			}
			return a.authDisplay().authStatus(resp)
		},
	}
}

// authChange runs one auth change on a new client and prints msg (-w simple) or the
// response's header.
func (a *app) authChange(msg string, change func(context.Context, *quicclient.Client) (*quicclient.AuthResponse, error)) error {
	c, ctx, done, err := a.dialCommand()
	if err != nil {
		return err
	}
	defer done()
	resp, err := change(ctx, c)
	if err != nil {
		return fail(exitError, err)
	}
	return a.authDisplay().changed(msg, resp.Header)
}

// tokenRefreshEvery is how often a client of a run with --user authenticates again: well
// within the life of a token (five minutes unless the cluster says otherwise).
const tokenRefreshEvery = time.Minute

// authSession is who the clients of one run act as.
type authSession struct {
	mu       sync.Mutex
	loaded   bool  // user and password were read (or loadErr says why not)
	loadErr  error // (asking for the password failed: every client fails alike)
	user     string
	password string
	token    string // the user's current token; "" before the first Authenticate
	disabled bool   // the cluster refused to authenticate: auth is off, run as the CN
	every    time.Duration
	stop     context.CancelFunc // ends the refreshers
	ctx      context.Context    // theirs
}

// loadCredentials reads --user and --password once per run, asking for the password
// when --user has none.
func (a *app) loadCredentials() error {
	s := &a.session
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded {
		s.user, s.password, s.loadErr = a.credentials()
		s.loaded = true
	}
	return s.loadErr
}

// credentials are --user name[:password] and --password, as etcdctl reads them: a
// --password makes --user the name as it is; without one, --user is split at its first
// colon, and without a colon the password is asked for (or read from stdin).
func (a *app) credentials() (user, password string, err error) {
	g := &a.g
	switch {
	case g.user == "":
		return "", "", nil // checkGlobal refused a --password without --user
	case g.password != "":
		user, password = g.user, g.password
	default:
		var ok bool
		if user, password, ok = strings.Cut(g.user, ":"); !ok {
			if password, err = a.readPassword("Password: "); err != nil {
				return "", "", err
			}
		}
	}
	if user == "" {
		return "", "", failf(exitBadArgs, "empty user name in --user")
	}
	if password == "" {
		// etcdctl would run as the certificate's CN; etcqctl does not switch identity
		// behind a user's back.
		return "", "", failf(exitBadArgs, "empty password for user %q (a user without a password is the CN of a client certificate: drop --user)", user)
	}
	return user, password, nil
}

// login makes c act as the run's user: it authenticates the first time (a failure ends
// the command with exitBadConnection, as etcdctl's failed client creation), passes the
// token on to later clients, and keeps c's token fresh until c closes or the run ends.
func (a *app) login(c *quicclient.Client) error {
	s := &a.session
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.user == "" || s.disabled {
		return nil
	}
	if s.token == "" {
		ctx, cancel := a.commandCtx()
		resp, err := c.Authenticate(ctx, s.user, s.password)
		cancel()
		if errors.Is(err, wire.ErrAuthNotEnabled) {
			s.disabled = true
			return nil
		}
		if err != nil {
			return fail(exitBadConnection, err)
		}
		s.token = resp.Token
	} else {
		c.SetToken(s.token)
	}
	if s.ctx == nil {
		s.ctx, s.stop = context.WithCancel(a.ctx)
	}
	every := s.every
	if every <= 0 {
		every = tokenRefreshEvery
	}
	go a.refresh(s.ctx, c, s.user, s.password, every)
	return nil
}

// refresh authenticates c again every so often, until c closes or ctx ends. A failure
// leaves the old token, which fails the requests that follow its expiry with the server's
// reason; a cluster whose auth was disabled meanwhile is spoken to without a token.
func (a *app) refresh(ctx context.Context, c *quicclient.Client, user, password string, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, a.g.commandTimeout)
		resp, err := c.Authenticate(rctx, user, password)
		cancel()
		switch {
		case err == nil:
			s := &a.session
			s.mu.Lock()
			s.token = resp.Token
			s.mu.Unlock()
		case errors.Is(err, quicclient.ErrClosed):
			return
		case errors.Is(err, wire.ErrAuthNotEnabled):
			c.SetToken("")
		default:
			a.logger().Debug("token refresh failed", "user", user, "err", err)
		}
	}
}

// endSession stops the token refreshers of the run.
func (a *app) endSession() {
	s := &a.session
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		s.stop()
	}
}

// readPassword reads a password: from the terminal without echo, after prompt (on
// stderr), when stdin is a terminal; the next line of stdin otherwise.
func (a *app) readPassword(prompt string) (string, error) {
	if f, ok := terminal(a.stdin); ok {
		pw, err := a.askTerminal(f, prompt)
		if err != nil {
			return "", a.readFailed("failed to ask password", err)
		}
		return pw, nil
	}
	pw, err := a.readLine(a.stdin)
	if err != nil {
		return "", a.readFailed("failed to read password from stdin", err)
	}
	return pw, nil
}

// newPassword reads the password of a new user (user add, user passwd): asked twice on
// the terminal when interactive and stdin is one, read from a line of stdin otherwise
// (etcdctl's --interactive=false).
func (a *app) newPassword(name string, interactive bool) (string, error) {
	f, ok := terminal(a.stdin)
	if !interactive || !ok {
		pw, err := a.readLine(a.stdin)
		if err != nil {
			return "", a.readFailed("failed to read password from stdin", err)
		}
		if pw == "" {
			return "", failf(exitBadArgs, "empty password")
		}
		return pw, nil
	}
	pw, err := a.askTerminal(f, fmt.Sprintf("Password of %s: ", name))
	if err != nil {
		return "", a.readFailed("failed to ask password", err)
	}
	if pw == "" {
		return "", failf(exitBadArgs, "empty password")
	}
	again, err := a.askTerminal(f, fmt.Sprintf("Type password of %s again for confirmation: ", name))
	if err != nil {
		return "", a.readFailed("failed to ask password", err)
	}
	if pw != again {
		return "", failf(exitBadArgs, "given passwords are different")
	}
	return pw, nil
}

// readFailed is the error of a password that could not be read: the interruption of the
// run, or what went wrong.
func (a *app) readFailed(what string, err error) error {
	if a.ctx.Err() != nil {
		return fail(exitSignal, nil)
	}
	return failf(exitBadArgs, "%s: %w", what, err)
}

// askTerminal asks for a line on terminal f with its echo off.
func (a *app) askTerminal(f *os.File, prompt string) (string, error) {
	restore, err := noEcho(f)
	if err != nil {
		return "", err
	}
	defer restore()
	fmt.Fprint(a.stderr, prompt)
	defer fmt.Fprintln(a.stderr) // the newline typed was not echoed
	return a.readLine(f)
}

// readLine reads a line from r, without its line ending and without reading past it
// (stdin may hold more: the password for --user after a new user's, say). It gives up
// when the run is interrupted, which a blocked read would not notice.
func (a *app) readLine(r io.Reader) (string, error) {
	type line struct {
		s   string
		err error
	}
	ch := make(chan line, 1)
	go func() {
		s, err := readLineFrom(r)
		ch <- line{s, err}
	}()
	select {
	case l := <-ch:
		return l.s, l.err
	case <-a.ctx.Done():
		return "", a.ctx.Err()
	}
}

func readLineFrom(r io.Reader) (string, error) {
	var b []byte
	var c [1]byte
	for {
		n, err := r.Read(c[:])
		if n == 1 {
			if c[0] == '\n' {
				break
			}
			b = append(b, c[0])
			continue
		}
		if err == io.EOF && len(b) > 0 {
			break // a last line without its newline
		}
		if err != nil {
			return "", err
		}
	}
	return strings.TrimSuffix(string(b), "\r"), nil
}

// authPrinter prints the results of the auth, user and role commands in one output
// format, as etcdctl's printers do: simple and json print them all, fields prints all but
// auth status, user get and user list, table prints none.
type authPrinter interface {
	// changed prints the result of a change: msg (simple) or the response's header.
	changed(msg string, h quicclient.Header) error
	authStatus(r *quicclient.AuthStatusResponse) error
	userGet(name string, r *quicclient.UserGetResponse) error
	userList(r *quicclient.UserListResponse) error
	roleGet(role string, r *quicclient.RoleGetResponse) error
	roleList(r *quicclient.RoleListResponse) error
}

// authDisplay is the auth printer of the output format (-w), which setup has checked.
func (a *app) authDisplay() authPrinter {
	switch a.g.writeOut {
	case "simple":
		return simpleAuthPrinter{a.stdout}
	case "json":
		return jsonAuthPrinter{&jsonPrinter{w: a.stdout}}
	case "fields":
		return fieldsAuthPrinter{noAuthPrinter{unsupported{"fields"}}, &fieldsPrinter{w: a.stdout}}
	}
	return noAuthPrinter{unsupported{a.g.writeOut}}
}

// noAuthPrinter is a format that prints no auth result.
type noAuthPrinter struct{ unsupported }

func (p noAuthPrinter) changed(string, quicclient.Header) error           { return p.fail() }
func (p noAuthPrinter) authStatus(*quicclient.AuthStatusResponse) error   { return p.fail() }
func (p noAuthPrinter) userGet(string, *quicclient.UserGetResponse) error { return p.fail() }
func (p noAuthPrinter) userList(*quicclient.UserListResponse) error       { return p.fail() }
func (p noAuthPrinter) roleGet(string, *quicclient.RoleGetResponse) error { return p.fail() }
func (p noAuthPrinter) roleList(*quicclient.RoleListResponse) error       { return p.fail() }

type simpleAuthPrinter struct{ w io.Writer }

func (p simpleAuthPrinter) changed(msg string, _ quicclient.Header) error {
	fmt.Fprintln(p.w, msg)
	return nil
}

func (p simpleAuthPrinter) authStatus(r *quicclient.AuthStatusResponse) error {
	fmt.Fprintln(p.w, "Authentication Status:", r.Enabled)
	fmt.Fprintln(p.w, "AuthRevision:", r.AuthRevision)
	return nil
}

func (p simpleAuthPrinter) userGet(name string, r *quicclient.UserGetResponse) error {
	fmt.Fprintf(p.w, "User: %s\nRoles:", name)
	for _, role := range r.Roles {
		fmt.Fprint(p.w, " ", role)
	}
	fmt.Fprintln(p.w)
	return nil
}

func (p simpleAuthPrinter) userList(r *quicclient.UserListResponse) error {
	for _, u := range r.Users {
		fmt.Fprintln(p.w, u)
	}
	return nil
}

// roleGet lists the keys the role may read, then those it may write: a key alone, a range
// as [key, end) or [key, <open ended>, with the prefix it stands for if it does.
func (p simpleAuthPrinter) roleGet(role string, r *quicclient.RoleGetResponse) error {
	fmt.Fprintf(p.w, "Role %s\n", role)
	for _, sec := range []struct {
		title string
		types [2]quicclient.PermissionType
	}{
		{"KV Read:", [2]quicclient.PermissionType{quicclient.PermRead, quicclient.PermReadWrite}},
		{"KV Write:", [2]quicclient.PermissionType{quicclient.PermWrite, quicclient.PermReadWrite}},
	} {
		fmt.Fprintln(p.w, sec.title)
		for _, perm := range r.Perm {
			if perm.PermType == sec.types[0] || perm.PermType == sec.types[1] {
				fmt.Fprintf(p.w, "\t%s\n", permKeys(perm))
			}
		}
	}
	return nil
}

func permKeys(perm quicclient.Permission) string {
	key, end := string(perm.Key), string(perm.RangeEnd)
	var s string
	switch end {
	case "":
		return key
	case "\x00":
		s = "[" + key + ", <open ended>"
	default:
		s = "[" + key + ", " + end + ")"
	}
	if key != "" && quicclient.GetPrefixRangeEnd(key) == end {
		s += " (prefix " + key + ")"
	}
	return s
}

func (p simpleAuthPrinter) roleList(r *quicclient.RoleListResponse) error {
	for _, role := range r.Roles {
		fmt.Fprintln(p.w, role)
	}
	return nil
}

// jsonAuthPrinter prints etcd's Auth*Response messages.
type jsonAuthPrinter struct{ p *jsonPrinter }

type jsonAuthStatus struct {
	Header       *JSONHeader `json:"header,omitempty"`
	Enabled      bool        `json:"enabled,omitempty"`
	AuthRevision uint64      `json:"authRevision,omitempty"`
}

type jsonUserGet struct {
	Header *JSONHeader `json:"header,omitempty"`
	Roles  []string    `json:"roles,omitempty"`
}

type jsonUserList struct {
	Header *JSONHeader `json:"header,omitempty"`
	Users  []string    `json:"users,omitempty"`
}

// jsonPermission is etcd's authpb.Permission.
type jsonPermission struct {
	PermType int32  `json:"permType,omitempty"`
	Key      []byte `json:"key,omitempty"`
	RangeEnd []byte `json:"range_end,omitempty"`
}

type jsonRoleGet struct {
	Header *JSONHeader       `json:"header,omitempty"`
	Perm   []*jsonPermission `json:"perm,omitempty"`
}

type jsonRoleList struct {
	Header *JSONHeader `json:"header,omitempty"`
	Roles  []string    `json:"roles,omitempty"`
}

func (j jsonAuthPrinter) changed(_ string, h quicclient.Header) error {
	return j.p.print(&jsonHeaderOnly{Header: jsonHeader(h)})
}

func (j jsonAuthPrinter) authStatus(r *quicclient.AuthStatusResponse) error {
	return j.p.print(&jsonAuthStatus{Header: jsonHeader(r.Header), Enabled: r.Enabled, AuthRevision: r.AuthRevision})
}

func (j jsonAuthPrinter) userGet(_ string, r *quicclient.UserGetResponse) error {
	return j.p.print(&jsonUserGet{Header: jsonHeader(r.Header), Roles: r.Roles})
}

func (j jsonAuthPrinter) userList(r *quicclient.UserListResponse) error {
	return j.p.print(&jsonUserList{Header: jsonHeader(r.Header), Users: r.Users})
}

func (j jsonAuthPrinter) roleGet(_ string, r *quicclient.RoleGetResponse) error {
	out := &jsonRoleGet{Header: jsonHeader(r.Header)}
	for _, perm := range r.Perm {
		out.Perm = append(out.Perm, &jsonPermission{PermType: int32(perm.PermType), Key: perm.Key, RangeEnd: perm.RangeEnd})
	}
	return j.p.print(out)
}

func (j jsonAuthPrinter) roleList(r *quicclient.RoleListResponse) error {
	return j.p.print(&jsonRoleList{Header: jsonHeader(r.Header), Roles: r.Roles})
}

// fieldsAuthPrinter prints the header of a change, and a role's permissions or the roles
// after theirs.
type fieldsAuthPrinter struct {
	noAuthPrinter
	p *fieldsPrinter
}

func (f fieldsAuthPrinter) changed(_ string, h quicclient.Header) error {
	f.p.hdr(h)
	return nil
}

func (f fieldsAuthPrinter) roleGet(_ string, r *quicclient.RoleGetResponse) error {
	f.p.hdr(r.Header)
	for _, perm := range r.Perm {
		fmt.Fprintln(f.p.w, `"PermType" : `, permTypeName(perm.PermType)) // two spaces, as etcdctl's
		fmt.Fprintf(f.p.w, "\"Key\" : %q\n", string(perm.Key))
		fmt.Fprintf(f.p.w, "\"RangeEnd\" : %q\n", string(perm.RangeEnd))
	}
	return nil
}

func (f fieldsAuthPrinter) roleList(r *quicclient.RoleListResponse) error {
	f.p.hdr(r.Header)
	fmt.Fprint(f.p.w, `"Roles" :`)
	for _, role := range r.Roles {
		fmt.Fprintf(f.p.w, " %q", role)
	}
	fmt.Fprintln(f.p.w)
	return nil
}

// permTypeName is a permission type as etcd names it (and as role grant-permission takes
// it, in any case).
func permTypeName(t quicclient.PermissionType) string {
	switch t {
	case quicclient.PermRead:
		return "READ"
	case quicclient.PermWrite:
		return "WRITE"
	case quicclient.PermReadWrite:
		return "READWRITE"
	}
	return fmt.Sprint(int32(t))
}
