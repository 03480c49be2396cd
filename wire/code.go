package wire

import (
	"errors"
	"fmt"
)

// Code is the outcome of a request. The numbers are part of the protocol: never renumber,
// only append.
type Code uint16

// The codes, grouped as etcd groups its errors. Each has one sentinel error (codes below).
const (
	CodeOK Code = 0

	// Malformed or over-limit requests: nothing was done.
	CodeBadRequest      Code = 1
	CodeUnknownOp       Code = 2
	CodeRequestTooLarge Code = 3
	CodeTooManyOps      Code = 4
	CodeEmptyKey        Code = 5
	CodeValueProvided   Code = 6
	CodeLeaseProvided   Code = 7
	CodeDuplicateKey    Code = 8
	CodeKeyNotFound     Code = 9
	CodeCompacted       Code = 10
	CodeFutureRev       Code = 11
	CodeBadStream       Code = 12

	// Availability: nothing was done, the request may be retried.
	CodeTooManyRequests Code = 20
	CodeNoLeader        Code = 21
	CodeNotLeader       Code = 22
	CodeStopped         Code = 23
	CodeUnavailable     Code = 24
	CodeNoSpace         Code = 25
	CodeNotCapable      Code = 26
	CodeDropped         Code = 27

	// The outcome of the request is unknown: it may or may not have been applied.
	CodeTimeout       Code = 30
	CodeLeaderChanged Code = 31
	CodeOutcome       Code = 32

	// Leases.
	CodeLeaseNotFound   Code = 40
	CodeLeaseExists     Code = 41
	CodeLeaseTTLTooLong Code = 42

	// Membership.
	CodeMemberExists    Code = 50
	CodeMemberNotFound  Code = 51
	CodePeerURLExists   Code = 52
	CodeMemberIDRemoved Code = 53
	CodeNotLearner      Code = 54
	CodeLearnerBehind   Code = 55
	CodeUnhealthy       Code = 56
	CodeBadURL          Code = 57

	// Auth.
	CodePermissionDenied   Code = 60
	CodeAuthNotEnabled     Code = 61
	CodeAuthFailed         Code = 62
	CodeInvalidToken       Code = 63
	CodeUserExists         Code = 64
	CodeUserNotFound       Code = 65
	CodeRoleExists         Code = 66
	CodeRoleNotFound       Code = 67
	CodeRoleNotGranted     Code = 68
	CodePermNotGranted     Code = 69
	CodeRootUserMissing    Code = 70
	CodeRootRoleMissing    Code = 71
	CodeUserEmpty          Code = 72
	CodeAuthOldRevision    Code = 73
	CodeNoPasswordUser     Code = 74
	CodeWatchNotFound      Code = 80
	CodeWatchIDExists      Code = 81
	CodeUnimplemented      Code = 90
	CodeCorrupt            Code = 91
	CodeInternal           Code = 92
	CodeSnapshotInProgress Code = 93
)

