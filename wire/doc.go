// Package wire defines etcq's client protocol: the messages of every operation of etcd's v3
// API (KV, Watch, Lease, Cluster, Maintenance, Auth), the request and response envelopes,
// one numeric error-code table, and the framing that carries them over a QUIC stream.
//
// Who calls it: the node's client service (server side) and quicclient (client side). It
// imports nothing of ours and is stable forever: golden-bytes tests freeze every encoding.
//
// # Streams and frames
//
// A client opens bidirectional QUIC streams on an `etcq-client/1` connection. The first
// byte a client writes on a stream is its StreamKind; everything after it, both ways, is
// frames:
//
//	u32 big-endian length | msgpack body
//
// A frame body is one msgpack value: a Request (client to server) or a Response (server to
// client). A Request is the array [id, op, token, body]; a Response is [id, op, code,
// message, header, body], where header is [cluster_id, member_id, revision, raft_term] and
// body is the op's message (nil when code is not OK). Messages are msgpack arrays of their
// fields in declaration order. Fields are only ever appended, never renumbered or removed;
// decoders skip fields they do not know, so an older peer reads a newer peer's messages.
// Enumerations keep etcd's numbering.
//
// On a StreamRequests stream requests are pipelined and answered out of order, matched by
// id. On a StreamWatch stream the client sends WatchCreate, WatchCancel and WatchProgress
// requests, and the server sends OpWatch responses: one per create or cancel (with the
// request's id) and one per batch of events or progress notification (id 0). On a
// StreamSnapshot stream the client sends one OpSnapshot request and the server answers with
// chunks until RemainingBytes is 0.
//
// # Limits
//
// Frames are limited in size (Limits). A reader that meets an oversized frame discards it
// and reports a *FrameTooLargeError carrying the frame's first bytes, from which PeekID
// recovers the request id, so the server can answer that one request with
// CodeRequestTooLarge and keep the stream; a frame too large even to discard kills the
// stream, never the connection. Every body is checked by CheckShape before it is decoded, so
// no declared length can make a decoder allocate more than a small multiple of the frame.
//
// # Errors
//
// Every failure a client can see has a Code; Code.Err and CodeOf convert between codes and
// the sentinel errors below, and *Error carries a code with its message across the wire.
// Match errors with errors.Is against the sentinels, never on message text.
//
// Concurrency: the types are plain values. A FrameReader or FrameWriter belongs to one
// goroutine at a time. Nothing here persists anything.
package wire
