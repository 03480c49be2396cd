package quicpeer

import "time"

// failureRepeat is how often a peer that stays unreachable for the same reason is
// logged again at Warn; in between, failures are logged at Debug.
const failureRepeat = 30 * time.Second

// failureLog decides which connection failures to a peer are worth a warning: the first,
// one whose reason changed, and a reminder every failureRepeat.
type failureLog struct {
	last  string
	at    time.Time
	count int // failures since the last success
}

// note records a failure and reports whether to warn about it.
func (f *failureLog) note(err error, now time.Time) bool {
	f.count++
	msg := err.Error()
	if msg == f.last && now.Sub(f.at) < failureRepeat {
		return false
	}
	f.last, f.at = msg, now
	return true
}

// reset starts over after a successful connection.
func (f *failureLog) reset() { *f = failureLog{} }
