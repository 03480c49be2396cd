package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

var errShape = errors.New("wire: malformed msgpack")

// MaxDepth is how deeply msgpack containers may nest in one message: a txn nested in txns
// spends about four levels per txn.
const MaxDepth = 100

// CheckShape walks one msgpack value in b without decoding it and fails if any declared
// length (of an array, map, string, binary or extension) does not fit in the bytes that
// remain, or if bytes are left over. The reflection decoder allocates what a header
// declares before it reads the elements (msgpack v5.4.1's slice allocation limit does not
// take effect), so a few corrupt bytes could otherwise demand gigabytes. After this check,
// an allocation is bounded by a small multiple of len(b). Containers may nest at most
// MaxDepth deep, which bounds the decoders' recursion.
func CheckShape(b []byte) error {
	pending := 1 // values still to read
	// open holds, for each container being read, how many of its items are still to come.
	var stack [MaxDepth + 1]uint64
	depth := 0
	stack[0] = 1
	for pending > 0 {
		if len(b) == 0 {
			return fmt.Errorf("%w: truncated", errShape)
		}
		for stack[depth] == 0 {
			depth--
		}
		stack[depth]--
		t := b[0]
		b = b[1:]
		pending--
		var skip, items uint64
		switch {
		case t <= 0x7f || t >= 0xe0, t == 0xc0, t == 0xc2, t == 0xc3:
			// fixint, nil, bool: the type byte is the value
		case t >= 0x80 && t <= 0x8f:
			items = 2 * uint64(t&0x0f)
		case t >= 0x90 && t <= 0x9f:
			items = uint64(t & 0x0f)
		case t >= 0xa0 && t <= 0xbf:
			skip = uint64(t & 0x1f)
		default:
			var n uint64
			var err error
			switch t {
			case 0xc4, 0xd9: // bin8, str8
				n, b, err = readLen(b, 1)
				skip = n
			case 0xc5, 0xda: // bin16, str16
				n, b, err = readLen(b, 2)
				skip = n
			case 0xc6, 0xdb: // bin32, str32
				n, b, err = readLen(b, 4)
				skip = n
			case 0xc7, 0xc8, 0xc9: // ext8/16/32: length, then a type byte
				n, b, err = readLen(b, 1<<(t-0xc7))
				skip = n + 1
			case 0xca, 0xce, 0xd2: // float32, uint32, int32
				skip = 4
			case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
				skip = 8
			case 0xcc, 0xd0: // uint8, int8
				skip = 1
			case 0xcd, 0xd1: // uint16, int16
				skip = 2
			case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16, after a type byte
				skip = 1 + 1<<(t-0xd4)
			case 0xdc, 0xdd: // array16, array32
				n, b, err = readLen(b, 2<<(t-0xdc))
				items = n
			case 0xde, 0xdf: // map16, map32
				n, b, err = readLen(b, 2<<(t-0xde))
				items = 2 * n
			default: // 0xc1: never used
				return fmt.Errorf("%w: type byte %#x", errShape, t)
			}
			if err != nil {
				return err
			}
		}
		if skip > uint64(len(b)) {
			return fmt.Errorf("%w: %d bytes declared, %d left", errShape, skip, len(b))
		}
		b = b[skip:]
		// Every value takes at least one byte.
		if uint64(pending)+items > uint64(len(b)) {
			return fmt.Errorf("%w: %d values declared, %d bytes left", errShape, uint64(pending)+items, len(b))
		}
		pending += int(items)
		if items > 0 {
			if depth == MaxDepth {
				return fmt.Errorf("%w: nested deeper than %d", errShape, MaxDepth)
			}
			depth++
			stack[depth] = items
		}
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errShape, len(b))
	}
	return nil
}

func readLen(b []byte, width int) (uint64, []byte, error) {
	if len(b) < width {
		return 0, nil, fmt.Errorf("%w: truncated length", errShape)
	}
	switch width {
	case 1:
		return uint64(b[0]), b[1:], nil
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), b[2:], nil
	default:
		return uint64(binary.BigEndian.Uint32(b)), b[4:], nil
	}
}