// Sentinel errors, one per code. errors.Is(err, ErrX) holds for an *Error of X's code.
var (
	ErrBadRequest      = errors.New("wire: malformed request")
	ErrUnknownOp       = errors.New("wire: unknown operation")
	ErrRequestTooLarge = errors.New("wire: request is too large")
	ErrTooManyOps      = errors.New("wire: too many operations in txn request")
	ErrEmptyKey        = errors.New("wire: key is not provided")
	ErrValueProvided   = errors.New("wire: value is provided")
	ErrLeaseProvided   = errors.New("wire: lease is provided")
	ErrDuplicateKey    = errors.New("wire: duplicate key given in txn request")
	ErrKeyNotFound     = errors.New("wire: key not found")
	ErrCompacted       = errors.New("wire: required revision has been compacted")
	ErrFutureRev       = errors.New("wire: required revision is a future revision")
	ErrBadStream       = errors.New("wire: unknown stream kind")

	ErrTooManyRequests = errors.New("wire: too many requests")
	ErrNoLeader        = errors.New("wire: no leader")
	ErrNotLeader       = errors.New("wire: not leader")
	ErrStopped         = errors.New("wire: member stopped")
	ErrUnavailable     = errors.New("wire: member unavailable")
	ErrNoSpace         = errors.New("wire: database space exceeded")
	ErrNotCapable      = errors.New("wire: not capable")
	ErrDropped         = errors.New("wire: request dropped; it was not applied")

	ErrTimeout       = errors.New("wire: request timed out; its outcome is unknown")
	ErrLeaderChanged = errors.New("wire: leader changed; the request's outcome is unknown")
	ErrOutcome       = errors.New("wire: the request's outcome is unknown")

	ErrLeaseNotFound   = errors.New("wire: requested lease not found")
	ErrLeaseExists     = errors.New("wire: lease already exists")
	ErrLeaseTTLTooLong = errors.New("wire: too large lease TTL")

	ErrMemberExists    = errors.New("wire: member ID already exists")
	ErrMemberNotFound  = errors.New("wire: member not found")
	ErrPeerURLExists   = errors.New("wire: peer URL exists")
	ErrMemberIDRemoved = errors.New("wire: member ID was removed")
	ErrNotLearner      = errors.New("wire: can only promote a learner member")
	ErrLearnerBehind   = errors.New("wire: can only promote a learner member which is in sync with leader")
	ErrUnhealthy       = errors.New("wire: unhealthy cluster")
	ErrBadURL          = errors.New("wire: invalid URL")

	ErrPermissionDenied = errors.New("wire: permission denied")
	ErrAuthNotEnabled   = errors.New("wire: authentication is not enabled")
	ErrAuthFailed       = errors.New("wire: authentication failed, invalid user ID or password")
	ErrInvalidToken     = errors.New("wire: invalid auth token")
	ErrUserExists       = errors.New("wire: user name already exists")
	ErrUserNotFound     = errors.New("wire: user name not found")
	ErrRoleExists       = errors.New("wire: role name already exists")
	ErrRoleNotFound     = errors.New("wire: role name not found")
	ErrRoleNotGranted   = errors.New("wire: role is not granted to the user")
	ErrPermNotGranted   = errors.New("wire: permission is not granted to the role")
	ErrRootUserMissing  = errors.New("wire: root user does not exist")
	ErrRootRoleMissing  = errors.New("wire: root user does not have root role")
	ErrUserEmpty        = errors.New("wire: user name is empty")
	ErrAuthOldRevision  = errors.New("wire: revision of auth store is old")
	ErrNoPasswordUser   = errors.New("wire: user has no password")

	ErrWatchNotFound      = errors.New("wire: watcher not found")
	ErrWatchIDExists      = errors.New("wire: watch ID already exists")
	ErrUnimplemented      = errors.New("wire: operation not implemented by this member")
	ErrCorrupt            = errors.New("wire: corrupt cluster")
	ErrInternal           = errors.New("wire: internal error")
	ErrSnapshotInProgress = errors.New("wire: a snapshot is already being sent")
)

