package quicclient

import (
	"context"

	"etcq.dev/etcq/wire"
)

// KeyValue, Header, Event and Member are the wire's types.
type (
	KeyValue = wire.KeyValue
	Header   = wire.Header
	Event    = wire.Event
	Member   = wire.Member
)

// GetResponse is the result of a Get.
type GetResponse struct {
	Header Header
	KVs    []KeyValue
	More   bool
	Count  int64
}

// PutResponse is the result of a Put.
type PutResponse struct {
	Header Header
	PrevKV *KeyValue
}

// DeleteResponse is the result of a Delete.
type DeleteResponse struct {
	Header  Header
	Deleted int64
	PrevKVs []KeyValue
}

// CompactResponse is the result of a Compact.
type CompactResponse struct {
	Header Header
}

// Get reads a key, or a range of keys with WithPrefix, WithRange or WithFromKey. Reads are
// linearizable unless WithSerializable. A get is retried on another member if its member
// fails.
func (c *Client) Get(ctx context.Context, key string, opts ...OpOption) (*GetResponse, error) {
	return c.get(ctx, OpGet(key, opts...))
}

func (c *Client) get(ctx context.Context, op Op) (*GetResponse, error) {
	resp, err := c.do(ctx, wire.OpRange, op.rangeRequest(), idempotent)
	if err != nil {
		return nil, err
	}
	return getResponse(resp.Header, resp.Body.(*wire.RangeResponse)), nil
}

func getResponse(h Header, r *wire.RangeResponse) *GetResponse {
	return &GetResponse{Header: h, KVs: r.KVs, More: r.More, Count: r.Count}
}

// Put writes a key. If the member fails after the put was sent, Put returns
// ErrOutcomeUnknown and does not retry.
func (c *Client) Put(ctx context.Context, key, val string, opts ...OpOption) (*PutResponse, error) {
	return c.put(ctx, OpPut(key, val, opts...))
}

func (c *Client) put(ctx context.Context, op Op) (*PutResponse, error) {
	resp, err := c.do(ctx, wire.OpPut, op.putRequest(), mutating)
	if err != nil {
		return nil, err
	}
	return &PutResponse{Header: resp.Header, PrevKV: resp.Body.(*wire.PutResponse).PrevKV}, nil
}

// Delete deletes a key, or a range of keys.
func (c *Client) Delete(ctx context.Context, key string, opts ...OpOption) (*DeleteResponse, error) {
	return c.delete(ctx, OpDelete(key, opts...))
}

func (c *Client) delete(ctx context.Context, op Op) (*DeleteResponse, error) {
	resp, err := c.do(ctx, wire.OpDeleteRange, op.deleteRequest(), mutating)
	if err != nil {
		return nil, err
	}
	r := resp.Body.(*wire.DeleteRangeResponse)
	return &DeleteResponse{Header: resp.Header, Deleted: r.Deleted, PrevKVs: r.PrevKVs}, nil
}

// CompactOption configures a Compact.
type CompactOption func(*wire.CompactRequest)

// WithCompactPhysical makes Compact return only once the compaction is on disk.
func WithCompactPhysical() CompactOption { return func(r *wire.CompactRequest) { r.Physical = true } }

// Compact discards the history before rev. Compacting twice is harmless, so it is retried.
func (c *Client) Compact(ctx context.Context, rev int64, opts ...CompactOption) (*CompactResponse, error) {
	req := &wire.CompactRequest{Revision: rev}
	for _, o := range opts {
		o(req)
	}
	resp, err := c.do(ctx, wire.OpCompact, req, idempotent)
	if err != nil {
		return nil, err
	}
	return &CompactResponse{Header: resp.Header}, nil
}

// OpResponse is the result of Do: the field matching the op is set.
type OpResponse struct {
	Get    *GetResponse
	Put    *PutResponse
	Delete *DeleteResponse
	Txn    *TxnResponse
}

// Do runs one op.
func (c *Client) Do(ctx context.Context, op Op) (OpResponse, error) {
	var err error
	var out OpResponse
	switch op.kind {
	case opRange:
		out.Get, err = c.get(ctx, op)
	case opPut:
		out.Put, err = c.put(ctx, op)
	case opDelete:
		out.Delete, err = c.delete(ctx, op)
	case opTxn:
		out.Txn, err = c.Txn(ctx).If(op.txnCmps...).Then(op.txnThen...).Else(op.txnElse...).Commit()
	}
	return out, err
}
