package wire

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// randomFill sets v (settable) to a random value: integers of every width and sign, strings
// and bytes of any content, nil or set pointers, nil or non-empty slices (an empty
// RangeResponse.KVs decodes as nil).
func randomFill(rng *rand.Rand, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := rng.Int64() >> rng.IntN(64)
		if rng.IntN(2) == 0 {
			n = -n
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(rng.Uint64() >> rng.IntN(65))
	case reflect.String:
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		v.SetString(string(b))
	case reflect.Pointer:
		if depth > 3 || rng.IntN(3) == 0 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		randomFill(rng, v.Elem(), depth+1)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			switch rng.IntN(4) {
			case 0: // nil
			case 1:
				v.SetBytes([]byte{})
			default:
				b := make([]byte, 1+rng.IntN(300))
				for i := range b {
					b[i] = byte(rng.Uint32())
				}
				v.SetBytes(b)
			}
			return
		}
		if depth > 3 || rng.IntN(3) == 0 {
			return
		}
		n := 1 + rng.IntN(3)
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			randomFill(rng, v.Index(i), depth+1)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			randomFill(rng, v.Field(i), depth)
		}
	}
}

func randomMessage(rng *rand.Rand, allOps []Op) any {
	op := allOps[rng.IntN(len(allOps))]
	if rng.IntN(2) == 0 {
		req := Request{Op: op, Body: NewRequestBody(op)}
		randomFill(rng, reflect.ValueOf(&req.ID).Elem(), 0)
		randomFill(rng, reflect.ValueOf(&req.Token).Elem(), 0)
		randomFill(rng, reflect.ValueOf(req.Body).Elem(), 0)
		return req
	}
	resp := Response{Op: op}
	randomFill(rng, reflect.ValueOf(&resp.ID).Elem(), 0)
	randomFill(rng, reflect.ValueOf(&resp.Message).Elem(), 0)
	randomFill(rng, reflect.ValueOf(&resp.Header).Elem(), 0)
	if rng.IntN(4) == 0 {
		for c := range codes {
			resp.Code = c
			break
		}
	} else {
		resp.Body = NewResponseBody(op)
		randomFill(rng, reflect.ValueOf(resp.Body).Elem(), 0)
	}
	return resp
}

// TestRandomRoundTrip frames random messages of every op and reads them back; the frame
// holds the positional layout and PeekID finds the id.
func TestRandomRoundTrip(t *testing.T) {
	rng := newRand(t)
	allOps := sortedOps()
	enc := NewEncoder()
	d := NewDecoder()
	for i := range 3000 {
		msg := randomMessage(rng, allOps)
		frame, err := enc.Frame(msg)
		if err != nil {
			t.Fatal(err)
		}
		body := frame[FrameHeaderSize:]
		if want := encodeVersion(t, msg, thisVersion); !bytes.Equal(body, want) {
			t.Fatalf("message %d: not the positional layout:\n%x\n%x", i, body, want)
		}
		var got any
		var id uint64
		switch m := msg.(type) {
		case Request:
			var req Request
			err, got, id = d.Request(body, &req), req, m.ID
			got = req
		case Response:
			var resp Response
			err = d.Response(body, &resp)
			got, id = resp, m.ID
		}
		if err != nil {
			t.Fatalf("message %d: %s: %v", i, dump(msg), err)
		}
		if !reflect.DeepEqual(got, msg) {
			t.Fatalf("message %d:\ngot  %s\nwant %s", i, dump(got), dump(msg))
		}
		if peeked, ok := PeekID(body[:min(len(body), frameHeadSize)]); !ok || peeked != id {
			t.Fatalf("message %d: PeekID = %d, %v, want %d", i, peeked, ok, id)
		}
	}
}

