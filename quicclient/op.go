package quicclient

import "etcq.dev/etcq/wire"

// Op is one KV operation, built by OpGet, OpPut, OpDelete or OpTxn, for Do and for the
// branches of a Txn.
type Op struct {
	kind opKind
	key  []byte
	end  []byte
	val  []byte

	// Range.
	rev              int64
	limit            int64
	sort             *sortOption
	serializable     bool
	keysOnly         bool
	countOnly        bool
	minModRev        int64
	maxModRev        int64
	minCreateRev     int64
	maxCreateRev     int64
	prefix, fromKey  bool
	prevKV           bool
	lease            int64
	ignoreValue      bool
	ignoreLease      bool
	filterPut        bool
	filterDelete     bool
	progressNotify   bool
	createdNotify    bool
	txnCmps          []Cmp
	txnThen, txnElse []Op
}

type opKind int

const (
	opRange opKind = iota + 1
	opPut
	opDelete
	opTxn
)

type sortOption struct {
	target wire.SortTarget
	order  wire.SortOrder
}

// OpOption configures an Op.
type OpOption func(*Op)

// OpGet reads a key (or a range, with WithPrefix, WithRange or WithFromKey).
func OpGet(key string, opts ...OpOption) Op { return newOp(opRange, key, "", opts) }

// OpPut writes a key.
func OpPut(key, val string, opts ...OpOption) Op { return newOp(opPut, key, val, opts) }

// OpDelete deletes a key (or a range).
func OpDelete(key string, opts ...OpOption) Op { return newOp(opDelete, key, "", opts) }

// OpTxn nests a txn in a txn branch.
func OpTxn(cmps []Cmp, thenOps, elseOps []Op) Op {
	return Op{kind: opTxn, txnCmps: cmps, txnThen: thenOps, txnElse: elseOps}
}

func newOp(kind opKind, key, val string, opts []OpOption) Op {
	op := Op{kind: kind, key: []byte(key), val: []byte(val)}
	for _, o := range opts {
		o(&op)
	}
	switch {
	case op.prefix:
		op.end = prefixEnd(op.key)
	case op.fromKey:
		op.end = []byte{0}
	}
	return op
}

// prefixEnd is the end of the range of keys that start with key.
func prefixEnd(key []byte) []byte {
	end := append([]byte(nil), key...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	// Every byte is 0xff (or the key is empty): every key from key on.
	return []byte{0}
}

// WithPrefix makes the op cover every key with the op's key as a prefix.
func WithPrefix() OpOption { return func(op *Op) { op.prefix = true } }

// WithRange makes the op cover [key, end).
func WithRange(end string) OpOption { return func(op *Op) { op.end = []byte(end) } }

// WithFromKey makes the op cover every key >= key.
func WithFromKey() OpOption { return func(op *Op) { op.fromKey = true } }

// WithRev reads as of a revision.
func WithRev(rev int64) OpOption { return func(op *Op) { op.rev = rev } }

// WithLimit caps the number of keys a get returns.
func WithLimit(n int64) OpOption { return func(op *Op) { op.limit = n } }

// WithSort orders a get's results.
func WithSort(target wire.SortTarget, order wire.SortOrder) OpOption {
	return func(op *Op) { op.sort = &sortOption{target: target, order: order} }
}

// WithSerializable serves a get from the member's local store: faster, possibly stale.
func WithSerializable() OpOption { return func(op *Op) { op.serializable = true } }

// WithKeysOnly returns keys without values.
func WithKeysOnly() OpOption { return func(op *Op) { op.keysOnly = true } }

// WithCountOnly returns only the number of keys.
func WithCountOnly() OpOption { return func(op *Op) { op.countOnly = true } }

// WithMinModRev, WithMaxModRev, WithMinCreateRev and WithMaxCreateRev filter a get's keys.
func WithMinModRev(rev int64) OpOption { return func(op *Op) { op.minModRev = rev } }

// WithMaxModRev filters a get's keys by modification revision.
func WithMaxModRev(rev int64) OpOption { return func(op *Op) { op.maxModRev = rev } }

// WithMinCreateRev filters a get's keys by creation revision.
func WithMinCreateRev(rev int64) OpOption { return func(op *Op) { op.minCreateRev = rev } }

// WithMaxCreateRev filters a get's keys by creation revision.
func WithMaxCreateRev(rev int64) OpOption { return func(op *Op) { op.maxCreateRev = rev } }

// WithPrevKV returns the previous value of the keys a put or delete changes, or of the
// keys in watch events.
func WithPrevKV() OpOption { return func(op *Op) { op.prevKV = true } }

// WithLease attaches a lease to a put.
func WithLease(id int64) OpOption { return func(op *Op) { op.lease = id } }

// WithIgnoreValue keeps the key's current value on a put.
func WithIgnoreValue() OpOption { return func(op *Op) { op.ignoreValue = true } }

// WithIgnoreLease keeps the key's current lease on a put.
func WithIgnoreLease() OpOption { return func(op *Op) { op.ignoreLease = true } }

// WithFilterPut drops put events from a watch.
func WithFilterPut() OpOption { return func(op *Op) { op.filterPut = true } }

// WithFilterDelete drops delete events from a watch.
func WithFilterDelete() OpOption { return func(op *Op) { op.filterDelete = true } }

// WithProgressNotify asks for periodic progress notifications on a watch.
func WithProgressNotify() OpOption { return func(op *Op) { op.progressNotify = true } }

// WithCreatedNotify delivers the watch's creation as its first response.
func WithCreatedNotify() OpOption { return func(op *Op) { op.createdNotify = true } }

func (op *Op) rangeRequest() *wire.RangeRequest {
	r := &wire.RangeRequest{
		Key: op.key, RangeEnd: op.end, Limit: op.limit, Revision: op.rev,
		Serializable: op.serializable, KeysOnly: op.keysOnly, CountOnly: op.countOnly,
		MinModRevision: op.minModRev, MaxModRevision: op.maxModRev,
		MinCreateRevision: op.minCreateRev, MaxCreateRevision: op.maxCreateRev,
	}
	if op.sort != nil {
		r.SortTarget, r.SortOrder = op.sort.target, op.sort.order
	}
	return r
}

func (op *Op) putRequest() *wire.PutRequest {
	return &wire.PutRequest{Key: op.key, Value: op.val, Lease: op.lease, PrevKV: op.prevKV, IgnoreValue: op.ignoreValue, IgnoreLease: op.ignoreLease}
}

func (op *Op) deleteRequest() *wire.DeleteRangeRequest {
	return &wire.DeleteRangeRequest{Key: op.key, RangeEnd: op.end, PrevKV: op.prevKV}
}

func (op *Op) txnRequest() *wire.TxnRequest {
	t := &wire.TxnRequest{Success: requestOps(op.txnThen), Failure: requestOps(op.txnElse)}
	for _, c := range op.txnCmps {
		t.Compare = append(t.Compare, c.c)
	}
	return t
}

func requestOps(ops []Op) []wire.RequestOp {
	out := make([]wire.RequestOp, len(ops))
	for i := range ops {
		switch ops[i].kind {
		case opRange:
			out[i].Range = ops[i].rangeRequest()
		case opPut:
			out[i].Put = ops[i].putRequest()
		case opDelete:
			out[i].DeleteRange = ops[i].deleteRequest()
		case opTxn:
			out[i].Txn = ops[i].txnRequest()
		}
	}
	return out
}
