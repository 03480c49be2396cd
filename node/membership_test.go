package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"etcq.dev/etcq/node"
	"etcq.dev/etcq/node/nodetest"
	"etcq.dev/etcq/storage"
)

// Membership tests: members added as learners and promoted, removed, updated and refused;
// leadership moved by hand and handed over on a graceful stop. They wait on events
// (applied indexes, leader changes, acknowledged writes, calls with deadlines); the only
// polling is of raft's view of a peer's activity, which nothing announces. Helpers are
// prefixed mt so they cannot collide with the package's other test files.

func mtOthers(ids []uint64, id uint64) []uint64 {
	return slices.DeleteFunc(slices.Clone(ids), func(x uint64) bool { return x == id })
}

func mtFind(ms []node.MemberInfo, id uint64) (node.MemberInfo, bool) {
	for _, mi := range ms {
		if mi.ID == id {
			return mi, true
		}
	}
	return node.MemberInfo{}, false
}

// mtWaitMembers waits until m's member list satisfies cond and returns it. A member list
// changes only by applying an entry, so between looks it waits for the next apply.
func mtWaitMembers(t *testing.T, ctx context.Context, m *node.Member, what string, cond func([]node.MemberInfo) bool) []node.MemberInfo {
	t.Helper()
	for {
		// The applied index is read first: the store holds an entry's effects before the
		// index is published, so a change at index+1 is either seen now or waited for.
		index := m.AppliedIndex()
		ms := m.Members()
		if cond(ms) {
			return ms
		}
		if err := m.WaitApplied(ctx, index+1); err != nil {
			t.Fatalf("member %x: waiting until %s: %v (members %+v)", m.ID(), what, err, ms)
		}
	}
}

// mtWaitAllApplied waits until every running member has applied index.
func mtWaitAllApplied(t *testing.T, ctx context.Context, c *nodetest.Cluster, index uint64) {
	t.Helper()
	for _, id := range c.Running() {
		if err := c.Member(id).WaitApplied(ctx, index); err != nil {
			t.Fatalf("member %x: %v", id, err)
		}
	}
}

// mtPoll checks cond every interval until it holds. Only for state no event announces.
func mtPoll(t *testing.T, ctx context.Context, what string, interval time.Duration, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("waiting until %s: %v", what, ctx.Err())
		}
	}
}

func mtPrefixEnd(prefix string) []byte {
	end := []byte(prefix)
	end[len(end)-1]++
	return end
}

// mtWriters are goroutines that put unique keys through a fixed set of members until
// stopped, and record every acknowledged write. Failures are expected while membership
// and leadership change (their outcome is unknown or they were refused); they are
// counted by kind, never retried under the same key.
type mtWriters struct {
	c      *nodetest.Cluster
	prefix string
	cancel context.CancelFunc
	wg     sync.WaitGroup
	acked  atomic.Int64
	ackC   chan struct{} // (cap 1) signalled after each acknowledgement

	mu   sync.Mutex
	keys map[string]string // acknowledged key -> value
	errs map[string]int
}

// mtStartWriters starts n writers; writer i writes through member through[i%len(through)].
func mtStartWriters(t *testing.T, c *nodetest.Cluster, prefix string, n int, through ...uint64) *mtWriters {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &mtWriters{
		c:      c,
		prefix: prefix,
		cancel: cancel,
		ackC:   make(chan struct{}, 1),
		keys:   map[string]string{},
		errs:   map[string]int{},
	}
	for i := range n {
		w.wg.Add(1)
		go w.run(ctx, i, through[i%len(through)])
	}
	t.Cleanup(w.stop)
	return w
}

