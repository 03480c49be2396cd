package node

import (
	"bytes"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"etcq.dev/etcq/storage"
	"etcq.dev/etcq/wire"
)

// opCode names what a request asks of the store.
type opCode uint8

const (
	opPut opCode = iota + 1
	opDeleteRange
	opTxn
	opCompact
	opLeaseGrant
	opLeaseRevoke
	opLeaseRenew
	opLeaseCheckpoint
	opLeaseExpire
	opAuth
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
	Lease       *leaseRequest
	// Caller is who a client request runs as and the auth revision the service checked
	// it at (auth.go); nil for the member's own requests (lease expiry, checkpoints) and
	// for calls of the Member API from inside the process, which apply unchecked.
	Caller *caller
	// Auth is the body of opAuth.
	Auth *authOp
}

// leaseRequest is the body of the lease operations.
type leaseRequest struct {
	ID          int64 // grant, revoke, renew
	TTL         int64 // grant
	Checkpoints []leaseCheckpoint
	Expiries    []leaseExpiry
}

// Entry data layout (the payload of a normal raft entry), which lives in the log forever:
//
//	byte     format (entryFormat3)
//	msgpack  array of requests; each request, and every storage type inside it, is a
//	         msgpack array of its fields in declaration order (see the golden test)
//
// msgpack's reflection decoder refuses an array whose length differs from the struct's
// field count, so any change to these types bumps the format byte, and decodeEntry keeps
// decoding every older format. Format 1 had requests without the Lease field, format 2
// without Caller and Auth.
const (
	entryFormat1 byte = 1
	entryFormat2 byte = 2
	entryFormat3 byte = 3
)

// requestV1 is a request as format 1 encoded it.
type requestV1 struct {
	Member      uint64
	Seq         uint64
	Op          opCode
	Put         *storage.PutRequest
	DeleteRange *storage.DeleteRangeRequest
	Txn         *storage.TxnRequest
	Compact     int64
}

// requestV2 is a request as format 2 encoded it.
type requestV2 struct {
	Member      uint64
	Seq         uint64
	Op          opCode
	Put         *storage.PutRequest
	DeleteRange *storage.DeleteRangeRequest
	Txn         *storage.TxnRequest
	Compact     int64
	Lease       *leaseRequest
}

// encodeEntry packs requests into one entry's data.
func encodeEntry(reqs []*request) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte(entryFormat3)
	enc := msgpack.NewEncoder(&buf)
	enc.UseArrayEncodedStructs(true)
	enc.UseCompactInts(true)
	if err := enc.Encode(reqs); err != nil {
		return nil, fmt.Errorf("node: encode entry: %w", err)
	}
	return buf.Bytes(), nil
}

// decodeEntry unpacks an entry's data, of any format this build knows.
func decodeEntry(data []byte) ([]*request, error) {
	if len(data) == 0 {
		return nil, nil
	}
	if data[0] < entryFormat1 || data[0] > entryFormat3 {
		return nil, fmt.Errorf("node: entry format %d is unknown to this build", data[0])
	}
	if err := wire.CheckShape(data[1:]); err != nil {
		return nil, fmt.Errorf("node: decode entry: %w", err)
	}
	if data[0] == entryFormat1 {
		var old []*requestV1
		if err := msgpack.Unmarshal(data[1:], &old); err != nil {
			return nil, fmt.Errorf("node: decode entry: %w", err)
		}
		reqs := make([]*request, len(old))
		for i, r := range old {
			if r == nil {
				return nil, fmt.Errorf("node: decode entry: request %d is nil", i)
			}
			reqs[i] = &request{Member: r.Member, Seq: r.Seq, Op: r.Op, Put: r.Put, DeleteRange: r.DeleteRange, Txn: r.Txn, Compact: r.Compact}
		}
		return reqs, nil
	}
	if data[0] == entryFormat2 {
		var old []*requestV2
		if err := msgpack.Unmarshal(data[1:], &old); err != nil {
			return nil, fmt.Errorf("node: decode entry: %w", err)
		}
		reqs := make([]*request, len(old))
		for i, r := range old {
			if r == nil {
				return nil, fmt.Errorf("node: decode entry: request %d is nil", i)
			}
			reqs[i] = &request{Member: r.Member, Seq: r.Seq, Op: r.Op, Put: r.Put, DeleteRange: r.DeleteRange, Txn: r.Txn, Compact: r.Compact, Lease: r.Lease}
		}
		return reqs, nil
	}
	var reqs []*request
	if err := msgpack.Unmarshal(data[1:], &reqs); err != nil {
		return nil, fmt.Errorf("node: decode entry: %w", err)
	}
	for i, r := range reqs {
		if r == nil {
			return nil, fmt.Errorf("node: decode entry: request %d is nil", i)
		}
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
	case r.Lease != nil:
		n += 16 + 16*len(r.Lease.Checkpoints) + 16*len(r.Lease.Expiries)
	case r.Auth != nil:
		a := r.Auth
		n += 16 + len(a.Name) + len(a.Role) + len(a.Hash) + len(a.TokenKey) + len(a.Key) + len(a.RangeEnd)
	}
	if r.Caller != nil {
		n += 24 + len(r.Caller.User)
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
