package rbac

import (
	"bytes"
	"slices"
)

// interval is the half-open key interval [start, end), or [start, +inf) when open.
type interval struct {
	start, end []byte
	open       bool
}

// permInterval is the interval of keys that key and rangeEnd name, in bytes of its own
// (the caller may reuse key and rangeEnd); ok is false when they name no key (a range
// whose end is not above its start).
func permInterval(key, rangeEnd []byte) (iv interval, ok bool) {
	switch {
	case len(rangeEnd) == 0:
		// The single key k is [k, k+"\x00"): no byte string lies strictly between the
		// two. One allocation holds both bounds.
		end := make([]byte, len(key)+1)
		copy(end, key)
		return interval{start: end[:len(key):len(key)], end: end}, true
	case isOpenEnd(rangeEnd):
		return interval{start: bytes.Clone(key), open: true}, true
	case bytes.Compare(rangeEnd, key) > 0:
		b := make([]byte, len(key)+len(rangeEnd))
		copy(b, key)
		copy(b[len(key):], rangeEnd)
		return interval{start: b[:len(key):len(key)], end: b[len(key):]}, true
	}
	return interval{}, false
}

// spans is a sorted list of disjoint, non-adjacent intervals: starts[i] < ends[i] <
// starts[i+1]. Only the last may be unbounded (open); its ends entry is then nil.
type spans struct {
	starts [][]byte
	ends   [][]byte
	open   bool
}

// mergeSpans sorts ivs by start (in place) and merges every two that overlap or touch. The
// result keeps references to the intervals' byte slices.
func mergeSpans(ivs []interval) spans {
	slices.SortFunc(ivs, func(a, b interval) int { return bytes.Compare(a.start, b.start) })
	s := spans{starts: make([][]byte, 0, len(ivs)), ends: make([][]byte, 0, len(ivs))}
	for i := 0; i < len(ivs); {
		cur := ivs[i]
		i++
		for ; i < len(ivs) && !cur.open && bytes.Compare(ivs[i].start, cur.end) <= 0; i++ {
			switch {
			case ivs[i].open:
				cur.open, cur.end = true, nil
			case bytes.Compare(ivs[i].end, cur.end) > 0:
				cur.end = ivs[i].end
			}
		}
		s.starts = append(s.starts, cur.start)
		s.ends = append(s.ends, cur.end)
		if cur.open {
			// Everything from cur.start on is covered: the rest adds nothing.
			s.open = true
			break
		}
	}
	if cap(s.starts)-len(s.starts) > len(s.starts) { // merging removed most: give it back
		s.starts, s.ends = slices.Clone(s.starts), slices.Clone(s.ends)
	}
	return s
}

// intervals appends s to dst as intervals again (to merge the roles of one user).
func (s *spans) intervals(dst []interval) []interval {
	for i := range s.starts {
		dst = append(dst, interval{start: s.starts[i], end: s.ends[i],
			open: s.open && i == len(s.starts)-1})
	}
	return dst
}

// find is the index of the last interval starting at or before key, or -1: a binary
// search for the number of starts <= key.
func (s *spans) find(key []byte) int {
	lo, hi := 0, len(s.starts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(s.starts[m], key) <= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

// unbounded reports whether interval i has no upper bound.
func (s *spans) unbounded(i int) bool {
	return s.open && i == len(s.starts)-1
}

// covers reports whether s covers every key the query (key, rangeEnd) names, with the
// package's conventions: a single key, every key >= key, or [key, rangeEnd), an empty
// range being decided as the single key.
func (s *spans) covers(key, rangeEnd []byte) bool {
	i := s.find(key)
	if i < 0 {
		return false
	}
	if s.unbounded(i) {
		return true
	}
	switch {
	case isOpenEnd(rangeEnd):
		return false
	case len(rangeEnd) == 0 || bytes.Compare(rangeEnd, key) <= 0:
		// The single key: starts[i] <= key, so key is in iff key < ends[i].
		return bytes.Compare(key, s.ends[i]) < 0
	}
	// [key, rangeEnd) lies inside [starts[i], ends[i]) iff rangeEnd <= ends[i]: merged
	// intervals never touch, so no other interval can continue where this one stops.
	return bytes.Compare(rangeEnd, s.ends[i]) <= 0
}
