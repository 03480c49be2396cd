package node

import (
	"bytes"
	"errors"
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
	opAlarm
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
	// Alarm is the body of opAlarm.
	Alarm *alarmOp
}

// requestFields lists a request's fields in encoding order, for the decoder.
func (r *request) fields() []any {
	return []any{&r.Member, &r.Seq, &r.Op, &r.Put, &r.DeleteRange, &r.Txn, &r.Compact, &r.Lease, &r.Caller, &r.Auth, &r.Alarm}
}

// DecodeMsgpack reads a request of any format: its fields in order. Fields an older format
// did not have stay zero; fields a newer build appended are skipped. (msgpack's reflection
// decoder would refuse both.)
func (r *request) DecodeMsgpack(d *msgpack.Decoder) error {
	n, err := d.DecodeArrayLen()
	if err != nil {
		return err
	}
	if n < 0 {
		return errors.New("node: decode entry: request is nil")
	}
	*r = request{}
	fields := r.fields()
	for i := 0; i < n; i++ {
		if i >= len(fields) {
			if err := d.Skip(); err != nil {
				return err
			}
			continue
		}
		if err := d.Decode(fields[i]); err != nil {
			return err
		}
	}
	return nil
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
//	byte     format (entryFormat4)
//	msgpack  array of requests; each request, and every storage type inside it, is a
//	         msgpack array of its fields in declaration order (see the golden test)
//
// Fields are only appended to request. Its decoder reads every format: format 1 had the
// fields up to Compact, 2 added Lease, 3 Caller and Auth, 4 Alarm. The format byte still
// changes with each addition, so that an older build refuses entries it would misread
// with a clear message. The storage types inside never change; a change there needs a new
// format with a decoder of its own.
const (
	entryFormat1 byte = 1
	entryFormat4 byte = 4
)

// encodeEntry packs requests into one entry's data.
func encodeEntry(reqs []*request) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte(entryFormat4)
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
	if data[0] < entryFormat1 || data[0] > entryFormat4 {
		return nil, fmt.Errorf("node: entry format %d is unknown to this build", data[0])
	}
	if err := wire.CheckShape(data[1:]); err != nil {
		return nil, fmt.Errorf("node: decode entry: %w", err)
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
