package node

import (
	"context"

	"etcq.dev/etcq/storage"
)

// Put writes a key through raft and returns once it is applied on this member.
func (m *Member) Put(ctx context.Context, req storage.PutRequest) (*storage.PutResponse, error) {
	r, err := m.submit(ctx, &request{Op: opPut, Put: &req})
	if err != nil {
		return nil, err
	}
	return r.(*storage.PutResponse), nil
}

// DeleteRange deletes keys through raft.
func (m *Member) DeleteRange(ctx context.Context, req storage.DeleteRangeRequest) (*storage.DeleteRangeResponse, error) {
	r, err := m.submit(ctx, &request{Op: opDeleteRange, DeleteRange: &req})
	if err != nil {
		return nil, err
	}
	return r.(*storage.DeleteRangeResponse), nil
}

// Txn runs a txn through raft.
func (m *Member) Txn(ctx context.Context, req storage.TxnRequest) (*storage.TxnResponse, error) {
	r, err := m.submit(ctx, &request{Op: opTxn, Txn: &req})
	if err != nil {
		return nil, err
	}
	return r.(*storage.TxnResponse), nil
}

// Compact compacts the history at rev on every member.
func (m *Member) Compact(ctx context.Context, rev int64) (*CompactResponse, error) {
	r, err := m.submit(ctx, &request{Op: opCompact, Compact: rev})
	if err != nil {
		return nil, err
	}
	return r.(*CompactResponse), nil
}

// Range reads keys. By default the read is linearizable: it reflects every write
// completed anywhere in the cluster before it began, and it fails rather than return stale
// data when this member cannot reach a leader. A serializable read is served from the
// local store at once and may be stale.
func (m *Member) Range(ctx context.Context, req storage.RangeRequest, serializable bool) (*storage.RangeResponse, error) {
	if !serializable {
		if err := m.linearizableWait(ctx); err != nil {
			return nil, err
		}
	}
	return m.store.Range(req)
}
