package raftlog

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Ways FuzzOpenCorruptTail damages the last segment.
const (
	fuzzOverwrite   = iota // write the bytes at end-back, over what is there
	fuzzTruncAppend        // cut the file at end-back, then append the bytes
	fuzzValidRecord        // append a record with a correct CRC: type bytes[0], payload bytes[1:]
	fuzzModes
)

// FuzzOpenCorruptTail damages the tail of a valid log and opens it. Open must either fail
// with an error or return a prefix of what was written (with fuzzValidRecord, the fuzzed
// record may add one entry of its own at the end), and the log it returns must take a new
// entry that survives a reopen. It must never panic.
func FuzzOpenCorruptTail(f *testing.F) {
	fx := newCorruptTailFixture(f)
	f.Add(uint8(fuzzOverwrite), uint16(5), []byte{0xff})
	f.Add(uint8(fuzzOverwrite), uint16(40), make([]byte, 40))
	f.Add(uint8(fuzzOverwrite), uint16(0), []byte{8, 0, 0, 0, 0, 0, 0, 0, 1, 2})
	f.Add(uint8(fuzzTruncAppend), uint16(100), []byte{})
	f.Add(uint8(fuzzTruncAppend), uint16(3), []byte{0, 0, 0})
	f.Add(uint8(fuzzValidRecord), uint16(0), []byte{byte(wal.EntryType), 0xff, 0xff})
	f.Add(uint8(fuzzValidRecord), uint16(0), []byte{byte(wal.StateType), 8, 1})
	f.Add(uint8(fuzzValidRecord), uint16(0), []byte{byte(wal.CrcType)})
	f.Add(uint8(fuzzValidRecord), uint16(0), []byte{byte(wal.MetadataType), 'x'})
	f.Add(uint8(fuzzValidRecord), uint16(0), []byte{byte(wal.SnapshotType), 8, 0x7f, 16, 1})
	f.Fuzz(func(t *testing.T, mode uint8, back uint16, data []byte) {
		fx.run(t, mode, back, data)
	})
}

// corruptTailFixture is a valid log to damage: 120 entries in batches of 7 with their
// hard states and a snapshot at 50, over several 32 KiB segments, the last one partly
// filled.
type corruptTailFixture struct {
	template   string
	written    []*raftpb.Entry
	hardStates []*raftpb.HardState
	segName    string // the last segment
	end        int64  // where its records end
	crc        uint32 // the CRC a record appended there must chain on
}

func newCorruptTailFixture(t testing.TB) *corruptTailFixture {
	fx := &corruptTailFixture{template: t.TempDir(), hardStates: []*raftpb.HardState{{}}}
	l, _, err := Open(fx.template, Options{SegmentSize: testSegmentSize})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 120; i += 7 {
		ents := entries(i, min(i+6, 120), 1)
		hs := hardState(1, 1, ents[len(ents)-1].GetIndex())
		if err := l.Save(hs, ents); err != nil {
			t.Fatal(err)
		}
		fx.written = append(fx.written, ents...)
		fx.hardStates = append(fx.hardStates, hs)
		if i <= 50 && 50 < i+7 {
			if err := l.SaveSnapshot(snapshot(50, 1, "fifty")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seg := lastSegment(t, fx.template)
	fx.segName = filepath.Base(seg)
	fr := frames(t, seg)
	fx.end = fr[len(fr)-1].off + 8 + fr[len(fr)-1].size
	fx.crc = chainCRC(t, filepath.Join(fx.template, walDirName))
	return fx
}

// run damages a copy of the template as the fuzz input says, opens it and checks the
// outcome; it reports whether Open succeeded.
func (fx *corruptTailFixture) run(t *testing.T, mode uint8, back uint16, data []byte) (opened bool) {
	mode %= fuzzModes
	if len(data) > 4096 {
		data = data[:4096]
	}
	dir := t.TempDir()
	copyDir(t, fx.template, dir)
	seg := filepath.Join(dir, walDirName, fx.segName)
	at := fx.end - int64(back)%(fx.end+1)
	switch mode {
	case fuzzOverwrite:
		writeAt(t, seg, at, data)
	case fuzzTruncAppend:
		if err := os.Truncate(seg, at); err != nil {
			t.Fatal(err)
		}
		writeAt(t, seg, at, data)
	case fuzzValidRecord:
		typ := int64(0)
		if len(data) > 0 {
			typ, data = int64(data[0]), data[1:]
		}
		writeAt(t, seg, fx.end, encodeRecord(t, fx.crc, typ, data))
	}

	opts := Options{SegmentSize: testSegmentSize}
	l, st, err := Open(dir, opts)
	if err != nil {
		return false // refusing a damaged log is fine
	}
	defer l.Close()
	got := st.Entries
	if mode == fuzzValidRecord && len(got) > 0 {
		got = got[:len(got)-1] // the fuzzed record may have been an entry
	}
	base := st.Snapshot.GetMetadata().GetIndex()
	if base != 0 && base != 50 {
		t.Fatalf("snapshot %d: never written", base)
	}
	if !isPrefix(got, fx.written[base:]) {
		t.Fatalf("mode %d: entries %s are not a prefix of those written", mode, span(st.Entries))
	}
	if mode != fuzzValidRecord && !slices.ContainsFunc(fx.hardStates, func(h *raftpb.HardState) bool { return proto.Equal(h, st.HardState) }) {
		t.Fatalf("mode %d: hard state %v was never written", mode, st.HardState)
	}

	// The log Open returned must be appendable, and the append durable.
	last := base
	if n := len(st.Entries); n > 0 {
		last = st.Entries[n-1].GetIndex()
	}
	next := entry(last+1, 1)
	if err := l.Save(nil, []*raftpb.Entry{next}); err != nil {
		t.Fatalf("Save after Open: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	l2, st2, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("reopen after a successful Open and Save: %v", err)
	}
	defer l2.Close()
	if n := len(st2.Entries); n == 0 || !proto.Equal(st2.Entries[n-1], next) {
		t.Fatalf("entry saved after Open is lost: entries %s", span(st2.Entries))
	}
	return true
}
