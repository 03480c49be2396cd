package auth

import (
	"fmt"
	"slices"

	"etcq.dev/etcq/rbac"
)

// UserAdd adds a user. hash is the bcrypt hash of its password, made by HashPassword on
// the member that received the request; with noPassword, hash must be empty and the user
// can only be the CN of a client certificate, never Authenticate.
func (s *State) UserAdd(name string, hash []byte, noPassword bool) error {
	if name == "" {
		return ErrUserEmpty
	}
	if noPassword {
		if len(hash) != 0 {
			return fmt.Errorf("%w: a password hash for no-password user %q", ErrInvalidAuthMgmt, name)
		}
	} else if err := validHash(hash); err != nil {
		return fmt.Errorf("user %q: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.d.users[name]; ok {
		return fmt.Errorf("%w: %q", ErrUserExists, name)
	}
	s.changed()
	s.d.users[name] = &user{hash: cloneOrNil(hash), credRev: s.d.revision}
	return nil
}

// UserDelete deletes a user; its tokens stop working. The root user cannot be deleted
// while auth is enabled.
func (s *State) UserDelete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.d.enabled && name == rbac.RootUser {
		return fmt.Errorf("%w: the root user cannot be deleted while auth is enabled", ErrInvalidAuthMgmt)
	}
	if _, ok := s.d.users[name]; !ok {
		return fmt.Errorf("%w: %q", ErrUserNotFound, name)
	}
	delete(s.d.users, name)
	s.changed()
	return nil
}

// UserChangePassword sets a user's password hash (from HashPassword); the user's tokens
// stop working. A user added without a password becomes a password user (etcd would keep
// refusing its password).
func (s *State) UserChangePassword(name string, hash []byte) error {
	if err := validHash(hash); err != nil {
		return fmt.Errorf("user %q: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.d.users[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUserNotFound, name)
	}
	s.changed()
	s.d.users[name] = &user{hash: cloneOrNil(hash), credRev: s.d.revision, roles: u.roles}
	return nil
}

// UserGrantRole grants a role to a user. The role must exist, except the root role, which
// may be granted before (or without) a role of that name, as in etcd. Granting a role the
// user holds changes nothing.
func (s *State) UserGrantRole(name, roleName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.d.users[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUserNotFound, name)
	}
	if _, ok := s.d.roles[roleName]; !ok && roleName != rbac.RootRole {
		return fmt.Errorf("%w: %q", ErrRoleNotFound, roleName)
	}
	i, held := slices.BinarySearch(u.roles, roleName)
	if held {
		return nil
	}
	s.d.users[name] = &user{hash: u.hash, credRev: u.credRev,
		roles: slices.Insert(slices.Clip(u.roles), i, roleName)}
	s.changed()
	return nil
}

// UserRevokeRole revokes a role from a user (ErrRoleNotGranted if it does not hold it).
// The root role cannot be revoked from the root user while auth is enabled.
func (s *State) UserRevokeRole(name, roleName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.d.enabled && name == rbac.RootUser && roleName == rbac.RootRole {
		return fmt.Errorf("%w: the root role cannot be revoked from the root user while auth is enabled",
			ErrInvalidAuthMgmt)
	}
	u, ok := s.d.users[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUserNotFound, name)
	}
	i, held := slices.BinarySearch(u.roles, roleName)
	if !held {
		return fmt.Errorf("%w: role %q, user %q", ErrRoleNotGranted, roleName, name)
	}
	roles := slices.Delete(slices.Clone(u.roles), i, i+1)
	if len(roles) == 0 {
		roles = nil // as decoded
	}
	s.d.users[name] = &user{hash: u.hash, credRev: u.credRev, roles: roles}
	s.changed()
	return nil
}

// UserGet lists the roles of a user, sorted.
func (s *State) UserGet(name string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.d.users[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUserNotFound, name)
	}
	return slices.Clone(u.roles), nil
}

// UserList lists the users' names, sorted.
func (s *State) UserList() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedKeys(s.d.users)
}

// cloneOrNil copies b, and makes an empty b nil, so that equal states hold equal values.
func cloneOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}
