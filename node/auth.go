package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"etcq.dev/etcq/auth"
	"etcq.dev/etcq/rbac"
	"etcq.dev/etcq/storage"
)

// Auth in a member. The users, roles and the enabled flag are replicated state (auth.State),
// changed only by opAuth requests applied in log order and stored as the aux value "auth" in
// the same store session as the entry that changed them, so that they travel in snapshots
// and survive restarts exactly as the keys do.
//
// Every client request is decided twice, from replicated state only:
//
//   - at the client service, against the member's current View: who the caller is (the
//     verified certificate's CN, or the user of a token), and whether it may do every part
//     of the request. A request refused there is never proposed. Reads are checked after
//     their linearizable wait, so they see every auth change completed before they began.
//   - at apply, against the View of that point of the log (authorize): the request carries
//     its caller (user, token revision) and the auth revision the service checked it at;
//     apply checks the identity again (a token revoked since is refused) and every key of
//     the request again (a txn: every key of both branches, nested ones too; a lease
//     revoke: the keys attached to the lease, known only here). A refused request applies
//     nothing and is answered with permission denied. So a permission revoked a moment ago
//     is never honoured afterwards, whichever member served the request (etcd issues
//     #11651 and #14571).
//
// Requests the member makes itself (lease expiry and checkpoints) and calls of the Member
// API from inside the process carry no caller and are not checked: only the client
// service speaks for clients.
const auxAuth = "auth"

// caller is who a client request runs as, in the raft log.
type caller struct {
	User string
	// TokenRev is the auth revision the caller's token was issued at; 0 for a certificate.
	TokenRev uint64
	// AuthRev is the auth revision the client service checked the request at.
	AuthRev uint64
}

// authKind names an auth operation in the raft log. Never renumber.
type authKind uint8

const (
	authEnable authKind = iota + 1
	authDisable
	authUserAdd
	authUserDelete
	authUserChangePassword
	authUserGrantRole
	authUserRevokeRole
	authRoleAdd
	authRoleDelete
	authRoleGrantPermission
	authRoleRevokePermission
)

var authKindNames = [...]string{
	authEnable: "auth enable", authDisable: "auth disable",
	authUserAdd: "user add", authUserDelete: "user delete", authUserChangePassword: "user change password",
	authUserGrantRole: "user grant role", authUserRevokeRole: "user revoke role",
	authRoleAdd: "role add", authRoleDelete: "role delete",
	authRoleGrantPermission: "role grant permission", authRoleRevokePermission: "role revoke permission",
}

func (k authKind) String() string {
	if int(k) < len(authKindNames) && authKindNames[k] != "" {
		return authKindNames[k]
	}
	return fmt.Sprintf("auth operation %d", uint8(k))
}

// authOp is the body of an opAuth request. What is slow or random was done by the member
// that received it: the bcrypt hash of a password, the token key of an enable.
type authOp struct {
	Kind       authKind
	Name       string // the user (user operations) or the role (role operations)
	Role       string // the role granted to or revoked from a user
	Hash       []byte // user add, change password: the bcrypt hash, never the password
	NoPassword bool   // user add
	TokenKey   []byte // enable: from auth.NewTokenKey
	PermType   uint8  // role grant permission: rbac.PermType
	Key        []byte // role grant and revoke permission
	RangeEnd   []byte
}

// loadAuth replaces the member's auth state with the store's: at start and after a
// snapshot restore. A store without one holds a cluster that never changed auth.
func (m *Member) loadAuth() error {
	b, ok := m.store.Aux(auxAuth)
	if !ok {
		b = auth.New().Encode()
	}
	if err := m.auth.Restore(b); err != nil {
		return fmt.Errorf("node: auth state in the store: %w", err)
	}
	return nil
}

// applyAuth applies one auth operation to the replicated state.
func (m *Member) applyAuth(op *authOp) error {
	s := m.auth
	switch op.Kind {
	case authEnable:
		return s.Enable(op.TokenKey)
	case authDisable:
		s.Disable()
		return nil
	case authUserAdd:
		return s.UserAdd(op.Name, op.Hash, op.NoPassword)
	case authUserDelete:
		return s.UserDelete(op.Name)
	case authUserChangePassword:
		return s.UserChangePassword(op.Name, op.Hash)
	case authUserGrantRole:
		return s.UserGrantRole(op.Name, op.Role)
	case authUserRevokeRole:
		return s.UserRevokeRole(op.Name, op.Role)
	case authRoleAdd:
		return s.RoleAdd(op.Name)
	case authRoleDelete:
		return s.RoleDelete(op.Name)
	case authRoleGrantPermission:
		return s.RoleGrantPermission(op.Name, rbac.Permission{Type: rbac.PermType(op.PermType), Key: op.Key, RangeEnd: op.RangeEnd})
	case authRoleRevokePermission:
		return s.RoleRevokePermission(op.Name, op.Key, op.RangeEnd)
	}
	return fmt.Errorf("node: unknown auth operation %d", op.Kind)
}