func (w *mtWriters) run(ctx context.Context, i int, id uint64) {
	defer w.wg.Done()
	for seq := 0; ctx.Err() == nil; seq++ {
		m := w.c.Member(id)
		if m == nil {
			return
		}
		key := fmt.Sprintf("%s%02d/%08d", w.prefix, i, seq)
		val := fmt.Sprintf("v%d.%d", i, seq)
		// Not under ctx: stopping lets the writes in flight finish, so that none is still
		// on its way through raft once stop returns.
		pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := m.Put(pctx, storage.PutRequest{Key: []byte(key), Value: []byte(val)})
		cancel()
		if err == nil {
			w.mu.Lock()
			w.keys[key] = val
			w.mu.Unlock()
			w.acked.Add(1)
			select {
			case w.ackC <- struct{}{}:
			default:
			}
			continue
		}
		w.mu.Lock()
		w.errs[mtErrKind(err)]++
		w.mu.Unlock()
		// The usual causes (a transfer drops proposals, an election) end with a leader
		// change; wait for it, or a moment, before the next write.
		select {
		case <-m.LeaderChanged():
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func mtErrKind(err error) string {
	for _, e := range []error{node.ErrLeaderChanged, node.ErrDropped, node.ErrNoLeader, node.ErrTimeout,
		node.ErrTooManyRequests, node.ErrStopped, node.ErrStoppedOutcome} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return err.Error()
}

// mustProgress waits until at least one more write is acknowledged than when it was called.
func (w *mtWriters) mustProgress(t *testing.T, ctx context.Context, step string) {
	t.Helper()
	n := w.acked.Load()
	for w.acked.Load() <= n {
		select {
		case <-w.ackC:
		case <-ctx.Done():
			t.Fatalf("%s: no write acknowledged after %d: %v (failures %v)", step, n, ctx.Err(), w.failures())
		}
	}
	t.Logf("%s: %d writes acknowledged", step, w.acked.Load())
}

func (w *mtWriters) failures() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.errs)
}

// stop stops the writers once their writes in flight have ended.
func (w *mtWriters) stop() {
	w.cancel()
	w.wg.Wait()
}

// stopAndLog stops the writers and logs what became of their writes.
func (w *mtWriters) stopAndLog(t *testing.T) {
	t.Helper()
	w.stop()
	t.Logf("writers stopped: %d writes acknowledged; failures %v", w.acked.Load(), w.failures())
}

// verify checks that every running member holds every acknowledged write (after
// EnsureSame, which has every member apply the same index).
func (w *mtWriters) verify(t *testing.T, ctx context.Context) {
	t.Helper()
	w.mu.Lock()
	want := maps.Clone(w.keys)
	w.mu.Unlock()
	for _, id := range w.c.Running() {
		r, err := w.c.Member(id).Range(ctx, storage.RangeRequest{Key: []byte(w.prefix), RangeEnd: mtPrefixEnd(w.prefix)}, true)
		if err != nil {
			t.Fatalf("member %x: range: %v", id, err)
		}
		got := make(map[string]string, len(r.KVs))
		for _, kv := range r.KVs {
			got[string(kv.Key)] = string(kv.Value)
		}
		var missing []string
		for k, v := range want {
			if got[k] != v {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			t.Fatalf("member %x lacks %d of %d acknowledged writes, e.g. %q", id, len(missing), len(want), missing[0])
		}
	}
	t.Logf("%d acknowledged writes on every member; failures %v", len(want), w.failures())
}

// TestMemberAddPromoteRemoveUnderWrites: while writers keep writing, a fourth member joins
// as a learner, is promoted automatically once it has caught up, and an original follower
// is removed while it runs (it learns of its removal) and then killed. Writes keep being
// acknowledged after each step, and every member ends with every acknowledged write.
func TestMemberAddPromoteRemoveUnderWrites(t *testing.T) {
	c := nodetest.NewCluster(t, nodetest.Options{})
	ctx := testCtx(t, 20*time.Second)
	lead := c.WaitLeader()
	followers := mtOthers(c.Running(), lead)
	victim, keep := followers[0], followers[1]
	w := mtStartWriters(t, c, "mt/apr/", 4, lead, keep)
	w.mustProgress(t, ctx, "started")

	// The new member's traffic is held until its learner state has been seen on every
	// member: otherwise it could catch up and be promoted before anyone looked.
	originals := c.Running()
	c.Net.SetHook(func(m *raftpb.Message) bool {
		return slices.Contains(originals, m.GetFrom()) && slices.Contains(originals, m.GetTo())
	})
	added := c.AddMember(ctx, "m4", false)
	for _, id := range originals {
		ms := mtWaitMembers(t, ctx, c.Member(id), "it lists the new member", func(ms []node.MemberInfo) bool {
			_, ok := mtFind(ms, added)
			return ok
		})
		if mi, _ := mtFind(ms, added); !mi.IsLearner || !mi.AutoPromote || mi.Name != "m4" {
			t.Fatalf("member %x lists the new member as %+v, want an auto-promoted learner m4", id, mi)
		}
	}
	w.mustProgress(t, ctx, "learner added")
	c.Net.SetHook(nil)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Member(added).WaitApplied(cctx, c.Member(lead).AppliedIndex()); err != nil {
		t.Fatalf("new member %x never caught up with the leader: %v", added, err)
	}

	isVoter := func(id uint64) func([]node.MemberInfo) bool {
		return func(ms []node.MemberInfo) bool {
			mi, ok := mtFind(ms, id)
			return ok && !mi.IsLearner
		}
	}
	for _, id := range c.Running() {
		mtWaitMembers(t, ctx, c.Member(id), "the new member is a voter", isVoter(added))
	}
	w.mustProgress(t, ctx, "learner promoted")

	rm, lm := c.Member(victim), c.Member(c.WaitLeader())
	ms, err := lm.RemoveMember(ctx, victim)
	if err != nil {
		t.Fatalf("remove %x: %v", victim, err)
	}
	if _, ok := mtFind(ms, victim); ok || len(ms) != 3 {
		t.Fatalf("members after removing %x: %+v", victim, ms)
	}
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
	defer rcancel()
	select {
	case <-rm.Removed():
	case <-rctx.Done():
		t.Fatalf("member %x, running when its removal was applied, never closed Removed (applied %d, committed %d; leader %x applied %d)",
			victim, rm.AppliedIndex(), rm.CommittedIndex(), lm.ID(), lm.AppliedIndex())
	}
	c.Kill(victim)
	c.Forget(victim)
	for _, id := range c.Running() {
		ms := mtWaitMembers(t, ctx, c.Member(id), "the removed member is gone", func(ms []node.MemberInfo) bool {
			_, ok := mtFind(ms, victim)
			return !ok
		})
		if len(ms) != 3 || slices.ContainsFunc(ms, func(mi node.MemberInfo) bool { return mi.IsLearner }) {
			t.Fatalf("member %x: members %+v, want three voters", id, ms)
		}
	}
	w.mustProgress(t, ctx, "follower removed")

	w.stopAndLog(t)
	c.EnsureSame(ctx)
	w.verify(t, ctx)
}

// mtChildEnv names the test a child test process runs (see mtInChild).
const mtChildEnv = "ETCQ_NODE_MT_CHILD"

// mtInChild runs body in a child process of this test binary that runs only this test
// (or runs body directly when it is that child). A node bug can panic on a goroutine of
// go.etcd.io/raft, which would kill the whole test binary and every other test with it;
// in a child it fails this test alone, with the child's output.
func mtInChild(t *testing.T, body func(t *testing.T)) {
	t.Helper()
	if os.Getenv(mtChildEnv) == t.Name() {
		body(t)
		return
	}
	args := []string{"-test.run=^" + regexp.QuoteMeta(t.Name()) + "$", "-test.count=1", "-test.timeout=2m"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), mtChildEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		if len(out) > 12000 {
			out = append([]byte("...\n"), out[len(out)-12000:]...)
		}
		t.Fatalf("test process for %s failed: %v\n%s", t.Name(), err, out)
	}
	if bytes.Contains(out, []byte("no tests to run")) {
		t.Fatalf("test process for %s ran no test:\n%s", t.Name(), out)
	}
	if testing.Verbose() {
		t.Logf("test process output:\n%s", out)
	}
}

// mtProposeRaw hands the leader a conf change as a follower would forward it (a MsgProp
// carrying an EntryConfChangeV2 entry) and returns the index raft gave it, seen on its
// way to a follower. It is the way a conf change the API would not make reaches raft: a
// member with a stale member list, or a faulty one.
func mtProposeRaw(t *testing.T, ctx context.Context, c *nodetest.Cluster, typ raftpb.ConfChangeType, id uint64) uint64 {
	t.Helper()
	lead := c.WaitLeader()
	from := mtOthers(c.Running(), lead)[0]
	// A write first: once it is applied, raft counts every earlier entry as applied (it
	// hands out a Ready only after the previous one is advanced), so it cannot ignore this
	// change as possibly clashing with an unapplied one (TestMembershipChangesBackToBack).
	put(t, ctx, c, lead, "mt/raw-barrier", "x")
	data, err := proto.Marshal(&raftpb.ConfChangeV2{Changes: []*raftpb.ConfChangeSingle{{Type: typ.Enum(), NodeId: &id}}})
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan uint64, 1)
	c.Net.SetHook(func(m *raftpb.Message) bool {
		if m.GetFrom() != lead || m.GetType() != raftpb.MessageType_MsgApp {
			return true
		}
		for _, e := range m.GetEntries() {
			if e.GetType() == raftpb.EntryType_EntryConfChangeV2 && bytes.Equal(e.GetData(), data) {
				select {
				case seen <- e.GetIndex():
				default:
				}
			}
		}
		return true
	})
	defer c.Net.SetHook(nil)
	msg := &raftpb.Message{
		Type:    raftpb.MessageType_MsgProp.Enum(),
		From:    &from,
		To:      &lead,
		Entries: []*raftpb.Entry{{Type: raftpb.EntryType_EntryConfChangeV2.Enum(), Data: data}},
	}
	if err := c.Member(lead).Process(ctx, msg); err != nil {
		t.Fatalf("leader %x refused the forwarded proposal: %v", lead, err)
	}
	select {
	case index := <-seen:
		return index
	case <-ctx.Done():
		t.Fatalf("the %v of %x was never replicated as a conf change entry (did raft ignore it? see its log): %v", typ, id, ctx.Err())
		return 0
	}
}

