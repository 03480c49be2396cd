package storage

import (
	"bytes"
	"sort"
)

// watchGroup is the set of synced watchers on one key range. Matching an event is done
// once per group, and watchers without filters share the group's event slice, so many
// watchers on one range cost little more than one.
type watchGroup struct {
	kr       keyRange
	watchers map[*watcher]struct{}
	events   []Event // scratch: the events of the current notify that match kr
}

// groupKey identifies a key range in maps.
type groupKey struct {
	start, end string
	single     bool
}

func keyOf(kr keyRange) groupKey {
	return groupKey{start: string(kr.start), end: string(kr.end), single: kr.single}
}

// watchGroups finds the groups whose range holds a key: single-key groups by map lookup,
// range groups through rangeIndex.
type watchGroups struct {
	single map[string]*watchGroup
	ranges map[groupKey]*watchGroup
	ri     rangeIndex
}

func newWatchGroups() *watchGroups {
	return &watchGroups{single: make(map[string]*watchGroup), ranges: make(map[groupKey]*watchGroup)}
}

func (gs *watchGroups) add(w *watcher) {
	var g *watchGroup
	if w.kr.single {
		if g = gs.single[string(w.kr.start)]; g == nil {
			g = &watchGroup{kr: w.kr, watchers: make(map[*watcher]struct{})}
			gs.single[string(w.kr.start)] = g
		}
	} else {
		k := keyOf(w.kr)
		if g = gs.ranges[k]; g == nil {
			g = &watchGroup{kr: w.kr, watchers: make(map[*watcher]struct{})}
			gs.ranges[k] = g
			gs.ri.add(g)
		}
	}
	g.watchers[w] = struct{}{}
	w.group = g
}

func (gs *watchGroups) remove(w *watcher) {
	g := w.group
	if g == nil {
		return
	}
	w.group = nil
	delete(g.watchers, w)
	if len(g.watchers) > 0 {
		return
	}
	if g.kr.single {
		delete(gs.single, string(g.kr.start))
	} else {
		delete(gs.ranges, keyOf(g.kr))
		gs.ri.remove(g)
	}
}

// match calls fn for every group whose range holds key.
func (gs *watchGroups) match(key []byte, fn func(*watchGroup)) {
	if g := gs.single[string(key)]; g != nil {
		fn(g)
	}
	gs.ri.match(key, fn)
}

// rangeIndex answers "which ranges hold this key" in time proportional to the answer (times
// log n). Groups are kept sorted by start; a segment tree over that order holds the
// largest end of each subtree, so a search skips subtrees that all end at or before the
// key, and stops at the first group that starts after it. Changes only mark the index
// dirty; it is rebuilt at the next match, so a burst of new watchers costs one sort.
type rangeIndex struct {
	groups []*watchGroup
	dirty  bool
	// maxEnd[node] is the largest end in the node's subtree; nil means unbounded.
	maxEnd [][]byte
}

func (ri *rangeIndex) add(g *watchGroup) {
	ri.groups = append(ri.groups, g)
	ri.dirty = true
}

func (ri *rangeIndex) remove(g *watchGroup) {
	for i, x := range ri.groups {
		if x == g {
			ri.groups[i] = ri.groups[len(ri.groups)-1]
			ri.groups[len(ri.groups)-1] = nil
			ri.groups = ri.groups[:len(ri.groups)-1]
			ri.dirty = true
			return
		}
	}
}

// endAfter reports whether end (nil: unbounded) lies after key, i.e. the range may hold it.
func endAfter(end, key []byte) bool { return end == nil || bytes.Compare(key, end) < 0 }

// maxOf returns the larger of two ends.
func maxOf(a, b []byte) []byte {
	if a == nil || b == nil {
		return nil
	}
	if bytes.Compare(a, b) >= 0 {
		return a
	}
	return b
}

func (ri *rangeIndex) rebuild() {
	sort.Slice(ri.groups, func(i, j int) bool { return bytes.Compare(ri.groups[i].kr.start, ri.groups[j].kr.start) < 0 })
	n := len(ri.groups)
	ri.maxEnd = make([][]byte, 4*max(n, 1))
	if n > 0 {
		ri.build(1, 0, n)
	}
	ri.dirty = false
}

func (ri *rangeIndex) build(node, lo, hi int) []byte {
	if hi-lo == 1 {
		ri.maxEnd[node] = ri.groups[lo].kr.end
		return ri.maxEnd[node]
	}
	mid := (lo + hi) / 2
	ri.maxEnd[node] = maxOf(ri.build(2*node, lo, mid), ri.build(2*node+1, mid, hi))
	return ri.maxEnd[node]
}

func (ri *rangeIndex) match(key []byte, fn func(*watchGroup)) {
	if len(ri.groups) == 0 {
		return
	}
	if ri.dirty {
		ri.rebuild()
	}
	// Only groups starting at or before key can hold it: a prefix of the order.
	n := sort.Search(len(ri.groups), func(i int) bool { return bytes.Compare(ri.groups[i].kr.start, key) > 0 })
	if n > 0 {
		ri.visit(1, 0, len(ri.groups), n, key, fn)
	}
}

func (ri *rangeIndex) visit(node, lo, hi, limit int, key []byte, fn func(*watchGroup)) {
	if lo >= limit || !endAfter(ri.maxEnd[node], key) {
		return
	}
	if hi-lo == 1 {
		fn(ri.groups[lo])
		return
	}
	mid := (lo + hi) / 2
	ri.visit(2*node, lo, mid, limit, key, fn)
	ri.visit(2*node+1, mid, hi, limit, key, fn)
}
