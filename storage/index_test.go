package storage

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

func rv(main int64) Revision { return Revision{Main: main} }

// TestKeyIndexGenerations walks the example in keyindex.go's doc comment.
func TestKeyIndexGenerations(t *testing.T) {
	ki := &keyIndex{}
	ki.put(rv(2))
	if v, c := ki.put(rv(4)); v != 2 || c != 2 {
		t.Fatalf("second put: version %d create %d", v, c)
	}
	ki.tombstone(rv(6))
	if v, c := ki.put(rv(8)); v != 1 || c != 8 {
		t.Fatalf("put after delete: version %d create %d", v, c)
	}
	visible := map[int64]int64{1: 0, 2: 2, 3: 2, 4: 4, 5: 4, 6: 0, 7: 0, 8: 8, 9: 8}
	for at, want := range visible {
		r, ok := ki.get(at)
		if (want == 0) == ok || (ok && r.Main != want) {
			t.Errorf("get(%d) = %v %v, want %d", at, r, ok, want)
		}
	}

	keep := map[Revision]struct{}{}
	if ki.compact(5, keep) {
		t.Fatal("compact(5) emptied the key")
	}
	if _, ok := keep[rv(4)]; !ok || len(keep) != 1 {
		t.Fatalf("compact(5) keeps %v, want only 4", keep)
	}
	if g := ki.gens[0]; g.firstVer != 2 || len(g.revs) != 1 || g.created != 2 {
		t.Fatalf("after compact(5): %+v", g)
	}
	if r, ok := ki.get(5); !ok || r.Main != 4 {
		t.Fatalf("get(5) after compact(5) = %v %v", r, ok)
	}

	keep = map[Revision]struct{}{}
	if ki.compact(6, keep) || len(ki.gens) != 1 || ki.gens[0].created != 8 || len(keep) != 0 {
		t.Fatalf("compact(6): gens %+v keep %v", ki.gens, keep)
	}
	ki.tombstone(rv(9))
	if !ki.compact(9, map[Revision]struct{}{}) {
		t.Fatal("compact at the tombstone must empty the key")
	}
}

func TestKeyIndexTombstoneOfDeadKey(t *testing.T) {
	ki := &keyIndex{}
	if ki.tombstone(rv(3)) {
		t.Fatal("tombstone of a key never put succeeded")
	}
	ki.put(rv(4))
	ki.tombstone(rv(5))
	if ki.tombstone(rv(6)) {
		t.Fatal("second tombstone succeeded")
	}
}

// TestKeyIndexRestore checks that a generation rebuilt from compacted records keeps the
// stored version and create revision.
func TestKeyIndexRestore(t *testing.T) {
	ki := &keyIndex{}
	ki.restore(rv(10), 3, 5)
	ki.restore(rv(12), 3, 6)
	if r, ver, created := ki.gens[0].revs[1], ki.gens[0].firstVer+1, ki.gens[0].created; r.Main != 12 || ver != 6 || created != 3 {
		t.Fatalf("restored generation %+v", ki.gens[0])
	}
	if v, c := ki.put(rv(13)); v != 7 || c != 3 {
		t.Fatalf("put after restore: version %d create %d", v, c)
	}
}

func TestKeyRangeConventions(t *testing.T) {
	cases := []struct {
		key, end string
		in, out  []string
	}{
		{"b", "", []string{"b"}, []string{"a", "ba", "c"}},
		{"b", "\x00", []string{"b", "ba", "z"}, []string{"a", "aa"}},
		{"\x00", "\x00", []string{"\x00", "a", "zz"}, nil},
		{"b", "d", []string{"b", "c", "cz"}, []string{"a", "d", "e"}},
		{"d", "b", nil, []string{"a", "b", "c", "d"}},
	}
	for _, c := range cases {
		kr := newKeyRange([]byte(c.key), []byte(c.end))
		for _, k := range c.in {
			if !kr.contains([]byte(k)) {
				t.Errorf("[%q,%q) should hold %q", c.key, c.end, k)
			}
		}
		for _, k := range c.out {
			if kr.contains([]byte(k)) {
				t.Errorf("[%q,%q) should not hold %q", c.key, c.end, k)
			}
		}
	}
}

// TestRangeIndexMatchesBruteForce compares the range index with a linear scan, through
// random additions and removals.
func TestRangeIndexMatchesBruteForce(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	key := func() []byte { return fmt.Appendf(nil, "%03d", r.IntN(200)) }
	gs := newWatchGroups()
	var live []*watcher
	for round := 0; round < 400; round++ {
		if len(live) > 0 && r.IntN(3) == 0 {
			i := r.IntN(len(live))
			gs.remove(live[i])
			live = append(live[:i], live[i+1:]...)
		} else {
			a, b := key(), key()
			if bytes.Compare(a, b) > 0 {
				a, b = b, a
			}
			var kr keyRange
			switch r.IntN(3) {
			case 0:
				kr = newKeyRange(a, nil)
			case 1:
				kr = newKeyRange(a, []byte{0})
			default:
				kr = newKeyRange(a, b)
			}
			w := &watcher{kr: kr}
			gs.add(w)
			live = append(live, w)
		}
		k := key()
		got := map[*watcher]bool{}
		gs.match(k, func(g *watchGroup) {
			for w := range g.watchers {
				if got[w] {
					t.Fatalf("watcher matched twice for %q", k)
				}
				got[w] = true
			}
		})
		for _, w := range live {
			if w.kr.contains(k) != got[w] {
				t.Fatalf("round %d key %q: watcher on %+v matched=%v", round, k, w.kr, got[w])
			}
		}
	}
}
