package wire

import "github.com/vmihailenco/msgpack/v5"

// The KV messages follow etcd's v3 KV service field for field (enumerations keep etcd's
// numbering). KeyValue, Range and Put are on every hot path and have hand-written codecs;
// the rest use the same positional layout through reflection.

// KeyValue is one key at one revision.
type KeyValue struct {
	Key            []byte
	CreateRevision int64
	ModRevision    int64
	Version        int64
	Value          []byte
	Lease          int64
}

// SortOrder orders a range's results.
type SortOrder int32

// The sort orders.
const (
	SortNone SortOrder = iota
	SortAscend
	SortDescend
)

// SortTarget is the field a range sorts by.
type SortTarget int32

// The sort targets.
const (
	SortByKey SortTarget = iota
	SortByVersion
	SortByCreate
	SortByMod
	SortByValue
)

// RangeRequest reads the keys in [Key, RangeEnd) (RangeEnd empty: Key alone; "\x00": every
// key >= Key) as of Revision (<= 0: the current revision).
type RangeRequest struct {
	Key, RangeEnd     []byte
	Limit             int64
	Revision          int64
	SortOrder         SortOrder
	SortTarget        SortTarget
	Serializable      bool
	KeysOnly          bool
	CountOnly         bool
	MinModRevision    int64
	MaxModRevision    int64
	MinCreateRevision int64
	MaxCreateRevision int64
}

// RangeResponse is the result of a range.
type RangeResponse struct {
	KVs   []KeyValue
	More  bool
	Count int64
}

// PutRequest writes one key.
type PutRequest struct {
	Key, Value  []byte
	Lease       int64
	PrevKV      bool
	IgnoreValue bool
	IgnoreLease bool
}

// PutResponse is the result of a put.
type PutResponse struct {
	PrevKV *KeyValue
}

// DeleteRangeRequest deletes the keys in [Key, RangeEnd).
type DeleteRangeRequest struct {
	Key, RangeEnd []byte
	PrevKV        bool
}

// DeleteRangeResponse is the result of a delete.
type DeleteRangeResponse struct {
	Deleted int64
	PrevKVs []KeyValue
}

// CompareResult is the relation a compare checks.
type CompareResult int32

// The compare results.
const (
	CompareEqual CompareResult = iota
	CompareGreater
	CompareLess
	CompareNotEqual
)

// CompareTarget is the field a compare reads.
type CompareTarget int32

// The compare targets.
const (
	TargetVersion CompareTarget = iota
	TargetCreate
	TargetMod
	TargetValue
	TargetLease
)

// Compare is one guard of a txn; the operand field matching Target is the one compared.
type Compare struct {
	Result         CompareResult
	Target         CompareTarget
	Key            []byte
	RangeEnd       []byte
	Version        int64
	CreateRevision int64
	ModRevision    int64
	Value          []byte
	Lease          int64
}

// RequestOp is one operation of a txn branch; exactly one field is set.
type RequestOp struct {
	Range       *RangeRequest
	Put         *PutRequest
	DeleteRange *DeleteRangeRequest
	Txn         *TxnRequest
}

// ResponseOp is the result of one RequestOp.
type ResponseOp struct {
	Range       *RangeResponse
	Put         *PutResponse
	DeleteRange *DeleteRangeResponse
	Txn         *TxnResponse
}

// TxnRequest runs Success if every compare holds, else Failure, as one revision.
type TxnRequest struct {
	Compare []Compare
	Success []RequestOp
	Failure []RequestOp
}

// Ops counts the operations of the txn and of the txns nested in it, for the limit on txn
// size.
func (t *TxnRequest) Ops() int {
	n := len(t.Compare)
	for _, branch := range [][]RequestOp{t.Success, t.Failure} {
		for _, op := range branch {
			n++
			if op.Txn != nil {
				n += op.Txn.Ops()
			}
		}
	}
	return n
}

// TxnResponse is the result of a txn.
type TxnResponse struct {
	Succeeded bool
	Responses []ResponseOp
}

// CompactRequest compacts the history up to Revision.
type CompactRequest struct {
	Revision int64
	// Physical waits until the compaction is on disk before answering.
	Physical bool
}

