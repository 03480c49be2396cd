package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"etcq.dev/etcq/node"
)

// startCompactor runs etcd's auto-compaction on the leader: periodic keeps the history of
// the last retention (a duration, or a number of hours), revision keeps the last retention
// revisions. An empty or zero retention turns it off.
func startCompactor(ctx context.Context, m *node.Member, mode, retention string, log *slog.Logger) error {
	if retention == "" || retention == "0" {
		return nil
	}
	switch mode {
	case "periodic":
		d, err := time.ParseDuration(retention)
		if err != nil {
			hours, herr := strconv.Atoi(retention)
			if herr != nil {
				return fmt.Errorf("%w: --auto-compaction-retention %q: a duration (1h30m) or a number of hours", errUsage, retention)
			}
			d = time.Duration(hours) * time.Hour
		}
		go periodicCompaction(ctx, m, d, log)
	case "revision":
		n, err := strconv.ParseInt(retention, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: --auto-compaction-retention %q: a number of revisions", errUsage, retention)
		}
		go revisionCompaction(ctx, m, n, 5*time.Minute, log)
	default:
		return fmt.Errorf("%w: --auto-compaction-mode %q: use periodic or revision", errUsage, mode)
	}
	return nil
}

// periodicCompaction samples the revision every retention/10 and compacts to the sample
// taken retention ago (as etcd).
func periodicCompaction(ctx context.Context, m *node.Member, retention time.Duration, log *slog.Logger) {
	interval := max(retention/10, time.Second)
	type sample struct {
		at  time.Time
		rev int64
	}
	var samples []sample
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			samples = append(samples, sample{now, m.Store().Rev()})
			cut := -1
			for i, s := range samples {
				if now.Sub(s.at) >= retention {
					cut = i
				}
			}
			if cut < 0 {
				continue
			}
			rev := samples[cut].rev
			samples = samples[cut+1:]
			compact(ctx, m, rev, log)
		}
	}
}

// revisionCompaction compacts to current-retention every interval.
func revisionCompaction(ctx context.Context, m *node.Member, retention int64, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if rev := m.Store().Rev() - retention; rev > m.Store().CompactRev() {
				compact(ctx, m, rev, log)
			}
		}
	}
}

func compact(ctx context.Context, m *node.Member, rev int64, log *slog.Logger) {
	if !m.IsLeader() || rev <= m.Store().CompactRev() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := m.Compact(ctx, rev); err != nil {
		log.Warn("auto-compaction failed", "rev", rev, "err", err)
		return
	}
	log.Info("auto-compacted", "rev", rev)
}
