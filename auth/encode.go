package auth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"

	"etcq.dev/etcq/rbac"
)

// Serialized state. Encode writes the whole State as
//
//	state  = magic version body crc
//	magic  = "EQAS"
//	version= byte 1
//	body   = enabled:byte(0|1) revision:uvarint enabledRev:uvarint tokenKey:bytes
//	         nusers:uvarint user*  nroles:uvarint role*
//	user   = name:bytes hash:bytes credRev:uvarint nroles:uvarint rolename:bytes*
//	role   = name:bytes nperms:uvarint perm*
//	perm   = type:byte key:bytes rangeEnd:bytes
//	bytes  = length:uvarint data
//	crc    = u32 big-endian CRC-32C (Castagnoli) of everything before it
//
// with users sorted by name, roles by name, a user's role names sorted, a role's
// permissions sorted by (key, rangeEnd), no duplicates anywhere, and every uvarint in its
// shortest form. An empty hash is a user without a password; an empty tokenKey goes with
// auth disabled. So the encoding is canonical: two States are equal iff their encodings
// are, and members compare theirs byte for byte. Decode accepts exactly the encodings
// Encode produces (it re-encodes what it read and compares) and checks the invariants the
// operations keep: revisions in order, valid hashes and permissions, granted roles that
// exist, and the root user with the root role while auth is enabled. A change of layout
// gets a new version byte, and Decode keeps reading the old ones.
const (
	stateMagic   = "EQAS"
	stateVersion = 1
	crcSize      = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Encode serializes the state (canonical, see above). Cost: O(size) plus sorting names.
func (s *State) Encode() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.d.encode()
}

func (d *data) encode() []byte {
	b := append([]byte(stateMagic), stateVersion)
	enabled := byte(0)
	if d.enabled {
		enabled = 1
	}
	b = append(b, enabled)
	b = binary.AppendUvarint(b, d.revision)
	b = binary.AppendUvarint(b, d.enabledRev)
	b = appendBytes(b, d.tokenKey)
	b = binary.AppendUvarint(b, uint64(len(d.users)))
	for _, name := range sortedKeys(d.users) {
		u := d.users[name]
		b = appendBytes(b, []byte(name))
		b = appendBytes(b, u.hash)
		b = binary.AppendUvarint(b, u.credRev)
		b = binary.AppendUvarint(b, uint64(len(u.roles)))
		for _, r := range u.roles {
			b = appendBytes(b, []byte(r))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(d.roles)))
	for _, name := range sortedKeys(d.roles) {
		r := d.roles[name]
		b = appendBytes(b, []byte(name))
		b = binary.AppendUvarint(b, uint64(len(r.perms)))
		for _, p := range r.perms {
			b = append(b, byte(p.Type))
			b = appendBytes(b, p.Key)
			b = appendBytes(b, p.RangeEnd)
		}
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func appendBytes(b, data []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(data))), data...)
}

// Decode rebuilds a State from Encode's output. Anything else fails with ErrCorrupt.
func Decode(b []byte) (*State, error) {
	d, err := decode(b)
	if err != nil {
		return nil, err
	}
	return &State{d: d}, nil
}

// Restore replaces the whole state with one decoded from b (a snapshot's), atomically: on
// error the state is unchanged. Views taken before keep showing the old state.
func (s *State) Restore(b []byte) error {
	d, err := decode(b)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = d
	s.view.Store(nil)
	return nil
}

