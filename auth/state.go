package auth

import (
	"slices"
	"sync"
	"sync/atomic"

	"etcq.dev/etcq/rbac"
)

// State is the replicated auth state: users, roles, the enabled flag, the token key and
// the auth revision. Every member applies the same operations in the same order and
// reaches the same State, byte for byte (Encode). It is safe for concurrent use: the apply
// goroutine changes it while the client service reads it, mostly through View. Make one
// with New or Decode; the zero State is not usable.
type State struct {
	mu   sync.Mutex
	d    data
	view atomic.Pointer[View] // nil until asked for after a change
}

// data is everything State replicates. Slices in it are never modified in place: a change
// replaces them, so Views and getters may share them.
type data struct {
	enabled bool
	// revision is the auth revision: 1 for a new State, raised by one by every operation
	// that changes something.
	revision uint64
	// enabledRev is the revision at which auth was last enabled (0: never).
	enabledRev uint64
	// tokenKey signs tokens; Enable sets it.
	tokenKey []byte
	users    map[string]*user
	roles    map[string]*role
}

// user is one user's record.
type user struct {
	// hash is the bcrypt hash of the password; nil for a user without a password.
	hash []byte
	// credRev is the revision at which the user was added or its password last set: a
	// token issued before it is no longer valid.
	credRev uint64
	// roles are the names of the roles granted, sorted, without duplicates.
	roles []string
}

// role is one role's record: its permissions sorted by (Key, RangeEnd), one per range.
type role struct {
	perms []rbac.Permission
}

// New returns the state of a new cluster: auth disabled, no users, no roles, revision 1
// (0 is left for "no auth revision" in requests, as in etcd).
func New() *State {
	return &State{d: newData()}
}

func newData() data {
	return data{revision: 1, users: map[string]*user{}, roles: map[string]*role{}}
}

// changed records a change: the revision goes up and the cached View is dropped. Called
// with s.mu held, after the change.
func (s *State) changed() {
	s.d.revision++
	s.view.Store(nil)
}

// Status is whether auth is enabled and the auth revision.
type Status struct {
	Enabled  bool
	Revision uint64
}

// Status reports whether auth is enabled and the current auth revision.
func (s *State) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Status{Enabled: s.d.enabled, Revision: s.d.revision}
}

// Policy is the compiled policy of the current users and roles (View().Policy()). It is
// compiled on first use after a change and cached until the next.
func (s *State) Policy() *rbac.Policy {
	return s.View().Policy()
}

// View is an immutable snapshot of what the request path needs (enabled flag, revision,
// token key, credentials, compiled policy), built on first use after a change and cached
// until the next, so that the hot path is one atomic load.
func (s *State) View() *View {
	if v := s.view.Load(); v != nil {
		return v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.view.Load(); v != nil {
		return v
	}
	v := s.d.view()
	s.view.Store(v)
	return v
}

// view builds the View of d.
func (d *data) view() *View {
	v := &View{
		enabled:    d.enabled,
		revision:   d.revision,
		enabledRev: d.enabledRev,
		tokenKey:   d.tokenKey,
		creds:      make(map[string]cred, len(d.users)),
	}
	users := make([]rbac.User, 0, len(d.users))
	for name, u := range d.users {
		v.creds[name] = cred{hash: u.hash, credRev: u.credRev}
		users = append(users, rbac.User{Name: name, Roles: u.roles})
	}
	roles := make([]rbac.Role, 0, len(d.roles))
	for name, r := range d.roles {
		roles = append(roles, rbac.Role{Name: name, Perms: r.perms})
	}
	v.policy = rbac.Compile(users, roles)
	return v
}

// sortedKeys lists a map's names in order.
func sortedKeys[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
