package rbac

import (
	"fmt"
	"testing"
)

// benchPolicy is user "u" with one role of n permissions: every other application prefix
// /app/%06d/ readable and writable, the ones between readable only, so that both the merge
// and the search have work to do. It returns the last granted prefix and a key in no
// grant.
func benchPolicy(n int) (p *Policy, last, miss []byte) {
	perms := make([]Permission, n)
	for i := range perms {
		t := ReadWrite
		if i%2 == 1 {
			t = Read
		}
		perms[i] = prefix(t, fmt.Sprintf("/app/%06d/", 2*i))
	}
	p = Compile([]User{{Name: "u", Roles: []string{"r"}}}, []Role{{Name: "r", Perms: perms}})
	return p, fmt.Appendf(nil, "/app/%06d/", 2*(n-1)), fmt.Appendf(nil, "/app/%06d/x", 2*n-1)
}

// BenchmarkAllowed measures one check against a user with 1, 100 and 10,000 permissions:
// a single key (Put, Get), a prefix range (Get --prefix, Watch --prefix), and a miss.
func BenchmarkAllowed(b *testing.B) {
	for _, n := range []int{1, 100, 10_000} {
		p, last, miss := benchPolicy(n)
		hit, lastEnd := append(last, "config"...), PrefixEnd(last)
		b.Run(fmt.Sprintf("perms=%d/key", n), func(b *testing.B) {
			for b.Loop() {
				if !p.Allowed("u", Read, hit, nil) {
					b.Fatal("denied")
				}
			}
		})
		b.Run(fmt.Sprintf("perms=%d/prefix", n), func(b *testing.B) {
			for b.Loop() {
				if !p.Allowed("u", Read, last, lastEnd) {
					b.Fatal("denied")
				}
			}
		})
		b.Run(fmt.Sprintf("perms=%d/miss", n), func(b *testing.B) {
			for b.Loop() {
				if p.Allowed("u", Write, miss, nil) {
					b.Fatal("allowed")
				}
			}
		})
	}
}

// BenchmarkCompile measures building the policy: 100 users sharing 10 roles of n/10
// permissions, each user holding 3 of them.
func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{100, 10_000} {
		roles := make([]Role, 10)
		for r := range roles {
			roles[r].Name = fmt.Sprintf("role%d", r)
			for i := range n / 10 {
				roles[r].Perms = append(roles[r].Perms, prefix(ReadWrite, fmt.Sprintf("/t%d/%06d/", r, i)))
			}
		}
		users := make([]User, 100)
		for u := range users {
			users[u] = User{Name: fmt.Sprintf("user%d", u),
				Roles: []string{roles[u%10].Name, roles[(u+3)%10].Name, roles[(u+7)%10].Name}}
		}
		b.Run(fmt.Sprintf("perms=%d", n), func(b *testing.B) {
			for b.Loop() {
				Compile(users, roles)
			}
		})
	}
}
