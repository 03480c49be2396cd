package auth

import (
	"bytes"
	"fmt"
	"slices"

	"etcq.dev/etcq/rbac"
)

// RoleAdd adds a role without permissions.
func (s *State) RoleAdd(name string) error {
	if name == "" {
		return fmt.Errorf("%w: role name is empty", ErrInvalidAuthMgmt)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.d.roles[name]; ok {
		return fmt.Errorf("%w: %q", ErrRoleExists, name)
	}
	s.d.roles[name] = &role{}
	s.changed()
	return nil
}

// RoleDelete deletes a role and revokes it from every user holding it. The root role
// cannot be deleted while auth is enabled.
func (s *State) RoleDelete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.d.enabled && name == rbac.RootRole {
		return fmt.Errorf("%w: the root role cannot be deleted while auth is enabled", ErrInvalidAuthMgmt)
	}
	if _, ok := s.d.roles[name]; !ok {
		return fmt.Errorf("%w: %q", ErrRoleNotFound, name)
	}
	delete(s.d.roles, name)
	for userName, u := range s.d.users {
		if i, held := slices.BinarySearch(u.roles, name); held {
			roles := slices.Delete(slices.Clone(u.roles), i, i+1)
			if len(roles) == 0 {
				roles = nil
			}
			s.d.users[userName] = &user{hash: u.hash, credRev: u.credRev, roles: roles}
		}
	}
	s.changed()
	return nil
}

// RoleGrantPermission gives a role a permission. As in etcd, a role has at most one
// permission per key range: granting on a range the role already has replaces that
// permission's type (granting READ where it had READWRITE leaves READ); ranges that merely
// overlap are kept side by side. The permission must name a non-empty key and, if a range,
// an end above it or "\x00" (ErrInvalidAuthMgmt).
func (s *State) RoleGrantPermission(name string, perm rbac.Permission) error {
	if err := validPermission(perm); err != nil {
		return fmt.Errorf("role %q: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.d.roles[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrRoleNotFound, name)
	}
	perm = rbac.Permission{Type: perm.Type, Key: cloneOrNil(perm.Key), RangeEnd: cloneOrNil(perm.RangeEnd)}
	i, found := slices.BinarySearchFunc(r.perms, perm, comparePerm)
	var perms []rbac.Permission
	switch {
	case found && r.perms[i].Type == perm.Type:
		return nil
	case found:
		perms = slices.Clone(r.perms)
		perms[i] = perm
	default:
		perms = slices.Insert(slices.Clip(r.perms), i, perm)
	}
	s.d.roles[name] = &role{perms: perms}
	s.changed()
	return nil
}

// RoleRevokePermission removes a role's permission on exactly the range key, rangeEnd
// (ErrPermNotGranted if it has none there).
func (s *State) RoleRevokePermission(name string, key, rangeEnd []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.d.roles[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrRoleNotFound, name)
	}
	i, found := slices.BinarySearchFunc(r.perms, rbac.Permission{Key: key, RangeEnd: rangeEnd}, comparePerm)
	if !found {
		return fmt.Errorf("%w: role %q, %s", ErrPermNotGranted, name, rbac.Permission{Key: key, RangeEnd: rangeEnd})
	}
	perms := slices.Delete(slices.Clone(r.perms), i, i+1)
	if len(perms) == 0 {
		perms = nil
	}
	s.d.roles[name] = &role{perms: perms}
	s.changed()
	return nil
}

// RoleGet lists a role's permissions, sorted by key range. The root role, whatever it
// holds, is shown as etcd shows it: READWRITE on every key.
func (s *State) RoleGet(name string) ([]rbac.Permission, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.d.roles[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrRoleNotFound, name)
	}
	if name == rbac.RootRole {
		return []rbac.Permission{{Type: rbac.ReadWrite, Key: []byte{}, RangeEnd: []byte{0}}}, nil
	}
	perms := make([]rbac.Permission, len(r.perms))
	for i, p := range r.perms {
		perms[i] = rbac.Permission{Type: p.Type, Key: slices.Clone(p.Key), RangeEnd: slices.Clone(p.RangeEnd)}
	}
	return perms, nil
}

// RoleList lists the roles' names, sorted.
func (s *State) RoleList() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedKeys(s.d.roles)
}

// comparePerm orders permissions by key, then range end (the type is not part of the
// identity of a permission).
func comparePerm(a, b rbac.Permission) int {
	if c := bytes.Compare(a.Key, b.Key); c != 0 {
		return c
	}
	return bytes.Compare(a.RangeEnd, b.RangeEnd)
}

// validPermission is etcd's rule for a grantable permission: a known type, a non-empty
// key, and no range end, "\x00" (every key from Key), or an end above Key.
func validPermission(p rbac.Permission) error {
	switch {
	case !p.Type.Valid():
		return fmt.Errorf("%w: unknown permission type %d", ErrInvalidAuthMgmt, int32(p.Type))
	case len(p.Key) == 0:
		return fmt.Errorf("%w: permission with an empty key", ErrInvalidAuthMgmt)
	case len(p.RangeEnd) == 0, len(p.RangeEnd) == 1 && p.RangeEnd[0] == 0:
		return nil
	case bytes.Compare(p.RangeEnd, p.Key) <= 0:
		return fmt.Errorf("%w: permission range [%q, %q) is empty", ErrInvalidAuthMgmt, p.Key, p.RangeEnd)
	}
	return nil
}
