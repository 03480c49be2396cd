package wire

// Limits bound what one request may be. The server enforces them; the client checks them
// before sending, so an over-limit request fails with a clear error and is never sent.
type Limits struct {
	// MaxRequestBytes bounds an encoded request (etcd's --max-request-bytes).
	MaxRequestBytes int
	// MaxTxnOps bounds the operations of a txn, nested txns included (etcd's --max-txn-ops).
	MaxTxnOps int
}

// Defaults as etcd's.
const (
	DefaultMaxRequestBytes = 3 << 19 // 1.5 MiB
	DefaultMaxTxnOps       = 128
	// DefaultMaxResponseBytes bounds a response frame a client accepts.
	DefaultMaxResponseBytes = 1 << 30
	// frameSlack is what a request frame may carry beyond MaxRequestBytes of payload: the
	// envelope and the token.
	frameSlack = 16 << 10
)

// DefaultLimits returns etcd's defaults.
func DefaultLimits() Limits {
	return Limits{MaxRequestBytes: DefaultMaxRequestBytes, MaxTxnOps: DefaultMaxTxnOps}
}

// FrameLimit is the largest request frame a server reads.
func (l Limits) FrameLimit() int { return l.MaxRequestBytes + frameSlack }
