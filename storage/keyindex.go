package storage

// keyIndex holds the history of one key as a list of generations. A generation starts
// with the put that creates the key and ends with the tombstone that deletes it; the last
// generation is the live one unless it is closed by a tombstone.
//
// Example: put@2, put@4, del@6, put@8 gives
//
//	gens[0] = {created 2, firstVer 1, revs [2 4], tomb 6}
//	gens[1] = {created 8, firstVer 1, revs [8]}
//
// After compact(5) the first generation keeps only its version at 4 (the latest put at or
// before 5): {created 2, firstVer 2, revs [4], tomb 6}. After compact(6) it is gone: it was
// deleted at or before the compaction revision, so no read at >= 6 can see it.
//
// Invariants: revs are strictly increasing across all generations; a generation has at
// least one rev; only the last generation may lack a tombstone; tomb > revs[last].
type keyIndex struct {
	gens []generation
}

type generation struct {
	created  int64 // main revision of the creating put (kept when that put is compacted)
	firstVer int64 // version of revs[0]
	revs     []Revision
	tomb     Revision // zero while the generation is live
}

func (g *generation) live() bool { return g.tomb.Main == 0 }

// put records a put at rev and returns the new version and the create revision.
func (ki *keyIndex) put(rev Revision) (ver, created int64) {
	if n := len(ki.gens); n > 0 && ki.gens[n-1].live() {
		g := &ki.gens[n-1]
		g.revs = append(g.revs, rev)
		return g.firstVer + int64(len(g.revs)) - 1, g.created
	}
	ki.gens = append(ki.gens, generation{created: rev.Main, firstVer: 1, revs: []Revision{rev}})
	return 1, rev.Main
}

// restore records a put read back from disk, whose record carries its own version and
// create revision (earlier versions may have been compacted away).
func (ki *keyIndex) restore(rev Revision, created, ver int64) {
	if n := len(ki.gens); n > 0 && ki.gens[n-1].live() {
		g := &ki.gens[n-1]
		g.revs = append(g.revs, rev)
		return
	}
	ki.gens = append(ki.gens, generation{created: created, firstVer: ver, revs: []Revision{rev}})
}

// tombstone closes the live generation at rev. It reports false when the key is not live.
func (ki *keyIndex) tombstone(rev Revision) bool {
	n := len(ki.gens)
	if n == 0 || !ki.gens[n-1].live() {
		return false
	}
	ki.gens[n-1].tomb = rev
	return true
}

// liveGen returns the live generation, or nil.
func (ki *keyIndex) liveGen() *generation {
	if n := len(ki.gens); n > 0 && ki.gens[n-1].live() {
		return &ki.gens[n-1]
	}
	return nil
}

// get returns the revision of the version visible at main revision atRev.
func (ki *keyIndex) get(atRev int64) (Revision, bool) {
	for i := len(ki.gens) - 1; i >= 0; i-- {
		g := &ki.gens[i]
		if g.revs[0].Main > atRev {
			continue
		}
		if !g.live() && g.tomb.Main <= atRev {
			return Revision{}, false
		}
		// The latest rev <= atRev; revs are few per generation in practice, and the
		// common case (atRev at or past the last rev) returns at once.
		j := len(g.revs) - 1
		for j > 0 && g.revs[j].Main > atRev {
			j--
		}
		return g.revs[j], true
	}
	return Revision{}, false
}

// compact drops history that no read at atRev or later can see: whole generations deleted
// at or before atRev, and within the generation visible at atRev every version older than
// the one visible there. It adds the revision that stays visible at atRev to keep (when the
// key is live at atRev) and reports whether the key has no history left.
func (ki *keyIndex) compact(atRev int64, keep map[Revision]struct{}) (empty bool) {
	drop := 0
	for drop < len(ki.gens) && !ki.gens[drop].live() && ki.gens[drop].tomb.Main <= atRev {
		drop++
	}
	if drop > 0 {
		ki.gens = append(ki.gens[:0], ki.gens[drop:]...)
	}
	if len(ki.gens) == 0 {
		return true
	}
	g := &ki.gens[0]
	if g.revs[0].Main > atRev {
		return false
	}
	j := len(g.revs) - 1
	for j > 0 && g.revs[j].Main > atRev {
		j--
	}
	if keep != nil {
		keep[g.revs[j]] = struct{}{}
	}
	if j > 0 {
		g.revs = append(g.revs[:0], g.revs[j:]...)
		g.firstVer += int64(j)
	}
	return false
}