func decode(b []byte) (data, error) {
	if len(b) < len(stateMagic)+1+crcSize || string(b[:len(stateMagic)]) != stateMagic {
		return data{}, fmt.Errorf("%w: not an auth state", ErrCorrupt)
	}
	body, sum := b[:len(b)-crcSize], binary.BigEndian.Uint32(b[len(b)-crcSize:])
	if crc32.Checksum(body, castagnoli) != sum {
		return data{}, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	if v := body[len(stateMagic)]; v != stateVersion {
		return data{}, fmt.Errorf("%w: unknown format version %d", ErrCorrupt, v)
	}
	r := &reader{b: body[len(stateMagic)+1:]}
	d, err := r.state()
	if err != nil {
		return data{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if !bytes.Equal(d.encode(), b) {
		return data{}, fmt.Errorf("%w: not in canonical form", ErrCorrupt)
	}
	return d, nil
}

// reader reads the body; the first error sticks and every later read returns zero values.
type reader struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail(errShort)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a number of elements, each of which takes at least one byte, so it is never
// more than what is left: no length can make the decoder allocate more than its input.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail(errShort)
		return 0
	}
	return int(n)
}

// bytes reads a length-prefixed byte string, copied (nil when empty).
func (r *reader) bytes() []byte {
	n := r.count()
	if r.err != nil {
		return nil
	}
	data := cloneOrNil(r.b[:n])
	r.b = r.b[n:]
	return data
}

func (r *reader) state() (data, error) {
	d := newData()
	switch r.byte() {
	case 0:
	case 1:
		d.enabled = true
	default:
		r.fail(errors.New("bad enabled flag"))
	}
	d.revision = r.uvarint()
	d.enabledRev = r.uvarint()
	d.tokenKey = r.bytes()

	var userNames []string
	for range r.count() {
		name := string(r.bytes())
		u := &user{hash: r.bytes(), credRev: r.uvarint()}
		for range r.count() {
			u.roles = append(u.roles, string(r.bytes()))
		}
		if r.err != nil {
			break
		}
		if err := checkUser(&d, name, u, userNames); err != nil {
			return data{}, err
		}
		userNames = append(userNames, name)
		d.users[name] = u
	}
	var roleNames []string
	for range r.count() {
		name := string(r.bytes())
		ro := &role{}
		for range r.count() {
			ro.perms = append(ro.perms, rbac.Permission{Type: rbac.PermType(r.byte()), Key: r.bytes(), RangeEnd: r.bytes()})
		}
		if r.err != nil {
			break
		}
		if err := checkRole(name, ro, roleNames); err != nil {
			return data{}, err
		}
		roleNames = append(roleNames, name)
		d.roles[name] = ro
	}
	if r.err != nil {
		return data{}, r.err
	}
	if len(r.b) != 0 {
		return data{}, fmt.Errorf("%d bytes after the roles", len(r.b))
	}
	return d, checkState(&d)
}

// checkUser checks one decoded user against the users before it.
func checkUser(d *data, name string, u *user, before []string) error {
	switch {
	case name == "":
		return errors.New("a user without a name")
	case len(before) > 0 && name <= before[len(before)-1]:
		return fmt.Errorf("user %q out of order", name)
	case u.credRev == 0 || u.credRev > d.revision:
		return fmt.Errorf("user %q: credential revision %d outside [1, %d]", name, u.credRev, d.revision)
	case !isStrictlySorted(u.roles):
		return fmt.Errorf("user %q: roles out of order", name)
	}
	if len(u.hash) != 0 {
		if err := validHash(u.hash); err != nil {
			return fmt.Errorf("user %q: %w", name, err)
		}
	}
	return nil
}

// checkRole checks one decoded role against the roles before it.
func checkRole(name string, r *role, before []string) error {
	switch {
	case name == "":
		return errors.New("a role without a name")
	case len(before) > 0 && name <= before[len(before)-1]:
		return fmt.Errorf("role %q out of order", name)
	}
	for i, p := range r.perms {
		if err := validPermission(p); err != nil {
			return fmt.Errorf("role %q: %w", name, err)
		}
		if i > 0 && comparePerm(r.perms[i-1], p) >= 0 {
			return fmt.Errorf("role %q: permissions out of order", name)
		}
	}
	return nil
}

// checkState checks what spans users and roles.
func checkState(d *data) error {
	switch {
	case d.revision == 0:
		return errors.New("auth revision 0")
	case d.enabledRev > d.revision:
		return fmt.Errorf("enabled at revision %d, after %d", d.enabledRev, d.revision)
	case d.enabled && (len(d.tokenKey) != TokenKeySize || d.enabledRev == 0):
		return errors.New("enabled without a token key or an enable revision")
	case !d.enabled && len(d.tokenKey) != 0:
		return errors.New("a token key while disabled")
	}
	for name, u := range d.users {
		for _, r := range u.roles {
			if _, ok := d.roles[r]; !ok && r != rbac.RootRole {
				return fmt.Errorf("user %q holds role %q, which does not exist", name, r)
			}
		}
	}
	if d.enabled {
		root := d.users[rbac.RootUser]
		if root == nil || !slices.Contains(root.roles, rbac.RootRole) {
			return errors.New("enabled without the root user holding the root role")
		}
	}
	return nil
}

func isStrictlySorted(names []string) bool {
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			return false
		}
	}
	return true
}
