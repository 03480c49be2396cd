package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// StreamKind is the first byte a client writes on a stream: what the stream carries.
type StreamKind byte

const (
	// StreamRequests carries pipelined requests, answered out of order.
	StreamRequests StreamKind = 1
	// StreamWatch multiplexes the watchers of one client.
	StreamWatch StreamKind = 2
	// StreamSnapshot carries one snapshot download.
	StreamSnapshot StreamKind = 3
)

func (k StreamKind) String() string {
	switch k {
	case StreamRequests:
		return "requests"
	case StreamWatch:
		return "watch"
	case StreamSnapshot:
		return "snapshot"
	}
	return fmt.Sprintf("StreamKind(%d)", byte(k))
}

// Valid reports whether k is a stream kind this build knows.
func (k StreamKind) Valid() bool { return k >= StreamRequests && k <= StreamSnapshot }

// FrameHeaderSize is the size of a frame's length prefix.
const FrameHeaderSize = 4

// frameHeadSize is how much of an oversized frame a reader keeps: enough for PeekID.
const frameHeadSize = 16

// FrameTooLargeError reports a frame over the reader's limit. If Discarded, the reader
// skipped the frame and the stream can go on; Head holds the frame's first bytes, from
// which PeekID recovers the request id. Otherwise the frame was too large even to skip and
// the stream must be reset.
type FrameTooLargeError struct {
	Size, Limit uint64
	Head        []byte
	Discarded   bool
}

func (e *FrameTooLargeError) Error() string {
	return fmt.Sprintf("wire: frame of %d bytes exceeds the limit of %d bytes", e.Size, e.Limit)
}

// Is makes a FrameTooLargeError match ErrRequestTooLarge.
func (e *FrameTooLargeError) Is(target error) bool { return target == ErrRequestTooLarge }

// FrameReader reads frames from a stream. The slice Next returns is valid until the next
// call.
type FrameReader struct {
	r          *bufio.Reader
	limit      uint64
	discardMax uint64
	hdr        [FrameHeaderSize]byte
	buf        []byte
}

// keptBuffer caps the buffer a FrameReader keeps between frames; larger frames get a buffer
// of their own.
const keptBuffer = 1 << 20

// NewFrameReader reads frames of at most limit bytes from r. Oversized frames of up to
// 4×limit bytes are skipped (see FrameTooLargeError); larger ones end the stream.
func NewFrameReader(r io.Reader, limit int) *FrameReader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &FrameReader{r: br, limit: uint64(limit), discardMax: 4 * uint64(limit)}
}

// ReadByte reads one raw byte (the stream kind).
func (fr *FrameReader) ReadByte() (byte, error) { return fr.r.ReadByte() }

// Next reads one frame's body. At a clean end of stream it returns io.EOF; a stream that
// ends inside a frame gives io.ErrUnexpectedEOF.
func (fr *FrameReader) Next() ([]byte, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		return nil, err
	}
	n := uint64(binary.BigEndian.Uint32(fr.hdr[:]))
	if n > fr.limit {
		return nil, fr.skip(n)
	}
	var body []byte
	if n <= keptBuffer {
		if uint64(cap(fr.buf)) < n {
			fr.buf = make([]byte, n, max(n, 4<<10))
		}
		body = fr.buf[:n]
	} else {
		body = make([]byte, n)
	}
	if _, err := io.ReadFull(fr.r, body); err != nil {
		return nil, unexpected(err)
	}
	return body, nil
}

func (fr *FrameReader) skip(n uint64) error {
	e := &FrameTooLargeError{Size: n, Limit: fr.limit}
	head := make([]byte, min(n, frameHeadSize))
	if _, err := io.ReadFull(fr.r, head); err != nil {
		return unexpected(err)
	}
	e.Head = head
	if n > fr.discardMax {
		return e
	}
	if _, err := fr.r.Discard(int(n - uint64(len(head)))); err != nil {
		return unexpected(err)
	}
	e.Discarded = true
	return e
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// PutFrameHeader writes the length prefix of a body of n bytes into b[:4].
func PutFrameHeader(b []byte, n int) { binary.BigEndian.PutUint32(b, uint32(n)) }