// TestMemberIDsNeverReused: a removed member's ID is never handed out again, the API
// refuses it, and a conf change that re-adds it anyway is refused at apply, the same way
// on every member, and again when a member replays it after a restart. (It runs in a child
// process: see mtInChild.)
func TestMemberIDsNeverReused(t *testing.T) {
	mtInChild(t, func(t *testing.T) {
		c := nodetest.NewCluster(t, nodetest.Options{})
		ctx := testCtx(t, 20*time.Second)
		gone := c.AddMember(ctx, "x1", true)
		if _, err := c.Member(c.WaitLeader()).RemoveMember(ctx, gone); err != nil {
			t.Fatalf("remove learner %x: %v", gone, err)
		}
		c.Kill(gone)
		c.Forget(gone)
		again := c.AddMember(ctx, "x2", true)
		if again == gone || slices.Contains([]uint64{1, 2, 3}, again) {
			t.Fatalf("AddMember after the removal of %x gave ID %x", gone, again)
		}
		c.Kill(again) // it stays a member (a learner), out of the way of what follows

		lm := c.Member(c.WaitLeader())
		if _, err := lm.PromoteMember(ctx, gone); !errors.Is(err, node.ErrMemberNotFound) {
			t.Fatalf("promote removed %x: %v, want ErrMemberNotFound", gone, err)
		}
		if _, err := lm.UpdateMember(ctx, gone, []string{"https://x1.nodetest:2380"}); !errors.Is(err, node.ErrMemberNotFound) {
			t.Fatalf("update removed %x: %v, want ErrMemberNotFound", gone, err)
		}

		for _, typ := range []raftpb.ConfChangeType{raftpb.ConfChangeType_ConfChangeAddLearnerNode, raftpb.ConfChangeType_ConfChangeAddNode} {
			index := mtProposeRaw(t, ctx, c, typ, gone)
			mtWaitAllApplied(t, ctx, c, index)
			for _, id := range c.Running() {
				ms := c.Member(id).Members()
				if _, ok := mtFind(ms, gone); ok {
					t.Fatalf("member %x: %v of removed %x (index %d) was applied: %+v", id, typ, gone, index, ms)
				}
				if _, ok := mtFind(ms, again); !ok || len(ms) != 4 {
					t.Fatalf("member %x: members %+v after a refused change", id, ms)
				}
			}
			lead := c.WaitLeader()
			if _, ok := c.Member(lead).Status().Progress[gone]; ok {
				t.Fatalf("leader %x: raft tracks removed %x after a refused %v", lead, gone, typ)
			}
		}

		// A member that restarts replays the refused entries (its store already holds
		// them): raft's configuration must come out the same. It is checked where raft
		// shows it, on the restarted member once it leads.
		lead := c.WaitLeader()
		f := mtOthers(c.Running(), lead)[0]
		c.Stop(f)
		fm := c.Restart(f)
		if err := fm.WaitApplied(ctx, c.Member(lead).AppliedIndex()); err != nil {
			t.Fatalf("restarted member %x: %v", f, err)
		}
		if err := c.Member(lead).MoveLeader(ctx, f); err != nil {
			t.Fatalf("move leader to restarted %x: %v", f, err)
		}
		if got := c.WaitLeader(); got != f {
			t.Fatalf("leader %x after moving it to %x", got, f)
		}
		if pr, ok := fm.Status().Progress[gone]; ok {
			t.Fatalf("restarted member %x re-applied a refused change: raft tracks removed %x (%+v)", f, gone, pr)
		}
		c.EnsureSame(ctx)
	})
}

