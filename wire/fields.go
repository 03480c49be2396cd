package wire

import "github.com/vmihailenco/msgpack/v5"

// fields reads a message encoded as a positional array: each getter takes the next field,
// or returns the zero value once the array (or an older encoder's shorter array) is
// exhausted; end skips the fields a newer encoder appended. The first error sticks.
type fields struct {
	d    *msgpack.Decoder
	n, i int
	err  error
}

func openFields(d *msgpack.Decoder) fields {
	n, err := d.DecodeArrayLen()
	if n < 0 { // nil: a zero message
		n = 0
	}
	return fields{d: d, n: n, err: err}
}

func (f *fields) next() bool {
	if f.err != nil || f.i >= f.n {
		return false
	}
	f.i++
	return true
}

func (f *fields) bytes() []byte {
	if !f.next() {
		return nil
	}
	b, err := f.d.DecodeBytes()
	f.err = err
	return b
}

func (f *fields) str() string {
	if !f.next() {
		return ""
	}
	s, err := f.d.DecodeString()
	f.err = err
	return s
}

func (f *fields) int() int64 {
	if !f.next() {
		return 0
	}
	v, err := f.d.DecodeInt64()
	f.err = err
	return v
}

func (f *fields) uint() uint64 {
	if !f.next() {
		return 0
	}
	v, err := f.d.DecodeUint64()
	f.err = err
	return v
}

func (f *fields) bool() bool {
	if !f.next() {
		return false
	}
	v, err := f.d.DecodeBool()
	f.err = err
	return v
}

// value decodes the next field into v (a pointer), leaving it alone if the field is absent.
func (f *fields) value(v any) {
	if !f.next() {
		return
	}
	f.err = f.d.Decode(v)
}

// isNil reports whether the next field is nil, consuming it if so.
func (f *fields) isNil() bool {
	if f.err != nil || f.i >= f.n {
		return true
	}
	c, err := f.d.PeekCode()
	if err != nil {
		f.err = err
		return true
	}
	if c != msgpackNil {
		return false
	}
	f.i++
	f.err = f.d.DecodeNil()
	return true
}

func (f *fields) end() error {
	for f.err == nil && f.i < f.n {
		f.i++
		f.err = f.d.Skip()
	}
	return f.err
}

const msgpackNil byte = 0xc0
