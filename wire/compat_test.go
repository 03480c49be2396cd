package wire

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// Compatibility between versions: a newer encoder appends fields, an older one sends fewer.
// encodeAs plays those encoders: it writes a message in the documented layout (every struct a
// positional array of its fields in declaration order) with as many fields per struct as
// fieldsOf says, inventing the values of fields this build does not have.

// fieldsOf says how many fields an encoder of another version sends for struct type t.
type fieldsOf func(t reflect.Type) int

func thisVersion(t reflect.Type) int { return t.NumField() }

func encodeAs(e *msgpack.Encoder, v reflect.Value, n fieldsOf) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return e.EncodeNil()
		}
		return encodeAs(e, v.Elem(), n)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return e.EncodeBytes(v.Bytes())
		}
		if v.IsNil() {
			return e.EncodeNil()
		}
		if err := e.EncodeArrayLen(v.Len()); err != nil {
			return err
		}
		for i := range v.Len() {
			if err := encodeAs(e, v.Index(i), n); err != nil {
				return err
			}
		}
		return nil
	case reflect.Struct:
		count := n(v.Type())
		if err := e.EncodeArrayLen(count); err != nil {
			return err
		}
		for i := range count {
			var err error
			if i < v.NumField() {
				err = encodeAs(e, v.Field(i), n)
			} else {
				err = e.Encode(futureField(i))
			}
			if err != nil {
				return err
			}
		}
		return nil
	case reflect.Bool:
		return e.EncodeBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return e.EncodeInt(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return e.EncodeUint(v.Uint())
	case reflect.String:
		return e.EncodeString(v.String())
	}
	return fmt.Errorf("encodeAs: %v", v.Type())
}

// futureField is the value of a field a newer version appended: of every msgpack kind,
// nested ones included.
func futureField(i int) any {
	switch i % 5 {
	case 0:
		return uint64(1) << 40
	case 1:
		return "appended by a newer version"
	case 2:
		return []any{int64(-3), []byte("bin"), []any{nil, true}, map[string]any{"k": []any{1.5}}}
	case 3:
		return nil
	}
	return map[string]any{"new": map[string]any{"deeper": []any{"x"}}}
}

func encodeVersion(t testing.TB, msg any, n fieldsOf) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := encodeAs(msgpack.NewEncoder(&buf), reflect.ValueOf(msg), n); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decodeBody(body []byte, like any) (any, error) {
	d := NewDecoder()
	switch like.(type) {
	case Request:
		var req Request
		err := d.Request(body, &req)
		return req, err
	case Response:
		var resp Response
		err := d.Response(body, &resp)
		return resp, err
	}
	v := reflect.New(reflect.TypeOf(like).Elem())
	err := Unmarshal(body, v.Interface())
	return v.Interface(), err
}

// TestEncodingIsPositional checks the layout the doc promises (and encodeAs relies on): the
// hand-written codecs and the reflection ones both write every struct as the array of its
// fields in declaration order.
func TestEncodingIsPositional(t *testing.T) {
	for _, s := range sampleMessages(t) {
		want, err := Marshal(s.msg)
		if err != nil {
			t.Fatal(err)
		}
		if got := encodeVersion(t, s.msg, thisVersion); !bytes.Equal(got, want) {
			t.Errorf("%s: not the positional layout:\nwire       %x\npositional %x", s.name, want, got)
		}
	}
}

// TestNewerEncoder: a message of a newer version, whose every struct (envelopes, bodies,
// nested messages; hand-written codecs and reflection ones) carries fields this build does
// not know, decodes to the fields it knows.
func TestNewerEncoder(t *testing.T) {
	for _, extra := range []int{1, 2, 5} {
		newer := func(t reflect.Type) int { return t.NumField() + extra }
		for _, s := range sampleMessages(t) {
			got, err := decodeBody(encodeVersion(t, s.msg, newer), s.msg)
			if err != nil {
				t.Errorf("%s with %d appended fields: %v", s.name, extra, err)
				continue
			}
			if !reflect.DeepEqual(got, s.msg) {
				t.Errorf("%s with %d appended fields:\ngot  %s\nwant %s", s.name, extra, dump(got), dump(s.msg))
			}
		}
	}
}