// TestMemberChangeErrors: the API's refusals, on the leader and on a follower, change
// nothing; UpdateMember (through a follower) changes a member's peer URLs on every member.
func TestMemberChangeErrors(t *testing.T) {
	c := nodetest.NewCluster(t, nodetest.Options{})
	ctx := testCtx(t, 15*time.Second)
	lead := c.WaitLeader()
	fid := mtOthers(c.Running(), lead)[0]
	lm, fm := c.Member(lead), c.Member(fid)
	before := lm.Members()
	fi, _ := mtFind(before, fid)
	const unknown = 0xfeedface
	for _, m := range []*node.Member{lm, fm} {
		if _, _, err := m.AddMember(ctx, "dup", []string{"https://fresh.nodetest:2380", fi.PeerURLs[0]}, false); !errors.Is(err, node.ErrPeerURLExists) {
			t.Fatalf("member %x: add with %x's peer URL: %v, want ErrPeerURLExists", m.ID(), fid, err)
		}
		if _, err := m.PromoteMember(ctx, fid); !errors.Is(err, node.ErrNotLearner) {
			t.Fatalf("member %x: promote voter %x: %v, want ErrNotLearner", m.ID(), fid, err)
		}
		if _, err := m.PromoteMember(ctx, unknown); !errors.Is(err, node.ErrMemberNotFound) {
			t.Fatalf("member %x: promote unknown: %v, want ErrMemberNotFound", m.ID(), err)
		}
		if _, err := m.RemoveMember(ctx, unknown); !errors.Is(err, node.ErrMemberNotFound) {
			t.Fatalf("member %x: remove unknown: %v, want ErrMemberNotFound", m.ID(), err)
		}
		if _, err := m.UpdateMember(ctx, unknown, []string{"https://nowhere.nodetest:2380"}); !errors.Is(err, node.ErrMemberNotFound) {
			t.Fatalf("member %x: update unknown: %v, want ErrMemberNotFound", m.ID(), err)
		}
	}
	if after := lm.Members(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("refused changes changed the members: %+v, was %+v", after, before)
	}

	urls := []string{"https://moved-a.nodetest:2380", "https://moved-b.nodetest:2380"}
	ms, err := fm.UpdateMember(ctx, lead, urls)
	if err != nil {
		t.Fatalf("update %x through %x: %v", lead, fid, err)
	}
	if mi, _ := mtFind(ms, lead); !slices.Equal(mi.PeerURLs, urls) {
		t.Fatalf("update answered members %+v", ms)
	}
	mtWaitAllApplied(t, ctx, c, fm.AppliedIndex())
	old, _ := mtFind(before, lead)
	for _, id := range c.Running() {
		ms := c.Member(id).Members()
		mi, ok := mtFind(ms, lead)
		if !ok || !slices.Equal(mi.PeerURLs, urls) || mi.Name != old.Name || mi.IsLearner || len(ms) != 3 {
			t.Fatalf("member %x sees %x as %+v (members %+v), want peer URLs %v", id, lead, mi, ms, urls)
		}
	}
	if _, _, err := lm.AddMember(ctx, "dup", urls[1:], false); !errors.Is(err, node.ErrPeerURLExists) {
		t.Fatalf("add with an updated peer URL: %v, want ErrPeerURLExists", err)
	}
	c.EnsureSame(ctx)
}

