package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// roundTrip frames v, reads the frame back and decodes it into out.
func roundTrip(t *testing.T, v any, out any) {
	t.Helper()
	frame, err := NewEncoder().Frame(v)
	if err != nil {
		t.Fatal(err)
	}
	body, err := NewFrameReader(bytes.NewReader(frame), 1<<20).Next()
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder()
	switch o := out.(type) {
	case *Request:
		err = d.Request(body, o)
	case *Response:
		err = d.Response(body, o)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestRequestRoundTrip(t *testing.T) {
	reqs := []Request{
		{ID: 1, Op: OpPut, Body: &PutRequest{Key: []byte("k"), Value: []byte("v"), Lease: 7, PrevKV: true}},
		{ID: 1 << 40, Op: OpRange, Token: "tok", Body: &RangeRequest{Key: []byte("a"), RangeEnd: []byte("b"), Limit: 3, SortOrder: SortDescend, SortTarget: SortByMod, Serializable: true, MaxCreateRevision: 9}},
		{ID: 3, Op: OpTxn, Body: &TxnRequest{
			Compare: []Compare{{Result: CompareGreater, Target: TargetMod, Key: []byte("k"), ModRevision: 4}},
			Success: []RequestOp{{Put: &PutRequest{Key: []byte("k"), Value: []byte("x")}}, {Txn: &TxnRequest{Failure: []RequestOp{{DeleteRange: &DeleteRangeRequest{Key: []byte("z")}}}}}},
			Failure: []RequestOp{{Range: &RangeRequest{Key: []byte("k")}}},
		}},
		{ID: 4, Op: OpMemberAdd, Body: &MemberAddRequest{PeerURLs: []string{"https://127.0.0.1:2380"}, IsLearner: true, Name: "m4"}},
		{ID: 5, Op: OpStatus, Body: &Empty{}},
	}
	for _, req := range reqs {
		var got Request
		roundTrip(t, req, &got)
		if !reflect.DeepEqual(got, req) {
			t.Errorf("%v: got %+v, want %+v", req.Op, got, req)
		}
	}
}

func TestResponseRoundTrip(t *testing.T) {
	h := Header{ClusterID: 1, MemberID: 2, Revision: 3, RaftTerm: 4}
	resps := []Response{
		{ID: 1, Op: OpRange, Header: h, Body: &RangeResponse{KVs: []KeyValue{{Key: []byte("k"), Value: []byte("v"), CreateRevision: 2, ModRevision: 3, Version: 2, Lease: 5}}, More: true, Count: 9}},
		{ID: 2, Op: OpPut, Header: h, Body: &PutResponse{PrevKV: &KeyValue{Key: []byte("k"), Value: []byte("old")}}},
		{ID: 3, Op: OpPut, Header: h, Body: &PutResponse{}},
		{ID: 4, Op: OpPut, Code: CodeCompacted, Message: "compacted at 5"},
		{ID: 0, Op: OpWatch, Header: h, Body: &WatchResponse{WatchID: 1, Events: []Event{{Type: EventDelete, KV: KeyValue{Key: []byte("a"), ModRevision: 3}, PrevKV: &KeyValue{Key: []byte("a")}}}}},
	}
	for _, resp := range resps {
		var got Response
		roundTrip(t, resp, &got)
		if !reflect.DeepEqual(got, resp) {
			t.Errorf("%v: got %+v, want %+v", resp.Op, got, resp)
		}
	}
	var got Response
	roundTrip(t, resps[3], &got)
	if err := got.Err(); !errors.Is(err, ErrCompacted) || err.Error() != "compacted at 5" {
		t.Fatalf("err = %v", err)
	}
}

func TestOversizedFrameIsSkipped(t *testing.T) {
	enc := NewEncoder()
	big, _ := enc.Frame(Request{ID: 77, Op: OpPut, Body: &PutRequest{Key: []byte("k"), Value: make([]byte, 4000)}})
	big = bytes.Clone(big)
	small, _ := enc.Frame(Request{ID: 78, Op: OpPut, Body: &PutRequest{Key: []byte("k")}})
	fr := NewFrameReader(bytes.NewReader(append(big, small...)), 1024)
	_, err := fr.Next()
	var tl *FrameTooLargeError
	if !errors.As(err, &tl) || !tl.Discarded || !errors.Is(err, ErrRequestTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if id, ok := PeekID(tl.Head); !ok || id != 77 {
		t.Fatalf("PeekID = %d, %v", id, ok)
	}
	body, err := fr.Next()
	if err != nil {
		t.Fatal(err)
	}
	var req Request
	if err := NewDecoder().Request(body, &req); err != nil || req.ID != 78 {
		t.Fatalf("next frame: %+v, %v", req, err)
	}
	if _, err := fr.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

func TestDeepNestingIsRefused(t *testing.T) {
	body := bytes.Repeat([]byte{0x91}, 1000)
	body = append(body, 0xc0)
	var req Request
	if err := NewDecoder().Request(body, &req); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("err = %v", err)
	}
}