// authorize checks, at apply, a client request against the auth state of this point of
// the log: nil to apply it, an error (permission denied, invalid token) to refuse it
// whole. Requests without a caller are the member's own.
func (m *Member) authorize(r *request) error {
	return m.authorizeAs(r.Caller, func(a access) error { return a.request(r) })
}

// authorizeConfChange checks, at apply, that the client a membership change was made for
// may still change membership (root, with a valid token). Changes without a caller are
// the member's own.
func (m *Member) authorizeConfChange(c *caller) error {
	return m.authorizeAs(c, func(a access) error { return a.admin("membership change") })
}

// authorizeAs runs check for caller c against the auth state of this point of the log,
// once c's token is known to be still valid; nil c, or auth disabled, passes.
func (m *Member) authorizeAs(c *caller, check func(access) error) error {
	if c == nil {
		return nil
	}
	v := m.auth.View()
	if !v.Enabled() {
		return nil
	}
	if err := v.CheckIdentity(auth.Identity{User: c.User, TokenRev: c.TokenRev}); err != nil {
		return err
	}
	if err := check(access{v: v, user: c.User, store: m.store}); err != nil {
		var de *deniedError
		if errors.As(err, &de) && c.AuthRev != v.Revision() {
			de.msg += fmt.Sprintf("; auth changed after the request was checked (auth revision %d, now %d)", c.AuthRev, v.Revision())
		}
		return err
	}
	return nil
}

// callerKey carries, in a context, the caller a Member API call is made for.
type callerKey struct{}

