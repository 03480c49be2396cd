// Package bench is etcq's load generator: the workloads of `etcqctl bench` (put, range,
// txn-put, watch, watch-latency, lease-keepalive, mixed) with etcd's benchmark vocabulary,
// the latency histogram they record into, and the report they produce as text (like etcd's
// benchmark output), JSON, a CSV of latency over time and a PNG plot of it.
//
// # Load model
//
// Closed loop, as etcd's benchmark and the anchors' etcdbench: Config.Conns
// quicclient.Clients are opened (each keeps one QUIC connection to one member), and
// Config.Clients goroutines issue requests back to back, goroutine j on client j % Conns,
// until Config.Total requests have been issued (a shared counter) or the context ends.
// Config.Rate, when set, caps the requests per second of all goroutines together. With
// Config.TargetLeader every client talks to the leader; otherwise client i starts on
// endpoint i % len(Endpoints).
//
// # Measurements
//
// Each request's latency is taken in the client, from just before the call to its return,
// and recorded into a Histogram: log-linear buckets (128 per power of two) whose
// percentiles are within 1/256 of the exact nearest-rank values, with the exact minimum,
// maximum and mean. A Recorder keeps one histogram for the whole run, one per operation
// kind (mixed: read and write) and one per second of the run, from which the report's
// timeline (count, avg, p50, p99 per second) is drawn. Watch workloads measure events:
// the latency of an event is from the start of the put that caused it to its delivery on
// a watch channel (the put's value carries its start time).
//
// Who calls it: cmd/etcqctl (the bench command) and this package's tests. It imports
// quicclient and wire and nothing else of etcq's.
package bench
