// Package quicclient is the Go client of etcq: KV, Watch, Lease, Cluster, Maintenance and
// Auth over etcq's msgpack protocol (package wire) on QUIC with mutual TLS.
//
// Who calls it: applications, etcqctl and the bench tool. It imports wire and nothing else
// of ours.
//
// # Connections and failover
//
// A Client keeps one connection to one member (the active one) with long-lived request
// streams (one by default: Config.Streams) on which requests are pipelined: many
// goroutines may call it at once, and requests queued together leave in one packet. When the active connection fails, or the
// member answers that it cannot serve (no leader, shutting down), the client moves to the
// next endpoint, preferring members that report a leader.
//
// # What is retried
//
// Every call takes a context, and gives up when it ends. Reads (Get, read-only Txn,
// MemberList, ...) are retried on another member after any failure. Writes are retried only
// when they surely did nothing: they never left the client, or the member refused them
// before proposing them. A write whose answer is lost after it was sent, or whose member
// answers that it may have been applied (wire.ErrTimeout, wire.ErrLeaderChanged,
// wire.ErrOutcome, wire.ErrStopped; the error wraps the answer), fails with
// ErrOutcomeUnknown: it may or may not have been applied, and the client never sends it
// again on its own.
//
// Members' refusals arrive as *wire.Error values; match them with errors.Is against wire's
// sentinels (wire.ErrCompacted, wire.ErrPermissionDenied, ...). A request over the limits
// (Config.Limits) fails before it is sent, with wire.ErrRequestTooLarge or
// wire.ErrTooManyOps.
//
// # Watch
//
// A client's watches share one watch stream. Each watch remembers the last revision it
// delivered; when its stream fails it is re-created on the next member from the revision
// after that one, so no event is lost or repeated. If that revision has been compacted
// meanwhile, the watch ends with a response whose Err matches wire.ErrCompacted: never a
// silent gap.
//
// Concurrency: a Client is safe for concurrent use. It persists nothing.
package quicclient
