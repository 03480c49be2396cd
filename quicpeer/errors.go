package quicpeer

import (
	"errors"

	"github.com/quic-go/quic-go"
)

// Errors. A refusal on the wire carries one of the codes below; a transport that is
// refused logs the sentinel the code maps to, with the reason the other side gave.
var (
	// ErrBadConfig: New was given an unusable Config.
	ErrBadConfig = errors.New("quicpeer: bad config")
	// ErrClosed: the transport is closed.
	ErrClosed = errors.New("quicpeer: transport closed")
	// ErrAlreadyStarted: Start was called twice.
	ErrAlreadyStarted = errors.New("quicpeer: already started")

	// ErrBadHeader: a stream did not begin with a valid header (garbage, an unknown
	// version or stream kind, a kind the stream type cannot carry).
	ErrBadHeader = errors.New("quicpeer: bad stream header")
	// ErrClusterMismatch: the header named another cluster.
	ErrClusterMismatch = errors.New("quicpeer: cluster ID mismatch")
	// ErrWrongMember: the header addressed a member other than this one.
	ErrWrongMember = errors.New("quicpeer: stream addressed to another member")
	// ErrUnknownMember: the sender is not a member this transport knows (never added,
	// or removed).
	ErrUnknownMember = errors.New("quicpeer: unknown member")
	// ErrIdentity: the connection's certificate is not a peer certificate of the member
	// the header names (no serverAuth usage, or valid for none of its peer URL hosts), or
	// the connection already carries another member.
	ErrIdentity = errors.New("quicpeer: certificate does not match the member")
	// ErrFrameTooLarge: a frame's length exceeds the receiver's limit.
	ErrFrameTooLarge = errors.New("quicpeer: frame too large")
	// ErrBadMessage: a frame is not a raft message, or not one the stream may carry
	// (wrong sender or recipient, a MsgSnap on the message stream, ...).
	ErrBadMessage = errors.New("quicpeer: bad raft message")
	// ErrMemberRemoved: the member was removed; the other side drops its connections.
	ErrMemberRemoved = errors.New("quicpeer: member removed")
	// ErrSnapshotAborted: a snapshot transfer was abandoned by its sender (the image
	// could not be read, or the sender went away).
	ErrSnapshotAborted = errors.New("quicpeer: snapshot transfer aborted")
	// ErrSnapshotFailed: the receiver of a snapshot reported that it could not take it.
	ErrSnapshotFailed = errors.New("quicpeer: snapshot refused by the receiver")
)

// errorCode is the QUIC application error code (connection close) or stream error code
// (stream reset) that carries a refusal. The numbers are part of the wire format.
type errorCode uint64

const (
	codeNoError         errorCode = 0x0 // shutdown, a replaced connection, a finished stream
	codeBadHeader       errorCode = 0x1
	codeClusterMismatch errorCode = 0x2
	codeWrongMember     errorCode = 0x3
	codeUnknownMember   errorCode = 0x4
	codeIdentity        errorCode = 0x5
	codeFrameTooLarge   errorCode = 0x6
	codeBadMessage      errorCode = 0x7
	codeMemberRemoved   errorCode = 0x8
	codeSnapshotAborted errorCode = 0x9
)

// codes is the one table between wire codes and sentinel errors, both ways.
var codes = []struct {
	code errorCode
	err  error
}{
	{codeBadHeader, ErrBadHeader},
	{codeClusterMismatch, ErrClusterMismatch},
	{codeWrongMember, ErrWrongMember},
	{codeUnknownMember, ErrUnknownMember},
	{codeIdentity, ErrIdentity},
	{codeFrameTooLarge, ErrFrameTooLarge},
	{codeBadMessage, ErrBadMessage},
	{codeMemberRemoved, ErrMemberRemoved},
	{codeSnapshotAborted, ErrSnapshotAborted},
}

// codeOf returns the wire code for err (codeNoError for an error the table lacks).
func codeOf(err error) errorCode {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return codeNoError
}

// errorOf returns the sentinel for a wire code (nil for codeNoError or an unknown code).
func errorOf(code errorCode) error {
	for _, c := range codes {
		if c.code == code {
			return c.err
		}
	}
	return nil
}

// remoteRefusal turns the error of a connection or stream the other side closed with one
// of our codes into a *refusal. Other errors come back unchanged.
func remoteRefusal(err error) error {
	var appErr *quic.ApplicationError
	if errors.As(err, &appErr) && appErr.Remote {
		if s := errorOf(errorCode(appErr.ErrorCode)); s != nil {
			return &refusal{Err: s, Reason: appErr.ErrorMessage, how: "refused by the peer"}
		}
	}
	var strErr *quic.StreamError
	if errors.As(err, &strErr) && strErr.Remote {
		if s := errorOf(errorCode(strErr.ErrorCode)); s != nil {
			return &refusal{Err: s, Reason: s.Error(), how: "stream reset by the peer"}
		}
	}
	return err
}

// refusal is a refusal received from a peer: the sentinel its code maps to, and the
// reason it gave.
type refusal struct {
	Err    error
	Reason string
	how    string
}

func (r *refusal) Error() string { return r.how + ": " + r.Reason }
func (r *refusal) Unwrap() error { return r.Err }

// isRemoteShutdown reports whether err is the other side closing in good order.
func isRemoteShutdown(err error) bool {
	var appErr *quic.ApplicationError
	return errors.As(err, &appErr) && appErr.Remote && errorCode(appErr.ErrorCode) == codeNoError
}

// isLocalClose reports whether err is this side closing a connection on purpose.
func isLocalClose(err error) bool {
	var appErr *quic.ApplicationError
	return errors.As(err, &appErr) && !appErr.Remote
}

// isRemoteReset reports whether err is the other side abandoning a stream.
func isRemoteReset(err error) bool {
	var strErr *quic.StreamError
	return errors.As(err, &strErr) && strErr.Remote
}
