package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"etcq.dev/etcq/quicclient"
)

var (
	errBadArgsNum            = errors.New("bad number of arguments")
	errBadArgsNumConflictEnv = errors.New("bad number of arguments (found conflicting environment key)")
	errBadArgsNumSeparator   = errors.New("bad number of arguments (found separator --, but no commands)")
)

// watchOptions are the flags of watch (and of each watch line of watch -i).
type watchOptions struct {
	rev            int64
	prefix         bool
	interactive    bool
	prevKV         bool
	progressNotify bool
}

func (o *watchOptions) register(fs *pflag.FlagSet) {
	fs.BoolVarP(&o.interactive, "interactive", "i", false, "Interactive mode")
	fs.BoolVar(&o.prefix, "prefix", false, "Watch on a prefix if prefix is set")
	fs.Int64Var(&o.rev, "rev", 0, "Revision to start watching")
	fs.BoolVar(&o.prevKV, "prev-kv", false, "get the previous key-value pair before the event happens")
	fs.BoolVar(&o.progressNotify, "progress-notify", false, "get periodic watch progress notification from server")
}

// watchOp turns a key and an optional range end into a watch's key and options.
func (o *watchOptions) watchOp(args []string) (string, []quicclient.OpOption, error) {
	if len(args) < 1 || len(args) > 2 {
		return "", nil, errBadArgsNum
	}
	opts := []quicclient.OpOption{quicclient.WithRev(o.rev)}
	if len(args) == 2 {
		if o.prefix {
			return "", nil, errors.New("`range_end` and `--prefix` are mutually exclusive")
		}
		opts = append(opts, quicclient.WithRange(args[1]))
	}
	if o.prefix {
		opts = append(opts, quicclient.WithPrefix())
	}
	if o.prevKV {
		opts = append(opts, quicclient.WithPrevKV())
	}
	if o.progressNotify {
		opts = append(opts, quicclient.WithProgressNotify())
	}
	return args[0], opts, nil
}

// watchEnvKey returns the key and range end given by ETCQCTL_WATCH_KEY and
// ETCQCTL_WATCH_RANGE_END.
func (a *app) watchEnvKey() (key, end string, err error) {
	key, _ = a.env.lookup(envPrefix + "_WATCH_KEY")
	end, _ = a.env.lookup(envPrefix + "_WATCH_RANGE_END")
	if key == "" && end != "" {
		return "", "", fmt.Errorf("%s_WATCH_KEY is empty but got %s_WATCH_RANGE_END=%q", envPrefix, envPrefix, end)
	}
	return key, end, nil
}

// splitWatchArgs splits a watch's arguments at "--" (dash is its index, -1 for none) into
// the key arguments and the command to run on each event, and applies the environment's
// key.
func splitWatchArgs(args []string, dash int, envKey, envEnd string) (watchArgs, execArgs []string, err error) {
	watchArgs = args
	if dash >= 0 {
		watchArgs, execArgs = args[:dash], args[dash:]
		if len(execArgs) == 0 {
			return nil, nil, errBadArgsNumSeparator
		}
	}
	if envKey != "" {
		if len(watchArgs) > 0 {
			return nil, nil, errBadArgsNumConflictEnv
		}
		watchArgs = []string{envKey}
		if envEnd != "" {
			watchArgs = append(watchArgs, envEnd)
		}
	}
	if len(watchArgs) < 1 || len(watchArgs) > 2 {
		return nil, nil, errBadArgsNum
	}
	return watchArgs, execArgs, nil
}

