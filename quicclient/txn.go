package quicclient

import (
	"context"
	"fmt"

	"etcq.dev/etcq/wire"
)

// Cmp is one guard of a txn, built with Compare.
type Cmp struct{ c wire.Compare }

// CmpTarget names the field of a key a Cmp reads; build one with Value, Version,
// CreateRevision, ModRevision or LeaseValue.
type CmpTarget struct {
	key    []byte
	target wire.CompareTarget
}

// Value compares a key's value.
func Value(key string) CmpTarget { return CmpTarget{[]byte(key), wire.TargetValue} }

// Version compares a key's version (0: it does not exist).
func Version(key string) CmpTarget { return CmpTarget{[]byte(key), wire.TargetVersion} }

// CreateRevision compares the revision that created a key.
func CreateRevision(key string) CmpTarget { return CmpTarget{[]byte(key), wire.TargetCreate} }

// ModRevision compares the revision that last modified a key.
func ModRevision(key string) CmpTarget { return CmpTarget{[]byte(key), wire.TargetMod} }

// LeaseValue compares a key's lease.
func LeaseValue(key string) CmpTarget { return CmpTarget{[]byte(key), wire.TargetLease} }

// Compare guards a txn: target op v, where op is "=", "!=", ">" or "<" and v is a string
// for Value and an integer for the others. It panics on an operator or operand of the
// wrong kind, as a programming error.
func Compare(t CmpTarget, op string, v any) Cmp {
	c := wire.Compare{Key: t.key, Target: t.target}
	switch op {
	case "=", "==":
		c.Result = wire.CompareEqual
	case "!=":
		c.Result = wire.CompareNotEqual
	case ">":
		c.Result = wire.CompareGreater
	case "<":
		c.Result = wire.CompareLess
	default:
		panic(fmt.Sprintf("quicclient: unknown compare operator %q", op))
	}
	if t.target == wire.TargetValue {
		switch v := v.(type) {
		case string:
			c.Value = []byte(v)
		case []byte:
			c.Value = v
		default:
			panic(fmt.Sprintf("quicclient: a value compare needs a string, not %T", v))
		}
		return Cmp{c}
	}
	var n int64
	switch v := v.(type) {
	case int:
		n = int64(v)
	case int64:
		n = v
	default:
		panic(fmt.Sprintf("quicclient: compare of %v needs an integer, not %T", t.target, v))
	}
	switch t.target {
	case wire.TargetVersion:
		c.Version = n
	case wire.TargetCreate:
		c.CreateRevision = n
	case wire.TargetMod:
		c.ModRevision = n
	case wire.TargetLease:
		c.Lease = n
	}
	return Cmp{c}
}

// WithRange makes a Cmp cover every key in [key, end).
func (c Cmp) WithRange(end string) Cmp { c.c.RangeEnd = []byte(end); return c }

// WithPrefix makes a Cmp cover every key with its key as a prefix.
func (c Cmp) WithPrefix() Cmp { c.c.RangeEnd = prefixEnd(c.c.Key); return c }

// Txn builds a transaction: If(compares...).Then(ops...).Else(ops...).Commit().
type Txn struct {
	c        *Client
	ctx      context.Context
	cmps     []Cmp
	thn, els []Op
}

// TxnResponse is the result of a txn: which branch ran and the results of its ops.
type TxnResponse struct {
	Header    Header
	Succeeded bool
	Responses []wire.ResponseOp
}

// Txn starts a transaction.
func (c *Client) Txn(ctx context.Context) *Txn { return &Txn{c: c, ctx: ctx} }

// If adds compares; all must hold for Then to run.
func (t *Txn) If(cmps ...Cmp) *Txn { t.cmps = append(t.cmps, cmps...); return t }

// Then adds the ops run when every compare holds.
func (t *Txn) Then(ops ...Op) *Txn { t.thn = append(t.thn, ops...); return t }

// Else adds the ops run otherwise.
func (t *Txn) Else(ops ...Op) *Txn { t.els = append(t.els, ops...); return t }

// Commit runs the txn. A txn that only reads is retried like a get; one that writes
// reports ErrOutcomeUnknown when its answer is lost.
func (t *Txn) Commit() (*TxnResponse, error) {
	op := OpTxn(t.cmps, t.thn, t.els)
	req := op.txnRequest()
	if n := req.Ops(); n > t.c.cfg.Limits.MaxTxnOps {
		return nil, fmt.Errorf("%w: %d operations, the limit is %d", wire.ErrTooManyOps, n, t.c.cfg.Limits.MaxTxnOps)
	}
	s := idempotent
	if writes(t.thn) || writes(t.els) {
		s = mutating
	}
	resp, err := t.c.do(t.ctx, wire.OpTxn, req, s)
	if err != nil {
		return nil, err
	}
	r := resp.Body.(*wire.TxnResponse)
	return &TxnResponse{Header: resp.Header, Succeeded: r.Succeeded, Responses: r.Responses}, nil
}

func writes(ops []Op) bool {
	for _, op := range ops {
		if op.kind == opPut || op.kind == opDelete || op.kind == opTxn && (writes(op.txnThen) || writes(op.txnElse)) {
			return true
		}
	}
	return false
}
