package auth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"etcq.dev/etcq/rbac"
)

var opsSeed = flag.Uint64("auth.seed", 0, "seed for the random operation tests (0: from the clock)")

func seed(t *testing.T) uint64 {
	s := *opsSeed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -auth.seed=%d)", s, s)
	return s
}

// op is one replicated operation, as the node would put it in a raft entry: its arguments
// are fixed when it is made (the hash included), so applying it twice gives the same.
type op struct {
	name  string
	apply func(*State) error
}

// randomOps makes n operations over a small world of users, roles and keys, so that
// most succeed and every error shows up.
func randomOps(t testing.TB, r *rand.Rand, n int) []op {
	users := []string{"root", "u1", "u2", "u3", "\x00odd|name"}
	roles := []string{"root", "r1", "r2", "r3", ""}
	keys := []string{"a", "b", "/app/", "/app/x", "\x00", "\xff"}
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	randPerm := func() rbac.Permission {
		k := pick(keys)
		p := rbac.Permission{Type: rbac.PermType(r.IntN(3)), Key: []byte(k)}
		switch r.IntN(4) {
		case 1:
			p.RangeEnd = rbac.PrefixEnd(p.Key)
		case 2:
			p.RangeEnd = []byte{0}
		case 3:
			p.RangeEnd = []byte(pick(keys)) // sometimes invalid
		}
		return p
	}
	ops := make([]op, n)
	for i := range ops {
		u, ro := pick(users), pick(roles)
		switch r.IntN(14) {
		case 0:
			key := NewTokenKey()
			ops[i] = op{"enable", func(s *State) error { return s.Enable(key) }}
		case 1:
			ops[i] = op{"disable", func(s *State) error { s.Disable(); return nil }}
		case 2, 3:
			h, noPW := hashOf(t, "pw"+u), r.IntN(3) == 0
			if noPW {
				h = nil
			}
			ops[i] = op{"user add " + u, func(s *State) error { return s.UserAdd(u, h, noPW) }}
		case 4:
			ops[i] = op{"user delete " + u, func(s *State) error { return s.UserDelete(u) }}
		case 5:
			h := hashOf(t, fmt.Sprint("pw", r.IntN(3)))
			ops[i] = op{"passwd " + u, func(s *State) error { return s.UserChangePassword(u, h) }}
		case 6, 7:
			ops[i] = op{"grant role " + ro + " to " + u, func(s *State) error { return s.UserGrantRole(u, ro) }}
		case 8:
			ops[i] = op{"revoke role " + ro + " from " + u, func(s *State) error { return s.UserRevokeRole(u, ro) }}
		case 9:
			ops[i] = op{"role add " + ro, func(s *State) error { return s.RoleAdd(ro) }}
		case 10:
			ops[i] = op{"role delete " + ro, func(s *State) error { return s.RoleDelete(ro) }}
		case 11, 12:
			p := randPerm()
			ops[i] = op{"grant " + p.String() + " to " + ro, func(s *State) error { return s.RoleGrantPermission(ro, p) }}
		case 13:
			p := randPerm()
			ops[i] = op{"revoke " + p.String() + " from " + ro, func(s *State) error {
				return s.RoleRevokePermission(ro, p.Key, p.RangeEnd)
			}}
		}
	}
	return ops
}

