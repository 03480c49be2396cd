package storage

import (
	"bytes"
	"fmt"
)

// Txn runs a txn at one new revision (none if the chosen branch writes nothing). The
// compares of the txn and of every nested txn are evaluated first, against the store as
// it was before the txn; then the chosen operations run in list order, each seeing the
// ones before it. A txn that would put a key twice, or put a key it also deletes, in any
// branch that could run together, is refused with ErrDuplicateKey before anything runs,
// as is one whose chosen path has an operation that cannot be applied (see checkPath). An
// error after that point is an I/O or corruption error that leaves the store unusable:
// the node must stop rather than carry on with a half-applied entry.
func (w *Write) Txn(req TxnRequest) (*TxnResponse, error) {
	if w.err != nil {
		return nil, w.err
	}
	if _, err := checkTxn(&req); err != nil {
		return nil, err
	}
	o := w.begin()
	v, err := o.readView()
	if err != nil {
		return nil, err
	}
	path, err := w.s.choosePath(v, &req, o.main-1)
	if err != nil {
		o.finish()
		return nil, err
	}
	if err := w.s.checkPath(&req, path, o.main-1); err != nil {
		o.finish()
		return nil, err
	}
	resp, err := o.runTxn(&req, path)
	rev := o.finish()
	if err != nil {
		return nil, err
	}
	setTxnRevision(resp, rev)
	return resp, nil
}

// txnPath records which branch every txn of a request tree takes, in execution order.
type txnPath []bool