// withCaller returns ctx carrying c: the membership changes made with it are stamped with
// c, and apply checks c again.
func withCaller(ctx context.Context, c *caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// callerFrom returns the caller ctx carries, or nil: a call of the process itself.
func callerFrom(ctx context.Context) *caller {
	c, _ := ctx.Value(callerKey{}).(*caller)
	return c
}

// access decides what one user may do, against one View. The client service and apply
// share it, so the two decide by the same rules.
type access struct {
	v    *auth.View
	user string
	// store knows the keys attached to each lease: set at apply, nil at the service,
	// where they are not known yet (apply checks them).
	store *storage.Store
}

// request checks every part of a request.
func (a access) request(r *request) error {
	if !a.v.Enabled() {
		return nil
	}
	switch r.Op {
	case opPut:
		return a.put("put", r.Put)
	case opDeleteRange:
		return a.deleteRange("delete", r.DeleteRange)
	case opTxn:
		return a.txn(r.Txn)
	case opCompact:
		return a.admin("compact")
	case opLeaseGrant, opLeaseRenew:
		return a.authenticated("lease")
	case opLeaseRevoke:
		if err := a.authenticated("lease revoke"); err != nil {
			return err
		}
		if a.store != nil && r.Lease != nil {
			for _, k := range a.store.LeaseKeys(r.Lease.ID) {
				if !a.v.Allowed(a.user, rbac.Write, k, nil) {
					return a.deny(fmt.Sprintf("lease revoke of lease %d deletes %q, which", r.Lease.ID, k), rbac.Write)
				}
			}
		}
		return nil
	case opAuth:
		if r.Auth == nil {
			return a.admin("auth")
		}
		return a.admin(r.Auth.Kind.String())
	}
	return nil
}

// need checks one permission on a key or range.
func (a access) need(op string, want rbac.PermType, key, end []byte) error {
	if a.v.Allowed(a.user, want, key, end) {
		return nil
	}
	return a.deny(op+" "+describeKeys(key, end), want)
}

func (a access) rangeReq(op string, r *storage.RangeRequest) error {
	return a.need(op, rbac.Read, r.Key, r.RangeEnd)
}

func (a access) put(op string, p *storage.PutRequest) error {
	if err := a.need(op, rbac.Write, p.Key, nil); err != nil {
		return err
	}
	if p.PrevKV {
		if err := a.need(op+" with prev_kv", rbac.Read, p.Key, nil); err != nil {
			return err
		}
	}
	// As etcd: attaching a key to a lease needs write on the keys the lease holds, since
	// whoever may attach may also revoke.
	if p.Lease != 0 && a.store != nil {
		for _, k := range a.store.LeaseKeys(p.Lease) {
			if !a.v.Allowed(a.user, rbac.Write, k, nil) {
				return a.deny(fmt.Sprintf("%s %q with lease %d, which holds %q, which", op, p.Key, p.Lease, k), rbac.Write)
			}
		}
	}
	return nil
}

func (a access) deleteRange(op string, d *storage.DeleteRangeRequest) error {
	if err := a.need(op, rbac.Write, d.Key, d.RangeEnd); err != nil {
		return err
	}
	if d.PrevKV {
		return a.need(op+" with prev_kv", rbac.Read, d.Key, d.RangeEnd)
	}
	return nil
}

// txn checks every compare (read) and every operation of both branches, whichever runs,
// nested txns included.
func (a access) txn(t *storage.TxnRequest) error {
	for i := range t.Compare {
		c := &t.Compare[i]
		if err := a.need("txn compare", rbac.Read, c.Key, c.RangeEnd); err != nil {
			return err
		}
	}
	for _, branch := range [][]storage.RequestOp{t.Success, t.Failure} {
		for _, op := range branch {
			var err error
			switch {
			case op.Range != nil:
				err = a.rangeReq("txn range", op.Range)
			case op.Put != nil:
				err = a.put("txn put", op.Put)
			case op.DeleteRange != nil:
				err = a.deleteRange("txn delete", op.DeleteRange)
			case op.Txn != nil:
				err = a.txn(op.Txn)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// admin checks that the user may do what only root may.
func (a access) admin(op string) error {
	if a.v.IsAdmin(a.user) {
		return nil
	}
	return &deniedError{msg: fmt.Sprintf("permission denied: %s needs the root role (user %q)", op, a.user)}
}

// authenticated checks that the user is one the auth state knows (lease and membership
// reads: any user may, as in etcd, but only a user).
func (a access) authenticated(op string) error {
	if !a.v.Enabled() || a.v.Policy().Known(a.user) {
		return nil
	}
	return &deniedError{msg: fmt.Sprintf("permission denied: %s needs a user; %q is none", op, a.user)}
}

func (a access) deny(what string, want rbac.PermType) error {
	need := "read"
	switch want {
	case rbac.Write:
		need = "write"
	case rbac.ReadWrite:
		need = "read and write"
	}
	return &deniedError{msg: fmt.Sprintf("permission denied: %s needs %s (user %q)", what, need, a.user)}
}

// deniedError is a refusal for want of a permission. It matches auth.ErrPermissionDenied,
// which the client sees as wire.CodePermissionDenied with this message.
type deniedError struct{ msg string }

func (e *deniedError) Error() string { return e.msg }
func (e *deniedError) Unwrap() error { return auth.ErrPermissionDenied }

// describeKeys names a key or a range as a denial shows it.
func describeKeys(key, end []byte) string {
	switch {
	case len(end) == 0:
		return fmt.Sprintf("%q", key)
	case len(end) == 1 && end[0] == 0:
		if len(key) == 0 || len(key) == 1 && key[0] == 0 {
			return "every key"
		}
		return fmt.Sprintf("every key from %q", key)
	case len(key) > 0 && bytes.Equal(end, rbac.PrefixEnd(key)):
		return fmt.Sprintf("prefix %q", key)
	}
	return fmt.Sprintf("[%q, %q)", key, end)
}

// withBcrypt runs f, a bcrypt hash or check (tens of milliseconds of CPU), once one of the
// member's bcrypt slots is free: password work never takes more than that many cores.
func (m *Member) withBcrypt(ctx context.Context, f func() error) error {
	select {
	case m.bcryptSem <- struct{}{}:
	case <-ctx.Done():
		// Nothing was done: the request may be retried.
		return fmt.Errorf("%w: every bcrypt slot stayed busy (%w)", ErrTooManyRequests, ctx.Err())
	}
	defer func() { <-m.bcryptSem }()
	return f()
}

// hashPassword hashes a password for a user add or change, at the member's bcrypt cost.
func (m *Member) hashPassword(ctx context.Context, password string) ([]byte, error) {
	var hash []byte
	err := m.withBcrypt(ctx, func() error {
		var err error
		hash, err = auth.HashPasswordCost(password, m.bcryptCost)
		return err
	})
	return hash, err
}

// String describes an auth operation for logs (never with its hash or key).
func (op *authOp) String() string {
	var b strings.Builder
	b.WriteString(op.Kind.String())
	if op.Name != "" {
		fmt.Fprintf(&b, " %q", op.Name)
	}
	if op.Role != "" {
		fmt.Fprintf(&b, " role %q", op.Role)
	}
	return b.String()
}