// Two members applying the same operations reach the same bytes; a member restored from
// a snapshot midway and applying the rest reaches them too; every state decodes to itself.
func TestDeterminism(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 2))
	ops := randomOps(t, r, 3000)
	a, b := New(), New()
	var c *State
	errs := map[bool]int{}
	for i, o := range ops {
		ea, eb := o.apply(a), o.apply(b)
		if fmt.Sprint(ea) != fmt.Sprint(eb) {
			t.Fatalf("op %d (%s): %v on one member, %v on the other", i, o.name, ea, eb)
		}
		errs[ea == nil]++
		if c != nil {
			if ec := o.apply(c); fmt.Sprint(ec) != fmt.Sprint(ea) {
				t.Fatalf("op %d (%s): %v after a restore, %v without", i, o.name, ec, ea)
			}
		}
		if i == len(ops)/2 {
			var err error
			c, err = Decode(a.Encode())
			must(t, err)
		}
		if i%100 == 0 || i == len(ops)-1 {
			ba := a.Encode()
			if !bytes.Equal(ba, b.Encode()) || (c != nil && !bytes.Equal(ba, c.Encode())) {
				t.Fatalf("after op %d (%s) the members differ", i, o.name)
			}
			d, err := Decode(ba)
			if err != nil {
				t.Fatalf("after op %d (%s): Decode: %v", i, o.name, err)
			}
			if !reflect.DeepEqual(d.d, a.d) {
				t.Fatalf("after op %d: decoded %+v, want %+v", i, d.d, a.d)
			}
		}
	}
	t.Logf("%d ops succeeded, %d failed; final %+v, %d bytes", errs[true], errs[false], a.Status(), len(a.Encode()))
	if errs[true] < len(ops)/4 || errs[false] < len(ops)/10 {
		t.Fatalf("the generator is lopsided: %v", errs)
	}
}

func TestRoundTrip(t *testing.T) {
	states := map[string]*State{"new": New(), "with root": withRoot(t), "enabled": enabled(t)}
	disabledAgain := enabled(t)
	disabledAgain.Disable()
	states["disabled again"] = disabledAgain
	for name, s := range states {
		b := s.Encode()
		d, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: Decode: %v", name, err)
		}
		if !reflect.DeepEqual(d.d, s.d) {
			t.Errorf("%s: decoded %+v, want %+v", name, d.d, s.d)
		}
		if !bytes.Equal(d.Encode(), b) {
			t.Errorf("%s: re-encoding differs", name)
		}
	}
	if n := len(enabled(t).Encode()); n > 400 {
		t.Errorf("the enabled test state takes %d bytes; it should be compact", n)
	}
}

func TestRestore(t *testing.T) {
	s := withRoot(t)
	before := s.View()
	snap := enabled(t).Encode()
	must(t, s.Restore(snap))
	if !s.View().Enabled() || before.Enabled() {
		t.Error("Restore did not replace the state, or changed an old view")
	}
	if !bytes.Equal(s.Encode(), snap) {
		t.Error("the restored state encodes differently")
	}
	bad := bytes.Clone(snap)
	bad[len(bad)/2]++
	wantErr(t, "Restore of corrupt bytes", s.Restore(bad), ErrCorrupt)
	if !bytes.Equal(s.Encode(), snap) {
		t.Error("a failed Restore changed the state")
	}
}

// body builds encodings by hand, for the decoder's refusals.
type body struct{ b []byte }

func (e *body) u(v uint64) *body { e.b = binary.AppendUvarint(e.b, v); return e }
func (e *body) c(v byte) *body   { e.b = append(e.b, v); return e }
func (e *body) s(v string) *body { e.u(uint64(len(v))); e.b = append(e.b, v...); return e }
func (e *body) raw(v ...byte) *body {
	e.b = append(e.b, v...)
	return e
}

