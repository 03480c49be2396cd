package node

import (
	"net/http"

	"etcq.dev/etcq/wire"
)

// grpcCode is a gRPC status code: what etcd's gateway reports in an error body's "code".
type grpcCode int

// The gRPC codes etcd's errors map to.
const (
	grpcCanceled           grpcCode = 1
	grpcUnknown            grpcCode = 2
	grpcInvalidArgument    grpcCode = 3
	grpcDeadlineExceeded   grpcCode = 4
	grpcNotFound           grpcCode = 5
	grpcAlreadyExists      grpcCode = 6
	grpcPermissionDenied   grpcCode = 7
	grpcResourceExhausted  grpcCode = 8
	grpcFailedPrecondition grpcCode = 9
	grpcAborted            grpcCode = 10
	grpcOutOfRange         grpcCode = 11
	grpcUnimplemented      grpcCode = 12
	grpcInternal           grpcCode = 13
	grpcUnavailable        grpcCode = 14
	grpcDataLoss           grpcCode = 15
	grpcUnauthenticated    grpcCode = 16
)

// grpcCodes maps every wire code to the gRPC code etcd gives the same error
// (etcd's api/v3rpc/rpctypes); a code missing here is Unknown.
var grpcCodes = map[wire.Code]grpcCode{
	wire.CodeBadRequest:      grpcInvalidArgument,
	wire.CodeUnknownOp:       grpcUnimplemented,
	wire.CodeRequestTooLarge: grpcInvalidArgument,
	wire.CodeTooManyOps:      grpcInvalidArgument,
	wire.CodeEmptyKey:        grpcInvalidArgument,
	wire.CodeValueProvided:   grpcInvalidArgument,
	wire.CodeLeaseProvided:   grpcInvalidArgument,
	wire.CodeDuplicateKey:    grpcInvalidArgument,
	wire.CodeKeyNotFound:     grpcInvalidArgument,
	wire.CodeCompacted:       grpcOutOfRange,
	wire.CodeFutureRev:       grpcOutOfRange,
	wire.CodeBadStream:       grpcInvalidArgument,

	wire.CodeTooManyRequests: grpcResourceExhausted,
	wire.CodeNoLeader:        grpcUnavailable,
	wire.CodeNotLeader:       grpcFailedPrecondition,
	wire.CodeStopped:         grpcUnavailable,
	wire.CodeUnavailable:     grpcUnavailable,
	wire.CodeNoSpace:         grpcResourceExhausted,
	wire.CodeNotCapable:      grpcFailedPrecondition,
	wire.CodeDropped:         grpcUnavailable,

	wire.CodeTimeout:       grpcUnavailable,
	wire.CodeLeaderChanged: grpcUnavailable,
	wire.CodeOutcome:       grpcUnavailable,

	wire.CodeLeaseNotFound:   grpcNotFound,
	wire.CodeLeaseExists:     grpcFailedPrecondition,
	wire.CodeLeaseTTLTooLong: grpcOutOfRange,

	wire.CodeMemberExists:    grpcFailedPrecondition,
	wire.CodeMemberNotFound:  grpcNotFound,
	wire.CodePeerURLExists:   grpcFailedPrecondition,
	wire.CodeMemberIDRemoved: grpcFailedPrecondition,
	wire.CodeNotLearner:      grpcFailedPrecondition,
	wire.CodeLearnerBehind:   grpcFailedPrecondition,
	wire.CodeUnhealthy:       grpcUnavailable,
	wire.CodeBadURL:          grpcInvalidArgument,

	wire.CodePermissionDenied: grpcPermissionDenied,
	wire.CodeAuthNotEnabled:   grpcFailedPrecondition,
	wire.CodeAuthFailed:       grpcInvalidArgument,
	wire.CodeInvalidToken:     grpcUnauthenticated,
	wire.CodeUserExists:       grpcFailedPrecondition,
	wire.CodeUserNotFound:     grpcFailedPrecondition,
	wire.CodeRoleExists:       grpcFailedPrecondition,
	wire.CodeRoleNotFound:     grpcFailedPrecondition,
	wire.CodeRoleNotGranted:   grpcFailedPrecondition,
	wire.CodePermNotGranted:   grpcFailedPrecondition,
	wire.CodeRootUserMissing:  grpcFailedPrecondition,
	wire.CodeRootRoleMissing:  grpcFailedPrecondition,
	wire.CodeUserEmpty:        grpcInvalidArgument,
	wire.CodeAuthOldRevision:  grpcInvalidArgument,
	wire.CodeNoPasswordUser:   grpcInvalidArgument,

	wire.CodeWatchNotFound:      grpcNotFound,
	wire.CodeWatchIDExists:      grpcFailedPrecondition,
	wire.CodeUnimplemented:      grpcUnimplemented,
	wire.CodeCorrupt:            grpcDataLoss,
	wire.CodeInternal:           grpcInternal,
	wire.CodeSnapshotInProgress: grpcUnavailable,
}

// grpcCodeOf is the gRPC code of a wire code.
func grpcCodeOf(c wire.Code) grpcCode {
	if g, ok := grpcCodes[c]; ok {
		return g
	}
	return grpcUnknown
}

// httpStatus is the HTTP status grpc-gateway answers a gRPC code with.
func (g grpcCode) httpStatus() int {
	switch g {
	case 0:
		return http.StatusOK
	case grpcCanceled:
		return http.StatusRequestTimeout
	case grpcInvalidArgument, grpcFailedPrecondition, grpcOutOfRange:
		return http.StatusBadRequest
	case grpcDeadlineExceeded:
		return http.StatusGatewayTimeout
	case grpcNotFound:
		return http.StatusNotFound
	case grpcAlreadyExists, grpcAborted:
		return http.StatusConflict
	case grpcPermissionDenied:
		return http.StatusForbidden
	case grpcUnauthenticated:
		return http.StatusUnauthorized
	case grpcResourceExhausted:
		return http.StatusTooManyRequests
	case grpcUnimplemented:
		return http.StatusNotImplemented
	case grpcUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// jError is etcd's gateway error body.
type jError struct {
	Error   string   `json:"error"`
	Code    grpcCode `json:"code"`
	Message string   `json:"message"`
}

// jStreamError is how grpc-gateway reports an error inside a stream of results.
type jStreamError struct {
	Error struct {
		GRPCCode   grpcCode `json:"grpc_code"`
		HTTPCode   int      `json:"http_code"`
		Message    string   `json:"message"`
		HTTPStatus string   `json:"http_status"`
	} `json:"error"`
}

func streamError(we *wire.Error) *jStreamError {
	var e jStreamError
	g := grpcCodeOf(we.Code)
	e.Error.GRPCCode, e.Error.HTTPCode, e.Error.Message = g, g.httpStatus(), we.Error()
	e.Error.HTTPStatus = http.StatusText(g.httpStatus())
	return &e
}
