package node

import (
	"io"

	"github.com/quic-go/quic-go"

	"etcq.dev/etcq/wire"
)

// snapshotChunk is the size of the blobs a snapshot download is cut into.
const snapshotChunk = 64 << 10

// serveSnapshot streams a snapshot of the store (the format storage.ReadSnapshot and
// storage.RestoreFile read) in chunks, the last one with RemainingBytes 0.
func (c *clientConn) serveSnapshot(str *quic.Stream, fr *wire.FrameReader) {
	sw := newStreamWriter(str, 4, c.log)
	defer func() {
		str.CancelRead(closeStreamDone)
		_ = sw.close()
	}()
	req, ok := c.readRequest(str, fr, wire.NewDecoder(), sw)
	if !ok || req == nil {
		return
	}
	fail := func(err error) {
		we := toWireError(err)
		sw.send(&wire.Response{ID: req.ID, Op: req.Op, Code: we.Code, Message: we.Message, Header: c.s.header(0)})
	}
	if req.Op != wire.OpSnapshot {
		fail(wire.Errorf(wire.CodeBadStream, "%v does not belong on a snapshot stream", req.Op))
		return
	}
	if err := c.s.checkAdmin(c, req.Token, "snapshot"); err != nil {
		fail(err)
		return
	}
	if !c.s.begin() {
		fail(wire.Errorf(wire.CodeUnavailable, "member is shutting down"))
		return
	}
	defer c.s.inflight.Done()
	snap, err := c.s.m.store.Snapshot()
	if err != nil {
		fail(err)
		return
	}
	defer snap.Close()
	header := c.s.header(0)
	pr, pw := io.Pipe()
	written := make(chan struct{})
	go func() {
		defer close(written)
		_, err := snap.WriteTo(pw)
		pw.CloseWithError(err)
	}()
	defer func() {
		pr.Close()
		<-written // before snap.Close: WriteTo reads the snapshot's transaction
	}()
	remaining := uint64(snap.Size())
	for remaining > 0 {
		blob := make([]byte, min(remaining, snapshotChunk))
		if _, err := io.ReadFull(pr, blob); err != nil {
			// The download is cut short; the client sees no final chunk and discards it.
			c.log.Warn("snapshot download failed", "err", err)
			fail(err)
			return
		}
		remaining -= uint64(len(blob))
		if !sw.send(&wire.Response{ID: req.ID, Op: wire.OpSnapshot, Header: header,
			Body: &wire.SnapshotResponse{RemainingBytes: remaining, Blob: blob, Version: Version}}) {
			return
		}
	}
}
