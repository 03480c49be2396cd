package node

import (
	"context"
	"io"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// PeerTransport carries raft messages between members. The node calls it from its raft
// goroutine; quicpeer implements it over QUIC, and nodetest over a fake, faulty network.
//
// Send must never block: a transport queues what it can and drops the rest (raft
// retransmits), reporting a peer it cannot reach with Handler.ReportUnreachable. Messages
// to one peer must be delivered in the order given, or not at all.
type PeerTransport interface {
	// Send queues messages for their peers. MsgSnap messages never come through Send.
	Send(msgs []*raftpb.Message)
	// SendSnapshot streams a MsgSnap and the store image it refers to (size bytes, from
	// image) to its peer on a path of its own, so a long transfer never delays other
	// messages. The transport closes image when done and reports the outcome with
	// Handler.ReportSnapshot.
	SendSnapshot(m *raftpb.Message, image io.ReadCloser, size int64)
	// AddPeer makes a member reachable at its peer URLs; adding a known member updates them.
	AddPeer(id uint64, urls []string)
	// RemovePeer forgets a member and drops what is queued for it.
	RemovePeer(id uint64)
}

// Handler is what a transport delivers to: the node's side of PeerTransport. A Member
// implements it. Process and ProcessSnapshot return once their context is done.
// ReportUnreachable and ReportSnapshot may block until raft takes the report, so a
// transport never calls them from inside Send or SendSnapshot.
type Handler interface {
	// Process hands a received raft message to the member.
	Process(ctx context.Context, m *raftpb.Message) error
	// ProcessSnapshot hands a received MsgSnap and its store image to the member; it
	// returns once the image is verified and saved, or with the reason it was refused.
	ProcessSnapshot(ctx context.Context, m *raftpb.Message, image io.Reader) error
	// ReportUnreachable tells raft a peer could not be reached.
	ReportUnreachable(id uint64)
	// ReportSnapshot tells raft how a snapshot transfer ended.
	ReportSnapshot(id uint64, status raft.SnapshotStatus)
}
