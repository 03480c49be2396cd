package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"runtime/metrics"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// Decoding allocates at most allocPerByte bytes per byte of input, plus allocSlack. The worst
// input is an array of nils where a slice of large structs is expected: each nil byte is a
// zero struct (a Compare is 112 bytes; see TestDecodeAllocationIsBounded). The slack covers
// the decoder's buffers and the lag of the runtime's allocation counter, which counts small
// objects a span at a time.
const (
	allocPerByte = 128
	allocSlack   = 4 << 20
)

// heapAllocated is the runtime's count of bytes allocated so far.
func heapAllocated() uint64 {
	s := [1]metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s[:])
	return s[0].Value.Uint64()
}

func checkAlloc(t *testing.T, before uint64, input []byte) {
	t.Helper()
	if a := heapAllocated() - before; a > allocPerByte*uint64(len(input))+allocSlack {
		t.Fatalf("decoding %d bytes allocated %d bytes", len(input), a)
	}
}

// seedBodies adds the bodies of the golden files of one kind ("request" or "response"),
// and the same messages as a newer and an older version would encode them.
func seedBodies(f *testing.F, kind string) [][]byte {
	var out [][]byte
	for _, s := range sampleMessages(f) {
		if !strings.HasSuffix(s.name, "."+kind) && !strings.Contains(s.name, kind) {
			continue
		}
		frame, ok := readGolden(f, s.name)
		if !ok {
			f.Fatalf("no golden file for %s", s.name)
		}
		out = append(out, frame[FrameHeaderSize:],
			encodeVersion(f, s.msg, func(t reflect.Type) int { return t.NumField() + 1 }),
			encodeVersion(f, s.msg, func(t reflect.Type) int { return max(0, t.NumField()-1) }),
		)
	}
	return out
}

func FuzzRequest(f *testing.F) {
	for _, b := range seedBodies(f, "request") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder()
		var req Request
		before := heapAllocated()
		err := d.Request(data, &req)
		checkAlloc(t, before, data)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) && !errors.Is(err, ErrUnknownOp) {
				t.Fatalf("error of no class: %v", err)
			}
			if errors.Is(err, ErrUnknownOp) && (req.Body != nil || errors.Is(err, ErrBadRequest)) {
				t.Fatalf("unknown op: %v, body %v", err, req.Body)
			}
			return
		}
		if CheckShape(data) != nil {
			t.Fatal("decoded a body CheckShape refuses")
		}
		if !req.Op.Known() || reflect.TypeOf(req.Body) != reflect.TypeOf(NewRequestBody(req.Op)) {
			t.Fatalf("op %v with a body %T", req.Op, req.Body)
		}
		checkStable(t, req, func(b []byte) (any, error) {
			var again Request
			err := d.Request(b, &again)
			return again, err
		}, data)
	})
}

func FuzzResponse(f *testing.F) {
	for _, b := range seedBodies(f, "response") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder()
		var resp Response
		before := heapAllocated()
		err := d.Response(data, &resp)
		checkAlloc(t, before, data)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) && !errors.Is(err, ErrUnknownOp) {
				t.Fatalf("error of no class: %v", err)
			}
			return
		}
		// The documented invariant the client relies on: an OK response has a body of its
		// op's type, a failed one none.
		if resp.Code == CodeOK && (resp.Body == nil || reflect.TypeOf(resp.Body) != reflect.TypeOf(NewResponseBody(resp.Op))) ||
			resp.Code != CodeOK && resp.Body != nil {
			t.Fatalf("op %v, code %v, with a body %T", resp.Op, resp.Code, resp.Body)
		}
		checkStable(t, resp, func(b []byte) (any, error) {
			var again Response
			err := d.Response(b, &again)
			return again, err
		}, data)
	})
}

// checkStable checks a message decoded from data: encoding it and decoding again gives the
// same message and the same bytes, it shares no memory with data, and PeekID agrees with its
// id.
func checkStable(t *testing.T, msg any, decode func([]byte) (any, error), data []byte) {
	t.Helper()
	frame, err := NewEncoder().Frame(msg)
	if err != nil {
		t.Fatalf("decoded %s, which does not encode: %v", dump(msg), err)
	}
	again, err := decode(frame[FrameHeaderSize:])
	if err != nil {
		t.Fatalf("decoded %s, encoded %x, which does not decode: %v", dump(msg), frame[FrameHeaderSize:], err)
	}
	if !reflect.DeepEqual(again, msg) {
		t.Fatalf("decode, encode, decode changed the message:\nfirst  %s\nsecond %s", dump(msg), dump(again))
	}
	if frame2, err := NewEncoder().Frame(again); err != nil || !bytes.Equal(frame, frame2) {
		t.Fatalf("encoding is not a fixed point: %x, then %x (%v)", frame, frame2, err)
	}

	// Byte fields never alias the body: scribble over a copy after decoding from it.
	scratch := bytes.Clone(data)
	fromScratch, err := decode(scratch)
	if err != nil {
		t.Fatal(err)
	}
	for i := range scratch {
		scratch[i] ^= 0xff
	}
	if !reflect.DeepEqual(fromScratch, msg) {
		t.Fatal("the decoded message shares memory with the frame body")
	}

	var id uint64
	switch m := msg.(type) {
	case Request:
		id = m.ID
	case Response:
		id = m.ID
	}
	if got, ok := PeekID(data[:min(len(data), frameHeadSize)]); ok && got != id {
		t.Fatalf("PeekID = %d, the message's id is %d", got, id)
	}
}

