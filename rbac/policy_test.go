package rbac

import (
	"fmt"
	"testing"
)

// Helpers that name permissions the way etcdctl's role grant-permission does.
func key(t PermType, k string) Permission { return Permission{Type: t, Key: []byte(k)} }
func rng(t PermType, k, end string) Permission {
	return Permission{Type: t, Key: []byte(k), RangeEnd: []byte(end)}
}
func prefix(t PermType, k string) Permission {
	return Permission{Type: t, Key: []byte(k), RangeEnd: PrefixEnd([]byte(k))}
}
func fromKey(t PermType, k string) Permission {
	return Permission{Type: t, Key: []byte(k), RangeEnd: []byte{0}}
}

// query is one Allowed call and its expected answer.
type query struct {
	user     string
	want     PermType
	key, end string
	allowed  bool
}

func (q query) String() string {
	return fmt.Sprintf("Allowed(%q, %v, %q, %q)", q.user, q.want, q.key, q.end)
}

// decisionTable is one policy and the answers it must give.
type decisionTable struct {
	name    string
	users   []User
	roles   []Role
	queries []query
}

// one is the common shape: user "u" with the single role "r" holding perms.
func one(perms ...Permission) ([]User, []Role) {
	return []User{{Name: "u", Roles: []string{"r"}}}, []Role{{Name: "r", Perms: perms}}
}

