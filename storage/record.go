package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// KeyValue is one version of a key, as etcd defines it.
type KeyValue struct {
	Key []byte
	// CreateRevision is the main revision of the put that started this key's generation.
	CreateRevision int64
	// ModRevision is the main revision of the put that wrote this version.
	ModRevision int64
	// Version counts the puts in this generation: 1 for the creating put. A delete resets it.
	Version int64
	Value   []byte
	// Lease is the ID of the lease attached to this version, or 0.
	Lease int64
}

// Record layout (the value of a revision key in the kv bucket), format 1:
//
//	byte      format (recordFormat1)
//	uvarint   len(key), then key bytes
//	varint    create revision
//	varint    mod revision
//	varint    version
//	varint    lease
//	uvarint   len(value), then value bytes
//	4 bytes   CRC-32C (Castagnoli), big-endian, of everything before it
//
// A tombstone record carries the key and ModRevision only (other fields zero). The format
// byte allows a future layout; a decoder refuses formats it does not know.
const recordFormat1 byte = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maxRecordField bounds a length read from disk so a corrupt length cannot ask for a huge
// allocation. Keys and values are far smaller (the wire limits a request to 1.5 MiB).
const maxRecordField = 64 << 20

// appendRecord appends the encoding of kv to dst.
func appendRecord(dst []byte, kv *KeyValue) []byte {
	start := len(dst)
	dst = append(dst, recordFormat1)
	dst = binary.AppendUvarint(dst, uint64(len(kv.Key)))
	dst = append(dst, kv.Key...)
	dst = binary.AppendVarint(dst, kv.CreateRevision)
	dst = binary.AppendVarint(dst, kv.ModRevision)
	dst = binary.AppendVarint(dst, kv.Version)
	dst = binary.AppendVarint(dst, kv.Lease)
	dst = binary.AppendUvarint(dst, uint64(len(kv.Value)))
	dst = append(dst, kv.Value...)
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// recordKeyValue returns the key and value slices inside an encoded record whose key and
// value have the given lengths.
func recordKeyValue(rec []byte, keyLen, valLen int) (key, value []byte) {
	off := 1 + uvarintLen(uint64(keyLen))
	key = rec[off : off+keyLen : off+keyLen]
	end := len(rec) - 4
	if valLen > 0 {
		value = rec[end-valLen : end : end]
	}
	return key, value
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// recordSize is an upper bound of len(appendRecord(nil, kv)).
func recordSize(kv *KeyValue) int {
	return 1 + 2*binary.MaxVarintLen64 + 4*binary.MaxVarintLen64 + len(kv.Key) + len(kv.Value) + 4
}

// decodeRecord decodes a record into kv. kv's Key and Value alias b unless copyBytes is
// set; bbolt's memory is only valid inside its transaction, so callers that keep the
// KeyValue past it copy.
func decodeRecord(b []byte, kv *KeyValue, copyBytes bool) error {
	if len(b) < 1+4 {
		return fmt.Errorf("%w: record of %d bytes", ErrCorrupt, len(b))
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return fmt.Errorf("%w: record checksum mismatch", ErrCorrupt)
	}
	if body[0] != recordFormat1 {
		return fmt.Errorf("%w: record format %d", ErrCorrupt, body[0])
	}
	d := decoder{b: body[1:]}
	key := d.bytes()
	kv.CreateRevision = d.varint()
	kv.ModRevision = d.varint()
	kv.Version = d.varint()
	kv.Lease = d.varint()
	value := d.bytes()
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes in record", ErrCorrupt, len(d.b))
	}
	if copyBytes {
		key = append([]byte(nil), key...)
		if value != nil {
			value = append([]byte(nil), value...)
		}
	}
	kv.Key, kv.Value = key, value
	return nil
}

// decoder reads varints and length-prefixed bytes, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or malformed %s", ErrCorrupt, what)
	}
	d.b = nil
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	// The encoding is canonical: a padded varint would decode to the same value from
	// different bytes, and hashes of records would differ between equal stores.
	if n <= 0 || n != uvarintLen(uint64(v)<<1^uint64(v>>63)) {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != uvarintLen(v) {
		d.fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > maxRecordField || n > uint64(len(d.b)) {
		d.fail("length")
		return nil
	}
	if n == 0 {
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}
