package storage

import (
	"fmt"
)

// Write begins a write session and holds the store's write lock until End. A session is
// the unit of atomicity on disk: the pending batch is never committed in the middle of
// one, and the consistent index set by SetConsistentIndex is committed in the same bbolt
// transaction as the session's changes. The node applies one raft entry per session.
//
// Each modifying operation of a session gets its own revision; a txn is one revision.
// Reads made through the session see its earlier operations. A Write must not be used
// from more than one goroutine, and must not be held while waiting for a read view to be
// closed by another goroutine that is itself waiting on the store.
func (s *Store) Write() *Write {
	s.swapMu.RLock()
	s.wmu.Lock()
	if s.closed.Load() {
		s.wmu.Unlock()
		s.swapMu.RUnlock()
		return &Write{s: s, err: ErrClosed}
	}
	return &Write{s: s}
}

// Write is an open write session; see Store.Write.
type Write struct {
	s      *Store
	err    error // ErrClosed when the store closed before the session began
	ended  bool
	ci     *ConsistentIndex
	events []Event
	recBuf []byte // records of the session; slices of it are retained by the batch
}

// op tracks the changes of one operation at one main revision.
type op struct {
	w       *Write
	main    int64
	sub     int64
	changed bool
	view    *view // read view, begun lazily and renewed after each change
}

func (w *Write) begin() *op { return &op{w: w, main: w.s.rev.Load() + 1} }

// readView returns a view that includes the op's changes so far.
func (o *op) readView() (*view, error) {
	if o.view != nil {
		return o.view, nil
	}
	v, err := o.w.s.be.view()
	if err != nil {
		return nil, err
	}
	o.view = v
	return v, nil
}

// invalidate drops the view after a change, so the next read sees it.
func (o *op) invalidate() {
	if o.view != nil {
		o.view.Close()
		o.view = nil
	}
}

// finish publishes the op's revision if it changed anything.
func (o *op) finish() int64 {
	o.invalidate()
	if o.changed {
		o.w.s.rev.Store(o.main)
		return o.main
	}
	return o.w.s.rev.Load()
}

// putKV records a new version of key. prevRev and friends come from the index lookup the
// caller already made.
func (o *op) putKV(key, value []byte, lease int64) KeyValue {
	s := o.w.s
	rev := Revision{Main: o.main, Sub: o.sub}
	o.sub++
	ver, created := s.idx.put(key, rev)
	kv := KeyValue{Key: key, CreateRevision: created, ModRevision: o.main, Version: ver, Value: value, Lease: lease}
	rec := o.store(rev, false, &kv)
	// The caller owns key and value; the event refers to the session's copy in the record.
	kv.Key, kv.Value = recordKeyValue(rec, len(key), len(value))
	s.leases.set(kv.Key, lease)
	o.w.events = append(o.w.events, Event{Type: EventPut, KV: kv})
	return kv
}

// deleteKey records a tombstone for a live key.
func (o *op) deleteKey(key []byte) {
	s := o.w.s
	rev := Revision{Main: o.main, Sub: o.sub}
	o.sub++
	s.idx.tombstone(key, rev)
	kv := KeyValue{Key: key, ModRevision: o.main}
	rec := o.store(rev, true, &kv)
	kv.Key, _ = recordKeyValue(rec, len(key), 0)
	s.leases.set(kv.Key, 0)
	o.w.events = append(o.w.events, Event{Type: EventDelete, KV: kv})
}

// store encodes the record of kv at rev into the session's buffer, adds it to the pending
// batch and returns the encoded record.
func (o *op) store(rev Revision, tomb bool, kv *KeyValue) []byte {
	w := o.w
	// Records and keys of a session share one buffer; a full buffer is replaced, never
	// grown in place, so slices handed to the batch stay valid.
	// Chunks start small (most sessions write one key) and double up to 64 KiB.
	need := revKeyLen + recordSize(kv)
	if cap(w.recBuf)-len(w.recBuf) < need {
		w.recBuf = make([]byte, 0, max(need, min(2*cap(w.recBuf), 64<<10), 512))
	}
	start := len(w.recBuf)
	w.recBuf = appendRevKey(w.recBuf, rev, tomb)
	mid := len(w.recBuf)
	w.recBuf = appendRecord(w.recBuf, kv)
	end := len(w.recBuf)
	rec := w.recBuf[mid:end:end]
	w.s.be.put(w.recBuf[start:mid:mid], rec)
	o.changed = true
	o.invalidate()
	return rec
}

// Put writes one key at a new revision.
func (w *Write) Put(req PutRequest) (*PutResponse, error) {
	if w.err != nil {
		return nil, w.err
	}
	if err := checkPut(&req); err != nil {
		return nil, err
	}
	if err := w.s.checkLease(&req); err != nil {
		return nil, err
	}
	o := w.begin()
	resp, err := o.put(&req)
	rev := o.finish()
	if resp != nil {
		resp.Revision = rev
	}
	return resp, err
}

