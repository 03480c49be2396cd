package rbac

import (
	"fmt"
	"strconv"
)

// PermType is what a permission allows. The numbers are etcd's (authpb.Permission_Type)
// and wire's.
type PermType int32

// The permission types.
const (
	Read      PermType = 0
	Write     PermType = 1
	ReadWrite PermType = 2
)

// Valid reports whether t is one of Read, Write and ReadWrite.
func (t PermType) Valid() bool {
	return t == Read || t == Write || t == ReadWrite
}

// String is etcd's name of the type: READ, WRITE or READWRITE.
func (t PermType) String() string {
	switch t {
	case Read:
		return "READ"
	case Write:
		return "WRITE"
	case ReadWrite:
		return "READWRITE"
	}
	return "PermType(" + strconv.Itoa(int(t)) + ")"
}

// Permission allows Type on the keys named by Key and RangeEnd: the single key Key when
// RangeEnd is empty, every key >= Key when RangeEnd is "\x00", the range [Key, RangeEnd)
// otherwise.
type Permission struct {
	Type     PermType
	Key      []byte
	RangeEnd []byte
}

// String shows the permission as etcdctl does: the type and the key or range.
func (p Permission) String() string {
	switch {
	case len(p.RangeEnd) == 0:
		return fmt.Sprintf("%s %q", p.Type, p.Key)
	case isOpenEnd(p.RangeEnd):
		return fmt.Sprintf("%s [%q, <open ended>)", p.Type, p.Key)
	}
	return fmt.Sprintf("%s [%q, %q)", p.Type, p.Key, p.RangeEnd)
}

// PrefixEnd is the RangeEnd that makes [prefix, PrefixEnd(prefix)) every key starting with
// prefix (etcd's GetPrefixRangeEnd): the prefix with trailing 0xff bytes dropped and the
// last remaining byte incremented. A prefix of only 0xff bytes, or the empty prefix, has no
// such end and gets "\x00" (every key from prefix on).
func PrefixEnd(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] < 0xff {
			end := make([]byte, i+1)
			copy(end, prefix)
			end[i]++
			return end
		}
	}
	return []byte{0}
}

// isOpenEnd reports whether end is "\x00", etcd's marker for "no upper bound".
func isOpenEnd(end []byte) bool {
	return len(end) == 1 && end[0] == 0
}
