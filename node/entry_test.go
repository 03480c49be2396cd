package node

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

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
		{Member: 0x1234, Seq: 5, Op: opLeaseGrant, Lease: &leaseRequest{ID: 0x77, TTL: 30}},
		{Member: 0x1234, Seq: 6, Op: opLeaseCheckpoint, Lease: &leaseRequest{Checkpoints: []leaseCheckpoint{{ID: 0x77, RemainingMs: 1500, Gen: 2}}}},
		{Member: 0x1234, Seq: 7, Op: opLeaseExpire, Lease: &leaseRequest{Expiries: []leaseExpiry{{ID: 0x77, Gen: 3}}}},
		{Member: 0x1234, Seq: 8, Op: opPut, Put: &storage.PutRequest{Key: []byte("k")}, Caller: &caller{User: "alice", TokenRev: 3, AuthRev: 9}},
		{Member: 0x1234, Seq: 9, Op: opAuth, Auth: &authOp{Kind: authUserAdd, Name: "bob", Hash: []byte("h")}, Caller: &caller{User: "root", AuthRev: 9}},
		{Member: 0x1234, Seq: 10, Op: opAuth, Auth: &authOp{Kind: authRoleGrantPermission, Name: "r", PermType: 2, Key: []byte("a"), RangeEnd: []byte("b")}, Caller: &caller{User: "root", AuthRev: 10}},
		{Member: 0x1234, Seq: 11, Op: opAuth, Auth: &authOp{Kind: authEnable, TokenKey: []byte{1, 2}, NoPassword: true, Role: "x"}},
		{Member: 0x1234, Seq: 12, Op: opAlarm, Alarm: &alarmOp{Activate: true, Member: 0x99, Type: AlarmNoSpace}},
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
	const golden = "049c" +
		"9bcd1234010196c4016bc4017607c3c2c2c0c000c0" + "c0c0c0" + // put
		"9bcd12340202c093c40161c40162c2c000c0" + "c0c0c0" + // delete range
		"9bcd12340303c0c09391990102c4016bc0000005c00091949cc4016bc000010000c2c200000000c0c0c0" +
		"9194c0c0c093c09194c096c40178c000c2c2c3c0c0c000c0" + "c0c0c0" + // txn
		"9bcd12340404c0c0c063c0" + "c0c0c0" + // compact
		"9bcd12340505c0c0c0009477" + "1ec0c0" + "c0c0c0" + // lease grant
		"9bcd12340608c0c0c000940000" + "9193" + "77cd05dc02" + "c0" + "c0c0c0" + // lease checkpoint
		"9bcd12340709c0c0c000940000c0" + "9192" + "7703" + "c0c0c0" + // lease expiry
		"9bcd1234080196c4016bc000c2c2c2c0c000c0" + "93a5616c6963650309" + "c0c0" + // put with a caller
		"9bcd1234090ac0c0c000c0" + "93a4726f6f740009" + "9903a3626f62a0c40168c2c000c0c0" + "c0" + // user add
		"9bcd12340a0ac0c0c000c0" + "93a4726f6f74000a" + "990aa172a0c0c2c002c40161c40162" + "c0" + // grant permission
		"9bcd12340b0ac0c0c000c0" + "c0" + "9901a0a178c0c3c402010200c0c0" + "c0" + // enable, no caller
		"9bcd12340c0bc0c0c000c0c0c0" + "93c3cc9901" // alarm
	got := hex.EncodeToString(data)
	if got != golden {
		t.Fatalf("entry encoding changed:\n got  %s\n want %s", got, golden)
	}
}

// TestEntryFormat3BeforeAlarms decodes entries written before requests had an alarm body
// (the golden bytes of format 3).
func TestEntryFormat3BeforeAlarms(t *testing.T) {
	const old = "039b" +
		"9acd1234010196c4016bc4017607c3c2c2c0c000c0" + "c0c0" + // put
		"9acd12340202c093c40161c40162c2c000c0" + "c0c0" + // delete range
		"9acd12340303c0c09391990102c4016bc0000005c00091949cc4016bc000010000c2c200000000c0c0c0" +
		"9194c0c0c093c09194c096c40178c000c2c2c3c0c0c000c0" + "c0c0" + // txn
		"9acd12340404c0c0c063c0" + "c0c0" + // compact
		"9acd12340505c0c0c0009477" + "1ec0c0" + "c0c0" + // lease grant
		"9acd12340608c0c0c000940000" + "9193" + "77cd05dc02" + "c0" + "c0c0" + // lease checkpoint
		"9acd12340709c0c0c000940000c0" + "9192" + "7703" + "c0c0" + // lease expiry
		"9acd1234080196c4016bc000c2c2c2c0c000c0" + "93a5616c6963650309" + "c0" + // put with a caller
		"9acd1234090ac0c0c000c0" + "93a4726f6f740009" + "9903a3626f62a0c40168c2c000c0c0" + // user add
		"9acd12340a0ac0c0c000c0" + "93a4726f6f74000a" + "990aa172a0c0c2c002c40161c40162" + // grant permission
		"9acd12340b0ac0c0c000c0" + "c0" + "9901a0a178c0c3c402010200c0c0" // enable, no caller
	data, err := hex.DecodeString(old)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeEntry(data)
	if err != nil {
		t.Fatal(err)
	}
	if want := sampleBatch()[:11]; !reflect.DeepEqual(got, want) {
		t.Fatalf("old entry decodes to\n %s\nwant\n %s", dump(got), dump(want))
	}
}

