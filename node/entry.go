package node

import (
	"bytes"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"etcq.dev/etcq/storage"
)

// opCode names what a request asks of the store.
type opCode uint8

const (
	opPut opCode = iota + 1
	opDeleteRange
	opTxn
	opCompact
)

// request is one client request inside a raft entry. Member and Seq identify the waiter
// on the proposing member; other members apply the request and answer nobody.
type request struct {
	Member      uint64
	Seq         uint64
	Op          opCode
	Put         *storage.PutRequest
	DeleteRange *storage.DeleteRangeRequest
	Txn         *storage.TxnRequest
	Compact     int64
}

// Entry data layout (the payload of a normal raft entry), which lives in the log forever:
//
//	byte     format (entryFormat1)
//	msgpack  array of requests; each request, and every storage type inside it, is a
//	         msgpack array of its fields in declaration order (see the golden test)
//
// Fields are only ever appended to these types, never reordered or removed; a decoder of
// an older format keeps working on newer entries as long as that holds. A change that
// cannot follow this rule bumps the format byte.
const entryFormat1 byte = 1

// encodeEntry packs requests into one entry's data.
func encodeEntry(reqs []*request) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte(entryFormat1)
	enc := msgpack.NewEncoder(&buf)
	enc.UseArrayEncodedStructs(true)
	enc.UseCompactInts(true)
	if err := enc.Encode(reqs); err != nil {
		return nil, fmt.Errorf("node: encode entry: %w", err)
	}
	return buf.Bytes(), nil
}

// decodeEntry unpacks an entry's data.
func decodeEntry(data []byte) ([]*request, error) {
	if len(data) == 0 {
		return nil, nil
	}
	if data[0] != entryFormat1 {
		return nil, fmt.Errorf("node: entry format %d is unknown to this build", data[0])
	}
	if err := checkMsgpack(data[1:]); err != nil {
		return nil, fmt.Errorf("node: decode entry: %w", err)
	}
	var reqs []*request
	if err := msgpack.Unmarshal(data[1:], &reqs); err != nil {
		return nil, fmt.Errorf("node: decode entry: %w", err)
	}
	return reqs, nil
}

// size estimates a request's encoded size for batching and limits.
func (r *request) size() int {
	n := 32
	switch {
	case r.Put != nil:
		n += len(r.Put.Key) + len(r.Put.Value)
	case r.DeleteRange != nil:
		n += len(r.DeleteRange.Key) + len(r.DeleteRange.RangeEnd)
	case r.Txn != nil:
		n += txnSize(r.Txn)
	}
	return n
}

func txnSize(t *storage.TxnRequest) int {
	n := 16
	for _, c := range t.Compare {
		n += 24 + len(c.Key) + len(c.RangeEnd) + len(c.Value)
	}
	for _, ops := range [][]storage.RequestOp{t.Success, t.Failure} {
		for _, op := range ops {
			switch {
			case op.Put != nil:
				n += 16 + len(op.Put.Key) + len(op.Put.Value)
			case op.DeleteRange != nil:
				n += 8 + len(op.DeleteRange.Key) + len(op.DeleteRange.RangeEnd)
			case op.Range != nil:
				n += 32 + len(op.Range.Key) + len(op.Range.RangeEnd)
			case op.Txn != nil:
				n += txnSize(op.Txn)
			}
		}
	}
	return n
}