func TestDecisionTables(t *testing.T) {
	var tables []decisionTable
	add := func(name string, users []User, roles []Role, qs ...query) {
		tables = append(tables, decisionTable{name, users, roles, qs})
	}
	q := func(user string, want PermType, k, end string, allowed bool) query {
		return query{user, want, k, end, allowed}
	}
	const all = "\x00"

	u, r := one(key(Read, "a"))
	add("single key", u, r,
		q("u", Read, "a", "", true),
		q("u", Read, "a\x00", "", false), // the next key
		q("u", Read, "", "", false),
		q("u", Read, "b", "", false),
		q("u", Read, "0", "", false),
		q("u", Read, "ab", "", false),
		q("u", Read, "a", "a\x00", true), // the range holding exactly "a"
		q("u", Read, "a", "a\x00\x00", false),
		q("u", Read, "a", "b", false),
		q("u", Read, "a", all, false),
		q("u", Write, "a", "", false),
		q("u", ReadWrite, "a", "", false),
	)

	u, r = one(rng(Write, "b", "d"))
	add("range", u, r,
		q("u", Write, "b", "", true),
		q("u", Write, "c", "", true),
		q("u", Write, "czzz", "", true),
		q("u", Write, "d", "", false), // end is exclusive
		q("u", Write, "a", "", false),
		q("u", Write, "b", "d", true),
		q("u", Write, "b", "c", true),
		q("u", Write, "c", "d", true),
		q("u", Write, "bb", "cc", true),
		q("u", Write, "b", "d\x00", false),
		q("u", Write, "a", "c", false),
		q("u", Write, "a\xff", "c", false),
		q("u", Write, "c", "e", false),
		q("u", Write, "b", all, false),
		q("u", Read, "c", "", false),
	)

	u, r = one(prefix(ReadWrite, "/app/"))
	add("prefix", u, r,
		q("u", Read, "/app/", "", true),
		q("u", Read, "/app/x", "", true),
		q("u", Write, "/app/x/y/z", "", true),
		q("u", ReadWrite, "/app/\xff\xff", "", true),
		q("u", Read, "/app", "", false),
		q("u", Read, "/app0", "", false), // PrefixEnd("/app/") is "/app0"
		q("u", Read, "/apq", "", false),
		q("u", Read, "/app/", "/app0", true), // get --prefix /app/
		q("u", Read, "/app/a/", "/app/a0", true),
		q("u", Read, "/app", "/app0", false), // a wider prefix
		q("u", Read, "/app/", all, false),
	)

	u, r = one(prefix(Read, "a\xff"), prefix(Read, "\xff\xff"))
	add("prefix of trailing 0xff", u, r,
		q("u", Read, "a\xff", "", true),
		q("u", Read, "a\xff\xff\x01", "", true),
		q("u", Read, "b", "", false), // PrefixEnd("a\xff") is "b"
		q("u", Read, "\xff\xff", "", true),
		q("u", Read, "\xff\xff\xff", all, true), // an all-0xff prefix is from-key
		q("u", Read, "\xff", "", false),
	)

	u, r = one(fromKey(Read, "m"))
	add("from key", u, r,
		q("u", Read, "m", "", true),
		q("u", Read, "zzzz", "", true),
		q("u", Read, "\xff\xff\xff", "", true),
		q("u", Read, "l", "", false),
		q("u", Read, "m", all, true),
		q("u", Read, "x", all, true),
		q("u", Read, "m", "\xff\xff\xff\xff", true),
		q("u", Read, "l", all, false),
		q("u", Read, "lz", "n", false),
	)

	u, r = one(fromKey(ReadWrite, "\x00"))
	add("every key (etcdctl's empty --prefix)", u, r,
		q("u", ReadWrite, "\x00", all, true),
		q("u", ReadWrite, "a", all, true),
		q("u", Read, "\x00", "", true),
		q("u", Read, "\x01", "", true),
		q("u", Read, "", "", false), // the empty key is below "\x00"
		q("u", Read, "", all, false),
	)

	u, r = one(fromKey(Read, ""))
	add("every key including the empty one", u, r,
		q("u", Read, "", "", true),
		q("u", Read, "", all, true),
		q("u", Read, "\x00", "\x01", true),
		q("u", Write, "", "", false),
	)

	u, r = one(key(Read, ""), rng(Write, "", "b"))
	add("empty key", u, r,
		q("u", Read, "", "", true),
		q("u", Read, "\x00", "", false),
		q("u", Read, "", "\x00\x00", false),
		q("u", Write, "", "", true),
		q("u", Write, "a", "b", true),
		q("u", Write, "", "b", true),
		q("u", Write, "b", "", false),
	)

	u, r = one(key(Read, "\x00"), key(Read, "\x00\x00"), rng(Write, "\x00", "\x00\x00\x00"))
	add("NUL keys", u, r,
		q("u", Read, "\x00", "", true),
		q("u", Read, "\x00\x00", "", true),
		q("u", Read, "\x00", "\x00\x00\x00", true), // two adjacent single keys merge
		q("u", Read, "\x00", "\x00\x00\x00\x00", false),
		q("u", Read, "\x00\x00\x00", "", false),
		q("u", Write, "\x00\x00\x00", "", false),
		q("u", Write, "\x00\x00\x01", "", false),
		q("u", Write, "\x00\x00", "\x00\x00\x00", true),
	)

	u, r = one(rng(Read, "a", "c"), rng(Read, "c", "e"), rng(Read, "e", "g"))
	add("adjacent ranges merge", u, r,
		q("u", Read, "a", "g", true),
		q("u", Read, "b", "f", true),
		q("u", Read, "c", "", true),
		q("u", Read, "e", "", true),
		q("u", Read, "a", "g\x00", false),
		q("u", Read, "g", "", false),
	)

	u, r = one(rng(Read, "a", "e"), rng(Read, "c", "g"), rng(Read, "b", "d"), key(Read, "a"))
	add("overlapping ranges", u, r,
		q("u", Read, "a", "g", true),
		q("u", Read, "d", "f", true),
		q("u", Read, "a", "h", false),
		q("u", Read, "f\xff", "", true),
		q("u", Read, "g", "", false),
	)

	u, r = one(rng(Read, "a", "c"), rng(Read, "d", "f"), key(Read, "c\x00"))
	add("gaps", u, r,
		q("u", Read, "a", "c", true),
		q("u", Read, "d", "f", true),
		q("u", Read, "a", "f", false),
		q("u", Read, "b", "e", false),
		q("u", Read, "c", "", false),
		q("u", Read, "c\x00", "", true),
		q("u", Read, "c", "d", false),
		q("u", Read, "c\x00", "c\x00\x00", true),
		q("u", Read, "c\x00", "c\x01", false), // [c\0\0, c\1) is not granted
	)

	u, r = one(rng(Read, "a", "c"), rng(Read, "b", "b"), rng(Read, "x", "w"))
	add("inverted and empty grants grant nothing", u, r,
		q("u", Read, "a", "c", true),
		q("u", Read, "x", "", false),
		q("u", Read, "w", "", false),
		q("u", Read, "c", "", false),
	)

	u, r = one(rng(Read, "a", "c"))
	add("an empty query range is its start key", u, r,
		q("u", Read, "b", "b", true),
		q("u", Read, "b", "a", true),
		q("u", Read, "z", "a", false),
		q("u", Read, "c", "b", false),
	)

	u, r = one(prefix(Read, "r/"), prefix(Write, "w/"), prefix(ReadWrite, "rw/"),
		prefix(Read, "both/"), prefix(Write, "both/"))
	add("read, write, readwrite", u, r,
		q("u", Read, "r/x", "", true),
		q("u", Write, "r/x", "", false),
		q("u", ReadWrite, "r/x", "", false),
		q("u", Read, "w/x", "", false),
		q("u", Write, "w/x", "", true),
		q("u", ReadWrite, "w/x", "", false),
		q("u", Read, "rw/x", "", true),
		q("u", Write, "rw/x", "", true),
		q("u", ReadWrite, "rw/", "rw0", true),
		q("u", ReadWrite, "both/", "both0", true), // read and write granted separately
		q("u", PermType(3), "rw/x", "", false),
		q("u", PermType(-1), "rw/x", "", false),
	)

	add("root", []User{{Name: "admin", Roles: []string{"r", "root"}}, {Name: "root", Roles: []string{"root"}}},
		[]Role{{Name: "r", Perms: []Permission{key(Read, "a")}}}, // no Role named root is needed
		q("admin", Read, "a", "", true),
		q("admin", Write, "anything", "", true),
		q("admin", ReadWrite, "", all, true),
		q("root", ReadWrite, "\x00", all, true),
		q("root", PermType(7), "a", "", false), // not a question at all
		q("Root", Read, "a", "", false),
	)

	add("root grants root whatever the root Role holds",
		[]User{{Name: "x", Roles: []string{"root"}}},
		[]Role{{Name: "root", Perms: []Permission{key(Read, "a")}}},
		q("x", Write, "b", "", true),
	)

	add("unknown user and unknown role",
		[]User{{Name: "u", Roles: []string{"nope", "r"}}, {Name: "lost", Roles: []string{"nope"}}, {Name: "none"}},
		[]Role{{Name: "r", Perms: []Permission{prefix(Read, "a")}}},
		q("u", Read, "a", "", true),
		q("lost", Read, "a", "", false),
		q("none", Read, "a", "", false),
		q("stranger", Read, "a", "", false),
		q("", Read, "a", "", false),
	)

	add("several roles",
		[]User{{Name: "u", Roles: []string{"ab", "cd", "w", "ab"}}, {Name: "v", Roles: []string{"cd"}}},
		[]Role{
			{Name: "ab", Perms: []Permission{rng(Read, "a", "b\x00")}},
			{Name: "cd", Perms: []Permission{rng(Read, "b\x00", "d")}},
			{Name: "w", Perms: []Permission{rng(Write, "a", "c")}},
		},
		q("u", Read, "a", "d", true), // the union of two roles covers it
		q("u", Read, "a", "d\x00", false),
		q("u", Write, "a", "c", true),
		q("u", ReadWrite, "a", "c", true),
		q("u", ReadWrite, "a", "d", false),
		q("v", Read, "c", "", true),
		q("v", Read, "a", "", false),
	)

	add("duplicate names: the first counts",
		[]User{{Name: "u", Roles: []string{"r"}}, {Name: "u", Roles: []string{"root"}}},
		[]Role{{Name: "r", Perms: []Permission{key(Read, "a")}}, {Name: "r", Perms: []Permission{key(Read, "b")}}},
		q("u", Read, "a", "", true),
		q("u", Read, "b", "", false),
	)

	for _, tb := range tables {
		t.Run(tb.name, func(t *testing.T) {
			p := Compile(tb.users, tb.roles)
			for _, q := range tb.queries {
				if got := p.Allowed(q.user, q.want, []byte(q.key), []byte(q.end)); got != q.allowed {
					t.Errorf("%v = %v, want %v", q, got, q.allowed)
				}
			}
		})
	}
}

