package wire

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// Request is what a client sends: an id the response will carry, the op, an optional auth
// token, and the op's request body (a pointer to the op's request type).
type Request struct {
	ID    uint64
	Op    Op
	Token string
	Body  any
}

// Response answers one request (or carries watch events and snapshot chunks). Body is a
// pointer to the op's response type when Code is CodeOK, and nil otherwise.
type Response struct {
	ID      uint64
	Op      Op
	Code    Code
	Message string
	Header  Header
	Body    any
}

// Err is the response's failure as an *Error, or nil.
func (r *Response) Err() error {
	if r.Code == CodeOK {
		return nil
	}
	return &Error{Code: r.Code, Message: r.Message}
}

// Header describes the member that answered and the state it answered from.
type Header struct {
	ClusterID uint64
	MemberID  uint64
	// Revision is the store's revision when the request was served.
	Revision int64
	RaftTerm uint64
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (r Request) EncodeMsgpack(e *msgpack.Encoder) error {
	if err := e.EncodeArrayLen(4); err != nil {
		return err
	}
	_ = e.EncodeUint(r.ID)
	_ = e.EncodeUint(uint64(r.Op))
	_ = e.EncodeString(r.Token)
	return e.Encode(r.Body)
}

// DecodeMsgpack implements msgpack.CustomDecoder. A body of an unknown op fails with
// ErrUnknownOp after ID and Op are set, so the server can still answer the request.
func (r *Request) DecodeMsgpack(d *msgpack.Decoder) error {
	f := openFields(d)
	r.ID = f.uint()
	op := f.uint()
	r.Op = Op(op)
	r.Token = f.str()
	if f.err != nil {
		return f.err
	}
	r.Body = NewRequestBody(r.Op)
	if r.Body == nil || uint64(r.Op) != op { // an op number past uint8 is no op of ours
		r.Body = nil
		return fmt.Errorf("%w: %d", ErrUnknownOp, op)
	}
	f.value(r.Body)
	return f.end()
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (r Response) EncodeMsgpack(e *msgpack.Encoder) error {
	if err := e.EncodeArrayLen(6); err != nil {
		return err
	}
	_ = e.EncodeUint(r.ID)
	_ = e.EncodeUint(uint64(r.Op))
	_ = e.EncodeUint(uint64(r.Code))
	_ = e.EncodeString(r.Message)
	if err := r.Header.EncodeMsgpack(e); err != nil {
		return err
	}
	if r.Code != CodeOK {
		return e.EncodeNil()
	}
	return e.Encode(r.Body)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (r *Response) DecodeMsgpack(d *msgpack.Decoder) error {
	f := openFields(d)
	r.ID = f.uint()
	op := f.uint()
	r.Op = Op(op)
	r.Code = Code(f.uint())
	r.Message = f.str()
	f.value(&r.Header)
	r.Body = nil
	// A failed response has no body (the encoder writes nil): skip whatever is there.
	if r.Code != CodeOK || f.err != nil {
		return f.end()
	}
	// An OK response always has the op's body (nil or absent: the zero body).
	r.Body = NewResponseBody(r.Op)
	if r.Body == nil || uint64(r.Op) != op {
		r.Body = nil
		return fmt.Errorf("%w: %d", ErrUnknownOp, op)
	}
	f.value(r.Body)
	return f.end()
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (h Header) EncodeMsgpack(e *msgpack.Encoder) error {
	if err := e.EncodeArrayLen(4); err != nil {
		return err
	}
	_ = e.EncodeUint(h.ClusterID)
	_ = e.EncodeUint(h.MemberID)
	_ = e.EncodeInt(h.Revision)
	return e.EncodeUint(h.RaftTerm)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (h *Header) DecodeMsgpack(d *msgpack.Decoder) error {
	f := openFields(d)
	h.ClusterID = f.uint()
	h.MemberID = f.uint()
	h.Revision = f.int()
	h.RaftTerm = f.uint()
	return f.end()
}
