package node

import (
	"context"
	"fmt"
	"io"
	"os"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"etcq.dev/etcq/storage"
)

var _ Handler = (*Member)(nil)

// Process steps a message received from a peer into raft.
func (m *Member) Process(ctx context.Context, msg *raftpb.Message) error {
	if m.stopped() {
		return ErrStopped
	}
	return m.raft.Step(ctx, msg)
}

// ReportUnreachable tells raft a peer could not be reached (it stops pipelining to it).
func (m *Member) ReportUnreachable(id uint64) { m.raft.ReportUnreachable(id) }

// ReportSnapshot tells raft how sending a snapshot ended.
func (m *Member) ReportSnapshot(id uint64, status raft.SnapshotStatus) {
	m.raft.ReportSnapshot(id, status)
}

// ProcessSnapshot receives a snapshot from the leader: it verifies the store image's
// stream, saves it where the apply goroutine will find it, then steps the MsgSnap into
// raft. A bad image is refused before raft hears of the snapshot.
func (m *Member) ProcessSnapshot(ctx context.Context, msg *raftpb.Message, image io.Reader) error {
	if m.stopped() {
		return ErrStopped
	}
	index := msg.GetSnapshot().GetMetadata().GetIndex()
	path := m.imagePath(index)
	f, err := os.CreateTemp(m.imageDir, ".incoming-*")
	if err != nil {
		return fmt.Errorf("node: receive snapshot %d: %w", index, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = storage.ReadSnapshot(io.TeeReader(image, f), io.Discard)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("node: receive snapshot %d: %w", index, err)
	}
	return m.raft.Step(ctx, msg)
}

// sendSnapshot sends a MsgSnap with an image of the store. The image is at least as new
// as the snapshot (the store is at or past its index); the follower skips the entries its
// store already holds by the image's consistent index.
func (m *Member) sendSnapshot(msg *raftpb.Message) {
	to := msg.GetTo()
	go func() {
		snap, err := m.store.Snapshot()
		if err != nil {
			m.log.Error("cannot snapshot the store for a follower", "to", fmt.Sprintf("%x", to), "err", err)
			m.raft.ReportSnapshot(to, raft.SnapshotFailure)
			return
		}
		size := snap.Size()
		pr, pw := io.Pipe()
		go func() {
			_, err := snap.WriteTo(pw)
			snap.Close()
			pw.CloseWithError(err)
		}()
		m.log.Info("sending a snapshot", "to", fmt.Sprintf("%x", to), "index", msg.GetSnapshot().GetMetadata().GetIndex(), "bytes", size)
		m.transport.SendSnapshot(msg, pr, size)
	}()
}
