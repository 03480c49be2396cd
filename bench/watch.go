package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/wire"
)

// WatchOptions shape the watch workloads.
type WatchOptions struct {
	// Watchers is how many watches are opened (100), spread over the Conns clients
	// (each client multiplexes its watches on one stream).
	Watchers int
	// WatchedKeyTotal is how many distinct keys are watched (1): watcher i watches key
	// i mod WatchedKeyTotal, and the puts write those keys.
	WatchedKeyTotal int
	// Drain bounds the wait, after the last put, for events still on their way (10 s
	// without a new event); events that never arrive count as errors.
	Drain time.Duration
}

// stampSize is the bytes of a put's value that carry its start time.
const stampSize = 8

// Watch measures how fast events reach watchers: Watchers watches on WatchedKeyTotal
// keys, then Total puts of those keys by Clients goroutines (at Rate, if set). The report
// counts events: events delivered per second, and each event's latency from the start of
// its put to its delivery. The puts are summarised apart (op "put"). workload names the
// report ("watch" or "watch-latency": the same measurement, the latter usually at a
// modest put rate).
func Watch(ctx context.Context, cfg Config, o WatchOptions, workload string) (*Report, error) {
	setDefault(&o.Watchers, 100)
	setDefault(&o.WatchedKeyTotal, 1)
	setDefault(&o.Drain, 10*time.Second)
	setDefault(&cfg.ValSize, stampSize)
	if workload == "" {
		workload = "watch"
	}
	switch {
	case o.Watchers < 1 || o.WatchedKeyTotal < 1:
		return nil, fmt.Errorf("%w: --watchers and --watched-key-total must be at least 1", ErrConfig)
	case cfg.ValSize < stampSize:
		return nil, fmt.Errorf("%w: --val-size %d: a watch benchmark needs at least %d bytes (the value carries the put's start time)", ErrConfig, cfg.ValSize, stampSize)
	}
	if cfg.KeySpaceSize == 0 {
		cfg.KeySpaceSize = o.WatchedKeyTotal
	}
	if cfg.KeySpaceSize < o.WatchedKeyTotal {
		return nil, fmt.Errorf("%w: --key-space-size %d is smaller than --watched-key-total %d", ErrConfig, cfg.KeySpaceSize, o.WatchedKeyTotal)
	}
	s, err := open(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer s.close()

	// Every event's latency is measured on one monotonic clock: nanoseconds since base.
	base := time.Now()
	perKey := make([]int64, o.WatchedKeyTotal)
	for i := range o.Watchers {
		perKey[i%o.WatchedKeyTotal]++
	}
	wctx, stopWatches := context.WithCancel(ctx)
	defer stopWatches()

	var (
		events    *Recorder // set before any put
		delivered atomic.Int64
		lastEvent atomic.Int64 // nanoseconds since base
		wg        sync.WaitGroup
	)
	ready := make(chan struct{})
	chans, err := openWatches(wctx, s, o, cfg.KeySize)
	if err != nil {
		return nil, err
	}
	for _, ch := range chans {
		wg.Go(func() {
			<-ready
			for resp := range ch {
				now := time.Now()
				if resp.Canceled {
					events.Fail("event", fmt.Errorf("watch ended: %w", resp.Err()))
					continue
				}
				for _, ev := range resp.Events {
					if ev.Type != wire.EventPut || len(ev.KV.Value) < stampSize {
						continue
					}
					sent := int64(binary.BigEndian.Uint64(ev.KV.Value))
					at := now.Sub(base)
					events.Record("event", now, at-time.Duration(sent))
					delivered.Add(1)
					for cur := lastEvent.Load(); int64(at) > cur && !lastEvent.CompareAndSwap(cur, int64(at)); cur = lastEvent.Load() {
					}
				}
			}
		})
	}

	var expected atomic.Int64
	start := time.Now()
	events = NewRecorder(start)
	puts := NewRecorder(start, "put")
	close(ready)
	space := uint64(o.WatchedKeyTotal)
	putReport := s.loop(ctx, workload, puts, func(ctx context.Context, w *worker, t int64) (string, error) {
		var k uint64
		if cfg.SequentialKeys {
			k = uint64(t-1) % space
		} else {
			k = w.rng.Uint64N(space)
		}
		v := []byte(s.value)
		binary.BigEndian.PutUint64(v, uint64(time.Since(base)))
		_, err := w.c.Put(ctx, formatKey(k, cfg.KeySize), string(v))
		if err == nil {
			expected.Add(perKey[k])
		}
		return "put", err
	})

	// Wait for the events still on their way: until all have come, nothing has come for
	// o.Drain, or ctx ends.
	last, lastAt := delivered.Load(), time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	for delivered.Load() < expected.Load() && ctx.Err() == nil && time.Since(lastAt) < o.Drain {
		<-tick.C
		if n := delivered.Load(); n != last {
			last, lastAt = n, time.Now()
		}
	}
	tick.Stop()
	stopWatches()
	wg.Wait()

	elapsed := putReport.Elapsed
	if at := time.Duration(lastEvent.Load()); at > 0 {
		elapsed = max(elapsed, base.Add(at).Sub(start))
	}
	if missing := expected.Load() - delivered.Load(); missing > 0 {
		events.FailN("event", "event not delivered (put acknowledged, no event within the drain time)", uint64(missing))
	}
	r := NewReport(events, elapsed)
	r.Unit = "events"
	r.ClientCPUS = putReport.ClientCPUS
	r.DeadlineHit, r.Interrupted = putReport.DeadlineHit, putReport.Interrupted
	s.describe(r, workload)
	r.Ops = append(r.Ops, OpSummary{Op: "put", OK: putReport.OK, Errors: putReport.Errors, QPS: putReport.QPS, Latency: putReport.Latency})
	r.ErrorKinds = append(r.ErrorKinds, putReport.ErrorKinds...)
	r.Params = map[string]string{
		"watchers": strconv.Itoa(o.Watchers), "watched-key-total": strconv.Itoa(o.WatchedKeyTotal),
		"expected-events": strconv.FormatInt(expected.Load(), 10),
	}
	return r, nil
}

// openWatches opens the watches, watcher i on client i mod Conns and key i mod
// WatchedKeyTotal, and waits until each is created.
func openWatches(ctx context.Context, s *session, o WatchOptions, keySize int) ([]quicclient.WatchChan, error) {
	chans := make([]quicclient.WatchChan, o.Watchers)
	errs := make([]error, o.Watchers)
	cctx, cancel := context.WithTimeout(ctx, 4*s.cfg.DialTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for i := range chans {
		key := formatKey(uint64(i%o.WatchedKeyTotal), keySize)
		ch := s.clients[i%len(s.clients)].Watch(ctx, key, quicclient.WithCreatedNotify())
		chans[i] = ch
		wg.Go(func() {
			select {
			case resp, ok := <-ch:
				switch {
				case !ok:
					errs[i] = errors.New("bench: a watch ended before it was created")
				case resp.Canceled:
					errs[i] = fmt.Errorf("bench: a watch was refused: %w", resp.Err())
				case !resp.Created:
					errs[i] = errors.New("bench: a watch delivered before it was created")
				}
			case <-cctx.Done():
				errs[i] = fmt.Errorf("bench: create a watch: %w", cctx.Err())
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return chans, nil
}
