package quicpeer

import (
	"encoding/binary"
	"fmt"
	"io"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// A frame is a u32 big-endian length followed by that many bytes of a raftpb.Message in
// protobuf encoding. The layout is frozen: frame_test.go holds its golden bytes.
const frameLenSize = 4

// DefaultMaxFrameBytes is the largest frame a transport accepts unless configured
// otherwise. Raft's messages stay near MaxSizePerMsg (1 MiB) plus one entry; the limit
// leaves room for large entries and refuses absurd lengths before allocating them.
const DefaultMaxFrameBytes = 16 << 20

// appendFrame appends m as one frame to b. It refuses a message longer than limit, which
// no receiver with the same limit would take.
func appendFrame(b []byte, m *raftpb.Message, limit int) ([]byte, error) {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	b, err := proto.MarshalOptions{}.MarshalAppend(b, m)
	if err != nil {
		return b[:start], fmt.Errorf("%w: marshal %s: %w", ErrBadMessage, m.GetType(), err)
	}
	n := len(b) - start - frameLenSize
	if n > limit {
		return b[:start], fmt.Errorf("%w: %s of %d bytes, limit %d", ErrFrameTooLarge, m.GetType(), n, limit)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(n))
	return b, nil
}

// frameReader reads frames from a stream. It reuses one buffer: a payload is valid until
// the next call.
type frameReader struct {
	r     io.Reader
	limit int
	buf   []byte
}

// next returns the next frame's payload. At a clean end of stream (between frames) it
// returns io.EOF; a stream that ends inside a frame gives io.ErrUnexpectedEOF; a length
// over the limit gives ErrFrameTooLarge without reading the payload.
func (f *frameReader) next() ([]byte, error) {
	var lb [frameLenSize]byte
	if _, err := io.ReadFull(f.r, lb[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(lb[:])
	if uint64(n) > uint64(f.limit) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, f.limit)
	}
	if cap(f.buf) < int(n) {
		f.buf = make([]byte, n)
	}
	f.buf = f.buf[:n]
	if _, err := io.ReadFull(f.r, f.buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return f.buf, nil
}

// message reads the next frame and decodes it. The message owns its bytes (protobuf
// copies them out of the frame buffer).
func (f *frameReader) message() (*raftpb.Message, error) {
	b, err := f.next()
	if err != nil {
		return nil, err
	}
	m := new(raftpb.Message)
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	return m, nil
}
