package main

import (
	"bytes"
	"errors"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// The enrollment decoders read bytes from an unauthenticated socket (the member side) and
// from a member the joining machine has only just authenticated: they must never panic,
// must refuse with errJoinProtocol, and what they accept must be within bounds.

func sampleJoinRequest() *joinRequest {
	return &joinRequest{
		Version: joinProtoVersion, TokenID: "0123456789abcdef", Proof: bytes.Repeat([]byte{1}, 32), Name: "m2",
		PeerURLs: []string{"https://10.0.0.2:2380"}, ClientURLs: []string{"https://10.0.0.2:2379"},
		ServerCSR: []byte("-----BEGIN CERTIFICATE REQUEST-----"), PeerCSR: []byte("csr"),
	}
}

func sampleJoinResponse() *joinResponse {
	return &joinResponse{
		Version: joinProtoVersion, ServerCert: []byte("a"), PeerCert: []byte("b"), CABundle: []byte("c"), CRL: []byte("d"),
		ClusterToken: "etcq-cluster", ClusterID: 5, MemberID: 7,
		Members: []joinMember{{ID: 3, Name: "m1", PeerURLs: []string{"https://10.0.0.1:2380"}}, {ID: 7, Name: "m2", IsLearner: true}},
	}
}

func TestJoinMessagesRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := writeJoinMsg(&buf, sampleJoinRequest()); err != nil {
		t.Fatal(err)
	}
	body, err := readJoinFrame(&buf, maxJoinRequestBytes)
	if err != nil {
		t.Fatal(err)
	}
	req, err := decodeJoinRequest(body)
	if err != nil || req.Name != "m2" || req.TokenID != "0123456789abcdef" || len(req.Proof) != 32 {
		t.Fatalf("request %+v %v", req, err)
	}
	buf.Reset()
	if err := writeJoinMsg(&buf, sampleJoinResponse()); err != nil {
		t.Fatal(err)
	}
	body, err = readJoinFrame(&buf, maxJoinResponseBytes)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := decodeJoinResponse(body)
	if err != nil || resp.MemberID != 7 || len(resp.Members) != 2 {
		t.Fatalf("response %+v %v", resp, err)
	}
	// A refusal needs nothing else.
	buf.Reset()
	_ = writeJoinMsg(&buf, &joinResponse{Version: joinProtoVersion, Code: joinExpiredToken, Error: "expired"})
	body, _ = readJoinFrame(&buf, maxJoinResponseBytes)
	if resp, err := decodeJoinResponse(body); err != nil || resp.Code != joinExpiredToken {
		t.Fatalf("refusal %+v %v", resp, err)
	}
	// A frame over the limit is refused without reading it whole.
	buf.Reset()
	big := sampleJoinRequest()
	big.ServerCSR = make([]byte, maxJoinRequestBytes)
	_ = writeJoinMsg(&buf, big)
	if _, err := readJoinFrame(&buf, maxJoinRequestBytes); !errors.Is(err, errJoinProtocol) {
		t.Fatalf("oversized frame: %v", err)
	}
}

func FuzzDecodeJoinRequest(f *testing.F) {
	good, _ := msgpack.Marshal(sampleJoinRequest())
	f.Add(good)
	f.Add([]byte{0x80})
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeJoinRequest(b)
		if err != nil {
			if !errors.Is(err, errJoinProtocol) {
				t.Fatalf("error %v does not wrap errJoinProtocol", err)
			}
			return
		}
		if req.Name == "" || len(req.Name) > maxJoinNameBytes || len(req.PeerURLs) == 0 || len(req.PeerURLs) > maxJoinURLs ||
			len(req.ClientURLs) == 0 || len(req.ClientURLs) > maxJoinURLs || len(req.ServerCSR) == 0 || len(req.PeerCSR) == 0 {
			t.Fatalf("accepted an out-of-bounds request %+v", req)
		}
	})
}

func FuzzDecodeJoinResponse(f *testing.F) {
	good, _ := msgpack.Marshal(sampleJoinResponse())
	f.Add(good)
	refusal, _ := msgpack.Marshal(&joinResponse{Version: joinProtoVersion, Code: joinRevokedToken, Error: "revoked"})
	f.Add(refusal)
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := decodeJoinResponse(b)
		if err != nil {
			if !errors.Is(err, errJoinProtocol) {
				t.Fatalf("error %v does not wrap errJoinProtocol", err)
			}
			return
		}
		if resp.Code != joinOK {
			return
		}
		self := false
		for _, m := range resp.Members {
			self = self || m.ID == resp.MemberID
		}
		if !self || resp.MemberID == 0 || resp.ClusterID == 0 || len(resp.ServerCert) == 0 {
			t.Fatalf("accepted an incomplete success %+v", resp)
		}
	})
}

// FuzzReadJoinFrame: the framing under both messages.
func FuzzReadJoinFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0x80})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := readJoinFrame(bytes.NewReader(b), 1024)
		if err != nil {
			if !errors.Is(err, errJoinProtocol) {
				t.Fatalf("error %v does not wrap errJoinProtocol", err)
			}
			return
		}
		if len(body) > 1024 {
			t.Fatalf("a frame of %d bytes over the limit", len(body))
		}
	})
}
