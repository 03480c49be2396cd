package storage

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"
)

var modelSeed = flag.Uint64("storage.seed", 0, "seed for TestModel (0: from the clock)")

// mkv is the model's view of one key version.
type mkv struct {
	value                       []byte
	create, mod, version, lease int64
}

// model is a deliberately naive reference: the whole key space is copied at every
// revision, and every read scans it.
type model struct {
	states     []map[string]mkv // states[r] is the key space after revision r (r >= 1)
	compactRev int64
}

func newModel() *model { return &model{states: []map[string]mkv{nil, {}}} }

func (m *model) rev() int64 { return int64(len(m.states) - 1) }

func (m *model) cur() map[string]mkv { return m.states[m.rev()] }

func clone(st map[string]mkv) map[string]mkv {
	out := make(map[string]mkv, len(st))
	for k, v := range st {
		out[k] = v
	}
	return out
}

func inRange(k string, key, end []byte) bool {
	switch {
	case len(end) == 0:
		return k == string(key)
	case len(end) == 1 && end[0] == 0:
		return k >= string(key)
	default:
		return k >= string(key) && k < string(end)
	}
}

func (m *model) keysIn(st map[string]mkv, key, end []byte) []string {
	var out []string
	for k := range st {
		if inRange(k, key, end) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func toKV(k string, v mkv) KeyValue {
	return KeyValue{Key: []byte(k), CreateRevision: v.create, ModRevision: v.mod, Version: v.version, Value: v.value, Lease: v.lease}
}

func (m *model) rangeAt(st map[string]mkv, req RangeRequest, header int64) *RangeResponse {
	keys := m.keysIn(st, req.Key, req.RangeEnd)
	resp := &RangeResponse{Revision: header, Count: int64(len(keys))}
	if req.CountOnly {
		return resp
	}
	var kvs []KeyValue
	for _, k := range keys {
		kv := toKV(k, st[k])
		if req.MinModRevision > 0 && kv.ModRevision < req.MinModRevision ||
			req.MaxModRevision > 0 && kv.ModRevision > req.MaxModRevision ||
			req.MinCreateRevision > 0 && kv.CreateRevision < req.MinCreateRevision ||
			req.MaxCreateRevision > 0 && kv.CreateRevision > req.MaxCreateRevision {
			continue
		}
		if req.KeysOnly {
			kv.Value = nil
		}
		kvs = append(kvs, kv)
	}
	order := req.SortOrder
	if order == SortNone && req.SortTarget != SortByKey {
		order = SortAscend
	}
	if order != SortNone {
		field := func(kv KeyValue) string {
			switch req.SortTarget {
			case SortByVersion:
				return fmt.Sprintf("%020d", kv.Version)
			case SortByCreate:
				return fmt.Sprintf("%020d", kv.CreateRevision)
			case SortByMod:
				return fmt.Sprintf("%020d", kv.ModRevision)
			case SortByValue:
				return string(kv.Value)
			}
			return string(kv.Key)
		}
		sort.SliceStable(kvs, func(i, j int) bool {
			if order == SortDescend {
				return field(kvs[j]) < field(kvs[i])
			}
			return field(kvs[i]) < field(kvs[j])
		})
	}
	if req.Limit > 0 && int64(len(kvs)) > req.Limit {
		kvs = kvs[:req.Limit]
		resp.More = true
	}
	resp.KVs = kvs
	return resp
}

func (m *model) Range(req RangeRequest) (*RangeResponse, error) {
	rev := req.Revision
	if rev <= 0 {
		rev = m.rev()
	}
	if rev > m.rev() {
		return nil, ErrFutureRev
	}
	if rev < m.compactRev {
		return nil, ErrCompacted
	}
	return m.rangeAt(m.states[rev], req, m.rev()), nil
}

// mtxn applies operations of one revision to a working copy.
type mtxn struct {
	m       *model
	st      map[string]mkv
	main    int64
	changed bool
}

func (m *model) begin() *mtxn { return &mtxn{m: m, st: clone(m.cur()), main: m.rev() + 1} }

func (t *mtxn) commit() int64 {
	if t.changed {
		t.m.states = append(t.m.states, t.st)
	}
	return t.m.rev()
}

func (t *mtxn) put(req *PutRequest) (*PutResponse, error) {
	prev, ok := t.st[string(req.Key)]
	if (req.IgnoreValue || req.IgnoreLease) && !ok {
		return nil, ErrKeyNotFound
	}
	nv := mkv{value: req.Value, mod: t.main, lease: req.Lease, create: t.main, version: 1}
	if ok {
		nv.create, nv.version = prev.create, prev.version+1
	}
	if req.IgnoreValue {
		nv.value = prev.value
	}
	if req.IgnoreLease {
		nv.lease = prev.lease
	}
	t.st[string(req.Key)] = nv
	t.changed = true
	resp := &PutResponse{}
	if req.PrevKV && ok {
		kv := toKV(string(req.Key), prev)
		resp.PrevKV = &kv
	}
	return resp, nil
}

func (t *mtxn) del(req *DeleteRangeRequest) *DeleteRangeResponse {
	keys := t.m.keysIn(t.st, req.Key, req.RangeEnd)
	resp := &DeleteRangeResponse{Deleted: int64(len(keys))}
	for _, k := range keys {
		if req.PrevKV {
			resp.PrevKVs = append(resp.PrevKVs, toKV(k, t.st[k]))
		}
		delete(t.st, k)
		t.changed = true
	}
	return resp
}

func mcompare(st map[string]mkv, keys []string, c *Compare) bool {
	if len(keys) == 0 {
		if c.Target == TargetValue {
			return false
		}
		return compareKV(c, &KeyValue{})
	}
	for _, k := range keys {
		kv := toKV(k, st[k])
		if !compareKV(c, &kv) {
			return false
		}
	}
	return true
}

// txn runs a txn: compares of the whole tree against the state before it, then the ops.
func (t *mtxn) txn(req *TxnRequest, before map[string]mkv) (*TxnResponse, error) {
	ok := true
	for i := range req.Compare {
		c := &req.Compare[i]
		if !mcompare(before, t.m.keysIn(before, c.Key, c.RangeEnd), c) {
			ok = false
			break
		}
	}
	ops := req.Failure
	if ok {
		ops = req.Success
	}
	resp := &TxnResponse{Succeeded: ok, Responses: make([]ResponseOp, len(ops))}
	for i, op := range ops {
		switch {
		case op.Range != nil:
			header := t.main - 1
			if t.changed {
				header = t.main
			}
			resp.Responses[i].Range = t.m.rangeAt(t.st, *op.Range, header)
		case op.Put != nil:
			r, err := t.put(op.Put)
			if err != nil {
				return nil, err
			}
			resp.Responses[i].Put = r
		case op.DeleteRange != nil:
			resp.Responses[i].DeleteRange = t.del(op.DeleteRange)
		case op.Txn != nil:
			r, err := t.txn(op.Txn, before)
			if err != nil {
				return nil, err
			}
			resp.Responses[i].Txn = r
		}
	}
	return resp, nil
}

// gen makes random operations over a small key space, so that keys collide often.
type gen struct {
	r *rand.Rand
}

func (g *gen) key() []byte {
	prefixes := []string{"a/", "b/", "c/", "x"}
	return fmt.Appendf(nil, "%s%02d", prefixes[g.r.IntN(len(prefixes))], g.r.IntN(12))
}

func (g *gen) value() []byte {
	if g.r.IntN(10) == 0 {
		return nil
	}
	return fmt.Appendf(nil, "v%d", g.r.IntN(1000))
}

// keyRange returns key and range end in one of etcd's forms.
func (g *gen) keyRange() (key, end []byte) {
	k := g.key()
	switch g.r.IntN(5) {
	case 0, 1:
		return k, nil
	case 2:
		return k[:2], []byte{k[0], k[1] + 1} // a prefix
	case 3:
		return k, []byte{0} // from key
	default:
		e := g.key()
		if bytes.Compare(e, k) < 0 {
			k, e = e, k
		}
		return k, e
	}
}

func (g *gen) put() *PutRequest {
	p := &PutRequest{Key: g.key(), Value: g.value(), PrevKV: g.r.IntN(2) == 0}
	if g.r.IntN(4) == 0 {
		p.Lease = int64(g.r.IntN(3))
	}
	switch g.r.IntN(12) {
	case 0:
		p.IgnoreValue, p.Value = true, nil
	case 1:
		p.IgnoreLease, p.Lease = true, 0
	}
	return p
}

func (g *gen) rangeReq(rev int64) *RangeRequest {
	k, e := g.keyRange()
	r := &RangeRequest{Key: k, RangeEnd: e, Revision: rev}
	if g.r.IntN(3) == 0 {
		r.Limit = int64(g.r.IntN(5))
	}
	if g.r.IntN(3) == 0 {
		r.SortOrder = SortOrder(g.r.IntN(3))
		r.SortTarget = SortTarget(g.r.IntN(5))
	}
	r.KeysOnly = g.r.IntN(6) == 0
	r.CountOnly = g.r.IntN(10) == 0
	if g.r.IntN(6) == 0 {
		r.MinModRevision = int64(g.r.IntN(int(rev) + 2))
		r.MaxCreateRevision = int64(g.r.IntN(int(rev) + 40))
	}
	return r
}

func (g *gen) compare() Compare {
	c := Compare{Result: CompareResult(g.r.IntN(4)), Target: CompareTarget(g.r.IntN(5))}
	if g.r.IntN(4) == 0 {
		c.Key, c.RangeEnd = g.keyRange()
	} else {
		c.Key = g.key()
	}
	c.Version = int64(g.r.IntN(4))
	c.CreateRevision = int64(g.r.IntN(50))
	c.ModRevision = int64(g.r.IntN(50))
	c.Value = g.value()
	c.Lease = int64(g.r.IntN(3))
	return c
}

// branch makes txn operations whose writes never conflict: puts on distinct keys, deletes
// of single keys no put names. used collects the keys written so far in the branch.
func (g *gen) branch(depth int, used map[string]bool, revHint int64) []RequestOp {
	n := g.r.IntN(4)
	ops := make([]RequestOp, 0, n)
	for i := 0; i < n; i++ {
		switch x := g.r.IntN(10); {
		case x < 4:
			p := g.put()
			if used[string(p.Key)] {
				continue
			}
			used[string(p.Key)] = true
			ops = append(ops, RequestOp{Put: p})
		case x < 6:
			k := g.key()
			if used[string(k)] {
				continue
			}
			used[string(k)] = true
			ops = append(ops, RequestOp{DeleteRange: &DeleteRangeRequest{Key: k, PrevKV: g.r.IntN(2) == 0}})
		case x < 9:
			r := g.rangeReq(0)
			ops = append(ops, RequestOp{Range: r})
		default:
			if depth < 2 {
				ops = append(ops, RequestOp{Txn: g.txn(depth+1, used, revHint)})
			}
		}
	}
	return ops
}

func (g *gen) txn(depth int, used map[string]bool, revHint int64) *TxnRequest {
	t := &TxnRequest{}
	for i := g.r.IntN(3); i > 0; i-- {
		t.Compare = append(t.Compare, g.compare())
	}
	// Both branches may share the keys already used by enclosing ops, so each branch gets
	// its own copy of the set, and the union flows back up.
	us, uf := clone2(used), clone2(used)
	t.Success = g.branch(depth, us, revHint)
	t.Failure = g.branch(depth, uf, revHint)
	for k := range us {
		used[k] = true
	}
	for k := range uf {
		used[k] = true
	}
	return t
}

func clone2(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// sameErr compares error outcomes by sentinel.
func sameErr(t *testing.T, step int, what string, got, want error) bool {
	t.Helper()
	if want == nil && got == nil {
		return true
	}
	if want == nil || got == nil || !errors.Is(got, want) {
		t.Fatalf("step %d %s: error %v, model expects %v", step, what, got, want)
	}
	return false
}

func normalize(v any) any {
	// Treat nil and empty slices alike.
	return fmt.Sprintf("%+v", deepNormalize(reflect.ValueOf(v)))
}

func deepNormalize(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return deepNormalize(v.Elem())
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return string(v.Bytes())
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = deepNormalize(v.Index(i))
		}
		return out
	case reflect.Struct:
		out := make(map[string]any)
		for i := 0; i < v.NumField(); i++ {
			out[v.Type().Field(i).Name] = deepNormalize(v.Field(i))
		}
		return out
	default:
		return v.Interface()
	}
}

func check(t *testing.T, step int, what string, got, want any) {
	t.Helper()
	g, w := normalize(got), normalize(want)
	if g != w {
		t.Fatalf("step %d %s:\n got  %v\n want %v", step, what, g, w)
	}
}

// TestModel runs random puts, deletes, txns (nested), ranges at past revisions and
// compactions against the store and the model, closing and reopening the store along the
// way (sometimes while a compaction is still running), and requires identical results.
func TestModel(t *testing.T) {
	seed := *modelSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -storage.seed=%d)", seed, seed)
	steps := 6000
	if testing.Short() {
		steps = 1500
	}
	path := filepath.Join(t.TempDir(), "db")
	opts := Options{BatchInterval: time.Millisecond, BatchLimit: 50, CompactionBatchLimit: 7}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	m := newModel()
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}

	for step := 0; step < steps; step++ {
		switch x := g.r.IntN(100); {
		case x < 30:
			req := g.put()
			got, err := s.Put(*req)
			mt := m.begin()
			want, werr := mt.put(req)
			rev := mt.commit()
			if sameErr(t, step, "put", err, werr) {
				want.Revision = rev
				check(t, step, "put", got, want)
			}
		case x < 40:
			k, e := g.keyRange()
			req := &DeleteRangeRequest{Key: k, RangeEnd: e, PrevKV: g.r.IntN(2) == 0}
			got, err := s.DeleteRange(*req)
			mt := m.begin()
			want := mt.del(req)
			want.Revision = mt.commit()
			if sameErr(t, step, "delete", err, nil) {
				check(t, step, "delete", got, want)
			}
		case x < 55:
			req := g.txn(0, map[string]bool{}, m.rev())
			got, err := s.Txn(*req)
			mt := m.begin()
			want, werr := mt.txn(req, m.cur())
			if werr != nil {
				mt.changed = false
			}
			rev := mt.commit()
			if sameErr(t, step, "txn", err, werr) {
				setTxnRevision(want, rev)
				check(t, step, "txn", got, want)
			}
		case x < 58:
			// A txn that conflicts with itself is refused whole.
			k := g.key()
			req := TxnRequest{Success: []RequestOp{
				{Put: &PutRequest{Key: k, Value: []byte("1")}},
				{DeleteRange: &DeleteRangeRequest{Key: k[:2], RangeEnd: []byte{k[0], k[1] + 1}}},
			}}
			if _, err := s.Txn(req); !errors.Is(err, ErrDuplicateKey) {
				t.Fatalf("step %d: conflicting txn: %v", step, err)
			}
		case x < 88:
			rev := int64(0)
			if g.r.IntN(2) == 0 {
				rev = int64(g.r.IntN(int(m.rev()) + 3)) // sometimes compacted, sometimes future
			}
			req := g.rangeReq(rev)
			got, err := s.Range(*req)
			want, werr := m.Range(*req)
			if sameErr(t, step, "range", err, werr) {
				check(t, step, "range", got, want)
			}
		case x < 92:
			rev := m.compactRev + int64(g.r.IntN(int(m.rev()-m.compactRev)+1))
			if g.r.IntN(8) == 0 {
				rev = m.compactRev // already compacted
			}
			done, err := s.Compact(rev)
			var werr error
			switch {
			case rev <= m.compactRev:
				werr = ErrCompacted
			case rev > m.rev():
				werr = ErrFutureRev
			default:
				m.compactRev = rev
			}
			if sameErr(t, step, "compact", err, werr) && g.r.IntN(2) == 0 {
				<-done
			}
		case x < 94:
			// Reopen, sometimes with a compaction still running: it must resume.
			before, err := s.HashKV(0)
			if err != nil {
				t.Fatalf("step %d: hashkv: %v", step, err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("step %d: close: %v", step, err)
			}
			if s, err = Open(path, opts); err != nil {
				t.Fatalf("step %d: reopen: %v", step, err)
			}
			after, err := s.HashKV(0)
			if err != nil {
				t.Fatalf("step %d: hashkv after reopen: %v", step, err)
			}
			check(t, step, "hashkv across reopen", after, before)
			if s.Rev() != m.rev() || s.CompactRev() != m.compactRev {
				t.Fatalf("step %d: reopened at rev %d compact %d, model %d %d", step, s.Rev(), s.CompactRev(), m.rev(), m.compactRev)
			}
		default:
			// Every key at every uncompacted revision, now and then.
			for rev := m.compactRev; rev <= m.rev(); rev++ {
				if rev < 1 {
					continue
				}
				req := RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: rev}
				got, err := s.Range(req)
				want, werr := m.Range(req)
				if sameErr(t, step, "full range", err, werr) {
					check(t, step, fmt.Sprintf("full range at %d", rev), got, want)
				}
			}
		}
		if s.Rev() != m.rev() {
			t.Fatalf("step %d: store at rev %d, model at %d", step, s.Rev(), m.rev())
		}
	}
	t.Logf("%d steps, final revision %d, compacted at %d", steps, m.rev(), m.compactRev)
}