// TestRemoveMemberRefusedWithoutQuorum: with one follower of three dead, removing the live
// follower would leave the leader and the dead member, one reachable voter of two, short
// of the quorum of two: refused with ErrUnhealthy. Removing the dead one leaves the leader
// and the live follower, both reachable: accepted, and the two keep working.
func TestRemoveMemberRefusedWithoutQuorum(t *testing.T) {
	c := nodetest.NewCluster(t, nodetest.Options{})
	ctx := testCtx(t, 15*time.Second)
	lead := c.WaitLeader()
	lm := c.Member(lead)
	followers := mtOthers(c.Running(), lead)
	dead, live := followers[0], followers[1]
	c.Kill(dead)
	// raft's CheckQuorum marks a follower inactive after an election timeout without word
	// from it; nothing announces it, so the leader's status is polled.
	mtPoll(t, ctx, "the leader sees the killed follower as inactive", 5*time.Millisecond, func() bool {
		pr, ok := lm.Status().Progress[dead]
		return ok && !pr.RecentActive
	})
	before := lm.Members()
	if _, err := lm.RemoveMember(ctx, live); !errors.Is(err, node.ErrUnhealthy) {
		t.Fatalf("remove live %x with %x dead: %v, want ErrUnhealthy", live, dead, err)
	} else {
		t.Logf("remove live follower refused: %v", err)
	}
	if after := lm.Members(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a refused removal changed the members: %+v, was %+v", after, before)
	}
	put(t, ctx, c, live, "mt/q/before", "v")

	ms, err := lm.RemoveMember(ctx, dead)
	if err != nil {
		t.Fatalf("remove dead %x: %v", dead, err)
	}
	c.Forget(dead)
	if _, ok := mtFind(ms, dead); ok || len(ms) != 2 {
		t.Fatalf("members after removing %x: %+v", dead, ms)
	}
	put(t, ctx, c, lead, "mt/q/after1", "v")
	put(t, ctx, c, live, "mt/q/after2", "v")
	c.EnsureSame(ctx)
}

