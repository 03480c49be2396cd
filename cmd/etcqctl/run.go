package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes, as etcdctl's.
const (
	exitSuccess       = 0
	exitError         = 1
	exitBadConnection = 2
	exitInvalidInput  = 3 // malformed txn or watch input
	exitBadFeature    = 4 // a valid flag with a value etcqctl does not support
	exitInterrupted   = 5 // a watch or snapshot the server or the network cut short
	exitIO            = 6
	exitBadArgs       = 128
)

// exitSignal is the code of a command stopped by SIGINT or SIGTERM: what a shell reports
// for etcdctl, which dies of the signal.
const exitSignal = 130

// codedError ends a command with an exit code. A nil err exits silently (the command has
// already said what went wrong); otherwise "Error: <err>" goes to stderr, as etcdctl's
// ExitWithError.
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *codedError) Unwrap() error { return e.err }

// fail ends the command with code and err.
func fail(code int, err error) error { return &codedError{code: code, err: err} }

// failf ends the command with code and a formatted error.
func failf(code int, format string, args ...any) error {
	return fail(code, fmt.Errorf(format, args...))
}

// env is the environment the CLI reads (ETCQCTL_* variables) and hands to the commands it
// runs (watch and lock with a command).
type env struct {
	lookup  func(string) (string, bool)
	environ func() []string
}

func osEnv() env { return env{lookup: os.LookupEnv, environ: os.Environ} }

// run runs etcqctl with args (without the program name) in this process and returns its
// exit code. Everything it prints goes to stdout and stderr; it reads stdin (txn, put
// without a value, watch -i).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runContext(context.Background(), osEnv(), args, stdin, stdout, stderr)
}

// runContext is run with a context whose end stops long-running commands (watch, lock,
// elect, lease keep-alive) as SIGINT stops etcdctl, and an environment.
func runContext(ctx context.Context, e env, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{ctx: ctx, env: e, stdin: stdin, stdout: stdout, stderr: stderr}
	defer a.endSession()
	root := a.rootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitSuccess
	}
	var ee *codedError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "Error:", ee.err)
		}
		return ee.code
	}
	// cobra's own errors: an unknown command or flag, a malformed flag value.
	fmt.Fprintln(stderr, "Error:", err)
	fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	return exitError
}

// app is one run of the CLI: its streams, its global flags and its printer.
type app struct {
	ctx    context.Context
	env    env
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer

	g         globalFlags
	rootFlags *pflag.FlagSet // the global flags, once parsed
	display   printer
	session   authSession // who the clients act as (--user)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "etcqctl",
		Short:         "A simple command line client for etcq.",
		Long:          "etcqctl is etcq's command line client. It speaks etcdctl v3's commands, flags and output formats.",
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setup(cmd)
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	a.g.register(root.PersistentFlags())
	root.AddCommand(
		a.getCommand(),
		a.putCommand(),
		a.delCommand(),
		a.txnCommand(),
		a.compactionCommand(),
		a.watchCommand(),
		a.leaseCommand(),
		a.memberCommand(),
		a.endpointCommand(),
		a.moveLeaderCommand(),
		a.defragCommand(),
		a.alarmCommand(),
		a.snapshotCommand(),
		a.lockCommand(),
		a.electCommand(),
		a.checkCommand(),
		a.benchCommand(),
		a.versionCommand(),
		a.certsCommand(),
	)
	root.AddCommand(a.authCommands()...)
	return root
}
