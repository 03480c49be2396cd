// Command etcqctl is the command-line client of etcq, compatible with etcdctl v3: the same
// commands, flags, output formats (-w simple|json|table|fields) and exit codes, with
// ETCQCTL_* environment variables in place of ETCDCTL_*. It talks to members over QUIC
// with mutual TLS (--cacert, --cert, --key) through package quicclient.
//
// Where etcq differs from etcd the command says so: http:// endpoints are refused (etcq
// speaks only mutual TLS) and -w protobuf is refused (etcq speaks msgpack). A command runs
// as the CN of the client certificate, or as the user --user names (auth.go).
//
// Layout: run (run.go) builds a fresh command tree per call, so tests drive the CLI
// in-process; each command group lives in its own file (kv.go, txn.go, watch.go, ...);
// the printers, one per output format, in printer_*.go.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runContext(ctx, osEnv(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