func checkPut(req *PutRequest) error {
	if len(req.Key) == 0 {
		return ErrEmptyKey
	}
	if req.IgnoreValue && len(req.Value) != 0 {
		return ErrValueProvided
	}
	if req.IgnoreLease && req.Lease != 0 {
		return ErrLeaseProvided
	}
	return nil
}

func (o *op) put(req *PutRequest) (*PutResponse, error) {
	s := o.w.s
	var prev *KeyValue
	if req.PrevKV || req.IgnoreValue || req.IgnoreLease {
		if r, _, _, ok := s.idx.current(req.Key); ok {
			v, err := o.readView()
			if err != nil {
				return nil, err
			}
			if prev, err = s.fetch(v, r); err != nil {
				return nil, err
			}
		}
		if prev == nil && (req.IgnoreValue || req.IgnoreLease) {
			return nil, fmt.Errorf("%w: %q", ErrKeyNotFound, req.Key)
		}
	}
	value, lease := req.Value, req.Lease
	if req.IgnoreValue {
		value = prev.Value
	}
	if req.IgnoreLease {
		lease = prev.Lease
	}
	o.putKV(req.Key, value, lease)
	resp := &PutResponse{}
	if req.PrevKV {
		resp.PrevKV = prev
	}
	return resp, nil
}

// DeleteRange deletes the keys in a range at a new revision (none if nothing is deleted).
func (w *Write) DeleteRange(req DeleteRangeRequest) (*DeleteRangeResponse, error) {
	if w.err != nil {
		return nil, w.err
	}
	if len(req.Key) == 0 {
		return nil, ErrEmptyKey
	}
	o := w.begin()
	resp, err := o.deleteRange(&req)
	rev := o.finish()
	if resp != nil {
		resp.Revision = rev
	}
	return resp, err
}

func (o *op) deleteRange(req *DeleteRangeRequest) (*DeleteRangeResponse, error) {
	s := o.w.s
	revs, _ := s.idx.rangeAt(newKeyRange(req.Key, req.RangeEnd), o.main, -1, nil)
	resp := &DeleteRangeResponse{Deleted: int64(len(revs))}
	if req.PrevKV && len(revs) > 0 {
		v, err := o.readView()
		if err != nil {
			return nil, err
		}
		resp.PrevKVs = make([]KeyValue, 0, len(revs))
		for _, ra := range revs {
			kv, err := s.fetch(v, ra.rev)
			if err != nil {
				return nil, err
			}
			resp.PrevKVs = append(resp.PrevKVs, *kv)
		}
	}
	for _, ra := range revs {
		o.deleteKey(ra.key)
	}
	return resp, nil
}

// DeleteKeys deletes the given keys (those still live) in one revision, the way a lease
// revoke removes its attached keys. It returns the number deleted.
func (w *Write) DeleteKeys(keys [][]byte) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	o := w.begin()
	var n int64
	for _, k := range keys {
		if _, _, _, ok := w.s.idx.current(k); ok {
			o.deleteKey(k)
			n++
		}
	}
	o.finish()
	return n, nil
}

// Range reads through the session: it sees the session's earlier writes.
func (w *Write) Range(req RangeRequest) (*RangeResponse, error) {
	if w.err != nil {
		return nil, w.err
	}
	v, err := w.s.be.view()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	cur := w.s.rev.Load()
	return w.s.rangeIn(v, req, cur, cur)
}

// SetConsistentIndex records the raft position the session's changes belong to. It is
// committed atomically with them.
func (w *Write) SetConsistentIndex(index, term uint64) {
	w.ci = &ConsistentIndex{Index: index, Term: term}
}

// End closes the session: it records the consistent index, hands the session's events to
// the watchers, and releases the write lock. End is idempotent.
func (w *Write) End() {
	if w.ended {
		return
	}
	w.ended = true
	if w.err != nil {
		return
	}
	s := w.s
	if w.ci != nil {
		s.be.setMeta(metaConsistentIndex, encodeIndexTerm(w.ci.Index, w.ci.Term))
		s.ci.Store(w.ci)
	}
	s.hub.notify(w.events, s.rev.Load())
	full := s.be.pendingSize() >= s.opts.BatchLimit
	s.wmu.Unlock()
	s.swapMu.RUnlock()
	if full {
		select {
		case s.commitC <- struct{}{}:
		default:
		}
	}
}

// Put writes one key in a session of its own.
func (s *Store) Put(req PutRequest) (*PutResponse, error) {
	w := s.Write()
	defer w.End()
	return w.Put(req)
}

// DeleteRange deletes a range in a session of its own.
func (s *Store) DeleteRange(req DeleteRangeRequest) (*DeleteRangeResponse, error) {
	w := s.Write()
	defer w.End()
	return w.DeleteRange(req)
}

// Txn runs a txn in a session of its own.
func (s *Store) Txn(req TxnRequest) (*TxnResponse, error) {
	w := s.Write()
	defer w.End()
	return w.Txn(req)
}
