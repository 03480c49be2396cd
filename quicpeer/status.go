package quicpeer

import (
	"encoding/binary"
	"fmt"
	"io"
)

// The parts of a snapshot stream besides the header and the MsgSnap frame: the image
// size the sender announces, and the status the receiver answers with. Both are frozen
// (status_test.go).
const (
	imageSizeLen = 8 // u64 big-endian, after the MsgSnap frame

	statusOK     = 0
	statusFailed = 1
	// maxStatusReason caps the reason a receiver sends back; longer ones are cut.
	maxStatusReason = 1024
)

// appendImageSize appends the u64 image size that follows the MsgSnap frame.
func appendImageSize(b []byte, size int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(size))
}

// readImageSize reads the image size; sizes that do not fit an int64 are refused.
func readImageSize(r io.Reader) (int64, error) {
	var b [imageSizeLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, fmt.Errorf("%w: image size: %w", ErrBadMessage, err)
	}
	n := binary.BigEndian.Uint64(b[:])
	if n > 1<<62 {
		return 0, fmt.Errorf("%w: image size %d", ErrBadMessage, n)
	}
	return int64(n), nil
}

// appendStatus appends the receiver's answer: u8 status, u16 big-endian reason length,
// the reason (UTF-8, empty when the status is OK).
func appendStatus(b []byte, failure error) []byte {
	if failure == nil {
		return append(b, statusOK, 0, 0)
	}
	reason := failure.Error()
	if len(reason) > maxStatusReason {
		reason = reason[:maxStatusReason]
	}
	b = append(b, statusFailed)
	b = binary.BigEndian.AppendUint16(b, uint16(len(reason)))
	return append(b, reason...)
}

// readStatus reads a receiver's answer. It returns nil for OK, an error wrapping
// ErrSnapshotFailed with the receiver's reason for a failure, and an error wrapping
// ErrBadMessage when the answer itself is malformed.
func readStatus(r io.Reader) error {
	var b [3]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return fmt.Errorf("reading the status: %w", err)
	}
	n := int(binary.BigEndian.Uint16(b[1:]))
	switch {
	case b[0] == statusOK && n == 0:
		return nil
	case b[0] != statusFailed:
		return fmt.Errorf("%w: status %d with a %d-byte reason", ErrBadMessage, b[0], n)
	case n > maxStatusReason:
		return fmt.Errorf("%w: status reason of %d bytes, limit %d", ErrBadMessage, n, maxStatusReason)
	}
	reason := make([]byte, n)
	if _, err := io.ReadFull(r, reason); err != nil {
		return fmt.Errorf("%w: status reason: %w", ErrBadMessage, err)
	}
	return fmt.Errorf("%w: %s", ErrSnapshotFailed, reason)
}
