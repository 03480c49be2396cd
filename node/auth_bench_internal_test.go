package node

import (
	"fmt"
	"testing"
	"time"

	"etcq.dev/etcq/auth"
	"etcq.dev/etcq/rbac"
	"etcq.dev/etcq/storage"
)

// BenchmarkAuthCheck isolates the CPU cost of the checks BenchmarkServiceAuth measures
// end to end: at the service, take the View, resolve the caller (a certificate CN) and
// check a Put (and stamp it) or a Range; at apply, check the Put again. The user holds one
// role with 100 prefix permissions; auth=off is the same state, disabled.
//
//	go test -run='^$' -bench=AuthCheck ./node/
func BenchmarkAuthCheck(b *testing.B) {
	for _, enabled := range []bool{false, true} {
		st := auth.New()
		for _, err := range []error{st.UserAdd("root", nil, true), st.UserGrantRole("root", "root"), st.RoleAdd("bench")} {
			if err != nil {
				b.Fatal(err)
			}
		}
		for i := range 100 {
			k := fmt.Appendf(nil, "/bench/%03d/", i)
			if err := st.RoleGrantPermission("bench", rbac.Permission{Type: rbac.ReadWrite, Key: k, RangeEnd: rbac.PrefixEnd(k)}); err != nil {
				b.Fatal(err)
			}
		}
		if err := st.UserAdd("bench", nil, true); err != nil {
			b.Fatal(err)
		}
		if err := st.UserGrantRole("bench", "bench"); err != nil {
			b.Fatal(err)
		}
		mode := "auth=off"
		if enabled {
			mode = "auth=on"
			if err := st.Enable(auth.NewTokenKey()); err != nil {
				b.Fatal(err)
			}
		}
		m := &Member{auth: st}
		now := time.Now()
		put := storage.PutRequest{Key: []byte("/bench/050/k"), Value: []byte("v")}
		rng := storage.RangeRequest{Key: []byte("/bench/050/k")}
		b.Run("service-put/"+mode, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v := st.View()
				id, err := v.Resolve("bench", "", now)
				if err != nil {
					b.Fatal(err)
				}
				r := &request{Op: opPut, Put: &put}
				if err := (access{v: v, user: id.User}).request(r); err != nil {
					b.Fatal(err)
				}
				r.Caller = &caller{User: id.User, TokenRev: id.TokenRev, AuthRev: v.Revision()}
			}
		})
		b.Run("service-get/"+mode, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v := st.View()
				id, err := v.Resolve("bench", "", now)
				if err != nil {
					b.Fatal(err)
				}
				if err := (access{v: v, user: id.User}).rangeReq("range", &rng); err != nil {
					b.Fatal(err)
				}
			}
		})
		stamped := &request{Op: opPut, Put: &put, Caller: &caller{User: "bench", AuthRev: st.Status().Revision}}
		b.Run("apply-put/"+mode, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := m.authorize(stamped); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