// seal adds the magic, the version and the checksum.
func (e *body) seal() []byte {
	b := append([]byte(stateMagic), stateVersion)
	b = append(b, e.b...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func TestDecodeRefuses(t *testing.T) {
	h := string(hashOf(t, "pw"))
	key := string(testKey)
	good := func() *body { return (&body{}).c(0).u(1).u(0).s("") }
	cases := map[string][]byte{
		// The hand-made encodings must be right: this one decodes.
		"": good().u(0).u(0).seal(),

		"empty":          nil,
		"magic only":     []byte(stateMagic),
		"wrong magic":    append([]byte("EQAX"), good().u(0).u(0).seal()[4:]...),
		"next version":   append(append([]byte(stateMagic), stateVersion+1), good().u(0).u(0).seal()[5:]...),
		"truncated":      good().u(0).seal()[:9],
		"trailing bytes": good().u(0).u(0).c(0).seal(),
		"no roles count": good().u(0).seal(),
		"enabled flag 2": (&body{}).c(2).u(1).u(0).s("").u(0).u(0).seal(),
		"revision 0":     (&body{}).c(0).u(0).u(0).s("").u(0).u(0).seal(),
		"long varint":    (&body{}).c(0).raw(0x81, 0x00).u(0).s("").u(0).u(0).seal(),
		"huge count":     good().u(1 << 40).seal(),
		"huge length":    (&body{}).c(0).u(1).u(0).u(1 << 62).seal(),
		"enabled, no key": (&body{}).c(1).u(5).u(5).s("").
			u(1).s("root").s(h).u(2).u(1).s("root").u(0).seal(),
		"enabled, no root": (&body{}).c(1).u(5).u(5).s(key).u(0).u(0).seal(),
		"enabled, root without root role": (&body{}).c(1).u(5).u(5).s(key).
			u(1).s("root").s(h).u(2).u(0).u(0).seal(),
		"enabled after the revision": (&body{}).c(1).u(5).u(6).s(key).
			u(1).s("root").s(h).u(2).u(1).s("root").u(0).seal(),
		"disabled with a key":   (&body{}).c(0).u(1).u(0).s(key).u(0).u(0).seal(),
		"user without a name":   (&body{}).c(0).u(2).u(0).s("").u(1).s("").s("").u(1).u(0).u(0).seal(),
		"users out of order":    (&body{}).c(0).u(3).u(0).s("").u(2).s("b").s("").u(1).u(0).s("a").s("").u(1).u(0).u(0).seal(),
		"duplicate users":       (&body{}).c(0).u(3).u(0).s("").u(2).s("a").s("").u(1).u(0).s("a").s("").u(1).u(0).u(0).seal(),
		"credRev 0":             (&body{}).c(0).u(2).u(0).s("").u(1).s("a").s("").u(0).u(0).u(0).seal(),
		"credRev in the future": (&body{}).c(0).u(2).u(0).s("").u(1).s("a").s("").u(3).u(0).u(0).seal(),
		"bad hash":              (&body{}).c(0).u(2).u(0).s("").u(1).s("a").s("x").u(1).u(0).u(0).seal(),
		"roles out of order": (&body{}).c(0).u(2).u(0).s("").u(1).s("a").s("").u(1).u(2).s("y").s("x").
			u(2).s("x").u(0).s("y").u(0).seal(),
		"a role that does not exist": (&body{}).c(0).u(2).u(0).s("").u(1).s("a").s("").u(1).u(1).s("x").u(0).seal(),
		"role without a name":        good().u(0).u(1).s("").u(0).seal(),
		"duplicate roles":            good().u(0).u(2).s("x").u(0).s("x").u(0).seal(),
		"bad permission type":        good().u(0).u(1).s("x").u(1).c(3).s("a").s("").seal(),
		"permission with no key":     good().u(0).u(1).s("x").u(1).c(0).s("").s("").seal(),
		"inverted permission":        good().u(0).u(1).s("x").u(1).c(0).s("b").s("a").seal(),
		"permissions out of order":   good().u(0).u(1).s("x").u(2).c(0).s("b").s("").c(0).s("a").s("").seal(),
		"duplicate permissions":      good().u(0).u(1).s("x").u(2).c(0).s("a").s("").c(1).s("a").s("").seal(),
	}
	for name, b := range cases {
		_, err := Decode(b)
		if name == "" {
			wantErr(t, "the well-formed sample", err, nil)
			continue
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Decode = %v, want ErrCorrupt", name, err)
		}
	}

	// Every bit flip and every truncation of a real state is caught.
	b := enabled(t).Encode()
	for i := range b {
		for bit := range 8 {
			c := bytes.Clone(b)
			c[i] ^= 1 << bit
			if _, err := Decode(c); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("bit %d of byte %d flipped: Decode = %v", bit, i, err)
			}
		}
		if _, err := Decode(b[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d bytes: Decode = %v", i, err)
		}
	}
}