// TestEntryFormat2BeforeAuth decodes entries written before requests had a caller and an
// auth body (the golden bytes of format 2).
func TestEntryFormat2BeforeAuth(t *testing.T) {
	const old = "0297" +
		"98cd1234010196c4016bc4017607c3c2c2c0c000c0" + // put
		"98cd12340202c093c40161c40162c2c000c0" + // delete range
		"98cd12340303c0c09391990102c4016bc0000005c00091949cc4016bc000010000c2c200000000c0c0c0" +
		"9194c0c0c093c09194c096c40178c000c2c2c3c0c0c000c0" + // txn
		"98cd12340404c0c0c063c0" + // compact
		"98cd12340505c0c0c0009477" + "1ec0c0" + // lease grant
		"98cd12340608c0c0c000940000" + "9193" + "77cd05dc02" + "c0" + // lease checkpoint
		"98cd12340709c0c0c000940000c0" + "9192" + "7703" // lease expiry
	data, err := hex.DecodeString(old)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeEntry(data)
	if err != nil {
		t.Fatal(err)
	}
	if want := sampleBatch()[:7]; !reflect.DeepEqual(got, want) {
		t.Fatalf("old entry decodes to\n %s\nwant\n %s", dump(got), dump(want))
	}
}

// TestEntryFormat1BeforeLeases decodes entries written before requests had a lease
// field: fields are appended, and a shorter request leaves the new ones empty.
func TestEntryFormat1BeforeLeases(t *testing.T) {
	const old = "0194" +
		"97cd1234010196c4016bc4017607c3c2c2c0c000" +
		"97cd12340202c093c40161c40162c2c000" +
		"97cd12340303c0c09391990102c4016bc0000005c00091949cc4016bc000010000c2c200000000c0c0c0" +
		"9194c0c0c093c09194c096c40178c000c2c2c3c0c0c000" +
		"97cd12340404c0c0c063"
	data, err := hex.DecodeString(old)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeEntry(data)
	if err != nil {
		t.Fatal(err)
	}
	if want := sampleBatch()[:4]; !reflect.DeepEqual(got, want) {
		t.Fatalf("old entry decodes to\n %s\nwant\n %s", dump(got), dump(want))
	}
}

// FuzzDecodeEntry: entry data comes from the raft log on disk and from peers; decoding
// must fail cleanly, never panic.
func FuzzDecodeEntry(f *testing.F) {
	data, _ := encodeEntry(sampleBatch())
	f.Add(data)
	f.Add([]byte{entryFormat1})
	f.Add([]byte{2})
	f.Add([]byte{3})
	f.Add([]byte{entryFormat4})
	f.Add([]byte{2, 0x90})
	f.Add([]byte{3, 0x91, 0xc0})
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

// TestEntryPutFastPath: puts are encoded and decoded by hand; the bytes must be the
// reflection encoder's, and decode back to the same requests. Random puts, seed logged.
func TestEntryPutFastPath(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	bytesOrNil := func() []byte {
		switch rng.IntN(4) {
		case 0:
			return nil
		case 1:
			return []byte{}
		default:
			b := make([]byte, rng.IntN(300))
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			return b
		}
	}
	ints := []uint64{0, 1, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 1<<63 - 1, 1 << 63, 1<<64 - 1}
	u64 := func() uint64 {
		if rng.IntN(2) == 0 {
			return ints[rng.IntN(len(ints))]
		}
		return rng.Uint64() >> rng.IntN(64)
	}
	for _, r := range sampleBatch() {
		if putOnly(r) != (r.Put != nil) {
			t.Fatalf("putOnly(%+v) = %v", *r, putOnly(r))
		}
	}
	if putOnly(&request{Op: opPut, Put: &storage.PutRequest{}, Lease: &leaseRequest{}}) {
		t.Fatal("a put with another body takes the fast path")
	}
	for range 2000 {
		r := &request{Member: u64(), Seq: u64(), Op: opPut, Compact: int64(u64()), Put: &storage.PutRequest{
			Key: bytesOrNil(), Value: bytesOrNil(), Lease: int64(u64()),
			PrevKV: rng.IntN(2) == 0, IgnoreValue: rng.IntN(2) == 0, IgnoreLease: rng.IntN(2) == 0,
		}}
		if rng.IntN(2) == 0 {
			r.Caller = &caller{User: string(bytesOrNil()), TokenRev: u64(), AuthRev: u64()}
		}
		if !putOnly(r) {
			t.Fatalf("%+v would not take the fast path", *r)
		}
		fast, err := encodeEntry([]*request{r})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.WriteByte(entryFormat4)
		enc := msgpack.NewEncoder(&buf)
		enc.UseArrayEncodedStructs(true)
		enc.UseCompactInts(true)
		if err := enc.Encode([]*request{r}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fast, buf.Bytes()) {
			t.Fatalf("%+v %+v:\nfast       %x\nreflection %x", *r, *r.Put, fast, buf.Bytes())
		}
		out, err := decodeEntry(fast)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(out, []*request{r}) {
			t.Fatalf("round trip:\n in  %s\n out %s", dump([]*request{r}), dump(out))
		}
	}
}

// BenchmarkEntryPuts: encoding and decoding an entry of 100 puts (8-byte keys, 256-byte
// values, with a caller), the shape of a busy write load.
func BenchmarkEntryPuts(b *testing.B) {
	reqs := make([]*request, 100)
	for i := range reqs {
		reqs[i] = &request{Member: 0x8a3c51e0d2f4b617, Seq: uint64(1e6 + i), Op: opPut, Caller: &caller{User: "root"},
			Put: &storage.PutRequest{Key: fmt.Appendf(nil, "%08d", i), Value: bytes.Repeat([]byte{'v'}, 256)}}
	}
	data, _ := encodeEntry(reqs)
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := encodeEntry(reqs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeEntry(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