// CompactResponse is the result of a compaction.
type CompactResponse struct{}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (kv KeyValue) EncodeMsgpack(e *msgpack.Encoder) error {
	_ = e.EncodeArrayLen(6)
	_ = e.EncodeBytes(kv.Key)
	_ = e.EncodeInt(kv.CreateRevision)
	_ = e.EncodeInt(kv.ModRevision)
	_ = e.EncodeInt(kv.Version)
	_ = e.EncodeBytes(kv.Value)
	return e.EncodeInt(kv.Lease)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (kv *KeyValue) DecodeMsgpack(d *msgpack.Decoder) error {
	f := openFields(d)
	kv.Key = f.bytes()
	kv.CreateRevision = f.int()
	kv.ModRevision = f.int()
	kv.Version = f.int()
	kv.Value = f.bytes()
	kv.Lease = f.int()
	return f.end()
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (r RangeRequest) EncodeMsgpack(e *msgpack.Encoder) error {
	_ = e.EncodeArrayLen(13)
	_ = e.EncodeBytes(r.Key)
	_ = e.EncodeBytes(r.RangeEnd)
	_ = e.EncodeInt(r.Limit)
	_ = e.EncodeInt(r.Revision)
	_ = e.EncodeInt(int64(r.SortOrder))
	_ = e.EncodeInt(int64(r.SortTarget))
	_ = e.EncodeBool(r.Serializable)
	_ = e.EncodeBool(r.KeysOnly)
	_ = e.EncodeBool(r.CountOnly)
	_ = e.EncodeInt(r.MinModRevision)
	_ = e.EncodeInt(r.MaxModRevision)
	_ = e.EncodeInt(r.MinCreateRevision)
	return e.EncodeInt(r.MaxCreateRevision)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (r *RangeRequest) DecodeMsgpack(d *msgpack.Decoder) error {
	f := openFields(d)
	r.Key = f.bytes()
	r.RangeEnd = f.bytes()
	r.Limit = f.int()
	r.Revision = f.int()
	r.SortOrder = SortOrder(f.int())
	r.SortTarget = SortTarget(f.int())
	r.Serializable = f.bool()
	r.KeysOnly = f.bool()
	r.CountOnly = f.bool()
	r.MinModRevision = f.int()
	r.MaxModRevision = f.int()
	r.MinCreateRevision = f.int()
	r.MaxCreateRevision = f.int()
	return f.end()
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (r RangeResponse) EncodeMsgpack(e *msgpack.Encoder) error {
	_ = e.EncodeArrayLen(3)
	if r.KVs == nil {
		_ = e.EncodeNil()
	} else {
		_ = e.EncodeArrayLen(len(r.KVs))
		for i := range r.KVs {
			if err := r.KVs[i].EncodeMsgpack(e); err != nil {
				return err
			}
		}
	}
	_ = e.EncodeBool(r.More)
	return e.EncodeInt(r.Count)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (r *RangeResponse) DecodeMsgpack(d *msgpack.Decoder) error {
	f := openFields(d)
	r.KVs = nil
	if !f.isNil() && f.next() {
		var n int
		n, f.err = d.DecodeArrayLen()
		if f.err == nil && n > 0 {
			r.KVs = make([]KeyValue, n)
			for i := range r.KVs {
				if f.err = r.KVs[i].DecodeMsgpack(d); f.err != nil {
					break
				}
			}
		}
	}
	r.More = f.bool()
	r.Count = f.int()
	return f.end()
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (r PutRequest) EncodeMsgpack(e *msgpack.Encoder) error {
	_ = e.EncodeArrayLen(6)
	_ = e.EncodeBytes(r.Key)
	_ = e.EncodeBytes(r.Value)
	_ = e.EncodeInt(r.Lease)
	_ = e.EncodeBool(r.PrevKV)
	_ = e.EncodeBool(r.IgnoreValue)
	return e.EncodeBool(r.IgnoreLease)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (r *PutRequest) DecodeMsgpack(d *msgpack.Decoder) error {
	f := openFields(d)
	r.Key = f.bytes()
	r.Value = f.bytes()
	r.Lease = f.int()
	r.PrevKV = f.bool()
	r.IgnoreValue = f.bool()
	r.IgnoreLease = f.bool()
	return f.end()
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (r PutResponse) EncodeMsgpack(e *msgpack.Encoder) error {
	_ = e.EncodeArrayLen(1)
	if r.PrevKV == nil {
		return e.EncodeNil()
	}
	return r.PrevKV.EncodeMsgpack(e)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (r *PutResponse) DecodeMsgpack(d *msgpack.Decoder) error {
	f := openFields(d)
	r.PrevKV = nil
	if !f.isNil() && f.next() {
		r.PrevKV = new(KeyValue)
		f.err = r.PrevKV.DecodeMsgpack(d)
	}
	return f.end()
}
