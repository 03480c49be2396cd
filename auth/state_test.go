package auth

import (
	"testing"

	"etcq.dev/etcq/rbac"
)

// The View, and with it the compiled Policy, is built once per revision.
func TestViewCachedUntilChange(t *testing.T) {
	s := withRoot(t)
	v := s.View()
	if s.View() != v || s.Policy() != v.Policy() {
		t.Fatal("a second View without a change was built anew")
	}
	must(t, s.UserGrantRole("alice", "app")) // already held: no change
	if s.View() != v {
		t.Error("an operation that changed nothing dropped the View")
	}
	must(t, s.UserGrantRole("alice", "reader"))
	w := s.View()
	if w == v || w.Revision() != v.Revision()+1 || s.Policy() != w.Policy() {
		t.Errorf("after a change: view %p (rev %d), before %p (rev %d)", w, w.Revision(), v, v.Revision())
	}
	// The old view is a snapshot: it keeps its answers.
	must(t, s.UserDelete("alice"))
	if !w.Policy().Allowed("alice", rbac.Read, []byte("/app/x"), nil) {
		t.Error("an old view changed")
	}
	if s.Policy().Allowed("alice", rbac.Read, []byte("/app/x"), nil) {
		t.Error("the new policy still knows alice")
	}
}

func TestNewState(t *testing.T) {
	s := New()
	if st := s.Status(); st.Enabled || st.Revision != 1 {
		t.Errorf("Status = %+v, want disabled at revision 1", st)
	}
	if len(s.UserList()) != 0 || len(s.RoleList()) != 0 {
		t.Error("a new state has users or roles")
	}
	v := s.View()
	if v.Enabled() || !v.Allowed("", rbac.Write, []byte("k"), nil) || !v.IsAdmin("") {
		t.Error("a new state does not allow everything")
	}
}
