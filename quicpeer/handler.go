package quicpeer

import (
	"context"
	"io"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Handler receives what peers send, and the transport's reports about sending. It is the
// member's side of the transport; node.Member implements it (the method set is node's
// Handler), and tests use fakes.
//
// The transport calls Process for one peer's messages in the order they were sent, from
// one goroutine per incoming message stream, and ProcessSnapshot from a goroutine per
// snapshot; both must return once their context is done. ReportUnreachable and
// ReportSnapshot come from the transport's own goroutines, never from inside Send or
// SendSnapshot, so they may block until raft takes the report.
type Handler interface {
	// Process hands a raft message received from a peer to the member.
	Process(ctx context.Context, m *raftpb.Message) error
	// ProcessSnapshot hands a received MsgSnap and its store image to the member; it
	// returns once the image is saved, or with the reason it refused it. The image
	// reader ends after exactly the announced size; a transfer cut short reads as
	// io.ErrUnexpectedEOF (or the stream's error), never as a clean end.
	ProcessSnapshot(ctx context.Context, m *raftpb.Message, image io.Reader) error
	// ReportUnreachable tells raft that a message to peer id could not be sent.
	ReportUnreachable(id uint64)
	// ReportSnapshot tells raft how sending a snapshot to peer id ended.
	ReportSnapshot(id uint64, status raft.SnapshotStatus)
}
