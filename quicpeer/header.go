package quicpeer

import (
	"encoding/binary"
	"fmt"
	"io"
)

// The stream header opens every stream a transport opens; see the package doc for its
// layout. The layout is frozen: header_test.go holds its golden bytes.
const (
	headerMagic   = "etcq"
	headerVersion = 1
	headerLen     = 4 + 1 + 1 + 4*8 // magic, version, kind, cluster, from, to, incarnation
)

// streamKind says what a stream carries.
type streamKind uint8

const (
	// kindMessages: the ordered stream of raft messages from one member to another.
	kindMessages streamKind = 1
	// kindSnapshot: one MsgSnap and its store image; the receiver answers with the
	// outcome.
	kindSnapshot streamKind = 2
)

func (k streamKind) String() string {
	switch k {
	case kindMessages:
		return "messages"
	case kindSnapshot:
		return "snapshot"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// header is the decoded stream header.
type header struct {
	kind        streamKind
	cluster     uint64 // the sender's cluster ID
	from        uint64 // the sender's member ID
	to          uint64 // the member the stream is for
	incarnation uint64 // random per sending transport: changes when the sender restarts
}

// appendHeader appends h's wire form to b.
func appendHeader(b []byte, h header) []byte {
	b = append(b, headerMagic...)
	b = append(b, headerVersion, byte(h.kind))
	b = binary.BigEndian.AppendUint64(b, h.cluster)
	b = binary.BigEndian.AppendUint64(b, h.from)
	b = binary.BigEndian.AppendUint64(b, h.to)
	b = binary.BigEndian.AppendUint64(b, h.incarnation)
	return b
}

// readHeader reads and decodes one header from r.
func readHeader(r io.Reader) (header, error) {
	var b [headerLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return header{}, fmt.Errorf("%w: %w", ErrBadHeader, err)
	}
	return parseHeader(b[:])
}

// parseHeader decodes a header from exactly headerLen bytes.
func parseHeader(b []byte) (header, error) {
	if len(b) != headerLen {
		return header{}, fmt.Errorf("%w: %d bytes, want %d", ErrBadHeader, len(b), headerLen)
	}
	if string(b[:4]) != headerMagic {
		return header{}, fmt.Errorf("%w: bad magic %q", ErrBadHeader, b[:4])
	}
	if b[4] != headerVersion {
		return header{}, fmt.Errorf("%w: unsupported version %d (this transport speaks %d)", ErrBadHeader, b[4], headerVersion)
	}
	h := header{
		kind:        streamKind(b[5]),
		cluster:     binary.BigEndian.Uint64(b[6:]),
		from:        binary.BigEndian.Uint64(b[14:]),
		to:          binary.BigEndian.Uint64(b[22:]),
		incarnation: binary.BigEndian.Uint64(b[30:]),
	}
	switch {
	case h.kind != kindMessages && h.kind != kindSnapshot:
		return header{}, fmt.Errorf("%w: unknown stream %s", ErrBadHeader, h.kind)
	case h.cluster == 0 || h.from == 0 || h.to == 0:
		return header{}, fmt.Errorf("%w: zero cluster or member ID", ErrBadHeader)
	}
	return h, nil
}
