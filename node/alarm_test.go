package node_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"etcq.dev/etcq/node"
	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/wire"
)

// TestNoSpaceAlarmCycle fills a member past its quota: the NOSPACE alarm goes up and puts,
// txns with puts and lease grants are refused with a clear error while deletes and
// compaction work; once keys are deleted and the history compacted the alarm clears
// itself and puts work again. Defragmentation gives the space back to the file system.
func TestNoSpaceAlarmCycle(t *testing.T) {
	const quota = 512 << 10
	s := serveSingleWith(t, func(c *node.Config) {
		c.QuotaBackendBytes = quota
		c.QuotaCheckInterval = 20 * time.Millisecond
		c.StoreOptions.BatchInterval = 10 * time.Millisecond
	}, nil)
	c := connect(t, s.pki, "root", s.endpoint())
	ctx := testCtx(t, 60*time.Second)
	val := strings.Repeat("x", 4096)
	var err error
	n := 0
	for ; n < 2000; n++ {
		if _, err = c.Put(ctx, fmt.Sprintf("/fill/%04d", n), val); err != nil {
			break
		}
	}
	if !errors.Is(err, wire.ErrNoSpace) {
		t.Fatalf("after %d puts of 4 KiB past a quota of %d bytes: %v", n, quota, err)
	}
	alarms, err := c.AlarmList(ctx)
	if err != nil || len(alarms) != 1 || alarms[0].Alarm != wire.AlarmNoSpace || alarms[0].MemberID != s.m.ID() {
		t.Fatalf("alarm list: %+v %v", alarms, err)
	}
	if _, err := c.Txn(ctx).Then(quicclient.OpPut("/t", "v")).Commit(); !errors.Is(err, wire.ErrNoSpace) {
		t.Fatalf("txn with a put under NOSPACE: %v", err)
	}
	if _, err := c.Grant(ctx, 60); !errors.Is(err, wire.ErrNoSpace) {
		t.Fatalf("lease grant under NOSPACE: %v", err)
	}
	if r, err := c.Get(ctx, "/fill/0000"); err != nil || r.Count != 1 {
		t.Fatalf("read under NOSPACE: %+v %v", r, err)
	}
	del, err := c.Delete(ctx, "/fill/", quicclient.WithPrefix())
	if err != nil || del.Deleted != int64(n) {
		t.Fatalf("delete under NOSPACE: %+v %v", del, err)
	}
	if _, err := c.Compact(ctx, del.Header.Revision, quicclient.WithCompactPhysical()); err != nil {
		t.Fatalf("compaction under NOSPACE: %v", err)
	}
	// The member sees its store back under the quota and clears the alarm.
	for {
		if _, err = c.Put(ctx, "/after", "ok"); err == nil {
			break
		}
		if !errors.Is(err, wire.ErrNoSpace) {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatal("the NOSPACE alarm never cleared after deleting and compacting")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if alarms, err := c.AlarmList(ctx); err != nil || len(alarms) != 0 {
		t.Fatalf("alarms after clearing: %+v %v", alarms, err)
	}
	before, err := c.Status(ctx, s.endpoint())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Defragment(ctx, s.endpoint()); err != nil {
		t.Fatal(err)
	}
	after, err := c.Status(ctx, s.endpoint())
	if err != nil || after.DBSize >= before.DBSize {
		t.Fatalf("defragment: %d bytes before, %d after (%v)", before.DBSize, after.DBSize, err)
	}
	// An operator can raise and clear alarms by hand too.
	if _, err := c.AlarmDisarm(ctx, wire.AlarmMember{}); err != nil {
		t.Fatal(err)
	}
}