// FuzzFrameReader reads an arbitrary stream with a small limit and checks every result
// against a model of the framing.
func FuzzFrameReader(f *testing.F) {
	var frames []byte
	for _, s := range sampleMessages(f) {
		frame, ok := readGolden(f, s.name)
		if !ok {
			f.Fatalf("no golden file for %s", s.name)
		}
		f.Add(frame, uint8(len(frame)-FrameHeaderSize))
		frames = append(frames, frame...)
	}
	f.Add(frames, uint8(64))
	f.Add(frames, uint8(255))
	f.Add(rawFrame(nil), uint8(0))
	f.Add(append(rawFrame(bytes.Repeat([]byte{0x94}, 40)), rawFrame([]byte{0x94, 1, 2, 0xa0, 0x90})...), uint8(10))
	f.Fuzz(func(t *testing.T, data []byte, limit uint8) {
		lim := uint64(limit)
		fr := NewFrameReader(bytes.NewReader(data), int(limit))
		rest := data
		for {
			body, err := fr.Next()
			if len(rest) == 0 {
				if err != io.EOF {
					t.Fatalf("at the end: %x, %v; want io.EOF", body, err)
				}
				return
			}
			if len(rest) < FrameHeaderSize {
				if err != io.ErrUnexpectedEOF {
					t.Fatalf("in a header: %v; want io.ErrUnexpectedEOF", err)
				}
				return
			}
			n := uint64(binary.BigEndian.Uint32(rest))
			rest = rest[FrameHeaderSize:]
			if n > lim {
				head := min(n, frameHeadSize)
				if uint64(len(rest)) < head || n <= 4*lim && uint64(len(rest)) < n {
					if err != io.ErrUnexpectedEOF {
						t.Fatalf("oversized frame of %d cut at %d: %v; want io.ErrUnexpectedEOF", n, len(rest), err)
					}
					return
				}
				var tl *FrameTooLargeError
				if !errors.As(err, &tl) || !errors.Is(err, ErrRequestTooLarge) {
					t.Fatalf("frame of %d over %d: %v", n, lim, err)
				}
				if tl.Size != n || tl.Limit != lim || !bytes.Equal(tl.Head, rest[:head]) || tl.Discarded != (n <= 4*lim) {
					t.Fatalf("frame of %d over %d: %+v", n, lim, tl)
				}
				PeekID(tl.Head)
				if !tl.Discarded {
					return
				}
				rest = rest[n:]
				continue
			}
			if uint64(len(rest)) < n {
				if err != io.ErrUnexpectedEOF {
					t.Fatalf("frame of %d cut at %d: %v; want io.ErrUnexpectedEOF", n, len(rest), err)
				}
				return
			}
			if err != nil || !bytes.Equal(body, rest[:n]) {
				t.Fatalf("frame of %d: %x, %v; want %x", n, body, err, rest[:n])
			}
			rest = rest[n:]
			var req Request
			_ = NewDecoder().Request(body, &req)
		}
	})
}

// FuzzCheckShape: what CheckShape accepts is exactly one msgpack value that msgpack's own
// Skip reads to the last byte; and below MaxDepth bytes (where the depth limit cannot apply)
// it refuses only what Skip cannot read exactly.
func FuzzCheckShape(f *testing.F) {
	for _, b := range seedBodies(f, "request") {
		f.Add(b)
	}
	for _, b := range seedBodies(f, "response") {
		f.Add(b)
	}
	f.Add([]byte{0xc7, 0x01, 0x05, 0xaa, 0xd4, 0x01, 0x02})
	f.Add([]byte{0x82, 0xa1, 'a', 0xc0, 0xa1, 'b', 0x92, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0xc3})
	f.Fuzz(func(t *testing.T, data []byte) {
		err := CheckShape(data)
		if err != nil && !errors.Is(err, errShape) {
			t.Fatalf("error of no class: %v", err)
		}
		if err != nil && len(data) > MaxDepth {
			return
		}
		r := bytes.NewReader(data)
		skipErr := msgpack.NewDecoder(r).Skip()
		exact := skipErr == nil && r.Len() == 0
		if err == nil && !exact {
			t.Fatalf("CheckShape accepts %x, Skip: %v with %d bytes left", data, skipErr, r.Len())
		}
		if err != nil && exact {
			t.Fatalf("CheckShape refuses %x (%v), which Skip reads exactly", data, err)
		}
	})
}

// FuzzPeekID compares PeekID with msgpack's decoder reading the first element of an array
// as an unsigned integer.
func FuzzPeekID(f *testing.F) {
	for _, b := range seedBodies(f, "request") {
		f.Add(b[:min(len(b), frameHeadSize)])
	}
	for _, b := range seedBodies(f, "response") {
		f.Add(b[:min(len(b), frameHeadSize)])
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		id, ok := PeekID(head)
		wantID, wantOK := peekIDByDecoder(head)
		if ok != wantOK || id != wantID {
			t.Fatalf("PeekID(%x) = %d, %v; the decoder reads %d, %v", head, id, ok, wantID, wantOK)
		}
	})
}

func peekIDByDecoder(head []byte) (uint64, bool) {
	d := msgpack.NewDecoder(bytes.NewReader(head))
	n, err := d.DecodeArrayLen()
	if err != nil || n <= 0 {
		return 0, false
	}
	c, err := d.PeekCode()
	if err != nil || !(c <= 0x7f || c >= 0xcc && c <= 0xcf) { // positive fixint, uint8..uint64
		return 0, false
	}
	id, err := d.DecodeUint64()
	return id, err == nil
}
