package quicclient

import "errors"

// Errors of the client itself. A member's refusal arrives as a *wire.Error; match it with
// errors.Is against the wire sentinels (wire.ErrCompacted, wire.ErrPermissionDenied, ...).
var (
	// ErrOutcomeUnknown: a write was sent but its answer never came. It may or may not
	// have been applied; read before retrying it.
	ErrOutcomeUnknown = errors.New("quicclient: the request was sent but its outcome is unknown")
	// ErrConfig: the client's configuration is invalid.
	ErrConfig = errors.New("quicclient: invalid configuration")
	// ErrUnreachable: an endpoint could not be dialed.
	ErrUnreachable = errors.New("quicclient: endpoint unreachable")
	// ErrConnectionLost: a connection failed.
	ErrConnectionLost = errors.New("quicclient: connection lost")
	// ErrNoEndpoint: no endpoint could serve.
	ErrNoEndpoint = errors.New("quicclient: no endpoint available")
	// ErrProtocol: a member answered with something the request cannot have caused.
	ErrProtocol = errors.New("quicclient: protocol error")
	// ErrClosed: the client has been closed.
	ErrClosed = errors.New("quicclient: client closed")
	// ErrLeaseLost: a lease kept alive by KeepAlive expired or was revoked.
	ErrLeaseLost = errors.New("quicclient: lease lost")
)
