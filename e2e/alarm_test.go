package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestNoSpaceAlarm runs the NOSPACE cycle with etcqctl on a cluster with a small
// --quota-backend-bytes: writes fill it, the alarm goes up and puts fail with etcd's
// message, `alarm list` shows it, deleting and compacting clears it by itself, and puts
// work again.
func TestNoSpaceAlarm(t *testing.T) {
	c := newCluster(t, 3, "--quota-backend-bytes", fmt.Sprint(1<<20))
	val := strings.Repeat("x", 16<<10)
	n := 0
	var lastErr string
	for ; n < 400; n++ {
		out, err := c.ctlIn(t, []byte(val), []string{"put", fmt.Sprintf("/fill/%03d", n)})
		if err != nil {
			lastErr = out
			break
		}
	}
	if n == 400 {
		t.Fatal("400 puts of 16 KiB never hit a quota of 1 MiB")
	}
	out, err := c.ctl(t, []string{"alarm", "list"})
	if err != nil || !strings.Contains(out, "alarm:NOSPACE") {
		t.Fatalf("alarm list printed %q (%v) after %d puts (%s)", out, err, n, lastErr)
	}
	if _, err := c.ctl(t, []string{"put", "/more", "v"}); err == nil {
		t.Fatal("a put under NOSPACE succeeded")
	}
	if out, err := c.ctl(t, []string{"del", "/fill/", "--prefix"}); err != nil || out != fmt.Sprintf("%d\n", n) {
		t.Fatalf("del under NOSPACE printed %q (%v)", out, err)
	}
	out, err = c.ctl(t, []string{"get", "/", "--prefix", "--count-only", "-w", "fields"})
	var rev int64
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, `"Revision" : `); ok {
			fmt.Sscan(v, &rev)
		}
	}
	if err != nil || rev == 0 {
		t.Fatalf("revision: %q (%v)", out, err)
	}
	if _, err := c.ctl(t, []string{"compaction", fmt.Sprint(rev), "--physical"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if out, err := c.ctl(t, []string{"put", "/more", "v"}); err == nil && out == "OK\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the NOSPACE alarm never cleared after deleting and compacting")
		}
		time.Sleep(200 * time.Millisecond) // polling a condition with a deadline
	}
	if out, err := c.ctl(t, []string{"alarm", "list"}); err != nil || out != "" {
		t.Fatalf("alarm list after clearing printed %q (%v)", out, err)
	}
}
