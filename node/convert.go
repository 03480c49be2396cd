package node

import (
	"etcq.dev/etcq/storage"
	"etcq.dev/etcq/wire"
)

// Conversions between the wire messages of the KV service and the store's types. The two
// follow etcd's model field for field; KeyValue has the same layout on both sides.

func kvsToWire(kvs []storage.KeyValue) []wire.KeyValue {
	if kvs == nil {
		return nil
	}
	out := make([]wire.KeyValue, len(kvs))
	for i := range kvs {
		out[i] = wire.KeyValue(kvs[i])
	}
	return out
}

func kvToWire(kv *storage.KeyValue) *wire.KeyValue {
	if kv == nil {
		return nil
	}
	w := wire.KeyValue(*kv)
	return &w
}

func rangeFromWire(r *wire.RangeRequest) storage.RangeRequest {
	return storage.RangeRequest{
		Key: r.Key, RangeEnd: r.RangeEnd, Revision: r.Revision, Limit: r.Limit,
		SortOrder: storage.SortOrder(r.SortOrder), SortTarget: storage.SortTarget(r.SortTarget),
		KeysOnly: r.KeysOnly, CountOnly: r.CountOnly,
		MinModRevision: r.MinModRevision, MaxModRevision: r.MaxModRevision,
		MinCreateRevision: r.MinCreateRevision, MaxCreateRevision: r.MaxCreateRevision,
	}
}

func rangeToWire(r *storage.RangeResponse) *wire.RangeResponse {
	return &wire.RangeResponse{KVs: kvsToWire(r.KVs), More: r.More, Count: r.Count}
}

func putFromWire(r *wire.PutRequest) storage.PutRequest {
	return storage.PutRequest{
		Key: r.Key, Value: r.Value, Lease: r.Lease, PrevKV: r.PrevKV,
		IgnoreValue: r.IgnoreValue, IgnoreLease: r.IgnoreLease,
	}
}

func putToWire(r *storage.PutResponse) *wire.PutResponse {
	return &wire.PutResponse{PrevKV: kvToWire(r.PrevKV)}
}

func deleteFromWire(r *wire.DeleteRangeRequest) storage.DeleteRangeRequest {
	return storage.DeleteRangeRequest{Key: r.Key, RangeEnd: r.RangeEnd, PrevKV: r.PrevKV}
}

func deleteToWire(r *storage.DeleteRangeResponse) *wire.DeleteRangeResponse {
	return &wire.DeleteRangeResponse{Deleted: r.Deleted, PrevKVs: kvsToWire(r.PrevKVs)}
}

func txnFromWire(t *wire.TxnRequest) storage.TxnRequest {
	out := storage.TxnRequest{
		Compare: make([]storage.Compare, len(t.Compare)),
		Success: opsFromWire(t.Success),
		Failure: opsFromWire(t.Failure),
	}
	for i, c := range t.Compare {
		out.Compare[i] = storage.Compare{
			Result: storage.CompareResult(c.Result), Target: storage.CompareTarget(c.Target),
			Key: c.Key, RangeEnd: c.RangeEnd, Version: c.Version,
			CreateRevision: c.CreateRevision, ModRevision: c.ModRevision, Value: c.Value, Lease: c.Lease,
		}
	}
	return out
}

func opsFromWire(ops []wire.RequestOp) []storage.RequestOp {
	if ops == nil {
		return nil
	}
	out := make([]storage.RequestOp, len(ops))
	for i, op := range ops {
		switch {
		case op.Range != nil:
			r := rangeFromWire(op.Range)
			out[i].Range = &r
		case op.Put != nil:
			p := putFromWire(op.Put)
			out[i].Put = &p
		case op.DeleteRange != nil:
			d := deleteFromWire(op.DeleteRange)
			out[i].DeleteRange = &d
		case op.Txn != nil:
			t := txnFromWire(op.Txn)
			out[i].Txn = &t
		}
	}
	return out
}

func txnToWire(r *storage.TxnResponse) *wire.TxnResponse {
	out := &wire.TxnResponse{Succeeded: r.Succeeded}
	if r.Responses != nil {
		out.Responses = make([]wire.ResponseOp, len(r.Responses))
	}
	for i, op := range r.Responses {
		switch {
		case op.Range != nil:
			out.Responses[i].Range = rangeToWire(op.Range)
		case op.Put != nil:
			out.Responses[i].Put = putToWire(op.Put)
		case op.DeleteRange != nil:
			out.Responses[i].DeleteRange = deleteToWire(op.DeleteRange)
		case op.Txn != nil:
			out.Responses[i].Txn = txnToWire(op.Txn)
		}
	}
	return out
}

// validOps reports whether every op of a txn (nested ones too) sets exactly one field.
func validOps(t *wire.TxnRequest) bool {
	for _, branch := range [][]wire.RequestOp{t.Success, t.Failure} {
		for _, op := range branch {
			n := 0
			for _, set := range []bool{op.Range != nil, op.Put != nil, op.DeleteRange != nil, op.Txn != nil} {
				if set {
					n++
				}
			}
			if n != 1 || op.Txn != nil && !validOps(op.Txn) {
				return false
			}
		}
	}
	return true
}

func eventsToWire(evs []storage.Event) []wire.Event {
	if evs == nil {
		return nil
	}
	out := make([]wire.Event, len(evs))
	for i, ev := range evs {
		out[i] = wire.Event{Type: wire.EventType(ev.Type), KV: wire.KeyValue(ev.KV), PrevKV: kvToWire(ev.PrevKV)}
	}
	return out
}

func memberToWire(mi MemberInfo) wire.Member {
	return wire.Member{ID: mi.ID, Name: mi.Name, PeerURLs: mi.PeerURLs, ClientURLs: mi.ClientURLs, IsLearner: mi.IsLearner}
}

func membersToWire(ms []MemberInfo) []wire.Member {
	out := make([]wire.Member, len(ms))
	for i, mi := range ms {
		out[i] = memberToWire(mi)
	}
	return out
}
