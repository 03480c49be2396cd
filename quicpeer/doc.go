// Package quicpeer is the raft transport between the members of an etcq cluster: QUIC
// (quic-go) on one UDP socket per member, mutual TLS with the cluster's peer
// certificates, ALPN "etcq-peer/1".
//
// # Who calls it
//
// cmd/etcq builds a Transport with New (it binds the socket), passes it to node.New as
// node.Config.Transport, then calls Start with the member's cluster ID and the
// *node.Member, which implements Handler. The member's raft goroutine calls Send,
// SendSnapshot, AddPeer and RemovePeer (*Transport implements node.PeerTransport);
// the transport delivers what peers send to the Handler. quicpeer never imports node
// or certs: it takes a *tls.Config.
//
// # Concurrency
//
// Every method is safe for concurrent use. Send, SendSnapshot, AddPeer and RemovePeer
// never wait on the network: Send puts each message in its peer's bounded queue
// (Config.QueueLen) and drops it when the queue is full. The Handler is never called from
// inside those methods: ReportUnreachable comes from one reporter goroutine (a burst of
// drops for a peer becomes one report), ReportSnapshot from the goroutine of the
// snapshot. Per peer, one goroutine keeps a connection (redialling with capped, jittered
// exponential backoff) and drains the queue into the message stream, flushing when the
// queue is empty; while the peer cannot be reached, what is queued for it is dropped and
// reported. Per incoming message stream, one goroutine calls Handler.Process for each
// message in order; per incoming snapshot, one goroutine calls Handler.ProcessSnapshot.
// Before Start, messages wait in their queues and nothing is dialled or accepted
// (members dialling in wait for their answer until Start, or their dial timeout). Close
// stops every goroutine the transport started before it returns; the handler is not
// called after that.
//
// # Connections and authentication
//
// Each member dials each peer and uses that connection to send; what it receives arrives
// on the connections its peers dial. The TLS layer verifies certificates both ways
// against the cluster CA from the caller's *tls.Config: a dialer checks that the member
// it dials holds a certificate valid for the host of its peer URL (ServerName), and the
// listener requires a verified client certificate (session tickets are off, so every
// connection is verified against the CA bundle of the moment). Which member a connection
// speaks for, the stream headers say, and the listener admits a stream only if:
//
//   - its cluster ID is this member's, and it is addressed to this member;
//   - its sender was added with AddPeer (and not removed since);
//   - the connection's certificate has the serverAuth usage (peer certificates have
//     serverAuth and clientAuth; a client-only certificate is not a member's) and is
//     valid (x509 VerifyHostname) for the host of one of the sender's peer URLs;
//   - the connection carries no other member.
//
// Identity is only as fine as the hosts: members that share a host name or address in
// their peer URLs (several members on one machine) can speak for each other. Give each
// member a host of its own, in its URL and its certificate.
//
// Every message must then be from the header's sender to the header's recipient, and not
// a raft-local message type. A refusal is logged with its reason and closes the
// connection (or resets the stream, for a bad frame) with one of the error codes below;
// other peers are unaffected. Handshake failures (another CA, an expired certificate, a
// wrong ALPN) never reach Accept; they are logged from the connection's context.
//
// Headers also carry an incarnation, a random number per Transport. A new incarnation
// of a known member, seen in a stream it opens or in its answer to ours, means it
// restarted: the connections to and from its previous process are closed and the one to
// it redialled at once, instead of waiting for the idle timeout (a stateless reset does
// the same when Config.StatelessResetKey is kept across restarts).
//
// # Wire format (frozen: header_test.go, frame_test.go and status_test.go hold golden bytes)
//
// All integers are big-endian; all streams are bidirectional, opened by the sender.
// Every stream begins with a 38-byte header:
//
//	magic "etcq" | version u8 = 1 | kind u8 | cluster u64 | from u64 | to u64 | incarnation u64
//
// kind 1, the message stream: one per direction per peer, on the sender's connection.
// The sender writes the header and then frames, in send order, for as long as the
// connection lasts:
//
//	frame = length u32 | raftpb.Message in protobuf encoding (length bytes)
//
// Once it has admitted the stream, the receiver answers with its own header (kind 1,
// from and to swapped, its own incarnation) and sends nothing else. The sender counts the
// peer as connected only then, after checking that the answer comes from the member it
// meant, in its cluster.
//
// kind 2, a snapshot: a stream per snapshot, lower in priority than the message stream
// and under QUIC flow control, so a transfer never delays heartbeats:
//
//	sender:   header | frame (the MsgSnap) | image size u64 | image (size bytes) | FIN
//	receiver: status u8 (0 ok, 1 failed) | reason length u16 | reason (UTF-8, ≤ 1 KiB)
//
// The receiver answers after Handler.ProcessSnapshot returns (even if it stopped reading
// the image early), with the handler's reason if it failed.
//
// Streams of unknown kinds or versions are refused.
//
// Error codes, as QUIC application error codes (connection close) and stream error codes
// (stream reset): 0 none (shutdown, reconnect), 1 bad header (ErrBadHeader), 2 cluster
// mismatch (ErrClusterMismatch), 3 wrong member (ErrWrongMember), 4 unknown member
// (ErrUnknownMember), 5 identity (ErrIdentity), 6 frame too large (ErrFrameTooLarge),
// 7 bad message (ErrBadMessage), 8 member removed (ErrMemberRemoved), 9 snapshot aborted
// (ErrSnapshotAborted).
//
// # Errors
//
// New returns ErrBadConfig or the socket's error; Start ErrBadConfig, ErrClosed or
// ErrAlreadyStarted. Refusals on the wire are the sentinels above: the refusing side logs
// them, the refused side logs them as "refused by the peer" with the reason sent.
// ErrSnapshotFailed wraps a receiver's reason for not taking a snapshot. All are prefixed
// "quicpeer: " and matched with errors.Is.
package quicpeer