// TestLearnerNotAutoPromoted: a member added with learner set stays a learner once caught
// up, while the automatic promotion runs (witnessed by another learner, added without the
// flag, being promoted); PromoteMember then makes it a voter on every member.
func TestLearnerNotAutoPromoted(t *testing.T) {
	c := nodetest.NewCluster(t, nodetest.Options{})
	ctx := testCtx(t, 15*time.Second)
	lead := c.WaitLeader()
	for i := range 20 {
		put(t, ctx, c, lead, fmt.Sprintf("mt/l/%02d", i), "v")
	}
	manual := c.AddMember(ctx, "manual", true)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Member(manual).WaitApplied(cctx, c.Member(lead).AppliedIndex()); err != nil {
		t.Fatalf("learner %x catching up: %v", manual, err)
	}
	for _, id := range c.Running() {
		ms := mtWaitMembers(t, ctx, c.Member(id), "it lists the learner", func(ms []node.MemberInfo) bool {
			_, ok := mtFind(ms, manual)
			return ok
		})
		if mi, _ := mtFind(ms, manual); !mi.IsLearner || mi.AutoPromote {
			t.Fatalf("member %x lists %x as %+v, want a learner without automatic promotion", id, manual, mi)
		}
	}

	// The automatic promotion scans every learner each time it runs; the caught-up manual
	// learner must still be one after it promoted the other. (Nothing announces a scan that
	// promotes nobody, so this is the observable witness.)
	auto := c.AddMember(ctx, "auto", false)
	lm := c.Member(c.WaitLeader())
	mtWaitMembers(t, ctx, lm, "the auto learner is promoted", func(ms []node.MemberInfo) bool {
		mi, ok := mtFind(ms, auto)
		return ok && !mi.IsLearner
	})
	if mi, _ := mtFind(lm.Members(), manual); !mi.IsLearner {
		t.Fatalf("learner %x added with learner=true was promoted: %+v", manual, mi)
	}

	ms, err := lm.PromoteMember(ctx, manual)
	if err != nil {
		t.Fatalf("promote %x: %v", manual, err)
	}
	if mi, _ := mtFind(ms, manual); mi.IsLearner {
		t.Fatalf("members after promoting %x: %+v", manual, ms)
	}
	mtWaitAllApplied(t, ctx, c, lm.AppliedIndex())
	for _, id := range c.Running() {
		ms := c.Member(id).Members()
		if len(ms) != 5 || slices.ContainsFunc(ms, func(mi node.MemberInfo) bool { return mi.IsLearner }) {
			t.Fatalf("member %x: members %+v, want five voters", id, ms)
		}
	}
	if _, err := lm.PromoteMember(ctx, manual); !errors.Is(err, node.ErrNotLearner) {
		t.Fatalf("promote %x twice: %v, want ErrNotLearner", manual, err)
	}
	c.EnsureSame(ctx)
}

