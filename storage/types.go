package storage

// The request and response types below follow etcd's v3 KV model field for field; the node
// converts between them and the wire messages.

// SortOrder orders a range's results. The numbering is etcd's.
type SortOrder int32

const (
	SortNone SortOrder = iota
	SortAscend
	SortDescend
)

// SortTarget is the field a range sorts by. The numbering is etcd's.
type SortTarget int32

const (
	SortByKey SortTarget = iota
	SortByVersion
	SortByCreate
	SortByMod
	SortByValue
)

// RangeRequest reads the keys in [Key, RangeEnd) (see newKeyRange for RangeEnd's
// conventions) as of Revision (<= 0: the current revision).
type RangeRequest struct {
	Key, RangeEnd []byte
	Revision      int64
	// Limit caps the number of keys returned (<= 0: no limit); More reports a cut.
	Limit      int64
	SortOrder  SortOrder
	SortTarget SortTarget
	KeysOnly   bool
	CountOnly  bool
	// The filters drop keys outside the bounds (0: no bound). Count is not affected.
	MinModRevision, MaxModRevision       int64
	MinCreateRevision, MaxCreateRevision int64
}

// RangeResponse is the result of a range.
type RangeResponse struct {
	// Revision is the store's current revision when the range was served.
	Revision int64
	KVs      []KeyValue
	More     bool
	// Count is the number of keys in the range at the read revision.
	Count int64
}

// PutRequest writes one key.
type PutRequest struct {
	Key, Value []byte
	Lease      int64
	PrevKV     bool
	// IgnoreValue keeps the current value (the key must exist, Value must be empty).
	IgnoreValue bool
	// IgnoreLease keeps the current lease (the key must exist, Lease must be 0).
	IgnoreLease bool
}

// PutResponse is the result of a put.
type PutResponse struct {
	Revision int64
	PrevKV   *KeyValue
}

// DeleteRangeRequest deletes the keys in [Key, RangeEnd).
type DeleteRangeRequest struct {
	Key, RangeEnd []byte
	PrevKV        bool
}

// DeleteRangeResponse is the result of a delete.
type DeleteRangeResponse struct {
	Revision int64
	Deleted  int64
	PrevKVs  []KeyValue
}

// CompareResult is the relation a compare checks. The numbering is etcd's.
type CompareResult int32

const (
	CompareEqual CompareResult = iota
	CompareGreater
	CompareLess
	CompareNotEqual
)

// CompareTarget is the field a compare reads. The numbering is etcd's.
type CompareTarget int32

const (
	TargetVersion CompareTarget = iota
	TargetCreate
	TargetMod
	TargetValue
	TargetLease
)

// Compare is one guard of a txn: Target of every key in [Key, RangeEnd) stands in Result
// relation to the matching operand field. A missing key compares as a zero KeyValue,
// except for TargetValue, where it fails the compare.
type Compare struct {
	Result         CompareResult
	Target         CompareTarget
	Key, RangeEnd  []byte
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

// ResponseOp is the result of one RequestOp; the field matching the request is set.
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

// TxnResponse is the result of a txn.
type TxnResponse struct {
	Revision  int64
	Succeeded bool
	Responses []ResponseOp
}

// EventType says whether an event is a put or a delete.
type EventType uint8

const (
	EventPut EventType = iota
	EventDelete
)

func (t EventType) String() string {
	if t == EventDelete {
		return "DELETE"
	}
	return "PUT"
}

// Event is one change in the history. For a delete, KV holds the key and ModRevision (the
// revision of the delete) only.
type Event struct {
	Type EventType
	KV   KeyValue
	// PrevKV is the version before the change, when the watcher asked for it and it is
	// still in the history.
	PrevKV *KeyValue
}
