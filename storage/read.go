package storage

import (
	"bytes"
	"fmt"
	"sort"
)

// Range reads keys as of a revision. It is linearizable with respect to this store: it sees
// every write session that ended before it began.
func (s *Store) Range(req RangeRequest) (*RangeResponse, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	s.swapMu.RLock()
	defer s.swapMu.RUnlock()
	v, err := s.be.view()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	cur := s.rev.Load()
	return s.rangeIn(v, req, cur, cur)
}

// rangeIn serves a range from view v. cur is the revision reads default to; header is the
// revision reported in the response. v must have begun after cur's records were added.
func (s *Store) rangeIn(v *view, req RangeRequest, cur, header int64) (*RangeResponse, error) {
	rev := req.Revision
	if rev <= 0 {
		rev = cur
	}
	if rev > cur {
		return nil, fmt.Errorf("%w: %d > current %d", ErrFutureRev, rev, cur)
	}
	if c := s.compactRev.Load(); rev < c {
		return nil, fmt.Errorf("%w: %d < compacted %d", ErrCompacted, rev, c)
	}
	kr := newKeyRange(req.Key, req.RangeEnd)
	resp := &RangeResponse{Revision: header}
	if req.CountOnly {
		resp.Count = int64(s.idx.countAt(kr, rev))
		return resp, s.checkCompacted(rev)
	}

	// The index may stop at the limit only when its key order is the final order and no
	// filter will drop keys; otherwise everything is fetched, then sorted and cut.
	filtered := req.MinModRevision > 0 || req.MaxModRevision > 0 || req.MinCreateRevision > 0 || req.MaxCreateRevision > 0
	order := req.SortOrder
	if order == SortNone && req.SortTarget != SortByKey {
		order = SortAscend // etcd: a sort target without an order sorts ascending
	}
	keyOrdered := order == SortNone || (order == SortAscend && req.SortTarget == SortByKey)
	limit := -1
	if req.Limit > 0 && keyOrdered && !filtered {
		limit = int(req.Limit)
	}
	revs, total := s.idx.rangeAt(kr, rev, limit, nil)
	if err := s.checkCompacted(rev); err != nil {
		return nil, err
	}
	resp.Count = int64(total)
	kvs := make([]KeyValue, 0, len(revs))
	var keyBuf []byte
	for _, ra := range revs {
		keyBuf = appendRevKey(keyBuf[:0], ra.rev, false)
		raw := v.get(keyBuf)
		if raw == nil {
			return nil, fmt.Errorf("%w: index names revision %v of %q, which is not stored", ErrCorrupt, ra.rev, ra.key)
		}
		var kv KeyValue
		if err := decodeRecord(raw, &kv, true); err != nil {
			return nil, fmt.Errorf("revision %v: %w", ra.rev, err)
		}
		if filtered && !passFilters(&req, &kv) {
			continue
		}
		if req.KeysOnly {
			kv.Value = nil
		}
		kvs = append(kvs, kv)
	}
	if !keyOrdered {
		sortKVs(kvs, req.SortTarget, order)
	}
	if req.Limit > 0 && int64(len(kvs)) > req.Limit {
		kvs = kvs[:req.Limit]
		resp.More = true
	} else if limit > 0 && total > limit {
		resp.More = true
	}
	resp.KVs = kvs
	return resp, nil
}

// checkCompacted fails a read at rev when a compaction past rev began while the read was
// consulting the index: compaction raises compactRev before it touches the index, so a
// read that passes this check after its index lookup saw an uncompacted index.
func (s *Store) checkCompacted(rev int64) error {
	if c := s.compactRev.Load(); rev < c {
		return fmt.Errorf("%w: %d < compacted %d", ErrCompacted, rev, c)
	}
	return nil
}

func passFilters(r *RangeRequest, kv *KeyValue) bool {
	return (r.MinModRevision <= 0 || kv.ModRevision >= r.MinModRevision) &&
		(r.MaxModRevision <= 0 || kv.ModRevision <= r.MaxModRevision) &&
		(r.MinCreateRevision <= 0 || kv.CreateRevision >= r.MinCreateRevision) &&
		(r.MaxCreateRevision <= 0 || kv.CreateRevision <= r.MaxCreateRevision)
}

// sortKVs sorts by target; ties keep key order (the input is key-ordered).
func sortKVs(kvs []KeyValue, target SortTarget, order SortOrder) {
	var less func(a, b *KeyValue) int
	switch target {
	case SortByVersion:
		less = func(a, b *KeyValue) int { return cmpInt(a.Version, b.Version) }
	case SortByCreate:
		less = func(a, b *KeyValue) int { return cmpInt(a.CreateRevision, b.CreateRevision) }
	case SortByMod:
		less = func(a, b *KeyValue) int { return cmpInt(a.ModRevision, b.ModRevision) }
	case SortByValue:
		less = func(a, b *KeyValue) int { return bytes.Compare(a.Value, b.Value) }
	default:
		less = func(a, b *KeyValue) int { return bytes.Compare(a.Key, b.Key) }
	}
	sort.SliceStable(kvs, func(i, j int) bool {
		if order == SortDescend {
			return less(&kvs[j], &kvs[i]) < 0
		}
		return less(&kvs[i], &kvs[j]) < 0
	})
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// getAt returns the version of key visible at rev from view v, or nil.
func (s *Store) getAt(v *view, key []byte, rev int64) (*KeyValue, error) {
	r, ok := s.idx.get(key, rev)
	if !ok {
		return nil, nil
	}
	return s.fetch(v, r)
}

// fetch reads and decodes (copying) the record of revision r.
func (s *Store) fetch(v *view, r Revision) (*KeyValue, error) {
	raw := v.get(appendRevKey(make([]byte, 0, revKeyLen), r, false))
	if raw == nil {
		return nil, fmt.Errorf("%w: revision %v is not stored", ErrCorrupt, r)
	}
	kv := new(KeyValue)
	if err := decodeRecord(raw, kv, true); err != nil {
		return nil, fmt.Errorf("revision %v: %w", r, err)
	}
	return kv, nil
}