// TestMoveLeaderUnderLoad: MoveLeader hands leadership to a chosen follower while writers
// run, and writes continue after it; a non-leader refuses it. Then a graceful Stop of the
// leader hands leadership over before it returns.
func TestMoveLeaderUnderLoad(t *testing.T) {
	c := nodetest.NewCluster(t, nodetest.Options{})
	ctx := testCtx(t, 15*time.Second)
	lead := c.WaitLeader()
	ids := c.Running()
	target := mtOthers(ids, lead)[0]
	w := mtStartWriters(t, c, "mt/move/", 6, ids...)
	w.mustProgress(t, ctx, "started")

	if err := c.Member(target).MoveLeader(ctx, target); !errors.Is(err, node.ErrNotLeader) {
		t.Fatalf("MoveLeader on follower %x: %v, want ErrNotLeader", target, err)
	}
	changed := c.Member(target).LeaderChanged()
	if err := c.Member(lead).MoveLeader(ctx, target); err != nil {
		t.Fatalf("move leader %x -> %x: %v", lead, target, err)
	}
	if got := c.WaitLeader(); got != target {
		t.Fatalf("members agree on leader %x after moving it to %x", got, target)
	}
	select {
	case <-changed:
	default:
		t.Fatalf("LeaderChanged of %x did not fire", target)
	}
	w.mustProgress(t, ctx, "leadership moved")
	if err := c.Member(lead).MoveLeader(ctx, lead); !errors.Is(err, node.ErrNotLeader) {
		t.Fatalf("MoveLeader on the former leader %x: %v, want ErrNotLeader", lead, err)
	}
	w.mustProgress(t, ctx, "still writing")
	w.stopAndLog(t)
	c.EnsureSame(ctx)
	w.verify(t, ctx)

	// A graceful stop of the leader: Stop hands leadership over and waits until the
	// successor has taken it, so a survivor leads the moment Stop returns, without an
	// election timeout.
	survivors := mtOthers(ids, target)
	var changes []<-chan struct{}
	for _, id := range survivors {
		changes = append(changes, c.Member(id).LeaderChanged())
	}
	c.Stop(target)
	if !slices.ContainsFunc(survivors, func(id uint64) bool { return c.Member(id).IsLeader() }) {
		t.Errorf("no survivor of %v leads when the leader's Stop returns: leadership was not handed over", survivors)
	}
	next := c.WaitLeaderAmong(survivors...)
	for i, ch := range changes {
		select {
		case <-ch:
		default:
			t.Errorf("LeaderChanged of survivor %x did not fire (leader now %x)", survivors[i], next)
		}
	}
	put(t, ctx, c, next, "mt/move/after-stop", "v")
	c.EnsureSame(ctx)
}

// TestMembershipChangesBackToBack: membership changes made one right after the other,
// each as soon as the previous one returned (it was applied on the member that proposed
// it), all succeed. Raft refuses a conf change while it counts an earlier one as
// unapplied; such a refusal must not turn a valid change into a timeout.
func TestMembershipChangesBackToBack(t *testing.T) {
	c := nodetest.NewCluster(t, nodetest.Options{})
	ctx := testCtx(t, 15*time.Second)
	lm := c.Member(c.WaitLeader())
	change := func(what string, f func(ctx context.Context) error) {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := f(cctx); err != nil {
			t.Fatalf("%s, right after the previous change: %v", what, err)
		}
	}
	var added []uint64
	for i := range 20 {
		change(fmt.Sprintf("add learner %d", i), func(ctx context.Context) error {
			info, _, err := lm.AddMember(ctx, fmt.Sprintf("b%d", i), []string{fmt.Sprintf("https://b%d.nodetest:2380", i)}, true)
			added = append(added, info.ID)
			return err
		})
	}
	for _, id := range added {
		change(fmt.Sprintf("update %x", id), func(ctx context.Context) error {
			_, err := lm.UpdateMember(ctx, id, []string{fmt.Sprintf("https://moved-%x.nodetest:2380", id)})
			return err
		})
		change(fmt.Sprintf("remove %x", id), func(ctx context.Context) error {
			_, err := lm.RemoveMember(ctx, id)
			return err
		})
	}
	mtWaitAllApplied(t, ctx, c, lm.AppliedIndex())
	for _, id := range c.Running() {
		if ms := c.Member(id).Members(); len(ms) != 3 {
			t.Fatalf("member %x: members %+v, want the three originals", id, ms)
		}
	}
	c.EnsureSame(ctx)
}
