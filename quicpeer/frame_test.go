package quicpeer

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// goldenMessage is a MsgApp with one entry; goldenFrame its frame. The protobuf part is
// raftpb's encoding (it follows raft.proto's field numbers); the length prefix is ours.
func goldenMessage() *raftpb.Message {
	return &raftpb.Message{
		Type:    raftpb.MessageType_MsgApp.Enum(),
		To:      new(uint64(2)),
		From:    new(uint64(1)),
		Term:    new(uint64(5)),
		LogTerm: new(uint64(4)),
		Index:   new(uint64(10)),
		Entries: []*raftpb.Entry{{Term: new(uint64(5)), Index: new(uint64(11)), Type: raftpb.EntryType_EntryNormal.Enum(), Data: []byte("hi")}},
		Commit:  new(uint64(9)),
	}
}

const goldenFrame = "0000001a" + // length 26
	"0803" + "1002" + "1801" + "2005" + "2804" + "300a" + // type, to, from, term, logTerm, index
	"3a0a" + "0800" + "1005" + "180b" + "22026869" + // entries[0]: type, term, index, data "hi"
	"4009" // commit

func TestFrameGolden(t *testing.T) {
	b, err := appendFrame(nil, goldenMessage(), DefaultMaxFrameBytes)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b); got != goldenFrame {
		t.Fatalf("frame bytes\n got %s\nwant %s", got, goldenFrame)
	}
	raw, _ := hex.DecodeString(goldenFrame)
	fr := &frameReader{r: bytes.NewReader(raw), limit: DefaultMaxFrameBytes}
	m, err := fr.message()
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(m, goldenMessage()) {
		t.Fatalf("decoded %v, want %v", m, goldenMessage())
	}
	if _, err := fr.next(); err != io.EOF {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
}

func TestFrameLimit(t *testing.T) {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, 1001)
	fr := &frameReader{r: bytes.NewReader(b), limit: 1000}
	if _, err := fr.next(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized frame: %v", err)
	}
	big := goldenMessage()
	big.Entries[0].Data = make([]byte, 2000)
	if _, err := appendFrame(nil, big, 1000); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("sending an oversized frame: %v", err)
	}
}

func TestFrameTruncated(t *testing.T) {
	raw, _ := hex.DecodeString(goldenFrame)
	for _, n := range []int{2, 4, 10, len(raw) - 1} {
		fr := &frameReader{r: bytes.NewReader(raw[:n]), limit: DefaultMaxFrameBytes}
		if _, err := fr.next(); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%d of %d bytes: %v, want io.ErrUnexpectedEOF", n, len(raw), err)
		}
	}
}

// TestFrameMessageOwnsItsBytes: a decoded message must not share the reader's buffer,
// which the next frame overwrites.
func TestFrameMessageOwnsItsBytes(t *testing.T) {
	one, _ := appendFrame(nil, goldenMessage(), DefaultMaxFrameBytes)
	other := goldenMessage()
	other.Entries[0].Data = []byte("XY")
	two, _ := appendFrame(nil, other, DefaultMaxFrameBytes)
	fr := &frameReader{r: bytes.NewReader(append(one, two...)), limit: DefaultMaxFrameBytes}
	m1, err := fr.message()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fr.message(); err != nil {
		t.Fatal(err)
	}
	if got := string(m1.GetEntries()[0].GetData()); got != "hi" {
		t.Fatalf("first message's entry data changed to %q by the second frame", got)
	}
}

func TestFrameGarbage(t *testing.T) {
	b := binary.BigEndian.AppendUint32(nil, 3)
	b = append(b, 0xff, 0xff, 0xff)
	fr := &frameReader{r: bytes.NewReader(b), limit: 100}
	if _, err := fr.message(); !errors.Is(err, ErrBadMessage) {
		t.Fatalf("garbage payload: %v", err)
	}
}