// codes is the one table between codes and sentinels.
var codes = map[Code]error{
	CodeBadRequest:      ErrBadRequest,
	CodeUnknownOp:       ErrUnknownOp,
	CodeRequestTooLarge: ErrRequestTooLarge,
	CodeTooManyOps:      ErrTooManyOps,
	CodeEmptyKey:        ErrEmptyKey,
	CodeValueProvided:   ErrValueProvided,
	CodeLeaseProvided:   ErrLeaseProvided,
	CodeDuplicateKey:    ErrDuplicateKey,
	CodeKeyNotFound:     ErrKeyNotFound,
	CodeCompacted:       ErrCompacted,
	CodeFutureRev:       ErrFutureRev,
	CodeBadStream:       ErrBadStream,

	CodeTooManyRequests: ErrTooManyRequests,
	CodeNoLeader:        ErrNoLeader,
	CodeNotLeader:       ErrNotLeader,
	CodeStopped:         ErrStopped,
	CodeUnavailable:     ErrUnavailable,
	CodeNoSpace:         ErrNoSpace,
	CodeNotCapable:      ErrNotCapable,
	CodeDropped:         ErrDropped,

	CodeTimeout:       ErrTimeout,
	CodeLeaderChanged: ErrLeaderChanged,
	CodeOutcome:       ErrOutcome,

	CodeLeaseNotFound:   ErrLeaseNotFound,
	CodeLeaseExists:     ErrLeaseExists,
	CodeLeaseTTLTooLong: ErrLeaseTTLTooLong,

	CodeMemberExists:    ErrMemberExists,
	CodeMemberNotFound:  ErrMemberNotFound,
	CodePeerURLExists:   ErrPeerURLExists,
	CodeMemberIDRemoved: ErrMemberIDRemoved,
	CodeNotLearner:      ErrNotLearner,
	CodeLearnerBehind:   ErrLearnerBehind,
	CodeUnhealthy:       ErrUnhealthy,
	CodeBadURL:          ErrBadURL,

	CodePermissionDenied: ErrPermissionDenied,
	CodeAuthNotEnabled:   ErrAuthNotEnabled,
	CodeAuthFailed:       ErrAuthFailed,
	CodeInvalidToken:     ErrInvalidToken,
	CodeUserExists:       ErrUserExists,
	CodeUserNotFound:     ErrUserNotFound,
	CodeRoleExists:       ErrRoleExists,
	CodeRoleNotFound:     ErrRoleNotFound,
	CodeRoleNotGranted:   ErrRoleNotGranted,
	CodePermNotGranted:   ErrPermNotGranted,
	CodeRootUserMissing:  ErrRootUserMissing,
	CodeRootRoleMissing:  ErrRootRoleMissing,
	CodeUserEmpty:        ErrUserEmpty,
	CodeAuthOldRevision:  ErrAuthOldRevision,
	CodeNoPasswordUser:   ErrNoPasswordUser,

	CodeWatchNotFound:      ErrWatchNotFound,
	CodeWatchIDExists:      ErrWatchIDExists,
	CodeUnimplemented:      ErrUnimplemented,
	CodeCorrupt:            ErrCorrupt,
	CodeInternal:           ErrInternal,
	CodeSnapshotInProgress: ErrSnapshotInProgress,
}

// Err is the sentinel of c: nil for CodeOK, ErrInternal for a code this build does not know.
func (c Code) Err() error {
	if c == CodeOK {
		return nil
	}
	if err, ok := codes[c]; ok {
		return err
	}
	return ErrInternal
}

func (c Code) String() string {
	if c == CodeOK {
		return "OK"
	}
	if err, ok := codes[c]; ok {
		return err.Error()
	}
	return fmt.Sprintf("Code(%d)", uint16(c))
}

// Ambiguous reports whether a request that failed with c may nevertheless have been applied.
func (c Code) Ambiguous() bool {
	return c == CodeTimeout || c == CodeLeaderChanged || c == CodeOutcome
}

// CodeOf finds the code of err: CodeOK for nil, the code of an *Error or a sentinel found
// with errors.Is, CodeInternal for anything else.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	for c, s := range codes {
		if errors.Is(err, s) {
			return c
		}
	}
	return CodeInternal
}

// Error is a failure answered by a member: its code and a message that says what exactly
// went wrong (it names the operation and the key where that helps).
type Error struct {
	Code    Code
	Message string
}

// Errorf makes an *Error of code c with a formatted message.
func Errorf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.String()
	}
	return e.Message
}

// Is matches the sentinel of the error's code (ErrInternal for a code this build does not
// know, as Code.Err).
func (e *Error) Is(target error) bool {
	return e.Code != CodeOK && e.Code.Err() == target
}