// TestOlderEncoder: a message of an older version, which lacks the last fields of a struct,
// decodes with those fields zero. Every struct type, at every length from none of its fields
// to all but one, wherever the samples hold it.
func TestOlderEncoder(t *testing.T) {
	isEnvelope := func(t reflect.Type) bool {
		return t == reflect.TypeFor[Request]() || t == reflect.TypeFor[Response]()
	}
	for _, typ := range wireStructTypes() {
		if isEnvelope(typ) {
			continue // TestOlderEnvelopes
		}
		for keep := range typ.NumField() {
			older := func(t reflect.Type) int {
				if t == typ {
					return keep
				}
				return t.NumField()
			}
			found := false
			for _, s := range sampleMessages(t) {
				b := encodeVersion(t, s.msg, older)
				if bytes.Equal(b, encodeVersion(t, s.msg, thisVersion)) {
					continue // no typ in this message
				}
				found = true
				got, err := decodeBody(b, s.msg)
				if err != nil {
					t.Errorf("%s with %s cut to %d fields: %v", s.name, typ.Name(), keep, err)
					continue
				}
				if err := equalCut(reflect.ValueOf(got), reflect.ValueOf(s.msg), older, "message"); err != nil {
					t.Errorf("%s with %s cut to %d fields: %v", s.name, typ.Name(), keep, err)
				}
			}
			if !found {
				t.Errorf("no sample holds a %s", typ.Name())
			}
		}
	}

	// Every struct at once, with one field fewer (or none at all).
	for _, cut := range []int{1, 100} {
		older := func(t reflect.Type) int {
			if isEnvelope(t) {
				return t.NumField()
			}
			return max(0, t.NumField()-cut)
		}
		for _, s := range sampleMessages(t) {
			got, err := decodeBody(encodeVersion(t, s.msg, older), s.msg)
			if err != nil {
				t.Errorf("%s with every struct cut by %d: %v", s.name, cut, err)
				continue
			}
			if err := equalCut(reflect.ValueOf(got), reflect.ValueOf(s.msg), older, "message"); err != nil {
				t.Errorf("%s with every struct cut by %d: %v", s.name, cut, err)
			}
		}
	}
}

