package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"
)

// Encoder turns envelopes into frames. It is reused for many frames; one goroutine at a
// time.
type Encoder struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

// NewEncoder returns an Encoder.
func NewEncoder() *Encoder {
	e := &Encoder{}
	e.enc = msgpack.NewEncoder(&e.buf)
	e.enc.UseCompactInts(true)
	e.enc.UseArrayEncodedStructs(true)
	return e
}

// Frame encodes v (a Request or a Response) as one frame, length prefix included. The
// bytes are valid until the next call.
func (e *Encoder) Frame(v any) ([]byte, error) {
	e.buf.Reset()
	if e.buf.Cap() > keptBuffer {
		e.buf = bytes.Buffer{}
	}
	e.buf.Write(make([]byte, FrameHeaderSize))
	// ResetWriter, not Reset: Reset also clears the options NewEncoder set, and the frames
	// would carry structs as maps of field names.
	e.enc.ResetWriter(&e.buf)
	if err := e.enc.Encode(v); err != nil {
		return nil, fmt.Errorf("wire: encode: %w", err)
	}
	b := e.buf.Bytes()
	PutFrameHeader(b, len(b)-FrameHeaderSize)
	return b, nil
}

// Marshal encodes v (any wire type) on its own, without a frame header.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	enc.UseArrayEncodedStructs(true)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("wire: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// Decoder turns frame bodies into envelopes. It is reused for many frames; one goroutine at
// a time.
type Decoder struct {
	r   bytes.Reader
	dec *msgpack.Decoder
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder {
	d := &Decoder{}
	d.dec = msgpack.NewDecoder(&d.r)
	return d
}

// Request decodes a frame body into req. Byte fields never alias body. A body that is not a
// well-formed request fails with an error matching ErrBadRequest (or ErrUnknownOp); req.ID
// is set whenever the body got that far.
func (d *Decoder) Request(body []byte, req *Request) error {
	*req = Request{}
	if err := notNil(body); err != nil {
		return err
	}
	return d.decode(body, req)
}

// Response decodes a frame body into resp.
func (d *Decoder) Response(body []byte, resp *Response) error {
	*resp = Response{}
	if err := notNil(body); err != nil {
		return err
	}
	return d.decode(body, resp)
}

// notNil refuses a body that is msgpack's nil, which the decoder would take for a zero
// envelope (op 0, no body) without calling the envelope's decoder.
func notNil(body []byte) error {
	if len(body) > 0 && body[0] == msgpackNil {
		return fmt.Errorf("%w: nil instead of an envelope", ErrBadRequest)
	}
	return nil
}

// Unmarshal decodes b, one wire value, into v (a pointer).
func Unmarshal(b []byte, v any) error {
	d := NewDecoder()
	return d.decode(b, v)
}

func (d *Decoder) decode(body []byte, v any) error {
	if err := CheckShape(body); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	d.r.Reset(body)
	d.dec.Reset(&d.r)
	if err := d.dec.Decode(v); err != nil {
		if errors.Is(err, ErrUnknownOp) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if d.r.Len() != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrBadRequest, d.r.Len())
	}
	return nil
}

// PeekID reads the id of a request or response from the first bytes of its encoding (see
// FrameTooLargeError), or reports false.
func PeekID(head []byte) (uint64, bool) {
	var n uint64 // the array's length
	switch {
	case len(head) >= 1 && head[0]&0xf0 == 0x90:
		n, head = uint64(head[0]&0x0f), head[1:]
	case len(head) >= 3 && head[0] == 0xdc:
		n, head = uint64(binary.BigEndian.Uint16(head[1:])), head[3:]
	case len(head) >= 5 && head[0] == 0xdd:
		n, head = uint64(binary.BigEndian.Uint32(head[1:])), head[5:]
	default:
		return 0, false
	}
	if n == 0 || len(head) == 0 {
		return 0, false
	}
	t := head[0]
	head = head[1:]
	switch {
	case t <= 0x7f:
		return uint64(t), true
	case t == 0xcc && len(head) >= 1:
		return uint64(head[0]), true
	case t == 0xcd && len(head) >= 2:
		return uint64(binary.BigEndian.Uint16(head)), true
	case t == 0xce && len(head) >= 4:
		return uint64(binary.BigEndian.Uint32(head)), true
	case t == 0xcf && len(head) >= 8:
		return binary.BigEndian.Uint64(head), true
	}
	return 0, false
}

// msgpack v5.4.1 decodes an array-encoded struct only if the array has exactly as many
// elements as the struct has fields, so neither an older peer's shorter message nor a newer
// peer's longer one would decode. decodeStruct replaces its decoder for every struct type the
// ops reach without a hand-written codec.
func init() {
	seen := make(map[reflect.Type]bool)
	for _, info := range ops {
		registerStructs(reflect.TypeOf(info.req()), seen)
		registerStructs(reflect.TypeOf(info.resp()), seen)
	}
}

var customDecoder = reflect.TypeFor[msgpack.CustomDecoder]()

// registerStructs registers decodeStruct for the struct types t reaches.
func registerStructs(t reflect.Type, seen map[reflect.Type]bool) {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		registerStructs(t.Elem(), seen)
		return
	case reflect.Struct:
	default:
		return
	}
	if seen[t] {
		return
	}
	seen[t] = true
	for i := range t.NumField() {
		registerStructs(t.Field(i).Type, seen)
	}
	if !reflect.PointerTo(t).Implements(customDecoder) {
		msgpack.Register(reflect.Zero(t).Interface(), nil, decodeStruct)
	}
}

// decodeStruct decodes a struct (whose fields are all exported and untagged) from the
// positional array of its fields, as the fields type does for the hand-written codecs: the
// fields an older encoder did not send are zero, and the ones a newer encoder appended are
// skipped.
func decodeStruct(d *msgpack.Decoder, v reflect.Value) error {
	n, err := d.DecodeArrayLen()
	if err != nil {
		return err
	}
	for i := range v.NumField() {
		f := v.Field(i)
		switch {
		case i >= n:
			f.SetZero()
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
			err = decodeStructs(d, f)
		default:
			err = d.DecodeValue(f)
		}
		if err != nil {
			return err
		}
	}
	for i := v.NumField(); i < n; i++ {
		if err := d.Skip(); err != nil {
			return err
		}
	}
	return nil
}

// decodeStructs decodes a slice of structs, allocating it once: msgpack v5.4.1 allocates a
// slice twice (it makes one, then appends it to the nil slice), and a slice of zero structs
// is where decoding allocates most per byte of input.
func decodeStructs(d *msgpack.Decoder, v reflect.Value) error {
	n, err := d.DecodeArrayLen()
	if err != nil {
		return err
	}
	if n < 0 {
		v.SetZero()
		return nil
	}
	v.Set(reflect.MakeSlice(v.Type(), n, n))
	for i := range n {
		if err := d.DecodeValue(v.Index(i)); err != nil {
			return err
		}
	}
	return nil
}
