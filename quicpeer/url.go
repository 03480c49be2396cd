package quicpeer

import (
	"errors"
	"fmt"
	"net"
	"net/url"
)

// peerURL is a member's peer URL, parsed once.
type peerURL struct {
	raw      string
	host     string // what the member's certificate must be valid for
	hostport string // what to dial
}

var errNotHTTPS = errors.New("quicpeer: peer URLs must be https:// (there is no plaintext)")

// parsePeerURL parses "https://host:port". The scheme only says that TLS is mandatory:
// the transport speaks QUIC to that host and UDP port.
func parsePeerURL(raw string) (peerURL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return peerURL{}, fmt.Errorf("quicpeer: peer URL %q: %w", raw, err)
	}
	if u.Scheme != "https" {
		return peerURL{}, fmt.Errorf("%w: %q", errNotHTTPS, raw)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" || port == "" {
		return peerURL{}, fmt.Errorf("quicpeer: peer URL %q: want https://host:port", raw)
	}
	return peerURL{raw: raw, host: host, hostport: net.JoinHostPort(host, port)}, nil
}