func encodeAny(t *testing.T, vs ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	e := msgpack.NewEncoder(&buf)
	for _, v := range vs {
		if err := e.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestMalformedRequests(t *testing.T) {
	putBody := []any{[]byte("k"), []byte("v")}
	for _, tc := range []struct {
		name    string
		body    []byte
		want    error
		id      uint64
		unknown bool // ErrUnknownOp rather than ErrBadRequest
	}{
		{name: "empty", body: nil, want: ErrBadRequest},
		{name: "nil", body: []byte{0xc0}, want: ErrBadRequest},
		{name: "not an array", body: encodeAny(t, "request"), want: ErrBadRequest},
		{name: "a map", body: encodeAny(t, map[string]any{"id": 1}), want: ErrBadRequest},
		{name: "empty array", body: []byte{0x90}, want: ErrUnknownOp},
		{name: "unknown op", body: encodeAny(t, []any{7, 200, "", nil}), want: ErrUnknownOp, id: 7},
		{name: "op past uint8", body: encodeAny(t, []any{8, 256 + int(OpPut), "", putBody}), want: ErrUnknownOp, id: 8},
		{name: "op 0", body: encodeAny(t, []any{9, 0, "", nil}), want: ErrUnknownOp, id: 9},
		{name: "string id", body: encodeAny(t, []any{"1", 2, "", putBody}), want: ErrBadRequest},
		{name: "bytes op", body: encodeAny(t, []any{1, []byte{2}, "", putBody}), want: ErrBadRequest, id: 1},
		{name: "body of the wrong shape", body: encodeAny(t, []any{1, 2, "", "put"}), want: ErrBadRequest, id: 1},
		{name: "field of the wrong type", body: encodeAny(t, []any{1, 2, "", []any{[]byte("k"), []byte("v"), "lease"}}), want: ErrBadRequest, id: 1},
		{name: "reflected field of the wrong type", body: encodeAny(t, []any{1, int(OpLeaseGrant), "", []any{"ttl"}}), want: ErrBadRequest, id: 1},
		{name: "trailing bytes", body: append(encodeAny(t, []any{1, 2, "", putBody}), 0xc0), want: ErrBadRequest},
		{name: "truncated", body: encodeAny(t, []any{1, 2, "", putBody})[:10], want: ErrBadRequest},
		{name: "huge declared array", body: []byte{0x94, 0x01, 0x04, 0xa0, 0x91, 0xdd, 0xff, 0xff, 0xff, 0xff}, want: ErrBadRequest},
		{name: "huge declared bytes", body: []byte{0x94, 0x01, 0x02, 0xa0, 0x91, 0xc6, 0xff, 0xff, 0xff, 0xff}, want: ErrBadRequest},
		{name: "reserved byte", body: []byte{0x94, 0x01, 0x02, 0xa0, 0xc1}, want: ErrBadRequest},
	} {
		var req Request
		err := NewDecoder().Request(tc.body, &req)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s (%x): %v, want %v", tc.name, tc.body, err, tc.want)
		}
		if tc.want == ErrUnknownOp && errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: %v matches ErrBadRequest too", tc.name, err)
		}
		if tc.id != 0 && req.ID != tc.id {
			t.Errorf("%s: id %d, want %d (the server answers it)", tc.name, req.ID, tc.id)
		}
		if err != nil && errors.Is(err, ErrUnknownOp) && req.Body != nil {
			t.Errorf("%s: a body %T for an unknown op", tc.name, req.Body)
		}
	}
}

func TestMalformedResponses(t *testing.T) {
	hdr := []any{1, 2, 3, 4}
	for _, tc := range []struct {
		name string
		body []byte
		want error
	}{
		{"nil", []byte{0xc0}, ErrBadRequest},
		{"unknown op with a body", encodeAny(t, []any{1, 200, 0, "", hdr, []any{}}), ErrUnknownOp},
		{"op past uint8 with a body", encodeAny(t, []any{1, 256 + int(OpPut), 0, "", hdr, []any{nil}}), ErrUnknownOp},
		{"header of the wrong shape", encodeAny(t, []any{1, 2, 0, "", "header", nil}), ErrBadRequest},
		{"body of the wrong shape", encodeAny(t, []any{1, 2, 0, "", hdr, 5}), ErrBadRequest},
		{"OK without an op", encodeAny(t, []any{1}), ErrUnknownOp},
		{"OK of an unknown op without a body", encodeAny(t, []any{1, 200, 0, "", hdr, nil}), ErrUnknownOp},
	} {
		var resp Response
		if err := NewDecoder().Response(tc.body, &resp); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}

	// An OK response always has the op's body: nil or absent is the zero body.
	for _, body := range [][]byte{
		encodeAny(t, []any{1, int(OpStatus), 0, "", hdr, nil}),
		encodeAny(t, []any{1, int(OpStatus), 0, "", hdr}),
		encodeAny(t, []any{1, int(OpStatus)}),
	} {
		var resp Response
		if err := NewDecoder().Response(body, &resp); err != nil || !reflect.DeepEqual(resp.Body, &StatusResponse{}) {
			t.Errorf("OK response %x without a body: %+v, %v; want a zero *StatusResponse", body, resp, err)
		}
	}

	// A failed response carries no body, whatever the encoder put there; an unknown op
	// is fine there (the client reports the failure).
	for _, body := range [][]byte{
		encodeAny(t, []any{1, int(OpPut), int(CodeNoLeader), "no leader", hdr, []any{[]any{"k"}}}),
		encodeAny(t, []any{1, 200, int(CodeUnimplemented), "what op?", hdr, []any{"anything"}}),
		encodeAny(t, []any{1, 200, int(CodeUnimplemented), "what op?", hdr, nil}),
	} {
		var resp Response
		if err := NewDecoder().Response(body, &resp); err != nil || resp.Body != nil || resp.Code == CodeOK || resp.Message == "" {
			t.Errorf("failed response %x: %+v, %v", body, resp, err)
		}
	}
}

