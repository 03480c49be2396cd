package wire

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"io"
	"math"
	"math/rand/v2"
	"testing"
	"testing/iotest"
	"time"
)

var seedFlag = flag.Uint64("seed", 0, "seed of the randomized tests (0: from the clock)")

// newRand returns a seeded generator and logs the seed to rerun with.
func newRand(tb testing.TB) *rand.Rand {
	tb.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	tb.Logf("seed %d (rerun with -seed=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, 0))
}

// rawFrame is a frame around any body.
func rawFrame(body []byte) []byte {
	f := make([]byte, FrameHeaderSize, FrameHeaderSize+len(body))
	PutFrameHeader(f, len(body))
	return append(f, body...)
}

func encodeFrame(t *testing.T, v any) []byte {
	t.Helper()
	f, err := NewEncoder().Frame(v)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFrameEndOfStream(t *testing.T) {
	frame := encodeFrame(t, Request{ID: 1, Op: OpPut, Body: &PutRequest{Key: []byte("k"), Value: []byte("value")}})

	// Clean end: before any frame, and after the last one.
	if _, err := NewFrameReader(bytes.NewReader(nil), 1024).Next(); err != io.EOF {
		t.Errorf("empty stream: %v, want io.EOF", err)
	}
	fr := NewFrameReader(bytes.NewReader(frame), 1024)
	if _, err := fr.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := fr.Next(); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}

	// Cut anywhere inside the frame: in the header or in the body.
	for cut := 1; cut < len(frame); cut++ {
		fr := NewFrameReader(bytes.NewReader(frame[:cut]), 1024)
		if body, err := fr.Next(); err != io.ErrUnexpectedEOF {
			t.Errorf("frame cut at %d of %d: %x, %v, want io.ErrUnexpectedEOF", cut, len(frame), body, err)
		}
	}

	// An oversized frame cut in its head or in the part being discarded.
	big := rawFrame(bytes.Repeat([]byte{0x94}, 100))
	for _, cut := range []int{5, 12, 20, 60} {
		fr := NewFrameReader(bytes.NewReader(big[:cut]), 50)
		if _, err := fr.Next(); err != io.ErrUnexpectedEOF {
			t.Errorf("oversized frame cut at %d: %v, want io.ErrUnexpectedEOF", cut, err)
		}
	}
}

func TestFrameReaderErrorsPassThrough(t *testing.T) {
	boom := errors.New("stream reset by peer")
	if _, err := NewFrameReader(iotest.ErrReader(boom), 1024).Next(); err != boom {
		t.Errorf("header: %v, want %v", err, boom)
	}
	frame := rawFrame([]byte("0123456789"))
	r := io.MultiReader(bytes.NewReader(frame[:8]), iotest.ErrReader(boom))
	if _, err := NewFrameReader(r, 1024).Next(); err != boom {
		t.Errorf("body: %v, want %v", err, boom)
	}
}

// TestFrameLimit: a frame of exactly the limit is read; one byte more is discarded with its
// head kept, from which PeekID recovers the id of every width, and the stream goes on.
func TestFrameLimit(t *testing.T) {
	ids := []uint64{
		0, 5, 127, // fixint
		128, 255, // uint8
		256, math.MaxUint16, // uint16
		1 << 16, math.MaxUint32, // uint32
		1 << 32, math.MaxUint64, // uint64
	}
	next := encodeFrame(t, Request{ID: 4242, Op: OpRange, Body: &RangeRequest{Key: []byte("next")}})
	for _, id := range ids {
		for _, msg := range []any{
			Request{ID: id, Op: OpPut, Token: "t", Body: &PutRequest{Key: []byte("k"), Value: make([]byte, 300)}},
			Response{ID: id, Op: OpRange, Header: sampleHeader, Body: &RangeResponse{KVs: []KeyValue{{Key: []byte("k"), Value: make([]byte, 300)}}}},
		} {
			frame := bytes.Clone(encodeFrame(t, msg))
			size := len(frame) - FrameHeaderSize
			stream := append(bytes.Clone(frame), next...)

			// At the limit: read whole.
			fr := NewFrameReader(bytes.NewReader(stream), size)
			body, err := fr.Next()
			if err != nil || !bytes.Equal(body, frame[FrameHeaderSize:]) {
				t.Fatalf("id %d: frame of exactly the limit: %v", id, err)
			}

			// One byte over: discarded, head kept.
			fr = NewFrameReader(bytes.NewReader(stream), size-1)
			_, err = fr.Next()
			var tl *FrameTooLargeError
			if !errors.As(err, &tl) || !errors.Is(err, ErrRequestTooLarge) {
				t.Fatalf("id %d: frame over the limit: %v", id, err)
			}
			if !tl.Discarded || tl.Size != uint64(size) || tl.Limit != uint64(size-1) {
				t.Errorf("id %d: %+v", id, tl)
			}
			if !bytes.Equal(tl.Head, frame[FrameHeaderSize:FrameHeaderSize+frameHeadSize]) {
				t.Errorf("id %d: head %x, want the frame's first %d bytes", id, tl.Head, frameHeadSize)
			}
			if got, ok := PeekID(tl.Head); !ok || got != id {
				t.Errorf("id %d: PeekID(head %x) = %d, %v", id, tl.Head, got, ok)
			}
			// The stream goes on with the next frame.
			body, err = fr.Next()
			var req Request
			if err != nil {
				t.Fatalf("id %d: after the discarded frame: %v", id, err)
			}
			if err := NewDecoder().Request(body, &req); err != nil || req.ID != 4242 {
				t.Fatalf("id %d: after the discarded frame: %+v, %v", id, req, err)
			}
			if _, err := fr.Next(); err != io.EOF {
				t.Fatalf("id %d: end: %v", id, err)
			}
		}
	}
}

// TestFrameDiscardBound: frames up to 4×limit are discarded; above that the reader gives up
// (Discarded false) without reading the body.
func TestFrameDiscardBound(t *testing.T) {
	const limit = 100
	for _, tc := range []struct {
		size      int
		discarded bool
	}{
		{limit + 1, true},
		{4 * limit, true},
		{4*limit + 1, false},
		{1 << 30, false},
	} {
		body := bytes.Repeat([]byte{0xc0}, min(tc.size, 1000))
		body[0], body[1] = 0x94, 0x07 // [7, ...
		frame := rawFrame(body)
		PutFrameHeader(frame, tc.size)
		stream := append(frame, rawFrame([]byte{0x94, 0x08, 0x02, 0xa0, 0x90})...)
		fr := NewFrameReader(bytes.NewReader(stream), limit)
		_, err := fr.Next()
		var tl *FrameTooLargeError
		if !errors.As(err, &tl) || !errors.Is(err, ErrRequestTooLarge) {
			t.Fatalf("size %d: %v", tc.size, err)
		}
		if tl.Discarded != tc.discarded || tl.Size != uint64(tc.size) || len(tl.Head) != frameHeadSize {
			t.Errorf("size %d: %+v, want Discarded %v", tc.size, tl, tc.discarded)
		}
		if id, ok := PeekID(tl.Head); !ok || id != 7 {
			t.Errorf("size %d: PeekID = %d, %v", tc.size, id, ok)
		}
		if !tc.discarded {
			continue
		}
		body, err = fr.Next()
		var req Request
		if err != nil || NewDecoder().Request(body, &req) != nil || req.ID != 8 {
			t.Errorf("size %d: next frame: %x, %v", tc.size, body, err)
		}
	}

	// A head shorter than frameHeadSize when the frame is: all of it.
	fr := NewFrameReader(bytes.NewReader(rawFrame([]byte{0x91, 0x09, 0xc0})), 2)
	_, err := fr.Next()
	var tl *FrameTooLargeError
	if !errors.As(err, &tl) || !tl.Discarded || !bytes.Equal(tl.Head, []byte{0x91, 0x09, 0xc0}) {
		t.Fatalf("small oversized frame: %v", err)
	}
}

func TestZeroLengthFrame(t *testing.T) {
	next := encodeFrame(t, Request{ID: 9, Op: OpCompact, Body: &CompactRequest{Revision: 3}})
	fr := NewFrameReader(bytes.NewReader(append(rawFrame(nil), next...)), 1024)
	body, err := fr.Next()
	if err != nil || len(body) != 0 {
		t.Fatalf("zero-length frame: %x, %v", body, err)
	}
	var req Request
	if err := NewDecoder().Request(body, &req); !errors.Is(err, ErrBadRequest) {
		t.Errorf("zero-length body: %v, want ErrBadRequest", err)
	}
	var resp Response
	if err := NewDecoder().Response(body, &resp); !errors.Is(err, ErrBadRequest) {
		t.Errorf("zero-length response body: %v, want ErrBadRequest", err)
	}
	if body, err = fr.Next(); err != nil || NewDecoder().Request(body, &req) != nil || req.ID != 9 {
		t.Fatalf("after a zero-length frame: %+v, %v", req, err)
	}
}

// TestFrameSequence reads frames of many sizes, across the kept buffer's size, through a
// reader that returns one byte at a time and through the stream kind byte.
func TestFrameSequence(t *testing.T) {
	rng := newRand(t)
	sizes := []int{0, 1, 4 << 10, 3, keptBuffer, keptBuffer + 1, 7, 2 * keptBuffer, 5}
	for range 20 {
		sizes = append(sizes, rng.IntN(10<<10))
	}
	var stream bytes.Buffer
	stream.WriteByte(byte(StreamWatch))
	var bodies [][]byte
	for i, n := range sizes {
		body := make([]byte, n)
		for j := range body {
			body[j] = byte(i*31 + j)
		}
		bodies = append(bodies, body)
		stream.Write(rawFrame(body))
	}
	for _, slow := range []bool{false, true} {
		var r io.Reader = bytes.NewReader(stream.Bytes())
		if slow {
			r = iotest.OneByteReader(r)
		}
		fr := NewFrameReader(r, 2*keptBuffer)
		if k, err := fr.ReadByte(); err != nil || StreamKind(k) != StreamWatch {
			t.Fatalf("stream kind: %d, %v", k, err)
		}
		for i, want := range bodies {
			got, err := fr.Next()
			if err != nil {
				t.Fatalf("frame %d (%d bytes): %v", i, len(want), err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("frame %d (%d bytes): wrong content", i, len(want))
			}
		}
		if cap(fr.buf) > keptBuffer {
			t.Errorf("the reader keeps a buffer of %d bytes", cap(fr.buf))
		}
		if _, err := fr.Next(); err != io.EOF {
			t.Fatalf("end: %v", err)
		}
	}

	// A bufio.Reader is used as is, not wrapped again.
	br := bufio.NewReader(bytes.NewReader(rawFrame([]byte("x"))))
	if fr := NewFrameReader(br, 10); fr.r != br {
		t.Error("NewFrameReader wrapped a *bufio.Reader")
	}
}

func TestPeekID(t *testing.T) {
	// Every array header form, every id width.
	for _, tc := range []struct {
		head []byte
		id   uint64
	}{
		{[]byte{0x94, 0x05}, 5},
		{[]byte{0x91, 0x7f}, 127},
		{[]byte{0x96, 0xcc, 0x80}, 128},
		{[]byte{0x94, 0xcd, 0x12, 0x34}, 0x1234},
		{[]byte{0x94, 0xce, 0x12, 0x34, 0x56, 0x78}, 0x12345678},
		{[]byte{0x94, 0xcf, 1, 2, 3, 4, 5, 6, 7, 8}, 0x0102030405060708},
		{[]byte{0xdc, 0x00, 0x04, 0xcc, 0xff}, 255},
		{[]byte{0xdd, 0x00, 0x00, 0x00, 0x04, 0x2a}, 42},
		{[]byte{0x94, 0x05, 0xff, 0xff}, 5}, // what follows does not matter
	} {
		if id, ok := PeekID(tc.head); !ok || id != tc.id {
			t.Errorf("PeekID(%x) = %d, %v, want %d", tc.head, id, ok, tc.id)
		}
	}
	// Garbage, truncated heads, ids that are no unsigned integer.
	for _, head := range [][]byte{
		nil,
		{0x94},
		{0x05},
		{0xc0, 0x05},
		{0x84, 0x05},                         // a map
		{0x90, 0x05},                         // an empty array: no id
		{0xdc, 0x00, 0x00, 0x05},             // an empty array16
		{0xdd, 0x00, 0x00, 0x00, 0x00, 0x05}, // an empty array32
		{0x94, 0xa1, 'x'},                    // a string id
		{0x94, 0xff},                         // a negative fixint
		{0x94, 0xd0, 0x05},                   // an int8
		{0x94, 0xc0},
		{0x94, 0xcc},
		{0x94, 0xcd, 0x01},
		{0x94, 0xce, 0x01, 0x02, 0x03},
		{0x94, 0xcf, 1, 2, 3, 4, 5, 6, 7},
		{0xdc},
		{0xdc, 0x00},
		{0xdc, 0x00, 0x04},
		{0xdd, 0x00, 0x00, 0x00},
		{0xdd, 0x00, 0x00, 0x00, 0x04},
	} {
		if id, ok := PeekID(head); ok {
			t.Errorf("PeekID(%x) = %d, true; want false", head, id)
		}
	}
}

func TestPeekIDOfEncodedMessages(t *testing.T) {
	rng := newRand(t)
	enc := NewEncoder()
	for range 1000 {
		id := rng.Uint64() >> rng.IntN(64)
		for _, msg := range []any{
			Request{ID: id, Op: OpRange, Token: "token", Body: &RangeRequest{Key: []byte("key")}},
			Response{ID: id, Op: OpRange, Code: CodeNoLeader, Message: "no leader"},
		} {
			frame, err := enc.Frame(msg)
			if err != nil {
				t.Fatal(err)
			}
			body := frame[FrameHeaderSize:]
			if got, ok := PeekID(body[:min(len(body), frameHeadSize)]); !ok || got != id {
				t.Fatalf("PeekID of %T with id %d: %d, %v", msg, id, got, ok)
			}
		}
	}
}

func TestStreamKind(t *testing.T) {
	for k, name := range map[StreamKind]string{StreamRequests: "requests", StreamWatch: "watch", StreamSnapshot: "snapshot"} {
		if !k.Valid() || k.String() != name {
			t.Errorf("%d: Valid %v, String %q", k, k.Valid(), k.String())
		}
	}
	for _, k := range []StreamKind{0, 4, 255} {
		if k.Valid() {
			t.Errorf("%d is valid", k)
		}
	}
}

// TestLimits: etcd's defaults, and a request of MaxRequestBytes of key and value, with a
// long token, fits in a frame of FrameLimit.
func TestLimits(t *testing.T) {
	l := DefaultLimits()
	if l.MaxRequestBytes != 1536*1024 || l.MaxTxnOps != 128 {
		t.Fatalf("DefaultLimits = %+v, want etcd's 1.5 MiB and 128", l)
	}
	token := string(bytes.Repeat([]byte("t"), 4096))
	req := Request{ID: math.MaxUint64, Op: OpPut, Token: token, Body: &PutRequest{
		Key: make([]byte, 1024), Value: make([]byte, l.MaxRequestBytes-1024), Lease: math.MaxInt64,
		PrevKV: true, IgnoreValue: true, IgnoreLease: true,
	}}
	frame := encodeFrame(t, req)
	if n := len(frame) - FrameHeaderSize; n > l.FrameLimit() {
		t.Fatalf("a request of MaxRequestBytes takes a frame of %d bytes, over FrameLimit %d", n, l.FrameLimit())
	}
	fr := NewFrameReader(bytes.NewReader(frame), l.FrameLimit())
	if _, err := fr.Next(); err != nil {
		t.Fatal(err)
	}
}

// TestEncoderReuse: one Encoder frames messages of any size one after another, and a frame
// larger than the kept buffer does not stay around.
func TestEncoderReuse(t *testing.T) {
	enc := NewEncoder()
	d := NewDecoder()
	for _, n := range []int{10, 2 * keptBuffer, 10, keptBuffer / 2, 0} {
		req := Request{ID: uint64(n), Op: OpPut, Body: &PutRequest{Key: []byte("k"), Value: bytes.Repeat([]byte{'v'}, n)}}
		frame, err := enc.Frame(req)
		if err != nil {
			t.Fatal(err)
		}
		var got Request
		if err := d.Request(frame[FrameHeaderSize:], &got); err != nil {
			t.Fatal(err)
		}
		if got.ID != uint64(n) || len(got.Body.(*PutRequest).Value) != n {
			t.Fatalf("frame of %d: %+v", n, got)
		}
	}
	if enc.buf.Cap() > keptBuffer {
		t.Errorf("the encoder keeps a buffer of %d bytes", enc.buf.Cap())
	}
}
