package node

import (
	"encoding/hex"
	"fmt"
	"reflect"
	"testing"

	"etcq.dev/etcq/storage"
)

func sampleBatch() []*request {
	return []*request{
		{Member: 0x1234, Seq: 1, Op: opPut, Put: &storage.PutRequest{Key: []byte("k"), Value: []byte("v"), Lease: 7, PrevKV: true}},
		{Member: 0x1234, Seq: 2, Op: opDeleteRange, DeleteRange: &storage.DeleteRangeRequest{Key: []byte("a"), RangeEnd: []byte("b")}},
		{Member: 0x1234, Seq: 3, Op: opTxn, Txn: &storage.TxnRequest{
			Compare: []storage.Compare{{Result: storage.CompareGreater, Target: storage.TargetMod, Key: []byte("k"), ModRevision: 5}},
			Success: []storage.RequestOp{{Range: &storage.RangeRequest{Key: []byte("k"), Limit: 1}}},
			Failure: []storage.RequestOp{{Txn: &storage.TxnRequest{Success: []storage.RequestOp{{Put: &storage.PutRequest{Key: []byte("x"), IgnoreLease: true}}}}}},
		}},
		{Member: 0x1234, Seq: 4, Op: opCompact, Compact: 99},
	}
}

func TestEntryRoundTrip(t *testing.T) {
	in := sampleBatch()
	data, err := encodeEntry(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeEntry(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n in  %s\n out %s", dump(in), dump(out))
	}
}

func dump(reqs []*request) string {
	s := ""
	for _, r := range reqs {
		s += fmt.Sprintf("%+v ", *r)
	}
	return s
}

// TestEntryGolden freezes the entry encoding: entries live in raft logs forever, so a
// change here must be a deliberate new format, never an accident (a reordered field in a
// storage type would show up here).
func TestEntryGolden(t *testing.T) {
	data, err := encodeEntry(sampleBatch())
	if err != nil {
		t.Fatal(err)
	}
	const golden = "0194" +
		"97cd1234010196c4016bc4017607c3c2c2c0c000" + // put
		"97cd12340202c093c40161c40162c2c000" + // delete range
		"97cd12340303c0c09391990102c4016bc0000005c00091949cc4016bc000010000c2c200000000c0c0c0" +
		"9194c0c0c093c09194c096c40178c000c2c2c3c0c0c000" + // txn
		"97cd12340404c0c0c063" // compact
	got := hex.EncodeToString(data)
	if got != golden {
		t.Fatalf("entry encoding changed:\n got  %s\n want %s", got, golden)
	}
}

// FuzzDecodeEntry: entry data comes from the raft log on disk and from peers; decoding
// must fail cleanly, never panic.
func FuzzDecodeEntry(f *testing.F) {
	data, _ := encodeEntry(sampleBatch())
	f.Add(data)
	f.Add([]byte{entryFormat1})
	f.Add([]byte{2, 0x90})
	f.Fuzz(func(t *testing.T, b []byte) {
		reqs, err := decodeEntry(b)
		if err != nil {
			return
		}
		// What decodes must encode and decode to the same requests.
		again, err := encodeEntry(reqs)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := decodeEntry(again)
		if err != nil || !reflect.DeepEqual(reqs, back) {
			t.Fatalf("unstable: %v", err)
		}
	})
}
