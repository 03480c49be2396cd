package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/vmihailenco/msgpack/v5"

	"etcq.dev/etcq/wire"
)

// The enrollment protocol (ALPN etcq-join/1, node.JoinALPN) is one exchange on the first
// bidirectional stream of a connection: the joining machine writes a joinRequest and
// closes its side; the member writes a joinResponse and closes its side. Each message is
// one frame as on the client protocol (a big-endian u32 length, then the body), the body a
// msgpack map with the field names below. Unknown fields are ignored, so both messages can
// grow; Version changes only for a change an old peer must not misread.
const joinProtoVersion = 1

// Frame limits: a request carries two CSRs and a few URLs; a response two certificates,
// the CA bundle, the CRLs and the member list.
const (
	maxJoinRequestBytes  = 64 << 10
	maxJoinResponseBytes = 4 << 20
)

// Bounds a decoded request must respect (beyond its frame's size).
const (
	maxJoinNameBytes = 128
	maxJoinURLs      = 16
	maxJoinURLBytes  = 512
)

// joinRequest is what a joining machine sends once it has checked the member's CA
// against the pin of its token.
type joinRequest struct {
	Version    int      `msgpack:"v"`
	TokenID    string   `msgpack:"token_id"`
	Proof      []byte   `msgpack:"proof"` // certs.JoinToken.Proof of this session's binding
	Name       string   `msgpack:"name"`
	PeerURLs   []string `msgpack:"peer_urls"`
	ClientURLs []string `msgpack:"client_urls"`
	ServerCSR  []byte   `msgpack:"server_csr"` // PEM; the key stays on the joining machine
	PeerCSR    []byte   `msgpack:"peer_csr"`
}

// Refusal codes of a joinResponse.
const (
	joinOK           = ""
	joinBadRequest   = "bad-request"   // the request is malformed or names unusable URLs
	joinInvalidToken = "invalid-token" // unknown token or wrong proof
	joinExpiredToken = "expired-token"
	joinRevokedToken = "revoked-token"
	joinRefused      = "refused"     // the name or a peer URL is taken
	joinUnavailable  = "unavailable" // the member cannot enroll now (no leader, no CA): retry
)

// joinResponse is the member's answer: a refusal (Code and Error), or everything the new
// member needs to start with --initial-cluster-state existing.
type joinResponse struct {
	Version int    `msgpack:"v"`
	Code    string `msgpack:"code"`
	Error   string `msgpack:"error"`

	ServerCert   []byte       `msgpack:"server_cert"` // PEM, for the request's ServerCSR
	PeerCert     []byte       `msgpack:"peer_cert"`
	CABundle     []byte       `msgpack:"ca_bundle"` // PEM: the CAs the cluster trusts
	CRL          []byte       `msgpack:"crl"`       // PEM: their CRLs
	ClusterToken string       `msgpack:"cluster_token"`
	ClusterID    uint64       `msgpack:"cluster_id"`
	MemberID     uint64       `msgpack:"member_id"` // the ID the new member was added with
	Members      []joinMember `msgpack:"members"`   // the member list, the new member included
}

// joinMember is one member of a joinResponse's list.
type joinMember struct {
	ID        uint64   `msgpack:"id"`
	Name      string   `msgpack:"name"`
	PeerURLs  []string `msgpack:"peer_urls"`
	IsLearner bool     `msgpack:"is_learner"`
}

// errJoinProtocol marks a message that does not follow the protocol.
var errJoinProtocol = errors.New("etcq: enrollment protocol error")

// writeJoinMsg writes v as one frame.
func writeJoinMsg(w io.Writer, v any) error {
	body, err := msgpack.Marshal(v)
	if err != nil {
		return err
	}
	buf := make([]byte, wire.FrameHeaderSize+len(body))
	wire.PutFrameHeader(buf, len(body))
	copy(buf[wire.FrameHeaderSize:], body)
	_, err = w.Write(buf)
	return err
}

// readJoinFrame reads one frame of at most limit bytes.
func readJoinFrame(r io.Reader, limit int) ([]byte, error) {
	b, err := wire.NewFrameReader(bufio.NewReaderSize(r, 4<<10), limit).Next()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errJoinProtocol, err)
	}
	return b, nil
}

// decodeJoinRequest decodes and bounds-checks a request body.
func decodeJoinRequest(b []byte) (*joinRequest, error) {
	var req joinRequest
	if err := msgpack.Unmarshal(b, &req); err != nil {
		return nil, fmt.Errorf("%w: request: %w", errJoinProtocol, err)
	}
	if req.Version != joinProtoVersion {
		return nil, fmt.Errorf("%w: request version %d, this member speaks %d", errJoinProtocol, req.Version, joinProtoVersion)
	}
	switch {
	case req.Name == "" || len(req.Name) > maxJoinNameBytes:
		return nil, fmt.Errorf("%w: the name must have 1 to %d bytes", errJoinProtocol, maxJoinNameBytes)
	case len(req.PeerURLs) == 0 || len(req.ClientURLs) == 0:
		return nil, fmt.Errorf("%w: peer and client URLs are required", errJoinProtocol)
	case len(req.PeerURLs) > maxJoinURLs || len(req.ClientURLs) > maxJoinURLs:
		return nil, fmt.Errorf("%w: more than %d URLs", errJoinProtocol, maxJoinURLs)
	case len(req.ServerCSR) == 0 || len(req.PeerCSR) == 0:
		return nil, fmt.Errorf("%w: a server and a peer CSR are required", errJoinProtocol)
	}
	for _, u := range append(append([]string(nil), req.PeerURLs...), req.ClientURLs...) {
		if len(u) > maxJoinURLBytes {
			return nil, fmt.Errorf("%w: a URL longer than %d bytes", errJoinProtocol, maxJoinURLBytes)
		}
	}
	return &req, nil
}

// decodeJoinResponse decodes a response body and checks that a success carries what the
// new member needs.
func decodeJoinResponse(b []byte) (*joinResponse, error) {
	var resp joinResponse
	if err := msgpack.Unmarshal(b, &resp); err != nil {
		return nil, fmt.Errorf("%w: response: %w", errJoinProtocol, err)
	}
	if resp.Version != joinProtoVersion {
		return nil, fmt.Errorf("%w: response version %d, this build speaks %d", errJoinProtocol, resp.Version, joinProtoVersion)
	}
	if resp.Code != joinOK {
		return &resp, nil
	}
	switch {
	case len(resp.ServerCert) == 0 || len(resp.PeerCert) == 0 || len(resp.CABundle) == 0:
		return nil, fmt.Errorf("%w: the response lacks certificates", errJoinProtocol)
	case resp.MemberID == 0 || resp.ClusterID == 0:
		return nil, fmt.Errorf("%w: the response lacks the member or cluster ID", errJoinProtocol)
	}
	self := false
	for _, m := range resp.Members {
		if m.ID == 0 || m.Name == "" && len(m.PeerURLs) == 0 {
			return nil, fmt.Errorf("%w: a member without ID or address", errJoinProtocol)
		}
		self = self || m.ID == resp.MemberID
	}
	if !self {
		return nil, fmt.Errorf("%w: the member list lacks the new member %x", errJoinProtocol, resp.MemberID)
	}
	return &resp, nil
}