func TestIsRootAndKnown(t *testing.T) {
	p := Compile([]User{
		{Name: "root", Roles: []string{"root"}},
		{Name: "admin", Roles: []string{"x", "root"}},
		{Name: "u", Roles: []string{"r"}},
	}, []Role{{Name: "root"}, {Name: "r", Perms: []Permission{fromKey(ReadWrite, "\x00")}}})
	for _, c := range []struct {
		user        string
		root, known bool
	}{
		{"root", true, true},
		{"admin", true, true},
		{"u", false, true}, // every key is not root
		{"nobody", false, false},
		{"", false, false},
	} {
		if got := p.IsRoot(c.user); got != c.root {
			t.Errorf("IsRoot(%q) = %v, want %v", c.user, got, c.root)
		}
		if got := p.Known(c.user); got != c.known {
			t.Errorf("Known(%q) = %v, want %v", c.user, got, c.known)
		}
	}
}

func TestNilAndEmptyPolicy(t *testing.T) {
	for name, p := range map[string]*Policy{"nil": nil, "empty": Compile(nil, nil)} {
		if p.Allowed("root", Read, []byte("a"), nil) || p.IsRoot("root") || p.Known("root") {
			t.Errorf("%s policy allows something", name)
		}
	}
}

// Compile must not keep references to its arguments: the caller may reuse the buffers.
func TestCompileCopiesKeys(t *testing.T) {
	k, end, single := []byte("a"), []byte("c"), []byte("x")
	roles := []Role{{Name: "r", Perms: []Permission{
		{Type: Read, Key: k, RangeEnd: end},
		{Type: Read, Key: single},
		{Type: Read, Key: []byte("m"), RangeEnd: []byte{0}},
	}}}
	users := []User{{Name: "u", Roles: []string{"r"}}}
	p := Compile(users, roles)
	k[0], end[0], single[0] = 'x', 'y', 'z'
	roles[0].Perms[2].Key[0] = 'a'
	users[0].Roles[0] = "other"
	for _, q := range []query{
		{"u", Read, "b", "", true},
		{"u", Read, "x", "", true},
		{"u", Read, "z", "", true}, // from "m" on
		{"u", Read, "l", "", false},
	} {
		if got := p.Allowed(q.user, q.want, []byte(q.key), []byte(q.end)); got != q.allowed {
			t.Errorf("after reusing the buffers, %v = %v, want %v", q, got, q.allowed)
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "\x00"},
		{"a", "b"},
		{"/app/", "/app0"},
		{"a\xff", "b"},
		{"a\xff\xff", "b"},
		{"\xff", "\x00"},
		{"\xff\xff", "\x00"},
		{"\x00", "\x01"},
		{"a\xfe", "a\xff"},
	} {
		in := []byte(c.in)
		if got := string(PrefixEnd(in)); got != c.want {
			t.Errorf("PrefixEnd(%q) = %q, want %q", c.in, got, c.want)
		}
		if string(in) != c.in {
			t.Errorf("PrefixEnd modified its argument %q to %q", c.in, in)
		}
	}
}

func TestStrings(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{Read.String(), "READ"},
		{Write.String(), "WRITE"},
		{ReadWrite.String(), "READWRITE"},
		{PermType(9).String(), "PermType(9)"},
		{key(Read, "a").String(), `READ "a"`},
		{rng(Write, "a", "b").String(), `WRITE ["a", "b")`},
		{fromKey(ReadWrite, "a").String(), `READWRITE ["a", <open ended>)`},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if !Read.Valid() || !Write.Valid() || !ReadWrite.Valid() || PermType(3).Valid() || PermType(-1).Valid() {
		t.Error("Valid is wrong")
	}
}
