package auth

import (
	"fmt"
	"testing"

	"etcq.dev/etcq/rbac"
)

// BenchmarkRequestPath is what the service does for each request: take the View, resolve
// the identity (from the CN, or from a token: an HMAC-SHA256), check one key.
func BenchmarkRequestPath(b *testing.B) {
	s := enabled(b)
	tok, err := s.View().IssueToken("alice", t0, tokenTTL)
	if err != nil {
		b.Fatal(err)
	}
	key := []byte("/app/config")
	for _, c := range []struct{ name, cn, token string }{{"cn", "alice", ""}, {"token", "", tok}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				v := s.View()
				id, err := v.Resolve(c.cn, c.token, t0)
				if err != nil || !v.Allowed(id.User, rbac.Write, key, nil) {
					b.Fatal("denied", err)
				}
			}
		})
	}
}

// BenchmarkViewRebuild is the cost of the first request after an auth change, with 100
// users and 10 roles of 1,000 permissions each.
func BenchmarkViewRebuild(b *testing.B) {
	s := New()
	for r := range 10 {
		name := fmt.Sprint("role", r)
		if err := s.RoleAdd(name); err != nil {
			b.Fatal(err)
		}
		for i := range 1000 {
			k := fmt.Appendf(nil, "/t%d/%06d/", r, i)
			if err := s.RoleGrantPermission(name, rbac.Permission{Type: rbac.ReadWrite, Key: k, RangeEnd: rbac.PrefixEnd(k)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for u := range 100 {
		name := fmt.Sprint("user", u)
		must(b, s.UserAdd(name, nil, true))
		must(b, s.UserGrantRole(name, fmt.Sprint("role", u%10)))
		must(b, s.UserGrantRole(name, fmt.Sprint("role", (u+3)%10)))
	}
	for b.Loop() {
		s.view.Store(nil)
		s.View()
	}
}
