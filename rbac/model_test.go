package rbac

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var modelSeed = flag.Uint64("rbac.seed", 0, "seed for TestAgainstModel (0: from the clock)")

// The model works on a finite universe of keys. Permissions and queries use keys of
// length <= 2 over a four-letter alphabet that has the smallest byte, the largest, and two
// in between; the universe is every string of length <= 3 over that alphabet and the
// successors of its letters. So every bound the policy can meet is in the universe: keys
// of length <= 2, their PrefixEnd (a prefix with its last byte incremented), and the
// k+"\x00" that ends a single key. That makes the finite check exact: if some key x of
// [a, b) is not covered, then either a is not, or the largest end of the intervals that
// start at or before x is not (it lies in (a, x], and no interval holds it), and both are
// in the universe.
var (
	alphabet = []byte{0x00, 0x01, 'a', 0xff}
	universe = func() [][]byte {
		letters := []byte{0x00, 0x01, 0x02, 'a', 'b', 0xff}
		keys := [][]byte{{}}
		for n, from := 0, 0; n < 3; n++ {
			to := len(keys)
			for _, k := range keys[from:to] {
				for _, c := range letters {
					keys = append(keys, append(bytes.Clone(k), c))
				}
			}
			from = to
		}
		slices.SortFunc(keys, bytes.Compare)
		return keys
	}()
)

// modelGrants says, by brute force over the permission list, whether perm grants one key.
func modelGrants(p Permission, k []byte) bool {
	switch {
	case len(p.RangeEnd) == 0:
		return bytes.Equal(k, p.Key)
	case isOpenEnd(p.RangeEnd):
		return bytes.Compare(k, p.Key) >= 0
	}
	return bytes.Compare(k, p.Key) >= 0 && bytes.Compare(k, p.RangeEnd) < 0
}

// modelAllowed answers Allowed from the definitions: every universe key the query names
// must be granted, for each direction asked, by one of the permissions of one of the
// user's roles.
func modelAllowed(users []User, roles []Role, user string, want PermType, key, end []byte) bool {
	i := slices.IndexFunc(users, func(u User) bool { return u.Name == user })
	if i < 0 || !want.Valid() {
		return false
	}
	u := users[i]
	if slices.Contains(u.Roles, RootRole) {
		return true
	}
	var perms []Permission
	for _, name := range u.Roles {
		if j := slices.IndexFunc(roles, func(r Role) bool { return r.Name == name }); j >= 0 {
			perms = append(perms, roles[j].Perms...)
		}
	}
	granted := func(k []byte, dir PermType) bool {
		return slices.ContainsFunc(perms, func(p Permission) bool {
			return (p.Type == dir || p.Type == ReadWrite) && modelGrants(p, k)
		})
	}
	named := func(k []byte) bool {
		switch {
		case isOpenEnd(end):
			return bytes.Compare(k, key) >= 0
		case len(end) == 0 || bytes.Compare(end, key) <= 0:
			return bytes.Equal(k, key)
		}
		return bytes.Compare(k, key) >= 0 && bytes.Compare(k, end) < 0
	}
	for _, dir := range []PermType{Read, Write} {
		if want != dir && want != ReadWrite {
			continue
		}
		for _, k := range universe {
			if named(k) && !granted(k, dir) {
				return false
			}
		}
	}
	return true
}

// gen makes random permissions and queries over the universe's alphabet.
type gen struct{ r *rand.Rand }

func (g *gen) key() []byte {
	k := make([]byte, g.r.IntN(3))
	for i := range k {
		k[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return k
}

// keyRange picks a key and an end of every kind: single key, prefix, from-key, a random
// end (often inverted or empty), and the range holding exactly one key.
func (g *gen) keyRange() (k, end []byte) {
	k = g.key()
	switch g.r.IntN(6) {
	case 0, 1:
		return k, nil
	case 2:
		return k, PrefixEnd(k)
	case 3:
		return k, []byte{0}
	case 4:
		return k, g.key()
	}
	return k, append(bytes.Clone(k), 0)
}

func (g *gen) policy() ([]User, []Role) {
	roles := make([]Role, 1+g.r.IntN(4))
	for i := range roles {
		roles[i].Name = string(rune('a' + i))
		for range g.r.IntN(7) {
			k, end := g.keyRange()
			roles[i].Perms = append(roles[i].Perms, Permission{Type: PermType(g.r.IntN(3)), Key: k, RangeEnd: end})
		}
	}
	names := []string{"a", "b", "c", "d", "unknown", "root"}
	users := make([]User, 1+g.r.IntN(3))
	for i := range users {
		users[i].Name = string(rune('u' + i))
		for range g.r.IntN(3) {
			name := names[g.r.IntN(len(names)-1)] // root is rare: it makes every answer yes
			if g.r.IntN(20) == 0 {
				name = RootRole
			}
			users[i].Roles = append(users[i].Roles, name)
		}
	}
	return users, roles
}

func TestAgainstModel(t *testing.T) {
	seed := *modelSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -rbac.seed=%d)", seed, seed)
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}

	policies, queries := 3000, 40
	if testing.Short() {
		policies = 300
	}
	var yes, no int
	for range policies {
		users, roles := g.policy()
		p := Compile(users, roles)
		for range queries {
			user := string(rune('u' + g.r.IntN(4))) // sometimes unknown
			want := PermType(g.r.IntN(3))
			if g.r.IntN(50) == 0 {
				want = PermType(3)
			}
			k, end := g.keyRange()
			got := p.Allowed(user, want, k, end)
			if exp := modelAllowed(users, roles, user, want, k, end); got != exp {
				t.Fatalf("users %+v\nroles %+v\nAllowed(%q, %v, %q, %q) = %v, the model says %v",
					users, roles, user, want, k, end, got, exp)
			}
			if got {
				yes++
			} else {
				no++
			}
		}
	}
	// A generator that only ever produces "no" would prove nothing.
	if yes < policies || no < policies {
		t.Fatalf("lopsided answers: %d allowed, %d denied", yes, no)
	}
	t.Logf("%d allowed, %d denied", yes, no)
}

// TestMergeInvariants checks the compiled form directly: sorted, disjoint, non-adjacent
// intervals, only the last unbounded.
func TestMergeInvariants(t *testing.T) {
	seed := *modelSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -rbac.seed=%d)", seed, seed)
	g := &gen{r: rand.New(rand.NewPCG(seed, 1))}
	for range 5000 {
		var ivs []interval
		for range g.r.IntN(12) {
			if iv, ok := permInterval(g.keyRange()); ok {
				ivs = append(ivs, iv)
			}
		}
		s := mergeSpans(ivs)
		if len(s.starts) != len(s.ends) {
			t.Fatalf("%d starts, %d ends", len(s.starts), len(s.ends))
		}
		for i := range s.starts {
			last := i == len(s.starts)-1
			if s.unbounded(i) {
				if !last || s.ends[i] != nil {
					t.Fatalf("interval %d of %d is unbounded: %+v", i, len(s.starts), s)
				}
				continue
			}
			if bytes.Compare(s.starts[i], s.ends[i]) >= 0 {
				t.Fatalf("empty interval %d: %+v", i, s)
			}
			if !last && bytes.Compare(s.ends[i], s.starts[i+1]) >= 0 {
				t.Fatalf("intervals %d and %d touch or overlap: %+v", i, i+1, s)
			}
		}
	}
}