// TestCheckShapeOfMessages: every strict prefix and every extension of a valid body is refused, and so
// is nesting past MaxDepth.
func TestCheckShapeOfMessages(t *testing.T) {
	for _, s := range sampleMessages(t) {
		body, err := Marshal(s.msg)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckShape(body); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		for n := range len(body) {
			if CheckShape(body[:n]) == nil {
				t.Fatalf("%s: accepts the first %d of %d bytes", s.name, n, len(body))
			}
		}
		if CheckShape(append(bytes.Clone(body), 0x00)) == nil {
			t.Fatalf("%s: accepts a trailing byte", s.name)
		}
	}
	nest := func(depth int) []byte { return append(bytes.Repeat([]byte{0x91}, depth), 0xc0) }
	if err := CheckShape(nest(MaxDepth)); err != nil {
		t.Errorf("nesting of MaxDepth: %v", err)
	}
	if err := CheckShape(nest(MaxDepth + 1)); !errors.Is(err, errShape) {
		t.Errorf("nesting past MaxDepth: %v", err)
	}
	// Containers closing and opening again at the depth limit.
	wide := append(bytes.Repeat([]byte{0x91}, MaxDepth-1), 0x92, 0x90, 0x90)
	if err := CheckShape(wide); err != nil {
		t.Errorf("two empty arrays at depth MaxDepth: %v", err)
	}
	// The deepest txn a request can hold is refused by CheckShape, not by a stack overflow.
	txn := &TxnRequest{}
	for range MaxDepth {
		txn = &TxnRequest{Success: []RequestOp{{Txn: txn}}}
	}
	body, err := Marshal(Request{ID: 1, Op: OpTxn, Body: txn})
	if err != nil {
		t.Fatal(err)
	}
	var req Request
	if err := NewDecoder().Request(body, &req); !errors.Is(err, ErrBadRequest) || req.Body != nil {
		t.Errorf("txn nested %d deep: %v", MaxDepth, err)
	}
}

// TestDecodeAllocationIsBounded measures the worst inputs known: arrays of nils where slices
// of large structs are expected, each nil byte a zero struct. The fuzz targets hold every
// input to allocPerByte.
func TestDecodeAllocationIsBounded(t *testing.T) {
	const n = 200_000
	nils := func(n int) []any { return make([]any, n) }
	for _, tc := range []struct {
		name string
		body []byte
		resp bool
	}{
		{"txn compares", encodeAny(t, []any{1, int(OpTxn), "", []any{nils(n)}}), false},
		{"txn ops", encodeAny(t, []any{1, int(OpTxn), "", []any{nil, nils(n)}}), false},
		{"txn of empty ranges", encodeAny(t, []any{1, int(OpTxn), "", []any{nil, repeat([]any{[]any{}}, n)}}), false},
		{"watch events", encodeAny(t, []any{1, int(OpWatch), 0, "", nil, []any{0, false, false, 0, "", false, nils(n)}}), true},
		{"range kvs", encodeAny(t, []any{1, int(OpRange), 0, "", nil, []any{nils(n)}}), true},
		{"members", encodeAny(t, []any{1, int(OpMemberList), 0, "", nil, []any{nils(n)}}), true},
	} {
		d := NewDecoder()
		var req Request
		var resp Response
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var err error
		if tc.resp {
			err = d.Response(tc.body, &resp)
		} else {
			err = d.Request(tc.body, &req)
		}
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		perByte := float64(after.TotalAlloc-before.TotalAlloc) / float64(len(tc.body))
		t.Logf("%s: %d bytes decode with %.1f bytes allocated per byte", tc.name, len(tc.body), perByte)
		if perByte > allocPerByte {
			t.Errorf("%s: %.1f bytes allocated per byte of input, over %d", tc.name, perByte, allocPerByte)
		}
	}
}

func repeat(v any, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = v
	}
	return out
}
