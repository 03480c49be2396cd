package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"etcq.dev/etcq/bench"
)

// benchFlags are the flags every bench subcommand shares, as etcd's benchmark's.
type benchFlags struct {
	conns, clients, total   int
	keySize, valSize        int
	keySpaceSize            int
	sequentialKeys          bool
	targetLeader            bool
	rate                    float64
	deadline                time.Duration
	json                    bool
	csvFile, pngFile        string
	pngWidth, pngHeight     int
	cpuProfile              string
	noProgress              bool
	consistency             string
	readRatio               float64
	txnOps                  int
	watchers, watchedKeys   int
	leaseTTL                int64
	rangeLimit              int64
	rangeCountOnly          bool
	watchDrain              time.Duration
	changedRate, changedTot bool
}

func (a *app) benchCommand() *cobra.Command {
	var f benchFlags
	bc := &cobra.Command{
		Use:   "bench <subcommand>",
		Short: "Benchmark an etcq cluster with etcd's benchmark workloads",
		Long: `Benchmark an etcq cluster with the workloads and flags of etcd's benchmark tool.

--conns clients (QUIC connections) are opened and --clients goroutines issue requests back
to back over them, until --total requests have been issued. Each prints a report: requests
per second and the latency distribution (text as etcd's benchmark, or --json), and can
write the latency of each second as CSV (--csv) and as a plot (--png). Keys are
zero-padded decimal numbers of --key-size bytes below --key-space-size.`,
	}
	pf := bc.PersistentFlags()
	pf.IntVar(&f.conns, "conns", 1, "Total number of connections (quicclient.Clients)")
	pf.IntVar(&f.clients, "clients", 1, "Total number of concurrent clients, spread over the connections")
	pf.IntVar(&f.total, "total", 10000, "Total number of requests")
	pf.IntVar(&f.keySize, "key-size", 8, "Key size of each request, in bytes")
	pf.IntVar(&f.valSize, "val-size", 8, "Value size of each request, in bytes")
	pf.IntVar(&f.keySpaceSize, "key-space-size", 1, "Maximum possible keys")
	pf.BoolVar(&f.sequentialKeys, "sequential-keys", false, "Use sequential keys rather than random ones")
	pf.BoolVar(&f.targetLeader, "target-leader", false, "Send every request to the leader")
	pf.Float64Var(&f.rate, "rate", 0, "Maximum requests per second (0 is no limit)")
	pf.DurationVar(&f.deadline, "deadline", 0, "Stop the measured phase after this long (0 is no limit)")
	pf.BoolVar(&f.json, "json", false, "Print the report as JSON (as -w json)")
	pf.StringVar(&f.csvFile, "csv", "", "Write the latency of each second (count, avg, p50, p99) to this CSV file")
	pf.StringVar(&f.pngFile, "png", "", "Plot the latency of each second to this PNG file")
	pf.IntVar(&f.pngWidth, "png-width", bench.PlotWidth, "Width of the --png plot, in pixels")
	pf.IntVar(&f.pngHeight, "png-height", bench.PlotHeight, "Height of the --png plot, in pixels")
	pf.StringVar(&f.cpuProfile, "cpuprofile", "", "Write a CPU profile of this client during the run to this file")
	pf.BoolVar(&f.noProgress, "no-progress", false, "Do not report progress on stderr")

	run := func(name string, do func(ctx context.Context, cfg bench.Config) (*bench.Report, error)) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			f.changedRate = cmd.Flags().Changed("rate")
			f.changedTot = cmd.Flags().Changed("total")
			return a.runBench(&f, name, do)
		}
	}

	put := &cobra.Command{
		Use:   "put",
		Short: "Benchmark put",
		Args:  cobra.NoArgs,
		RunE:  run("put", bench.Put),
	}

	rng := &cobra.Command{
		Use:   "range [key [range_end]]",
		Short: "Benchmark range",
		Long: `Benchmark range: every request reads key (or [key, range_end)). Without a key, key 0 of
the key space ("00000000" with 8-byte keys) is written with a --val-size value and read.`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var o bench.RangeOptions
			if len(args) > 0 {
				o.Key = args[0]
			}
			if len(args) > 1 {
				o.End = args[1]
			}
			o.Consistency = bench.Consistency(f.consistency)
			o.Limit, o.CountOnly = f.rangeLimit, f.rangeCountOnly
			return run("range", func(ctx context.Context, cfg bench.Config) (*bench.Report, error) {
				return bench.Range(ctx, cfg, o)
			})(cmd, args)
		},
	}
	rng.Flags().StringVar(&f.consistency, "consistency", "l", "Linearizable(l) or Serializable(s)")
	rng.Flags().Int64Var(&f.rangeLimit, "limit", 0, "Maximum number of keys each request returns (0 is no limit)")
	rng.Flags().BoolVar(&f.rangeCountOnly, "count-only", false, "Only return the count of the keys")

	txnPut := &cobra.Command{
		Use:   "txn-put",
		Short: "Benchmark txn-put",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return run("txn-put", func(ctx context.Context, cfg bench.Config) (*bench.Report, error) {
				return bench.TxnPut(ctx, cfg, bench.TxnPutOptions{TxnOps: f.txnOps})
			})(cmd, args)
		},
	}
	txnPut.Flags().IntVar(&f.txnOps, "txn-ops", 1, "Number of puts per txn")

	watchCmd := func(name, short, long string) *cobra.Command {
		c := &cobra.Command{
			Use:   name,
			Short: short,
			Long:  long,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				return run(name, func(ctx context.Context, cfg bench.Config) (*bench.Report, error) {
					if name == "watch-latency" {
						// etcd's watch-latency: 1000 puts at 100 per second.
						if !f.changedRate {
							cfg.Rate = 100
						}
						if !f.changedTot {
							cfg.Total = 1000
						}
					}
					return bench.Watch(ctx, cfg, bench.WatchOptions{
						Watchers: f.watchers, WatchedKeyTotal: f.watchedKeys, Drain: f.watchDrain,
					}, name)
				})(cmd, args)
			},
		}
		c.Flags().IntVar(&f.watchers, "watchers", 100, "Number of watchers, spread over the connections")
		c.Flags().IntVar(&f.watchedKeys, "watched-key-total", 1, "Number of distinct keys watched (and put)")
		c.Flags().DurationVar(&f.watchDrain, "drain", 10*time.Second, "After the last put, how long to wait without an event before counting the missing ones as errors")
		return c
	}
	watch := watchCmd("watch", "Benchmark watch: events per second delivered to N watchers",
		`Benchmark watch: --watchers watches on --watched-key-total keys, then --total puts of those
keys by --clients clients. Reports the events delivered per second and each event's latency
from the start of its put to its delivery.`)
	watchLat := watchCmd("watch-latency", "Benchmark watch latency: put-to-event latency at a steady put rate",
		`Benchmark watch latency: as watch, at --rate puts per second (default 100, and --total 1000
unless given): the latency from the start of each put to the delivery of its event to each
watcher.`)

	lease := &cobra.Command{
		Use:   "lease-keepalive",
		Short: "Benchmark lease keepalive",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return run("lease-keepalive", func(ctx context.Context, cfg bench.Config) (*bench.Report, error) {
				return bench.LeaseKeepalive(ctx, cfg, bench.LeaseOptions{TTL: f.leaseTTL})
			})(cmd, args)
		},
	}
	lease.Flags().Int64Var(&f.leaseTTL, "ttl", 100, "TTL of the leases kept alive, in seconds")

	mixed := &cobra.Command{
		Use:   "mixed",
		Short: "Benchmark a mix of reads and writes",
		Long: `Benchmark a mix of reads and writes: each request is a get with probability --read-ratio and
a put otherwise, of keys of the key space. Reads and writes are also reported apart.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return run("mixed", func(ctx context.Context, cfg bench.Config) (*bench.Report, error) {
				return bench.Mixed(ctx, cfg, bench.MixedOptions{ReadRatio: f.readRatio, Consistency: bench.Consistency(f.consistency)})
			})(cmd, args)
		},
	}
	mixed.Flags().Float64Var(&f.readRatio, "read-ratio", 0.9, "Share of requests that are reads (0 to 1)")
	mixed.Flags().StringVar(&f.consistency, "consistency", "l", "Linearizable(l) or Serializable(s) reads")

	bc.AddCommand(put, rng, txnPut, watch, watchLat, lease, mixed)
	return bc
}

// runBench runs one workload with the shared flags and prints its report.
func (a *app) runBench(f *benchFlags, name string, do func(context.Context, bench.Config) (*bench.Report, error)) error {
	if err := a.checkGlobal(); err != nil {
		return err
	}
	eps, err := a.clientEndpoints()
	if err != nil {
		return err
	}
	conf, err := a.tlsConfig()
	if err != nil {
		return fail(exitBadArgs, err)
	}
	if f.conns < 1 || f.clients < 1 || f.total < 1 {
		return failf(exitBadArgs, "--conns, --clients and --total must be at least 1")
	}
	cfg := bench.Config{
		Endpoints: eps, TLS: conf, DialTimeout: a.g.dialTimeout,
		Conns: f.conns, Clients: f.clients, Total: f.total,
		KeySize: f.keySize, ValSize: f.valSize, KeySpaceSize: f.keySpaceSize,
		SequentialKeys: f.sequentialKeys, TargetLeader: f.targetLeader,
		Rate: f.rate, Deadline: f.deadline,
	}
	if !f.noProgress {
		cfg.Progress, cfg.ProgressTTY = a.stderr, isTerminal(a.stderr)
	}
	cfg.Logger = a.logger()
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return fail(exitIO, fmt.Errorf("cpu profile: %w", err))
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fail(exitIO, fmt.Errorf("cpu profile: %w", err))
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := do(a.ctx, cfg)
	switch {
	case errors.Is(err, bench.ErrConfig):
		return fail(exitBadArgs, err)
	case errors.Is(err, bench.ErrConnect):
		return fail(exitBadConnection, err)
	case err != nil && a.ctx.Err() != nil:
		return fail(exitSignal, nil)
	case err != nil:
		return fail(exitError, err)
	}
	if f.json || a.g.writeOut == "json" {
		err = rep.WriteJSON(a.stdout)
	} else {
		err = rep.WriteText(a.stdout)
	}
	if err != nil {
		return fail(exitIO, err)
	}
	if f.csvFile != "" {
		if err := writeFile(f.csvFile, rep.WriteCSV); err != nil {
			return fail(exitIO, err)
		}
	}
	if f.pngFile != "" {
		if err := writeFile(f.pngFile, func(w io.Writer) error { return rep.WritePNG(w, f.pngWidth, f.pngHeight) }); err != nil {
			return fail(exitIO, err)
		}
	}
	switch {
	case rep.Interrupted:
		return fail(exitSignal, nil)
	case rep.OK == 0:
		return failf(exitError, "bench %s: no request succeeded", name)
	}
	return nil
}

// writeFile creates path and writes it with write.
func writeFile(path string, write func(io.Writer) error) error {
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := write(out); err != nil {
		out.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// isTerminal reports whether w is a terminal, where progress is a bar redrawn in place:
// a character device other than /dev/null.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}
