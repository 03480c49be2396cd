package quicpeer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"etcq.dev/etcq/certs/certstest"
)

func snapMsg(from, to, index uint64) *raftpb.Message {
	return &raftpb.Message{
		Type: raftpb.MessageType_MsgSnap.Enum(), From: new(from), To: new(to), Term: new(uint64(2)),
		Snapshot: &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
			Index: new(index), Term: new(uint64(2)),
			ConfState: &raftpb.ConfState{Voters: []uint64{1, 2}},
		}},
	}
}

// image is a readable snapshot image that records being closed.
type image struct {
	io.Reader
	closed chan struct{}
}

func newImage(b []byte) *image {
	return &image{Reader: bytes.NewReader(b), closed: make(chan struct{})}
}

func (i *image) Close() error {
	close(i.closed)
	return nil
}

func randomBytes(n int, seed uint64) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// TestSnapshotWhileHeartbeatsFlow: a snapshot whose receiver is stuck half-way through
// the image does not hold up messages on the same connection; once the receiver goes
// on, the image arrives whole, the sender reports SnapshotFinish and closes the image.
func TestSnapshotWhileHeartbeatsFlow(t *testing.T) {
	pki := certstest.New(t)
	data := randomBytes(16<<20, 1) // half of it is more than QUIC's stream window (6 MB)
	halfway := make(chan struct{})
	gate := make(chan struct{})
	got := make(chan [32]byte, 1)
	hb := newRecorder()
	hb.snapshot = func(ctx context.Context, m *raftpb.Message, img io.Reader) error {
		h := sha256.New()
		if _, err := io.CopyN(h, img, int64(len(data)/2)); err != nil {
			return err
		}
		close(halfway)
		<-gate
		if _, err := io.Copy(h, img); err != nil {
			return err
		}
		got <- [32]byte(h.Sum(nil))
		return nil
	}
	a, b := newMember(t, pki, 1, memberOpts{}), newMember(t, pki, 2, memberOpts{handler: hb})
	mesh(a, b)
	deliver(t, a, b)

	img := newImage(data)
	a.tr.SendSnapshot(snapMsg(1, 2, 100), img, int64(len(data)))
	<-halfway
	// The receiver is not reading: the snapshot stream is stalled on flow control.
	for i := range uint64(50) {
		a.tr.Send([]*raftpb.Message{heartbeat(1, 2), msg(1, 2, i)})
		b.h.next(t, "a MsgApp during the snapshot", func(m *raftpb.Message) bool {
			return m.GetType() == raftpb.MessageType_MsgApp && m.GetIndex() == i
		})
	}
	close(gate)
	if sum := <-got; sum != sha256.Sum256(data) {
		t.Fatal("the image arrived corrupted")
	}
	if rep := a.h.waitSnapReport(t); rep != (snapReport{2, raft.SnapshotFinish}) {
		t.Fatalf("report %+v, want finish for 2", rep)
	}
	<-img.closed
}

// TestSnapshotRefusedByReceiver: the receiver's error comes back to the sender as a
// SnapshotFailure; the connection keeps working.
func TestSnapshotRefusedByReceiver(t *testing.T) {
	pki := certstest.New(t)
	hb := newRecorder()
	hb.snapshot = func(ctx context.Context, m *raftpb.Message, img io.Reader) error {
		return errors.New("image checksum mismatch")
	}
	a, b := newMember(t, pki, 1, memberOpts{}), newMember(t, pki, 2, memberOpts{handler: hb})
	mesh(a, b)
	img := newImage(randomBytes(4<<20, 2))
	a.tr.SendSnapshot(snapMsg(1, 2, 7), img, 4<<20)
	if rep := a.h.waitSnapReport(t); rep != (snapReport{2, raft.SnapshotFailure}) {
		t.Fatalf("report %+v, want failure for 2", rep)
	}
	<-img.closed
	r := a.log.wait(t, "sending a snapshot failed", "")
	if !strings.Contains(fmtErr(r.attrs["err"]), "image checksum mismatch") {
		t.Fatalf("the sender logged %v, without the receiver's reason", r)
	}
	deliver(t, a, b)
}

// TestSnapshotShortImage: an image that ends before its announced size aborts the
// transfer; the receiver never sees a complete image.
func TestSnapshotShortImage(t *testing.T) {
	pki := certstest.New(t)
	recvErr := make(chan error, 1)
	receiving := make(chan struct{})
	hb := newRecorder()
	hb.snapshot = func(ctx context.Context, m *raftpb.Message, img io.Reader) error {
		close(receiving)
		_, err := io.Copy(io.Discard, img)
		recvErr <- err
		return err
	}
	a, b := newMember(t, pki, 1, memberOpts{}), newMember(t, pki, 2, memberOpts{handler: hb})
	mesh(a, b)
	// The image ends early, but only once the receiver is reading it (past the sender's
	// write buffer, so the header has gone out).
	img := &image{
		Reader: io.MultiReader(bytes.NewReader(randomBytes(200<<10, 3)), waitThenEOF(receiving)),
		closed: make(chan struct{}),
	}
	a.tr.SendSnapshot(snapMsg(1, 2, 7), img, 300<<10)
	if rep := a.h.waitSnapReport(t); rep.status != raft.SnapshotFailure {
		t.Fatalf("report %+v, want failure", rep)
	}
	<-img.closed
	if err := <-recvErr; err == nil {
		t.Fatal("the receiver read a cut image as complete")
	}
	deliver(t, a, b)
}

// TestSnapshotDefaultReader: the receiver's image reader ends exactly at the announced
// size and the MsgSnap arrives intact.
func TestSnapshotDefaultReader(t *testing.T) {
	pki := certstest.New(t)
	a, b := newMember(t, pki, 1, memberOpts{}), newMember(t, pki, 2, memberOpts{})
	mesh(a, b)
	data := randomBytes(100<<10, 4)
	a.tr.SendSnapshot(snapMsg(1, 2, 42), newImage(data), int64(len(data)))
	var s gotSnapshot
	select {
	case s = <-b.h.snaps:
	case <-time.After(eventually):
		t.Fatal("no snapshot arrived")
	}
	if !bytes.Equal(s.image, data) || s.m.GetSnapshot().GetMetadata().GetIndex() != 42 {
		t.Fatalf("got index %d and %d bytes", s.m.GetSnapshot().GetMetadata().GetIndex(), len(s.image))
	}
	if rep := a.h.waitSnapReport(t); rep != (snapReport{2, raft.SnapshotFinish}) {
		t.Fatalf("report %+v", rep)
	}
}

// waitThenEOF is a reader that ends once ch is closed.
type waitThenEOF chan struct{}

func (w waitThenEOF) Read([]byte) (int, error) {
	<-w
	return 0, io.EOF
}

func fmtErr(v any) string {
	if err, ok := v.(error); ok {
		return err.Error()
	}
	return ""
}
