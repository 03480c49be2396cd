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
		var err error
		switch {
		case i >= len(fields):
			err = d.Skip()
		case i == 3: // the put, decoded by hand: the bulk of a write load
			r.Put, err = decodePut(d)
		case i == 8:
			r.Caller, err = decodeCaller(d)
		default:
			err = d.Decode(fields[i])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// decodePut reads a put body (nil, or the array of storage.PutRequest's fields), as the
// reflection decoder would, without reflection.
func decodePut(d *msgpack.Decoder) (*storage.PutRequest, error) {
	n, err := d.DecodeArrayLen()
	if err != nil || n < 0 {
		return nil, err // n < 0: nil
	}
	p := new(storage.PutRequest)
	for i := 0; i < n; i++ {
		switch i {
		case 0:
			p.Key, err = d.DecodeBytes()
		case 1:
			p.Value, err = d.DecodeBytes()
		case 2:
			p.Lease, err = d.DecodeInt64()
		case 3:
			p.PrevKV, err = d.DecodeBool()
		case 4:
			p.IgnoreValue, err = d.DecodeBool()
		case 5:
			p.IgnoreLease, err = d.DecodeBool()
		default:
			err = d.Skip()
		}
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// decodeCaller reads a caller (nil, or the array of its fields) without reflection.
func decodeCaller(d *msgpack.Decoder) (*caller, error) {
	n, err := d.DecodeArrayLen()
	if err != nil || n < 0 {
		return nil, err
	}
	c := new(caller)
	for i := 0; i < n; i++ {
		switch i {
		case 0:
			c.User, err = d.DecodeString()
		case 1:
			c.TokenRev, err = d.DecodeUint64()
		case 2:
			c.AuthRev, err = d.DecodeUint64()
		default:
			err = d.Skip()
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
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
	size := 1
	for _, r := range reqs {
		size += r.size()
	}
	buf.Grow(size)
	buf.WriteByte(entryFormat4)
	enc := msgpack.NewEncoder(&buf)
	enc.UseArrayEncodedStructs(true)
	enc.UseCompactInts(true)
	var err error
	if reqs == nil {
		err = enc.EncodeNil() // as the reflection encoder wrote a nil batch
	} else {
		err = enc.EncodeArrayLen(len(reqs))
	}
	for _, r := range reqs {
		if err != nil {
			break
		}
		if putOnly(r) {
			err = encodePutRequest(enc, r)
		} else {
			err = enc.Encode(r)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("node: encode entry: %w", err)
	}
	return buf.Bytes(), nil
}

// putOnly reports whether r carries a put and, besides its header and caller, nothing
// else: no field added to request later slips past the fast path unnoticed.
func putOnly(r *request) bool {
	rest := *r
	rest.Member, rest.Seq, rest.Op, rest.Put, rest.Compact, rest.Caller = 0, 0, 0, nil, 0, nil
	return r.Put != nil && rest == request{}
}

// encodePutRequest writes a request that carries a put (and perhaps a caller) and nothing
// else, field by field: the very bytes of the reflection encoder (TestEntryPutFastPath),
// at a fraction of its cost.
func encodePutRequest(enc *msgpack.Encoder, r *request) error {
	p := r.Put
	_ = enc.EncodeArrayLen(11)
	_ = enc.EncodeUint(r.Member)
	_ = enc.EncodeUint(r.Seq)
	_ = enc.EncodeUint(uint64(r.Op))
	_ = enc.EncodeArrayLen(6)
	_ = enc.EncodeBytes(p.Key)
	_ = enc.EncodeBytes(p.Value)
	_ = enc.EncodeInt(p.Lease)
	_ = enc.EncodeBool(p.PrevKV)
	_ = enc.EncodeBool(p.IgnoreValue)
	_ = enc.EncodeBool(p.IgnoreLease)
	_ = enc.EncodeNil() // DeleteRange
	_ = enc.EncodeNil() // Txn
	_ = enc.EncodeInt(r.Compact)
	_ = enc.EncodeNil() // Lease
	if c := r.Caller; c == nil {
		_ = enc.EncodeNil()
	} else {
		_ = enc.EncodeArrayLen(3)
		_ = enc.EncodeString(c.User)
		_ = enc.EncodeUint(c.TokenRev)
		_ = enc.EncodeUint(c.AuthRev)
	}
	_ = enc.EncodeNil()    // Auth
	return enc.EncodeNil() // Alarm; the writer is a bytes.Buffer, which never fails
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
	d := msgpack.GetDecoder()
	defer msgpack.PutDecoder(d)
	d.Reset(bytes.NewReader(data[1:]))
	n, err := d.DecodeArrayLen()
	if err != nil {
		return nil, fmt.Errorf("node: decode entry: %w", err)
	}
	if n < 0 {
		return nil, nil
	}
	reqs := make([]*request, n)
	for i := range reqs {
		r := new(request)
		if err := r.DecodeMsgpack(d); err != nil {
			return nil, fmt.Errorf("node: decode entry: request %d: %w", i, err)
		}
		reqs[i] = r
	}
	return reqs, nil // (CheckShape refused trailing bytes)
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
