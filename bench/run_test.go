package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkRun checks what every run must satisfy: ok requests and no error, a timeline that
// adds up, the settings filled in.
func checkRun(t *testing.T, r *Report, workload string, ok uint64) {
	t.Helper()
	if r.Workload != workload || r.OK != ok || r.Errors != 0 || len(r.ErrorKinds) != 0 {
		t.Fatalf("%s: %d ok, %d errors %v; want %s with %d ok", r.Workload, r.OK, r.Errors, r.ErrorKinds, workload, ok)
	}
	if r.QPS <= 0 || r.Elapsed <= 0 || r.P50Ms <= 0 || r.MaxMs < r.P99Ms || r.P99Ms < r.P50Ms || r.MinMs > r.P50Ms {
		t.Errorf("implausible summary: qps %v elapsed %v latency %+v", r.QPS, r.Elapsed, r.Latency)
	}
	var n uint64
	for _, s := range r.Timeline {
		n += s.Count
	}
	if n != ok {
		t.Errorf("timeline counts add to %d, want %d", n, ok)
	}
	if r.Interrupted || r.DeadlineHit {
		t.Errorf("interrupted %v, deadline hit %v", r.Interrupted, r.DeadlineHit)
	}
}

func TestWorkloadsOnOneMember(t *testing.T) {
	c := newTestCluster(t, 1, 10*time.Millisecond)
	ctx := testCtx(t)

	t.Run("put", func(t *testing.T) {
		r, err := Put(ctx, c.config(t))
		if err != nil {
			t.Fatal(err)
		}
		checkRun(t, r, "put", 100)
		if r.Conns != 2 || r.Clients != 4 || r.Total != 100 || r.KeySize != 8 || r.ValSize != 16 || r.KeySpace != 1000 {
			t.Errorf("settings %+v", r)
		}
		if !slices.Equal(r.Endpoints, c.endpoints) {
			t.Errorf("endpoints %v, want %v", r.Endpoints, c.endpoints)
		}
	})

	t.Run("put sequential keys", func(t *testing.T) {
		cfg := c.config(t)
		cfg.Total, cfg.KeySpaceSize, cfg.SequentialKeys, cfg.KeySize = 60, 60, true, 6
		r, err := Put(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkRun(t, r, "put", 60)
		cl := c.client(t)
		for i := range 60 {
			key := formatKey(uint64(i), 6)
			got, err := cl.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.KVs) != 1 || len(got.KVs[0].Value) != 16 {
				t.Errorf("key %s: %v, want written with a 16-byte value", key, got.KVs)
			}
		}
	})

	for _, cons := range []Consistency{Linearizable, Serializable} {
		t.Run("range "+string(cons), func(t *testing.T) {
			r, err := Range(ctx, c.config(t), RangeOptions{Consistency: cons})
			if err != nil {
				t.Fatal(err)
			}
			checkRun(t, r, "range", 100)
			if r.Params["consistency"] != string(cons) || r.Params["key"] != "00000000" {
				t.Errorf("params %v", r.Params)
			}
		})
	}

	t.Run("txn-put", func(t *testing.T) {
		r, err := TxnPut(ctx, c.config(t), TxnPutOptions{TxnOps: 3})
		if err != nil {
			t.Fatal(err)
		}
		checkRun(t, r, "txn-put", 100)
	})

	t.Run("mixed", func(t *testing.T) {
		r, err := Mixed(ctx, c.config(t), MixedOptions{ReadRatio: 0.5})
		if err != nil {
			t.Fatal(err)
		}
		checkRun(t, r, "mixed", 100)
		if len(r.Ops) != 2 || r.Ops[0].Op != "read" || r.Ops[1].Op != "write" || r.Ops[0].OK+r.Ops[1].OK != 100 || r.Ops[0].OK == 0 || r.Ops[1].OK == 0 {
			t.Errorf("ops %+v: want reads and writes adding to 100", r.Ops)
		}
	})

	t.Run("lease-keepalive", func(t *testing.T) {
		r, err := LeaseKeepalive(ctx, c.config(t), LeaseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkRun(t, r, "lease-keepalive", 100)
		ids, err := c.client(t).Leases(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 0 {
			t.Errorf("leases %v left after the run; want them revoked", ids)
		}
	})

	t.Run("watch", func(t *testing.T) {
		cfg := c.config(t)
		cfg.Total, cfg.KeySpaceSize = 20, 0
		r, err := Watch(ctx, cfg, WatchOptions{Watchers: 3}, "watch")
		if err != nil {
			t.Fatal(err)
		}
		checkRun(t, r, "watch", 60)
		if r.Unit != "events" || len(r.Ops) != 1 || r.Ops[0].Op != "put" || r.Ops[0].OK != 20 {
			t.Errorf("unit %q, ops %+v: want events, and 20 puts", r.Unit, r.Ops)
		}
		if r.Params["expected-events"] != "60" {
			t.Errorf("params %v", r.Params)
		}
	})

	t.Run("watch-latency on two keys at a rate", func(t *testing.T) {
		cfg := c.config(t)
		cfg.Total, cfg.KeySpaceSize, cfg.Rate, cfg.SequentialKeys = 10, 0, 500, true
		// Four watchers on two keys: each put reaches two of them.
		r, err := Watch(ctx, cfg, WatchOptions{Watchers: 4, WatchedKeyTotal: 2}, "watch-latency")
		if err != nil {
			t.Fatal(err)
		}
		checkRun(t, r, "watch-latency", 20)
	})

	t.Run("target leader", func(t *testing.T) {
		cfg := c.config(t)
		cfg.TargetLeader, cfg.Total, cfg.Rate = true, 20, 2000
		r, err := Put(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkRun(t, r, "put", 20)
		if !slices.Equal(r.Endpoints, []string{c.leader(t)}) || !r.TargetLeader {
			t.Errorf("endpoints %v, want the leader's only", r.Endpoints)
		}
	})

	t.Run("progress", func(t *testing.T) {
		cfg := c.config(t)
		var buf bytes.Buffer
		cfg.Progress, cfg.ProgressTTY = &buf, true
		if _, err := Put(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if !strings.HasPrefix(out, "\r") || !strings.HasSuffix(out, "\n") || !strings.Contains(out, "100/100") {
			t.Errorf("progress %q: want a bar redrawn in place, ending at 100/100 and a newline", out)
		}
	})

	t.Run("interrupted", func(t *testing.T) {
		cfg := c.config(t)
		cfg.Total, cfg.Rate = 1000000, 1000
		ictx, cancel := context.WithCancel(ctx)
		var buf syncWriter
		cfg.Progress = &buf
		// Stop the run once it has begun: the first progress line says so.
		cfg.ProgressTTY = true
		buf.onWrite = cancel
		r, err := Put(ictx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Interrupted || r.Errors != 0 || r.OK >= 1000000 {
			t.Errorf("interrupted %v, %d ok, %d errors: want an interrupted run without errors", r.Interrupted, r.OK, r.Errors)
		}
	})
}

// syncWriter calls onWrite on its first write.
type syncWriter struct {
	buf     bytes.Buffer
	onWrite func()
	done    bool
}

func (w *syncWriter) Write(p []byte) (int, error) {
	if !w.done && w.onWrite != nil {
		w.done = true
		w.onWrite()
	}
	return w.buf.Write(p)
}

func TestThreeMembers(t *testing.T) {
	if testing.Short() {
		t.Skip("three members: skipped with -short")
	}
	c := newTestCluster(t, 3, 10*time.Millisecond)
	ctx := testCtx(t)
	cfg := c.config(t)
	cfg.Conns, cfg.Clients = 3, 6
	r, err := Put(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, r, "put", 100)
	// Without --target-leader, client i starts on endpoint i.
	if !slices.Equal(r.Endpoints, c.endpoints) {
		t.Errorf("endpoints %v, want all of %v", r.Endpoints, c.endpoints)
	}
	cfg.TargetLeader = true
	r, err = Range(ctx, cfg, RangeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, r, "range", 100)
	if !slices.Equal(r.Endpoints, []string{c.leader(t)}) {
		t.Errorf("endpoints %v, want the leader's only", r.Endpoints)
	}
}

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	good := Config{Endpoints: []string{"127.0.0.1:1"}, TLS: &tls.Config{}}
	for name, run := range map[string]func() error{
		"no endpoints": func() error { cfg := good; cfg.Endpoints = nil; _, err := Put(ctx, cfg); return err },
		"no tls":       func() error { cfg := good; cfg.TLS = nil; _, err := Put(ctx, cfg); return err },
		"keys too short": func() error {
			cfg := good
			cfg.KeySize, cfg.KeySpaceSize = 2, 1000
			_, err := Put(ctx, cfg)
			return err
		},
		"consistency": func() error { _, err := Range(ctx, good, RangeOptions{Consistency: "x"}); return err },
		"read ratio":  func() error { _, err := Mixed(ctx, good, MixedOptions{ReadRatio: 1.5}); return err },
		"txn ops": func() error {
			cfg := good
			cfg.KeySpaceSize = 2
			_, err := TxnPut(ctx, cfg, TxnPutOptions{TxnOps: 3})
			return err
		},
		"watch value": func() error { cfg := good; cfg.ValSize = 4; _, err := Watch(ctx, cfg, WatchOptions{}, ""); return err },
		"watch keys": func() error {
			cfg := good
			cfg.KeySpaceSize = 2
			_, err := Watch(ctx, cfg, WatchOptions{WatchedKeyTotal: 3}, "")
			return err
		},
		"negative rate": func() error { cfg := good; cfg.Rate = -1; _, err := Put(ctx, cfg); return err },
	} {
		if err := run(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}
