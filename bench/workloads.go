package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"etcq.dev/etcq/quicclient"
)

// Put writes Total keys (random, or sequential with SequentialKeys, among KeySpaceSize)
// with ValSize-byte values, as etcd's `benchmark put`.
func Put(ctx context.Context, cfg Config) (*Report, error) {
	s, err := open(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer s.close()
	rec := NewRecorder(time.Now())
	return s.loop(ctx, "put", rec, func(ctx context.Context, w *worker, t int64) (string, error) {
		_, err := w.c.Put(ctx, w.key(t), s.value)
		return "put", err
	}), nil
}

// Consistency is a read's consistency: linearizable ("l", through the leader's read
// index) or serializable ("s", from the member's own store), as etcd's --consistency.
type Consistency string

// The consistencies.
const (
	Linearizable Consistency = "l"
	Serializable Consistency = "s"
)

func (c Consistency) check() error {
	switch c {
	case Linearizable, Serializable:
		return nil
	}
	return fmt.Errorf("%w: consistency %q: use l (linearizable) or s (serializable)", ErrConfig, string(c))
}

func (c Consistency) opts() []quicclient.OpOption {
	if c == Serializable {
		return []quicclient.OpOption{quicclient.WithSerializable()}
	}
	return nil
}

// RangeOptions shape the range workload.
type RangeOptions struct {
	// Key is read by every request (default: key 0 of the key space, "00000000" for
	// 8-byte keys, written with a ValSize-byte value before the run, as the anchors'
	// etcdbench does). End, if set, makes each request read [Key, End).
	Key, End string
	// Consistency of the reads (Linearizable).
	Consistency Consistency
	// Limit caps the keys each request returns (0: none); CountOnly returns only the
	// count.
	Limit     int64
	CountOnly bool
}

// Range reads Key (or [Key, End)) Total times, as etcd's `benchmark range`.
func Range(ctx context.Context, cfg Config, o RangeOptions) (*Report, error) {
	setDefault(&o.Consistency, Linearizable)
	if err := o.Consistency.check(); err != nil {
		return nil, err
	}
	s, err := open(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if o.Key == "" {
		o.Key = formatKey(0, cfg.KeySize)
		sctx, cancel := context.WithTimeout(ctx, 4*cfg.DialTimeout)
		_, err := s.clients[0].Put(sctx, o.Key, s.value)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("bench: write the key to read %q: %w", o.Key, err)
		}
	}
	opts := o.Consistency.opts()
	if o.End != "" {
		opts = append(opts, quicclient.WithRange(o.End))
	}
	if o.Limit > 0 {
		opts = append(opts, quicclient.WithLimit(o.Limit))
	}
	if o.CountOnly {
		opts = append(opts, quicclient.WithCountOnly())
	}
	rec := NewRecorder(time.Now())
	r := s.loop(ctx, "range", rec, func(ctx context.Context, w *worker, _ int64) (string, error) {
		_, err := w.c.Get(ctx, o.Key, opts...)
		return "range", err
	})
	r.Params = map[string]string{"consistency": string(o.Consistency), "key": o.Key}
	if o.End != "" {
		r.Params["end"] = o.End
	}
	return r, nil
}

// TxnPutOptions shape the txn-put workload.
type TxnPutOptions struct {
	// TxnOps is the number of puts in each txn (1); they write consecutive keys.
	TxnOps int
}

// TxnPut runs Total txns of TxnOps puts each, as etcd's `benchmark txn-put`.
func TxnPut(ctx context.Context, cfg Config, o TxnPutOptions) (*Report, error) {
	setDefault(&o.TxnOps, 1)
	if o.TxnOps < 1 {
		return nil, fmt.Errorf("%w: --txn-ops must be at least 1", ErrConfig)
	}
	if cfg.KeySpaceSize != 0 && cfg.KeySpaceSize < o.TxnOps {
		return nil, fmt.Errorf("%w: --key-space-size %d is smaller than --txn-ops %d (the keys of a txn must differ)", ErrConfig, cfg.KeySpaceSize, o.TxnOps)
	}
	if cfg.KeySpaceSize == 0 {
		cfg.KeySpaceSize = o.TxnOps
	}
	s, err := open(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer s.close()
	space := uint64(cfg.KeySpaceSize)
	rec := NewRecorder(time.Now())
	r := s.loop(ctx, "txn-put", rec, func(ctx context.Context, w *worker, t int64) (string, error) {
		var base uint64
		if cfg.SequentialKeys {
			base = uint64(t-1) * uint64(o.TxnOps)
		} else {
			base = w.rng.Uint64N(space)
		}
		ops := make([]quicclient.Op, o.TxnOps)
		for j := range ops {
			ops[j] = quicclient.OpPut(formatKey((base+uint64(j))%space, cfg.KeySize), s.value)
		}
		_, err := w.c.Txn(ctx).Then(ops...).Commit()
		return "txn-put", err
	})
	r.Params = map[string]string{"txn-ops": strconv.Itoa(o.TxnOps)}
	return r, nil
}

// LeaseOptions shape the lease-keepalive workload.
type LeaseOptions struct {
	// TTL of the leases, in seconds (100, long enough never to expire during a run).
	TTL int64
}

// LeaseKeepalive grants one lease per client goroutine, then renews the leases Total
// times in all (each goroutine its own, back to back), as etcd's `benchmark
// lease-keepalive`. The leases are revoked afterwards.
func LeaseKeepalive(ctx context.Context, cfg Config, o LeaseOptions) (*Report, error) {
	setDefault(&o.TTL, 100)
	s, err := open(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer s.close()
	leases := make([]int64, cfg.Clients)
	errs := make([]error, cfg.Clients)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range leases {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			gctx, cancel := context.WithTimeout(ctx, 4*cfg.DialTimeout)
			defer cancel()
			l, err := s.clients[i%len(s.clients)].Grant(gctx, o.TTL)
			if err != nil {
				errs[i] = fmt.Errorf("bench: grant a lease: %w", err)
				return
			}
			leases[i] = l.ID
		})
	}
	wg.Wait()
	defer revokeAll(ctx, s, leases)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	rec := NewRecorder(time.Now())
	r := s.loop(ctx, "lease-keepalive", rec, func(ctx context.Context, w *worker, _ int64) (string, error) {
		_, err := w.c.KeepAliveOnce(ctx, leases[w.id])
		return "keepalive", err
	})
	r.Params = map[string]string{"ttl": strconv.FormatInt(o.TTL, 10)}
	return r, nil
}

// revokeAll revokes the leases a run granted, as well as it can.
func revokeAll(ctx context.Context, s *session, leases []int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i, id := range leases {
		if id == 0 {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			_, _ = s.clients[i%len(s.clients)].Revoke(ctx, id)
		})
	}
	wg.Wait()
}

