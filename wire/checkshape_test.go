package wire

import (
	"errors"
	"math"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func TestCheckShape(t *testing.T) {
	valid := []any{
		nil, true, 1, -1, 200, -200, 70000, -70000, math.MaxInt64, uint64(math.MaxUint64), 1.5, float32(2.5),
		"", "short", string(make([]byte, 300)), string(make([]byte, 70000)), []byte{1, 2, 3}, make([]byte, 70000),
		[]int{}, []int{1, 2, 3}, make([]int, 20), make([]int, 70000), map[string]int{"a": 1}, map[string]any{"x": []any{1, "y", nil}},
		Request{ID: 9, Op: OpPut, Body: &PutRequest{Key: []byte("k"), Value: []byte("v")}},
	}
	for _, v := range valid {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckShape(b); err != nil {
			t.Errorf("%T: valid encoding refused: %v", v, err)
		}
		for cut := 0; cut < len(b) && cut < 64; cut++ {
			if err := CheckShape(b[:cut]); !errors.Is(err, errShape) {
				t.Errorf("%T cut at %d: %v", v, cut, err)
			}
		}
		if err := CheckShape(append(b, 0)); !errors.Is(err, errShape) {
			t.Errorf("%T with a trailing byte: %v", v, err)
		}
	}
	bad := map[string][]byte{
		"array32 of 4G elements": {0xdd, 0xff, 0xff, 0xff, 0xff, 0x00},
		"map16 beyond the input": {0xde, 0x00, 0x10, 0x01, 0x01},
		"str32 beyond the input": {0xdb, 0x00, 0x01, 0x00, 0x00, 'a'},
		"never-used type byte":   {0xc1},
		"nested array lies":      {0x92, 0x01, 0xdc, 0x00, 0x05, 0x01},
	}
	for name, b := range bad {
		if err := CheckShape(b); !errors.Is(err, errShape) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