func (a *app) watchCommand() *cobra.Command {
	var o watchOptions
	cmd := &cobra.Command{
		Use:   "watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]",
		Short: "Watches events stream on keys or prefixes",
		Long: `Watches events stream on keys or prefixes.

With "-- command args", the command runs once for each event, with the event in its
environment: ETCQ_WATCH_REVISION, ETCQ_WATCH_EVENT_TYPE, ETCQ_WATCH_KEY and
ETCQ_WATCH_VALUE, and the same values under etcdctl's names (ETCD_WATCH_*).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			envKey, envEnd, err := a.watchEnvKey()
			if err != nil {
				return fail(exitBadArgs, err)
			}
			if o.interactive {
				return a.watchInteractive(&o, envKey, envEnd)
			}
			watchArgs, execArgs, err := splitWatchArgs(args, cmd.ArgsLenAtDash(), envKey, envEnd)
			if err != nil {
				return fail(exitBadArgs, err)
			}
			key, opts, err := o.watchOp(watchArgs)
			if err != nil {
				return fail(exitBadArgs, err)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			w := &watchPrinter{a: a}
			if err := w.print(c.Watch(a.ctx, key, opts...), execArgs); err != nil {
				return err
			}
			if a.ctx.Err() != nil {
				return fail(exitSignal, nil)
			}
			return failf(exitInterrupted, "watch is canceled by the server")
		},
	}
	o.register(cmd.Flags())
	return cmd
}

// watchInteractive reads watch and progress requests from stdin, one a line.
func (a *app) watchInteractive(outer *watchOptions, envKey, envEnd string) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	defer c.Close()
	w := &watchPrinter{a: a}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	r := bufio.NewReader(a.stdin)
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return failf(exitInvalidInput, "error reading watch request line: %w", err)
		}
		l = strings.TrimRight(l, "\r\n")
		args, aerr := argify(l)
		if aerr != nil || len(args) < 1 {
			fmt.Fprintf(a.stderr, "Invalid command: %s (watch and progress supported)\n", l)
			continue
		}
		switch args[0] {
		case "watch":
			var o watchOptions
			fs := pflag.NewFlagSet("watch", pflag.ContinueOnError)
			o.register(fs)
			if err := fs.Parse(args[1:]); err != nil {
				fmt.Fprintf(a.stderr, "Invalid command %s (%v)\n", l, err)
				continue
			}
			o.progressNotify = o.progressNotify || outer.progressNotify
			watchArgs, execArgs, err := splitWatchArgs(fs.Args(), fs.ArgsLenAtDash(), envKey, envEnd)
			var key string
			var opts []quicclient.OpOption
			if err == nil {
				key, opts, err = o.watchOp(watchArgs)
			}
			if err != nil {
				fmt.Fprintf(a.stderr, "Invalid command %s (%v)\n", l, err)
				continue
			}
			ch := c.Watch(ctx, key, opts...)
			wg.Go(func() { _ = w.print(ch, execArgs) })
		case "progress":
			pctx, pcancel := a.commandCtx()
			err := c.RequestProgress(pctx)
			pcancel()
			if err != nil {
				return fail(exitError, err)
			}
		default:
			fmt.Fprintf(a.stderr, "Invalid command %s (only support watch)\n", l)
		}
	}
}

// watchPrinter prints watch responses, one response at a time however many watches share
// it, and runs the command given after "--" for each event.
type watchPrinter struct {
	a  *app
	mu sync.Mutex
}

func (w *watchPrinter) print(ch quicclient.WatchChan, execArgs []string) error {
	for resp := range ch {
		if err := w.one(&resp, execArgs); err != nil {
			return err
		}
	}
	return nil
}

func (w *watchPrinter) one(resp *quicclient.WatchResponse, execArgs []string) error {
	a := w.a
	w.mu.Lock()
	defer w.mu.Unlock()
	if resp.Canceled {
		fmt.Fprintf(a.stderr, "watch was canceled (%v)\n", resp.Err())
	}
	if resp.IsProgressNotify() {
		fmt.Fprintf(a.stdout, "progress notify: %d\n", resp.Header.Revision)
	}
	if err := a.display.Watch(resp); err != nil {
		return err
	}
	for i := range resp.Events {
		if err := a.runOnEvent(resp, &resp.Events[i], execArgs); err != nil {
			return err
		}
	}
	return nil
}

// runOnEvent runs the watch's command for one event, with the event in its environment.
// etcdctl quotes the type, key and value (%q); so does etcqctl, under both names.
func (a *app) runOnEvent(resp *quicclient.WatchResponse, ev *quicclient.Event, execArgs []string) error {
	if len(execArgs) == 0 {
		return nil
	}
	cmd := exec.CommandContext(a.ctx, execArgs[0], execArgs[1:]...)
	cmd.Env = a.env.environ()
	for _, prefix := range []string{"ETCQ", "ETCD"} {
		cmd.Env = append(cmd.Env,
			fmt.Sprintf("%s_WATCH_REVISION=%d", prefix, resp.Header.Revision),
			fmt.Sprintf("%s_WATCH_EVENT_TYPE=%q", prefix, eventName(ev.Type)),
			fmt.Sprintf("%s_WATCH_KEY=%q", prefix, ev.KV.Key),
			fmt.Sprintf("%s_WATCH_VALUE=%q", prefix, ev.KV.Value),
		)
	}
	cmd.Stdout, cmd.Stderr = a.stdout, a.stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(a.stderr, "command %q error (%v)\n", execArgs, err)
		return fail(exitError, nil)
	}
	return nil
}