// MixedOptions shape the mixed workload.
type MixedOptions struct {
	// ReadRatio is the share of requests that are reads (0 to 1); the rest are puts.
	ReadRatio float64
	// Consistency of the reads (Linearizable).
	Consistency Consistency
}

// Mixed issues Total requests, each a get with probability ReadRatio and a put
// otherwise, of random keys of the key space (sequential with SequentialKeys). Reads and
// writes are reported apart too.
func Mixed(ctx context.Context, cfg Config, o MixedOptions) (*Report, error) {
	setDefault(&o.Consistency, Linearizable)
	if err := o.Consistency.check(); err != nil {
		return nil, err
	}
	if o.ReadRatio < 0 || o.ReadRatio > 1 {
		return nil, fmt.Errorf("%w: --read-ratio %g is not between 0 and 1", ErrConfig, o.ReadRatio)
	}
	s, err := open(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer s.close()
	opts := o.Consistency.opts()
	rec := NewRecorder(time.Now(), "read", "write")
	r := s.loop(ctx, "mixed", rec, func(ctx context.Context, w *worker, t int64) (string, error) {
		key := w.key(t)
		if w.rng.Float64() < o.ReadRatio {
			_, err := w.c.Get(ctx, key, opts...)
			return "read", err
		}
		_, err := w.c.Put(ctx, key, s.value)
		return "write", err
	})
	r.Params = map[string]string{
		"read-ratio": strconv.FormatFloat(o.ReadRatio, 'g', -1, 64), "consistency": string(o.Consistency),
	}
	return r, nil
}

// open checks cfg (filling in its defaults) and connects.
func open(ctx context.Context, cfg *Config) (*session, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return connect(ctx, *cfg)
}
