// Package udpproxy is a UDP proxy for tests: it listens on 127.0.0.1, forwards every
// datagram to one target and the target's answers back, and can lose and delay
// datagrams in either direction, from a seeded random source, switchable at runtime.
//
// Each client address gets its own socket towards the target (a session), so the target
// sees one distinct address per client, as it would without the proxy. Sessions last
// until Close.
package udpproxy
