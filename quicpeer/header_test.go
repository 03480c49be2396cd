package quicpeer

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"testing"
)

// goldenHeader freezes the stream header's layout: a change here is a protocol change.
const goldenHeader = "65746371" + // magic "etcq"
	"01" + // version
	"02" + // kind: snapshot
	"0102030405060708" + // cluster
	"0000000000000011" + // from
	"0000000000000022" + // to
	"aabbccddeeff0011" // incarnation

func TestHeaderGolden(t *testing.T) {
	h := header{kind: kindSnapshot, cluster: 0x0102030405060708, from: 0x11, to: 0x22, incarnation: 0xaabbccddeeff0011}
	got := hex.EncodeToString(appendHeader(nil, h))
	if got != goldenHeader {
		t.Fatalf("header bytes\n got %s\nwant %s", got, goldenHeader)
	}
	b, _ := hex.DecodeString(goldenHeader)
	back, err := readHeader(bytes.NewReader(b))
	if err != nil || back != h {
		t.Fatalf("decode golden: %+v %v, want %+v", back, err, h)
	}
	if len(b) != headerLen {
		t.Fatalf("golden header is %d bytes, headerLen %d", len(b), headerLen)
	}
}

func TestHeaderRefusals(t *testing.T) {
	good, _ := hex.DecodeString(goldenHeader)
	mutate := func(i int, v byte) []byte {
		b := bytes.Clone(good)
		b[i] = v
		return b
	}
	zero := func(from, to int) []byte {
		b := bytes.Clone(good)
		clear(b[from:to])
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"short", good[:20]},
		{"magic", mutate(0, 'E')},
		{"version", mutate(4, 2)},
		{"kind zero", mutate(5, 0)},
		{"kind unknown", mutate(5, 9)},
		{"zero cluster", zero(6, 14)},
		{"zero from", zero(14, 22)},
		{"zero to", zero(22, 30)},
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n0123456789ab")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readHeader(bytes.NewReader(tc.in))
			if !errors.Is(err, ErrBadHeader) {
				t.Fatalf("err = %v, want ErrBadHeader", err)
			}
		})
	}
	// A short header reads as an unexpected end, never a clean one.
	_, err := readHeader(bytes.NewReader(good[:3]))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short header: %v", err)
	}
}
