package quicpeer

import (
	"math/rand/v2"
	"time"
)

// backoff spaces out reconnection attempts: the delay doubles from min up to max, and
// each wait is drawn uniformly from the upper half of the current delay, so members that
// lost a peer together do not redial it in lockstep.
type backoff struct {
	min, max time.Duration
	cur      time.Duration
}

// next returns how long to wait before the next attempt.
func (b *backoff) next() time.Duration {
	switch {
	case b.cur == 0:
		b.cur = b.min
	case b.cur < b.max:
		b.cur = min(2*b.cur, b.max)
	}
	half := b.cur / 2
	return half + rand.N(b.cur-half+1)
}

// reset starts the delays over after a success.
func (b *backoff) reset() { b.cur = 0 }
