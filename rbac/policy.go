package rbac

import (
	"encoding/binary"
	"slices"
)

// RootRole is the role that may do everything. RootUser is the user etcd requires (with
// RootRole) before auth can be enabled; rbac gives the name no special meaning.
const (
	RootRole = "root"
	RootUser = "root"
)

// Role is a named set of permissions.
type Role struct {
	Name  string
	Perms []Permission
}

// User is a user and the names of the roles granted to it.
type User struct {
	Name  string
	Roles []string
}

// Policy answers access questions for a fixed set of users and roles. It is immutable:
// build one with Compile, query it from any goroutine.
type Policy struct {
	users map[string]*grants
}

// grants is what one user (or one role) may do: everything, or the keys of read and write.
type grants struct {
	root        bool
	read, write spans
}

// rootGrants is shared by every user holding RootRole, noGrants by every user holding no
// role that grants anything.
var (
	rootGrants = &grants{root: true}
	noGrants   = &grants{}
)

// Compile builds the policy of users and roles. A role name that no role defines grants
// nothing; when two roles (or two users) have the same name, the first counts. Compile keeps
// no reference to its arguments. Cost: O(n log n) in the permissions reaching each distinct
// set of roles that some user holds.
func Compile(users []User, roles []Role) *Policy {
	c := compiler{
		roles:    make(map[string]*Role, len(roles)),
		compiled: make(map[string]*grants),
		combined: make(map[string]*grants),
	}
	for i := range roles {
		if _, dup := c.roles[roles[i].Name]; !dup {
			c.roles[roles[i].Name] = &roles[i]
		}
	}
	p := &Policy{users: make(map[string]*grants, len(users))}
	for _, u := range users {
		if _, dup := p.users[u.Name]; !dup {
			p.users[u.Name] = c.user(u.Roles)
		}
	}
	return p
}

// compiler memoizes the grants of each role and of each set of roles, so that users with
// the same roles share one compiled form.
type compiler struct {
	roles    map[string]*Role
	compiled map[string]*grants // by role name; nil for a name no role defines
	combined map[string]*grants // by the sorted, length-prefixed names of two or more roles
	names    []string           // scratch
	key      []byte             // scratch
}

// role is the compiled grants of one role, or nil when no role has that name.
func (c *compiler) role(name string) *grants {
	if g, ok := c.compiled[name]; ok {
		return g
	}
	r := c.roles[name]
	if r == nil {
		c.compiled[name] = nil
		return nil
	}
	var reads, writes []interval
	for _, p := range r.Perms {
		iv, ok := permInterval(p.Key, p.RangeEnd)
		if !ok {
			continue
		}
		switch p.Type {
		case Read:
			reads = append(reads, iv)
		case Write:
			writes = append(writes, iv)
		case ReadWrite:
			reads = append(reads, iv)
			writes = append(writes, iv)
		}
	}
	g := &grants{read: mergeSpans(reads), write: mergeSpans(writes)}
	c.compiled[name] = g
	return g
}

// user is the combined grants of a user's roles.
func (c *compiler) user(roles []string) *grants {
	names := c.names[:0]
	for _, name := range roles {
		if name == RootRole {
			return rootGrants
		}
		if c.role(name) != nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	c.names = names
	switch len(names) {
	case 0:
		return noGrants
	case 1:
		return c.role(names[0])
	}
	key := c.key[:0]
	for _, name := range names { // length-prefixed: names may hold any byte
		key = binary.AppendUvarint(key, uint64(len(name)))
		key = append(key, name...)
	}
	c.key = key
	if g, ok := c.combined[string(key)]; ok {
		return g
	}
	var nr, nw int
	for _, name := range names {
		nr += len(c.role(name).read.starts)
		nw += len(c.role(name).write.starts)
	}
	reads, writes := make([]interval, 0, nr), make([]interval, 0, nw)
	for _, name := range names {
		reads = c.role(name).read.intervals(reads)
		writes = c.role(name).write.intervals(writes)
	}
	g := &grants{read: mergeSpans(reads), write: mergeSpans(writes)}
	c.combined[string(key)] = g
	return g
}

// Allowed reports whether user may do want on the keys that key and rangeEnd name: the
// single key when rangeEnd is empty, every key >= key when rangeEnd is "\x00", the range
// [key, rangeEnd) otherwise (an empty range is decided as the single key). A range must be
// covered entirely by the union of the user's grants; ReadWrite needs both read and write.
// An unknown user, an invalid want and a nil policy allow nothing. O(log n), no allocation.
func (p *Policy) Allowed(user string, want PermType, key, rangeEnd []byte) bool {
	if p == nil || !want.Valid() {
		return false
	}
	g := p.users[user]
	if g == nil {
		return false
	}
	if g.root {
		return true
	}
	switch want {
	case Read:
		return g.read.covers(key, rangeEnd)
	case Write:
		return g.write.covers(key, rangeEnd)
	case ReadWrite:
		return g.read.covers(key, rangeEnd) && g.write.covers(key, rangeEnd)
	}
	return false
}

// IsRoot reports whether user holds RootRole, and so may do everything, including what no
// key permission covers (maintenance, membership, compaction, auth changes).
func (p *Policy) IsRoot(user string) bool {
	if p == nil {
		return false
	}
	g := p.users[user]
	return g != nil && g.root
}

// Known reports whether the policy has a user of that name (with or without grants).
func (p *Policy) Known(user string) bool {
	if p == nil {
		return false
	}
	_, ok := p.users[user]
	return ok
}
