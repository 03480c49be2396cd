package node

import (
	"context"
	"errors"

	"etcq.dev/etcq/auth"
	"etcq.dev/etcq/storage"
	"etcq.dev/etcq/wire"
)

// errCodes maps the node's and the store's sentinels to wire codes: the one place where
// a server-side error becomes what a client sees.
var errCodes = []struct {
	err  error
	code wire.Code
}{
	{ErrStopped, wire.CodeStopped},
	{ErrStoppedOutcome, wire.CodeOutcome},
	{ErrTimeout, wire.CodeTimeout},
	{ErrLeaderChanged, wire.CodeLeaderChanged},
	{ErrSnapshotApplied, wire.CodeOutcome},
	{ErrNoLeader, wire.CodeNoLeader},
	{ErrNotLeader, wire.CodeNotLeader},
	{ErrTooManyRequests, wire.CodeTooManyRequests},
	{ErrDropped, wire.CodeDropped},
	{ErrRequestTooLarge, wire.CodeRequestTooLarge},
	{ErrMemberNotFound, wire.CodeMemberNotFound},
	{ErrIDRemoved, wire.CodeMemberIDRemoved},
	{ErrPeerURLExists, wire.CodePeerURLExists},
	{ErrNotLearner, wire.CodeNotLearner},
	{ErrLearnerBehind, wire.CodeLearnerBehind},
	{ErrUnhealthy, wire.CodeUnhealthy},
	{ErrBadConfig, wire.CodeBadRequest},
	{ErrNoSpace, wire.CodeNoSpace},
	{ErrLeaseNotFound, wire.CodeLeaseNotFound},
	{ErrLeaseExists, wire.CodeLeaseExists},
	{ErrLeaseTTLTooLong, wire.CodeLeaseTTLTooLong},
	{storage.ErrLeaseNotFound, wire.CodeLeaseNotFound},
	{storage.ErrCompacted, wire.CodeCompacted},
	{storage.ErrFutureRev, wire.CodeFutureRev},
	{storage.ErrKeyNotFound, wire.CodeKeyNotFound},
	{storage.ErrValueProvided, wire.CodeValueProvided},
	{storage.ErrLeaseProvided, wire.CodeLeaseProvided},
	{storage.ErrDuplicateKey, wire.CodeDuplicateKey},
	{storage.ErrEmptyKey, wire.CodeEmptyKey},
	{storage.ErrClosed, wire.CodeStopped},
	{storage.ErrCorrupt, wire.CodeCorrupt},
	{storage.ErrWatchNotFound, wire.CodeWatchNotFound},
	{storage.ErrWatchIDExists, wire.CodeWatchIDExists},

	// auth's sentinels: one auth code each, and a bad request for a malformed operation
	// (the table of auth/errors_test.go).
	{auth.ErrPermissionDenied, wire.CodePermissionDenied},
	{auth.ErrAuthNotEnabled, wire.CodeAuthNotEnabled},
	{auth.ErrAuthFailed, wire.CodeAuthFailed},
	{auth.ErrInvalidToken, wire.CodeInvalidToken},
	{auth.ErrUserExists, wire.CodeUserExists},
	{auth.ErrUserNotFound, wire.CodeUserNotFound},
	{auth.ErrRoleExists, wire.CodeRoleExists},
	{auth.ErrRoleNotFound, wire.CodeRoleNotFound},
	{auth.ErrRoleNotGranted, wire.CodeRoleNotGranted},
	{auth.ErrPermNotGranted, wire.CodePermNotGranted},
	{auth.ErrRootUserMissing, wire.CodeRootUserMissing},
	{auth.ErrRootRoleMissing, wire.CodeRootRoleMissing},
	{auth.ErrUserEmpty, wire.CodeUserEmpty},
	{auth.ErrAuthOldRevision, wire.CodeAuthOldRevision},
	{auth.ErrNoPasswordUser, wire.CodeNoPasswordUser},
	{auth.ErrInvalidAuthMgmt, wire.CodeBadRequest},
	{auth.ErrCorrupt, wire.CodeCorrupt},
}

// toWireError turns err into the *wire.Error a client receives. A wire error passes through;
// an expired server-side deadline means the outcome is unknown.
func toWireError(err error) *wire.Error {
	var we *wire.Error
	if errors.As(err, &we) {
		return we
	}
	for _, ec := range errCodes {
		if errors.Is(err, ec.err) {
			return &wire.Error{Code: ec.code, Message: err.Error()}
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &wire.Error{Code: wire.CodeTimeout, Message: err.Error()}
	}
	return &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
}
