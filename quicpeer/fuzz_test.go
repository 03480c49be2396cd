package quicpeer

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"testing"

	"google.golang.org/protobuf/proto"
)

// The decoders below read bytes straight from the socket; each must refuse or accept
// every input without panicking, and what it accepts must encode back to what it read.

func FuzzReadHeader(f *testing.F) {
	golden, _ := hex.DecodeString(goldenHeader)
	f.Add(golden)
	f.Add([]byte("etcq"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := readHeader(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrBadHeader) {
				t.Fatalf("error %v does not wrap ErrBadHeader", err)
			}
			return
		}
		if got := appendHeader(nil, h); !bytes.Equal(got, b[:headerLen]) {
			t.Fatalf("re-encoded %x, read %x", got, b[:headerLen])
		}
	})
}

func FuzzFrameReader(f *testing.F) {
	golden, _ := hex.DecodeString(goldenFrame)
	f.Add(golden, uint16(1000))
	f.Add(append(bytes.Clone(golden), golden...), uint16(30))
	f.Add([]byte{0, 0, 0, 0}, uint16(10))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1}, uint16(10))
	f.Fuzz(func(t *testing.T, b []byte, limit uint16) {
		fr := &frameReader{r: bytes.NewReader(b), limit: int(limit)}
		for {
			m, err := fr.message()
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.Is(err, ErrFrameTooLarge) && !errors.Is(err, ErrBadMessage) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			// What decodes must survive a round trip through our encoder.
			out, err := appendFrame(nil, m, 1<<20)
			if err != nil {
				t.Fatalf("re-encode %v: %v", m, err)
			}
			back := &frameReader{r: bytes.NewReader(out), limit: 1 << 20}
			m2, err := back.message()
			if err != nil || !proto.Equal(m, m2) {
				t.Fatalf("round trip: %v %v, want %v", m2, err, m)
			}
		}
	})
}

func FuzzSnapshotPreamble(f *testing.F) {
	golden, _ := hex.DecodeString(goldenFrame)
	f.Add(append(golden, appendImageSize(nil, 5)...))
	f.Add([]byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		fr := &frameReader{r: r, limit: 1 << 16}
		if _, err := fr.message(); err != nil {
			return
		}
		n, err := readImageSize(r)
		if err == nil && n < 0 {
			t.Fatalf("negative image size %d", n)
		}
	})
}

func FuzzReadStatus(f *testing.F) {
	f.Add([]byte{0, 0, 0})
	f.Add(appendStatus(nil, errors.New("refused")))
	f.Add([]byte{1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		err := readStatus(bytes.NewReader(b))
		if err == nil && (len(b) < 3 || b[0] != 0 || b[1] != 0 || b[2] != 0) {
			t.Fatalf("%x read as OK", b)
		}
	})
}
