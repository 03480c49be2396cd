// Command etcq is the etcq daemon: one member of an etcq cluster. It takes etcd's flag
// names (and ETCQ_* environment variables, and a YAML --config-file), builds the member,
// its peer transport and its client service, and runs until SIGINT or SIGTERM, when it
// drains its clients and hands leadership over before it exits.
//
// It holds no logic of its own: flags and files become node.Config, certs.Reloader,
// quicpeer.Config and node.ServiceConfig.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the daemon; it returns the process's exit code.
func run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig(args, env, stderr)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	log, err := newLogger(cfg.LogLevel, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	srv, err := start(cfg, log, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "etcq: cannot start: %v\n", err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down: draining clients, handing leadership over")
	case <-srv.member.Removed():
		log.Warn("this member was removed from the cluster; shutting down")
	}
	srv.stop()
	return 0
}

func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: use debug, info, warn or error", errUsage, level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
