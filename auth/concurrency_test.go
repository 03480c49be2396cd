package auth

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"etcq.dev/etcq/rbac"
)

// One apply goroutine changes the state while service goroutines read it, as in the node.
// Run with -race; the views each reader sees must never go back in revision.
func TestConcurrentApplyAndRequests(t *testing.T) {
	s := enabled(t)
	tok := authenticate(t, s, "root", "rootpw")
	ops := randomOps(t, rand.New(rand.NewPCG(seed(t), 3)), 2000)
	var done atomic.Bool
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			var last uint64
			for !done.Load() {
				v := s.View()
				if v.Revision() < last {
					t.Errorf("revision went back from %d to %d", last, v.Revision())
					return
				}
				last = v.Revision()
				if id, err := v.Resolve("alice", tok, t0); err == nil {
					v.Allowed(id.User, rbac.Read, []byte("/app/x"), nil)
					_ = v.CheckIdentity(id)
				}
				v.IsAdmin("root")
				s.UserList()
				_, _ = s.RoleGet("r1")
				s.Status()
			}
		})
	}
	wg.Go(func() {
		defer done.Store(true)
		for _, o := range ops {
			_ = o.apply(s)
			if _, err := Decode(s.Encode()); err != nil {
				t.Errorf("after %s: %v", o.name, err)
				return
			}
		}
	})
	wg.Wait()
}
