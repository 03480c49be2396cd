package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"etcq.dev/etcq/quicclient"
)

// perfConfig is a load of check perf: limit writes per second from clients writers for
// duration.
type perfConfig struct {
	limit    int
	clients  int
	duration time.Duration
}

// perfLoads are etcdctl's check perf loads.
var perfLoads = map[string]perfConfig{
	"s":  {limit: 150, clients: 50, duration: 60 * time.Second},
	"m":  {limit: 1000, clients: 200, duration: 60 * time.Second},
	"l":  {limit: 8000, clients: 500, duration: 60 * time.Second},
	"xl": {limit: 15000, clients: 1000, duration: 60 * time.Second},
}

func (a *app) checkCommand() *cobra.Command {
	cc := &cobra.Command{
		Use:   "check <subcommand>",
		Short: "commands for checking properties of the etcq cluster",
	}
	var load, prefix string
	var autoCompact, autoDefrag bool
	perf := &cobra.Command{
		Use:   "perf [options]",
		Short: "Check the performance of the etcq cluster",
		Long: `Check the performance of the etcq cluster: write for 60 seconds at the load's rate and
check the throughput, the slowest request and the spread of latencies.

Loads: s (150 writes/s from 50 clients), m (1000 from 200), l (8000 from 500),
xl (15000 from 1000).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, ok := perfLoads[load]
			if !ok {
				return failf(exitBadFeature, "unknown load option %v", load)
			}
			return a.checkPerf(cfg, prefix, autoCompact, autoDefrag)
		},
	}
	perf.Flags().StringVar(&load, "load", "s", "The performance check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)")
	perf.Flags().StringVar(&prefix, "prefix", "/etcqctl-check-perf/", "The prefix for writing the performance check's keys.")
	perf.Flags().BoolVar(&autoCompact, "auto-compact", false, "Compact storage with last revision after test is finished.")
	perf.Flags().BoolVar(&autoDefrag, "auto-defrag", false, "Defragment storage after test is finished.")
	cc.AddCommand(perf)
	return cc
}

// perfStats summarises the writes of a check.
type perfStats struct {
	rps     float64 // successful writes per second
	slowest float64 // seconds
	stddev  float64 // of the latencies, seconds
	errors  map[string]int
}

func (a *app) checkPerf(cfg perfConfig, prefix string, autoCompact, autoDefrag bool) error {
	conns := (cfg.clients + 9) / 10
	clients := make([]*quicclient.Client, conns)
	for i := range clients {
		c, err := a.client()
		if err != nil {
			return err
		}
		defer c.Close()
		clients[i] = c
	}
	ctx, cancel := a.commandCtx()
	resp, err := clients[0].Get(ctx, prefix, quicclient.WithPrefix(), quicclient.WithLimit(1))
	cancel()
	if err != nil {
		return fail(exitError, err)
	}
	if len(resp.KVs) > 0 {
		return failf(exitInvalidInput, "prefix %q has keys. Delete with etcqctl del --prefix %s first", prefix, prefix)
	}

	st := runPerfLoad(a.ctx, clients, cfg, prefix)

	ctx, cancel = a.cleanupCtx()
	dresp, err := clients[0].Delete(ctx, prefix, quicclient.WithPrefix())
	cancel()
	if err != nil {
		return fail(exitError, err)
	}
	if autoCompact {
		ctx, cancel = context.WithTimeout(a.ctx, 30*time.Second)
		_, err := clients[0].Compact(ctx, dresp.Header.Revision, quicclient.WithCompactPhysical())
		cancel()
		if err != nil {
			return fail(exitError, err)
		}
		fmt.Fprintf(a.stdout, "Compacted with revision %d\n", dresp.Header.Revision)
	}
	if autoDefrag {
		for _, ep := range clients[0].Endpoints() {
			ctx, cancel = context.WithTimeout(a.ctx, 30*time.Second)
			err := clients[0].Defragment(ctx, ep)
			cancel()
			if err != nil {
				return fail(exitError, err)
			}
			fmt.Fprintf(a.stdout, "Defragmented %q\n", ep)
		}
	}
	if a.ctx.Err() != nil {
		return fail(exitSignal, nil)
	}
	lines, ok := perfVerdict(st, cfg.limit)
	fmt.Fprint(a.stdout, strings.Join(lines, "\n")+"\n")
	if !ok {
		return fail(exitError, nil)
	}
	return nil
}

// runPerfLoad writes keys under prefix at cfg.limit writes per second from cfg.clients
// writers (sharing the clients' connections) for cfg.duration, and measures them.
func runPerfLoad(ctx context.Context, clients []*quicclient.Client, cfg perfConfig, prefix string) perfStats {
	ctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	tokens := make(chan struct{}, cfg.clients)
	go func() {
		defer close(tokens)
		t := time.NewTicker(time.Second / time.Duration(max(cfg.limit, 1)))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				select {
				case tokens <- struct{}{}:
				default: // writers are behind: the rate shows it
				}
			}
		}
	}()
	value := strings.Repeat("v", 1024)
	var mu sync.Mutex
	var lats []float64
	errs := map[string]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for i := range cfg.clients {
		c := clients[i%len(clients)]
		wg.Go(func() {
			for range tokens {
				var k [128]byte
				_, _ = rand.Read(k[:])
				t0 := time.Now()
				rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				_, err := c.Put(rctx, prefix+hex.EncodeToString(k[:]), value)
				rcancel()
				lat := time.Since(t0).Seconds()
				mu.Lock()
				if err != nil {
					errs[err.Error()]++
				} else {
					lats = append(lats, lat)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return perfSummary(lats, errs, time.Since(start))
}

func perfSummary(lats []float64, errs map[string]int, elapsed time.Duration) perfStats {
	st := perfStats{errors: errs}
	if len(lats) == 0 || elapsed <= 0 {
		return st
	}
	st.rps = float64(len(lats)) / elapsed.Seconds()
	var sum float64
	for _, l := range lats {
		sum += l
		st.slowest = max(st.slowest, l)
	}
	mean := sum / float64(len(lats))
	var sq float64
	for _, l := range lats {
		sq += (l - mean) * (l - mean)
	}
	st.stddev = math.Sqrt(sq / float64(len(lats)))
	return st
}

// perfVerdict judges a check as etcdctl does: the throughput within 90% of the load's
// rate, no request slower than half a second, a standard deviation under 100 ms, no error.
func perfVerdict(st perfStats, limit int) ([]string, bool) {
	var lines []string
	ok := true
	if st.rps/float64(limit) <= 0.9 {
		lines = append(lines, fmt.Sprintf("FAIL: Throughput too low: %d writes/s", int(st.rps)+1))
		ok = false
	} else {
		lines = append(lines, fmt.Sprintf("PASS: Throughput is %d writes/s", int(st.rps)+1))
	}
	if st.slowest > 0.5 {
		lines = append(lines, fmt.Sprintf("Slowest request took too long: %fs", st.slowest))
		ok = false
	} else {
		lines = append(lines, fmt.Sprintf("PASS: Slowest request took %fs", st.slowest))
	}
	if st.stddev > 0.1 {
		lines = append(lines, fmt.Sprintf("Stddev too high: %fs", st.stddev))
		ok = false
	} else {
		lines = append(lines, fmt.Sprintf("PASS: Stddev is %fs", st.stddev))
	}
	if len(st.errors) > 0 {
		lines = append(lines, "FAIL: too many errors")
		msgs := make([]string, 0, len(st.errors))
		for m := range st.errors {
			msgs = append(msgs, m)
		}
		sort.Strings(msgs)
		for _, m := range msgs {
			lines = append(lines, fmt.Sprintf("FAIL: ERROR(%v) -> %d", m, st.errors[m]))
		}
		ok = false
	}
	if ok {
		lines = append(lines, "PASS")
	} else {
		lines = append(lines, "FAIL")
	}
	return lines, ok
}
