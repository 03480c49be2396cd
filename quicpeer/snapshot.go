package quicpeer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/quic-go/quic-go"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// SendSnapshot sends a MsgSnap and its store image (size bytes read from image) to the
// member m is for, on a stream of its own, and returns at once. When the transfer ends
// the image is closed and the outcome reported with Handler.ReportSnapshot (from another
// goroutine); a transport that closes meanwhile closes the image and reports nothing.
func (t *Transport) SendSnapshot(m *raftpb.Message, image io.ReadCloser, size int64) {
	to := m.GetTo()
	t.mu.RLock()
	p, closed := t.peers[to], t.closed
	if !closed {
		t.wg.Add(1)
	}
	t.mu.RUnlock()
	if closed {
		_ = image.Close()
		return
	}
	go func() {
		defer t.wg.Done()
		select {
		case <-t.started:
		case <-t.ctx.Done():
			_ = image.Close()
			return
		}
		var err error
		if p == nil {
			err = fmt.Errorf("%w: %x", ErrUnknownMember, to)
		} else {
			err = p.sendSnapshot(m, image, size)
		}
		_ = image.Close()
		if t.ctx.Err() != nil {
			return
		}
		index := m.GetSnapshot().GetMetadata().GetIndex()
		if err != nil {
			t.log.Warn("sending a snapshot failed", "peer", hexID(to), "index", index, "err", err)
			t.handler.ReportSnapshot(to, raft.SnapshotFailure)
			return
		}
		t.log.Info("sent a snapshot", "peer", hexID(to), "index", index, "bytes", size)
		t.handler.ReportSnapshot(to, raft.SnapshotFinish)
	}()
}

// imageErrReader remembers an error of the image it reads, to tell it from the stream's.
type imageErrReader struct {
	r   io.Reader
	err error
}

func (r *imageErrReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// sendSnapshot streams one snapshot on the peer's connection and returns the outcome:
// nil once the member has taken it.
func (p *peer) sendSnapshot(m *raftpb.Message, image io.Reader, size int64) error {
	ctx, cancel := context.WithTimeout(p.ctx, p.t.cfg.DialTimeout)
	conn, err := p.waitConn(ctx)
	var s *quic.Stream
	if err == nil {
		s, err = conn.OpenStreamSync(ctx)
	}
	cancel()
	if err != nil {
		return fmt.Errorf("quicpeer: open a snapshot stream: %w", err)
	}
	stop := context.AfterFunc(p.ctx, func() {
		s.CancelWrite(quic.StreamErrorCode(codeSnapshotAborted))
		s.CancelRead(quic.StreamErrorCode(codeSnapshotAborted))
	})
	defer stop()
	s.SetPriority(urgencySnapshot, true)

	pre := appendHeader(nil, p.header(kindSnapshot))
	if pre, err = appendFrame(pre, m, p.t.cfg.MaxFrameBytes); err != nil {
		s.CancelWrite(quic.StreamErrorCode(codeSnapshotAborted))
		s.CancelRead(quic.StreamErrorCode(codeSnapshotAborted))
		return err
	}
	pre = appendImageSize(pre, size)
	bw := bufio.NewWriterSize(s, writeBufferSize)
	img := &imageErrReader{r: image}
	_, werr := bw.Write(pre)
	if werr == nil {
		var n int64
		n, werr = io.CopyN(bw, img, size)
		if img.err != nil || (werr == io.EOF && n < size) {
			// The image failed us, not the stream: abandon the transfer.
			s.CancelWrite(quic.StreamErrorCode(codeSnapshotAborted))
			s.CancelRead(quic.StreamErrorCode(codeSnapshotAborted))
			return fmt.Errorf("%w: reading the image after %d of %d bytes: %w", ErrSnapshotAborted, n, size, werr)
		}
	}
	if werr == nil {
		werr = bw.Flush()
	}
	if werr == nil {
		werr = s.Close()
	}
	// The member answers even when it stopped reading the image early.
	serr := readStatus(s)
	s.CancelRead(quic.StreamErrorCode(codeNoError))
	switch {
	case serr == nil:
		return nil
	case errors.Is(serr, ErrSnapshotFailed) || werr == nil:
		return remoteRefusal(serr)
	default:
		return remoteRefusal(werr)
	}
}

// serveSnapshot receives one snapshot: header, MsgSnap, image size, image; it hands them
// to the member and answers with the outcome.
func (t *Transport) serveSnapshot(ic *inConn, h header, s *quic.Stream) {
	br := bufio.NewReaderSize(s, readBufferSize)
	fr := &frameReader{r: br, limit: t.cfg.MaxFrameBytes}
	m, err := fr.message()
	if err == nil {
		err = checkMessage(m, h)
	}
	var size int64
	if err == nil {
		size, err = readImageSize(br)
	}
	if err != nil {
		if ic.conn.Context().Err() == nil && !isRemoteReset(err) {
			t.refuseStream(h, err)
			s.CancelRead(quic.StreamErrorCode(codeOf(err)))
			s.CancelWrite(quic.StreamErrorCode(codeOf(err)))
		}
		return
	}
	ctx, cancel := context.WithCancel(t.ctx)
	defer context.AfterFunc(ic.conn.Context(), cancel)()
	defer cancel()
	img := &imageReader{r: br, left: size}
	index := m.GetSnapshot().GetMetadata().GetIndex()
	t.log.Info("receiving a snapshot", "peer", hexID(h.from), "index", index, "bytes", size)
	err = t.handler.ProcessSnapshot(ctx, m, img)
	if err == nil && img.left > 0 {
		// The member took the snapshot without reading the whole image: read the rest
		// so the stream ends where the sender expects.
		if _, err = io.Copy(io.Discard, img); err != nil {
			err = fmt.Errorf("draining the image: %w", err)
		}
	}
	if err != nil {
		t.log.Warn("refused a snapshot", "peer", hexID(h.from), "index", index, "err", err)
	} else {
		t.log.Info("received a snapshot", "peer", hexID(h.from), "index", index)
	}
	_, _ = s.Write(appendStatus(nil, err))
	_ = s.Close()
	s.CancelRead(quic.StreamErrorCode(codeNoError))
}

// imageReader reads exactly left bytes of image; a stream that ends sooner gives
// io.ErrUnexpectedEOF, so a cut transfer never looks complete.
type imageReader struct {
	r    io.Reader
	left int64
}

func (r *imageReader) Read(b []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > r.left {
		b = b[:r.left]
	}
	n, err := r.r.Read(b)
	r.left -= int64(n)
	switch {
	case err == io.EOF && r.left > 0:
		err = io.ErrUnexpectedEOF
	case err == io.EOF:
		err = nil
	case err != nil:
		err = remoteRefusal(err)
	}
	return n, err
}
