package storage

import (
	"encoding/binary"
	"fmt"
)

// Revision identifies one change in the store's history. Main is the store revision: it
// grows by one for every modifying operation (a whole txn is one). Sub orders the changes
// made inside one main revision, starting at 0.
type Revision struct {
	Main int64
	Sub  int64
}

// Less reports whether r comes strictly before o in history.
func (r Revision) Less(o Revision) bool {
	if r.Main != o.Main {
		return r.Main < o.Main
	}
	return r.Sub < o.Sub
}

func (r Revision) String() string { return fmt.Sprintf("%d.%d", r.Main, r.Sub) }

// revKeyLen is the length of a revision key in the kv bucket.
//
// Layout (fixed, big-endian so bbolt's byte order is history order):
//
//	bytes 0-7   Main
//	bytes 8-15  Sub
//	byte  16    kind: kindPut (0x00) or kindTombstone (0x01)
//
// Main and Sub are never negative in a valid key.
const revKeyLen = 17

const (
	kindPut       byte = 0x00
	kindTombstone byte = 0x01
)

// appendRevKey appends the bbolt key of rev to dst.
func appendRevKey(dst []byte, rev Revision, tombstone bool) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(rev.Main))
	dst = binary.BigEndian.AppendUint64(dst, uint64(rev.Sub))
	if tombstone {
		return append(dst, kindTombstone)
	}
	return append(dst, kindPut)
}

// revKeyPrefix is the 16-byte prefix of every key of rev; it sorts before both kinds and so
// serves as a seek position.
func revKeyPrefix(main int64) []byte {
	return appendRevKey(make([]byte, 0, revKeyLen), Revision{Main: main}, false)[:16]
}

// parseRevKey decodes a bbolt key of the kv bucket.
func parseRevKey(b []byte) (rev Revision, tombstone bool, err error) {
	if len(b) != revKeyLen {
		return Revision{}, false, fmt.Errorf("%w: revision key of %d bytes", ErrCorrupt, len(b))
	}
	rev.Main = int64(binary.BigEndian.Uint64(b[0:8]))
	rev.Sub = int64(binary.BigEndian.Uint64(b[8:16]))
	if rev.Main < 0 || rev.Sub < 0 {
		return Revision{}, false, fmt.Errorf("%w: negative revision in key", ErrCorrupt)
	}
	switch b[16] {
	case kindPut:
	case kindTombstone:
		tombstone = true
	default:
		return Revision{}, false, fmt.Errorf("%w: revision key kind %#x", ErrCorrupt, b[16])
	}
	return rev, tombstone, nil
}
