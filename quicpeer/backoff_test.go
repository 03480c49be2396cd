package quicpeer

import (
	"errors"
	"testing"
	"time"
)

func TestBackoffDoublesToCapWithJitter(t *testing.T) {
	b := backoff{min: 10 * time.Millisecond, max: 80 * time.Millisecond}
	for _, cur := range []time.Duration{10, 20, 40, 80, 80, 80} {
		cur *= time.Millisecond
		d := b.next()
		if d < cur/2 || d > cur {
			t.Fatalf("wait %v outside [%v, %v]", d, cur/2, cur)
		}
	}
	b.reset()
	if d := b.next(); d > 10*time.Millisecond {
		t.Fatalf("after reset: %v", d)
	}
}

func TestFailureLogWarnsOnChangeAndRepeat(t *testing.T) {
	var f failureLog
	now := time.Unix(0, 0)
	a, b := errors.New("a"), errors.New("b")
	steps := []struct {
		err  error
		at   time.Duration
		warn bool
	}{
		{a, 0, true},
		{a, time.Second, false},
		{b, 2 * time.Second, true},
		{b, 3 * time.Second, false},
		{b, 2*time.Second + failureRepeat, true},
	}
	for i, s := range steps {
		if got := f.note(s.err, now.Add(s.at)); got != s.warn {
			t.Fatalf("step %d: warn=%v, want %v", i, got, s.warn)
		}
	}
	if f.count != len(steps) {
		t.Fatalf("count %d", f.count)
	}
}
