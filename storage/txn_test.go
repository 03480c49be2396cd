package storage

import (
	"errors"
	"path/filepath"
	"testing"
)

func put(k string) RequestOp { return RequestOp{Put: &PutRequest{Key: []byte(k), Value: []byte("v")}} }

func del(k, end string) RequestOp {
	return RequestOp{DeleteRange: &DeleteRangeRequest{Key: []byte(k), RangeEnd: []byte(end)}}
}

func nested(success []RequestOp, failure ...RequestOp) RequestOp {
	return RequestOp{Txn: &TxnRequest{Success: success, Failure: failure}}
}

func TestCheckTxn(t *testing.T) {
	cases := []struct {
		name string
		txn  TxnRequest
		want error
	}{
		{"distinct puts", TxnRequest{Success: []RequestOp{put("a"), put("b")}}, nil},
		{"same key in both branches", TxnRequest{Success: []RequestOp{put("a")}, Failure: []RequestOp{put("a")}}, nil},
		{"put twice", TxnRequest{Success: []RequestOp{put("a"), put("a")}}, ErrDuplicateKey},
		{"put inside a deleted range", TxnRequest{Success: []RequestOp{del("a", "c"), put("b")}}, ErrDuplicateKey},
		{"put after deleting from key", TxnRequest{Failure: []RequestOp{put("zz"), del("m", "\x00")}}, ErrDuplicateKey},
		{"overlapping deletes", TxnRequest{Success: []RequestOp{del("a", "c"), del("b", "d")}}, nil},
		{"put beside a deleted range", TxnRequest{Success: []RequestOp{del("a", "c"), put("c")}}, nil},
		{"nested put twice against parent", TxnRequest{Success: []RequestOp{put("a"), nested([]RequestOp{put("a")})}}, ErrDuplicateKey},
		{"nested put against parent delete", TxnRequest{Success: []RequestOp{del("a", "z"), nested(nil, put("b"))}}, ErrDuplicateKey},
		{"nested branches are exclusive", TxnRequest{Success: []RequestOp{nested([]RequestOp{put("a")}, del("a", ""))}}, nil},
		{"two nested txns conflict", TxnRequest{Success: []RequestOp{nested([]RequestOp{put("a")}), nested(nil, put("a"))}}, ErrDuplicateKey},
		{"deep exclusive branches", TxnRequest{Success: []RequestOp{nested([]RequestOp{nested([]RequestOp{put("q")}, put("q"))})}}, nil},
		{"deep real conflict", TxnRequest{Success: []RequestOp{nested([]RequestOp{nested([]RequestOp{put("q")}, put("q")), put("q")})}}, ErrDuplicateKey},
		{"empty put key", TxnRequest{Success: []RequestOp{put("")}}, ErrEmptyKey},
		{"empty op", TxnRequest{Success: []RequestOp{{}}}, nil}, // special-cased below
		{"ignore value with a value", TxnRequest{Success: []RequestOp{{Put: &PutRequest{Key: []byte("a"), Value: []byte("x"), IgnoreValue: true}}}}, ErrValueProvided},
	}
	for _, c := range cases {
		_, err := checkTxn(&c.txn)
		if c.name == "empty op" {
			if err == nil {
				t.Errorf("%s: accepted an op with no request", c.name)
			}
			continue
		}
		if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

// TestTxnRefusedWhole checks that a txn whose chosen path cannot be applied changes
// nothing, even when its failing op comes after ops that could.
func TestTxnRefusedWhole(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "db"))
	defer s.Close()
	s.Put(PutRequest{Key: []byte("a"), Value: []byte("1")})
	s.Compact(s.Rev())
	s.Put(PutRequest{Key: []byte("a"), Value: []byte("2")})
	rev := s.Rev()

	bad := []struct {
		name string
		ops  []RequestOp
		want error
	}{
		{"ignore value of a missing key", []RequestOp{put("b"), {Put: &PutRequest{Key: []byte("nope"), IgnoreValue: true}}}, ErrKeyNotFound},
		{"ignore lease of a missing key", []RequestOp{put("b"), nested([]RequestOp{{Put: &PutRequest{Key: []byte("nope"), Value: []byte("x"), IgnoreLease: true}}})}, ErrKeyNotFound},
		{"range at a future revision", []RequestOp{put("b"), {Range: &RangeRequest{Key: []byte("a"), Revision: rev + 1}}}, ErrFutureRev},
		{"range at a compacted revision", []RequestOp{put("b"), {Range: &RangeRequest{Key: []byte("a"), Revision: 1}}}, ErrCompacted},
	}
	for _, c := range bad {
		_, err := s.Txn(TxnRequest{Success: c.ops})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		if s.Rev() != rev {
			t.Fatalf("%s: revision moved to %d", c.name, s.Rev())
		}
		if r, _ := s.Range(RangeRequest{Key: []byte("b")}); len(r.KVs) != 0 {
			t.Fatalf("%s: half-applied: %v", c.name, r.KVs)
		}
	}
}

// TestTxnSeesOwnWrites checks ordering inside one txn and the single revision.
func TestTxnSeesOwnWrites(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "db"))
	defer s.Close()
	s.Put(PutRequest{Key: []byte("a"), Value: []byte("old")})
	resp, err := s.Txn(TxnRequest{
		Compare: []Compare{{Target: TargetValue, Result: CompareEqual, Key: []byte("a"), Value: []byte("old")}},
		Success: []RequestOp{
			{Range: &RangeRequest{Key: []byte("a")}},
			{Put: &PutRequest{Key: []byte("a"), Value: []byte("new"), PrevKV: true}},
			{Range: &RangeRequest{Key: []byte("a")}},
			{Put: &PutRequest{Key: []byte("b"), Value: []byte("b")}},
		},
	})
	if err != nil || !resp.Succeeded {
		t.Fatalf("txn: %+v %v", resp, err)
	}
	if resp.Revision != 3 || s.Rev() != 3 {
		t.Fatalf("txn revision %d, store %d, want 3", resp.Revision, s.Rev())
	}
	if v := string(resp.Responses[0].Range.KVs[0].Value); v != "old" {
		t.Errorf("first range saw %q", v)
	}
	if v := string(resp.Responses[1].Put.PrevKV.Value); v != "old" {
		t.Errorf("prev kv %q", v)
	}
	if kv := resp.Responses[2].Range.KVs[0]; string(kv.Value) != "new" || kv.ModRevision != 3 || kv.Version != 2 {
		t.Errorf("second range saw %+v", kv)
	}
	got, _ := s.Range(RangeRequest{Key: []byte("b")})
	if kv := got.KVs[0]; kv.ModRevision != 3 || kv.CreateRevision != 3 {
		t.Errorf("b: %+v", kv)
	}

	// Compares on a missing key: zero values, and a value compare fails.
	resp, _ = s.Txn(TxnRequest{Compare: []Compare{
		{Target: TargetVersion, Result: CompareEqual, Key: []byte("missing"), Version: 0},
		{Target: TargetCreate, Result: CompareLess, Key: []byte("missing"), CreateRevision: 1},
	}})
	if !resp.Succeeded {
		t.Error("missing key should compare as version 0, create 0")
	}
	resp, _ = s.Txn(TxnRequest{Compare: []Compare{{Target: TargetValue, Result: CompareNotEqual, Key: []byte("missing"), Value: []byte("x")}}})
	if resp.Succeeded {
		t.Error("a value compare on a missing key must fail")
	}
	if s.Rev() != 3 {
		t.Errorf("read-only txns moved the revision to %d", s.Rev())
	}
}