// equalCut checks that got is want as an encoder sending n(t) fields of each struct t would
// have it decoded: the fields sent are equal, the others zero.
func equalCut(got, want reflect.Value, n fieldsOf, path string) error {
	if got.Type() != want.Type() {
		return fmt.Errorf("%s: %v, want %v", path, got.Type(), want.Type())
	}
	switch got.Kind() {
	case reflect.Pointer, reflect.Interface:
		if got.IsNil() || want.IsNil() {
			if got.IsNil() != want.IsNil() {
				return fmt.Errorf("%s: nil %v, want nil %v", path, got.IsNil(), want.IsNil())
			}
			return nil
		}
		return equalCut(got.Elem(), want.Elem(), n, path)
	case reflect.Slice:
		if got.Type().Elem().Kind() == reflect.Uint8 || got.Len() != want.Len() {
			break
		}
		for i := range got.Len() {
			if err := equalCut(got.Index(i), want.Index(i), n, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Struct:
		for i := range got.NumField() {
			p := path + "." + got.Type().Field(i).Name
			if i >= n(got.Type()) {
				if !got.Field(i).IsZero() {
					return fmt.Errorf("%s: not sent, but decoded as %s", p, dump(got.Field(i).Interface()))
				}
			} else if err := equalCut(got.Field(i), want.Field(i), n, p); err != nil {
				return err
			}
		}
		return nil
	}
	if !reflect.DeepEqual(got.Interface(), want.Interface()) {
		return fmt.Errorf("%s: %s, want %s", path, dump(got.Interface()), dump(want.Interface()))
	}
	return nil
}

// TestOlderEnvelopes: envelopes cut short. An envelope without a known op fails with
// ErrUnknownOp (a request keeps the id when there is one); one without a body gets the op's
// zero body.
func TestOlderEnvelopes(t *testing.T) {
	req := Request{ID: 7, Op: OpPut, Token: "tok", Body: &PutRequest{Key: []byte("k")}}
	for keep := range 4 {
		b := encodeVersion(t, req, func(t reflect.Type) int {
			if t == reflect.TypeFor[Request]() {
				return keep
			}
			return t.NumField()
		})
		var got Request
		err := NewDecoder().Request(b, &got)
		if keep < 2 {
			if !errors.Is(err, ErrUnknownOp) || got.Body != nil {
				t.Errorf("request of %d fields: %v, body %v; want ErrUnknownOp", keep, err, got.Body)
			}
			if keep == 1 && got.ID != 7 {
				t.Errorf("request of 1 field: id %d", got.ID)
			}
			continue
		}
		want := Request{ID: 7, Op: OpPut, Body: &PutRequest{}}
		if keep == 3 {
			want.Token = "tok"
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("request of %d fields: %s, %v; want %s", keep, dump(got), err, dump(want))
		}
	}

	resp := Response{ID: 8, Op: OpPut, Message: "m", Header: sampleHeader, Body: &PutResponse{PrevKV: &KeyValue{Key: []byte("k")}}}
	for keep := range 6 {
		cut := func(t reflect.Type) int {
			if t == reflect.TypeFor[Response]() {
				return keep
			}
			return t.NumField()
		}
		var got Response
		err := NewDecoder().Response(encodeVersion(t, resp, cut), &got)
		if keep < 2 {
			if !errors.Is(err, ErrUnknownOp) || got.Body != nil {
				t.Errorf("response of %d fields: %v, body %v; want ErrUnknownOp", keep, err, got.Body)
			}
			continue
		}
		want := Response{ID: 8, Op: OpPut, Body: &PutResponse{}}
		if keep > 3 {
			want.Message = "m"
		}
		if keep > 4 {
			want.Header = sampleHeader
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("response of %d fields: %s, %v; want %s", keep, dump(got), err, dump(want))
		}
	}
}

// TestNilMessage: nil where a message is expected is the zero message, for hand-written
// codecs and reflection ones alike.
func TestNilMessage(t *testing.T) {
	for _, typ := range wireStructTypes() {
		if typ == reflect.TypeFor[Request]() {
			continue // no op: ErrUnknownOp, see TestOlderEnvelopes
		}
		v := reflect.New(typ)
		v.Elem().Set(reflect.ValueOf(sampleOf(t, typ)))
		if err := Unmarshal([]byte{0xc0}, v.Interface()); err != nil {
			t.Errorf("%v from nil: %v", typ, err)
		} else if !v.Elem().IsZero() {
			t.Errorf("%v from nil: %s, want the zero value", typ, dump(v.Elem().Interface()))
		}
	}
}

// sampleOf finds a value of typ in the samples, with as many fields set as any.
func sampleOf(t *testing.T, typ reflect.Type) any {
	t.Helper()
	var best reflect.Value
	score := -1
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Struct:
			if v.Type() == typ {
				n := 0
				for i := range v.NumField() {
					if !v.Field(i).IsZero() {
						n++
					}
				}
				if n > score {
					best, score = v, n
				}
			}
			for i := range v.NumField() {
				walk(v.Field(i))
			}
		}
	}
	for _, s := range sampleMessages(t) {
		walk(reflect.ValueOf(s.msg))
	}
	if score < 0 {
		t.Fatalf("no sample of %v", typ)
	}
	return best.Interface()
}

// TestMapEncodedStructIsRefused: messages are arrays; a map (msgpack's default struct
// encoding, which an encoder that lost its options would write) is malformed.
func TestMapEncodedStructIsRefused(t *testing.T) {
	var buf bytes.Buffer
	if err := msgpack.NewEncoder(&buf).Encode(&LeaseGrantRequest{TTL: 1, ID: 2}); err != nil {
		t.Fatal(err)
	}
	if buf.Bytes()[0]&0xf0 != 0x80 {
		t.Fatalf("not a map: %x", buf.Bytes())
	}
	var got LeaseGrantRequest
	if err := Unmarshal(buf.Bytes(), &got); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("map-encoded struct: %v, want ErrBadRequest", err)
	}
}

// TestReflectedStructsArePlain: decodeStruct reads fields by position, which matches the
// reflection encoder only while every field is exported, untagged and not embedded.
func TestReflectedStructsArePlain(t *testing.T) {
	for _, typ := range wireStructTypes() {
		for i := range typ.NumField() {
			f := typ.Field(i)
			if !f.IsExported() || f.Anonymous || f.Tag != "" {
				t.Errorf("%s.%s: wire fields must be exported, named and untagged", typ.Name(), f.Name)
			}
		}
	}
}