// choosePath evaluates the compares of req and its nested txns at rev.
func (s *Store) choosePath(v *view, req *TxnRequest, rev int64) (txnPath, error) {
	var path txnPath
	var walk func(t *TxnRequest) error
	walk = func(t *TxnRequest) error {
		ok := true
		for i := range t.Compare {
			holds, err := s.evalCompare(v, &t.Compare[i], rev)
			if err != nil {
				return err
			}
			if !holds {
				ok = false
				break
			}
		}
		path = append(path, ok)
		ops := t.Failure
		if ok {
			ops = t.Success
		}
		for _, op := range ops {
			if op.Txn != nil {
				if err := walk(op.Txn); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return path, walk(req)
}

// evalCompare reports whether c holds for every key of its range at rev.
func (s *Store) evalCompare(v *view, c *Compare, rev int64) (bool, error) {
	revs, _ := s.idx.rangeAt(newKeyRange(c.Key, c.RangeEnd), rev, -1, nil)
	if len(revs) == 0 {
		if c.Target == TargetValue {
			return false, nil
		}
		return compareKV(c, &KeyValue{}), nil
	}
	for _, ra := range revs {
		kv, err := s.fetch(v, ra.rev)
		if err != nil {
			return false, err
		}
		if !compareKV(c, kv) {
			return false, nil
		}
	}
	return true, nil
}

func compareKV(c *Compare, kv *KeyValue) bool {
	var r int
	switch c.Target {
	case TargetValue:
		r = bytes.Compare(kv.Value, c.Value)
	case TargetVersion:
		r = cmpInt(kv.Version, c.Version)
	case TargetCreate:
		r = cmpInt(kv.CreateRevision, c.CreateRevision)
	case TargetMod:
		r = cmpInt(kv.ModRevision, c.ModRevision)
	case TargetLease:
		r = cmpInt(kv.Lease, c.Lease)
	default:
		return false
	}
	switch c.Result {
	case CompareEqual:
		return r == 0
	case CompareNotEqual:
		return r != 0
	case CompareGreater:
		return r > 0
	case CompareLess:
		return r < 0
	}
	return false
}

// checkPath verifies, before anything runs, that every operation on the chosen path can
// be applied: ignore_value and ignore_lease need an existing key, and a range naming a
// revision must name one between the compacted and the current (pre-txn) revision. After
// it passes, the txn can only fail on an I/O or corruption error.
func (s *Store) checkPath(req *TxnRequest, path txnPath, cur int64) error {
	i := 0
	var walk func(t *TxnRequest) error
	walk = func(t *TxnRequest) error {
		ops := t.Failure
		if path[i] {
			ops = t.Success
		}
		i++
		for _, op := range ops {
			if op.Put != nil {
				if err := s.checkLease(op.Put); err != nil {
					return err
				}
			}
			switch {
			case op.Put != nil && (op.Put.IgnoreValue || op.Put.IgnoreLease):
				if _, _, _, ok := s.idx.current(op.Put.Key); !ok {
					return fmt.Errorf("%w: %q", ErrKeyNotFound, op.Put.Key)
				}
			case op.Range != nil && op.Range.Revision > 0:
				if rev := op.Range.Revision; rev > cur {
					return fmt.Errorf("%w: %d > current %d", ErrFutureRev, rev, cur)
				} else if c := s.compactRev.Load(); rev < c {
					return fmt.Errorf("%w: %d < compacted %d", ErrCompacted, rev, c)
				}
			case op.Txn != nil:
				if err := walk(op.Txn); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(req)
}

// runTxn executes the chosen path.
func (o *op) runTxn(req *TxnRequest, path txnPath) (*TxnResponse, error) {
	i := 0
	var run func(t *TxnRequest) (*TxnResponse, error)
	run = func(t *TxnRequest) (*TxnResponse, error) {
		ok := path[i]
		i++
		ops := t.Failure
		if ok {
			ops = t.Success
		}
		resp := &TxnResponse{Succeeded: ok, Responses: make([]ResponseOp, len(ops))}
		for j, op := range ops {
			var err error
			switch {
			case op.Range != nil:
				resp.Responses[j].Range, err = o.txnRange(op.Range)
			case op.Put != nil:
				resp.Responses[j].Put, err = o.put(op.Put)
			case op.DeleteRange != nil:
				resp.Responses[j].DeleteRange, err = o.deleteRange(op.DeleteRange)
			case op.Txn != nil:
				resp.Responses[j].Txn, err = run(op.Txn)
			}
			if err != nil {
				// Validation ran first; an error here is an I/O or corruption error.
				return nil, err
			}
		}
		return resp, nil
	}
	return run(req)
}

// txnRange reads inside a txn: it sees the txn's earlier writes.
func (o *op) txnRange(req *RangeRequest) (*RangeResponse, error) {
	v, err := o.readView()
	if err != nil {
		return nil, err
	}
	cur := o.main - 1
	if o.changed {
		cur = o.main
	}
	return o.w.s.rangeIn(v, *req, cur, cur)
}

// setTxnRevision sets the header revision of every response in the tree.
func setTxnRevision(r *TxnResponse, rev int64) {
	r.Revision = rev
	for i := range r.Responses {
		switch op := &r.Responses[i]; {
		case op.Range != nil:
			op.Range.Revision = rev
		case op.Put != nil:
			op.Put.Revision = rev
		case op.DeleteRange != nil:
			op.DeleteRange.Revision = rev
		case op.Txn != nil:
			setTxnRevision(op.Txn, rev)
		}
	}
}

// txnWrites is what one branch (with its nested txns) may write. origin tags each write
// with the op it came from: 0 for the branch's own puts and deletes, i+1 for the writes of
// a nested txn at op i. Two writes of one nested txn never conflict here: they were checked
// inside it, and writes of its two branches never run together.
type txnWrites struct {
	puts    [][]byte
	putFrom []int
	dels    []keyRange
	delFrom []int
}

func conflicts(a, b int) bool { return a == 0 || a != b }

// checkTxn validates the shape of a txn tree: each op sets exactly one field, keys are
// present, and no branch puts a key twice or puts a key it deletes. It returns the writes
// either branch may make.
func checkTxn(t *TxnRequest) (txnWrites, error) {
	var all txnWrites
	for _, branch := range [][]RequestOp{t.Success, t.Failure} {
		var w txnWrites
		for i, op := range branch {
			n := 0
			if op.Range != nil {
				n++
			}
			if op.Put != nil {
				n++
				if err := checkPut(op.Put); err != nil {
					return all, err
				}
				w.puts = append(w.puts, op.Put.Key)
				w.putFrom = append(w.putFrom, 0)
			}
			if op.DeleteRange != nil {
				n++
				if len(op.DeleteRange.Key) == 0 {
					return all, ErrEmptyKey
				}
				w.dels = append(w.dels, newKeyRange(op.DeleteRange.Key, op.DeleteRange.RangeEnd))
				w.delFrom = append(w.delFrom, 0)
			}
			if op.Txn != nil {
				n++
				sub, err := checkTxn(op.Txn)
				if err != nil {
					return all, err
				}
				for range sub.puts {
					w.putFrom = append(w.putFrom, i+1)
				}
				for range sub.dels {
					w.delFrom = append(w.delFrom, i+1)
				}
				w.puts = append(w.puts, sub.puts...)
				w.dels = append(w.dels, sub.dels...)
			}
			if n != 1 {
				return all, fmt.Errorf("storage: txn operation must set exactly one request, has %d", n)
			}
		}
		for a := range w.puts {
			for b := a + 1; b < len(w.puts); b++ {
				if conflicts(w.putFrom[a], w.putFrom[b]) && bytes.Equal(w.puts[a], w.puts[b]) {
					return all, fmt.Errorf("%w: %q put twice", ErrDuplicateKey, w.puts[a])
				}
			}
			for d := range w.dels {
				if conflicts(w.putFrom[a], w.delFrom[d]) && w.dels[d].contains(w.puts[a]) {
					return all, fmt.Errorf("%w: %q is both put and deleted", ErrDuplicateKey, w.puts[a])
				}
			}
		}
		all.puts = append(all.puts, w.puts...)
		all.dels = append(all.dels, w.dels...)
	}
	return all, nil
}
