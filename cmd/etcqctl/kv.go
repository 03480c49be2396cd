package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/wire"
)

// getOptions are the flags of get (and of a get in a txn).
type getOptions struct {
	consistency    string
	order, sortBy  string
	limit, rev     int64
	prefix         bool
	fromKey        bool
	keysOnly       bool
	countOnly      bool
	printValueOnly bool
}

func (o *getOptions) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.consistency, "consistency", "l", "Linearizable(l) or Serializable(s)")
	fs.StringVar(&o.order, "order", "", "Order of results; ASCEND or DESCEND (ASCEND by default)")
	fs.StringVar(&o.sortBy, "sort-by", "", "Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION")
	fs.Int64Var(&o.limit, "limit", 0, "Maximum number of results")
	fs.BoolVar(&o.prefix, "prefix", false, "Get keys with matching prefix")
	fs.BoolVar(&o.fromKey, "from-key", false, "Get keys that are greater than or equal to the given key using byte compare")
	fs.Int64Var(&o.rev, "rev", 0, "Specify the kv revision")
	fs.BoolVar(&o.keysOnly, "keys-only", false, "Get only the keys")
	fs.BoolVar(&o.countOnly, "count-only", false, "Get only the count")
	fs.BoolVar(&o.printValueOnly, "print-value-only", false, `Only write values when using the "simple" output format`)
}

// op turns get's arguments and flags into a key and options.
func (o *getOptions) op(args []string) (string, []quicclient.OpOption, error) {
	if len(args) == 0 {
		return "", nil, failf(exitBadArgs, "get command needs one argument as key and an optional argument as range_end")
	}
	if o.prefix && o.fromKey {
		return "", nil, failf(exitBadArgs, "`--prefix` and `--from-key` cannot be set at the same time, choose one")
	}
	if o.keysOnly && o.countOnly {
		return "", nil, failf(exitBadArgs, "`--keys-only` and `--count-only` cannot be set at the same time, choose one")
	}
	var opts []quicclient.OpOption
	switch o.consistency {
	case "s":
		opts = append(opts, quicclient.WithSerializable())
	case "l":
	default:
		return "", nil, failf(exitBadFeature, "unknown consistency flag %q", o.consistency)
	}
	key := args[0]
	if len(args) > 1 {
		if o.prefix || o.fromKey {
			return "", nil, failf(exitBadArgs, "too many arguments, only accept one argument when `--prefix` or `--from-key` is set")
		}
		opts = append(opts, quicclient.WithRange(args[1]))
	}
	opts = append(opts, quicclient.WithLimit(o.limit))
	if o.rev > 0 {
		opts = append(opts, quicclient.WithRev(o.rev))
	}
	order := wire.SortNone
	switch strings.ToUpper(o.order) {
	case "ASCEND":
		order = wire.SortAscend
	case "DESCEND":
		order = wire.SortDescend
	case "":
	default:
		return "", nil, failf(exitBadFeature, "bad sort order %v", o.order)
	}
	target := wire.SortByKey
	switch strings.ToUpper(o.sortBy) {
	case "CREATE":
		target = wire.SortByCreate
	case "KEY":
		target = wire.SortByKey
	case "MODIFY":
		target = wire.SortByMod
	case "VALUE":
		target = wire.SortByValue
	case "VERSION":
		target = wire.SortByVersion
	case "":
	default:
		return "", nil, failf(exitBadFeature, "bad sort target %v", o.sortBy)
	}
	if target == wire.SortByKey && order == wire.SortAscend {
		order = wire.SortNone // keys come in ascending order anyway
	}
	opts = append(opts, quicclient.WithSort(target, order))
	if o.prefix {
		if key == "" {
			key = "\x00"
			opts = append(opts, quicclient.WithFromKey())
		} else {
			opts = append(opts, quicclient.WithPrefix())
		}
	}
	if o.fromKey {
		if key == "" {
			key = "\x00"
		}
		opts = append(opts, quicclient.WithFromKey())
	}
	if o.keysOnly {
		opts = append(opts, quicclient.WithKeysOnly())
	}
	if o.countOnly {
		opts = append(opts, quicclient.WithCountOnly())
	}
	return key, opts, nil
}

func (a *app) getCommand() *cobra.Command {
	var o getOptions
	cmd := &cobra.Command{
		Use:   "get [options] <key> [range_end]",
		Short: "Gets the key or a range of keys",
		RunE: func(cmd *cobra.Command, args []string) error {
			key, opts, err := o.op(args)
			if err != nil {
				return err
			}
			c, ctx, done, err := a.dialCommand()
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.Get(ctx, key, opts...)
			if err != nil {
				return fail(exitError, err)
			}
			if o.countOnly {
				if _, fields := a.display.(*fieldsPrinter); !fields {
					return failf(exitBadArgs, "--count-only is only for `--write-out=fields`")
				}
			}
			if o.printValueOnly {
				sp, simple := a.display.(*simplePrinter)
				if !simple {
					return failf(exitBadArgs, "print-value-only is only for `--write-out=simple`")
				}
				sp.valueOnly = true
			}
			return a.display.Get(resp)
		},
	}
	o.register(cmd.Flags())
	return cmd
}

// putOptions are the flags of put (and of a put in a txn).
type putOptions struct {
	lease       string
	prevKV      bool
	ignoreValue bool
	ignoreLease bool
}

func (o *putOptions) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.lease, "lease", "0", "lease ID (in hexadecimal) to attach to the key")
	fs.BoolVar(&o.prevKV, "prev-kv", false, "return the previous key-value pair before modification")
	fs.BoolVar(&o.ignoreValue, "ignore-value", false, "updates the key using its current value")
	fs.BoolVar(&o.ignoreLease, "ignore-lease", false, "updates the key using its current lease")
}

const putArgsErr = "put command needs 1 argument and input from stdin or 2 arguments"

// op turns put's arguments and flags into a key, a value (from stdin when not given) and
// options.
func (o *putOptions) op(args []string, stdin io.Reader) (string, string, []quicclient.OpOption, error) {
	if len(args) == 0 {
		return "", "", nil, failf(exitBadArgs, putArgsErr)
	}
	key := args[0]
	if o.ignoreValue && len(args) > 1 {
		return "", "", nil, failf(exitBadArgs, "put command needs only 1 argument when 'ignore-value' is set")
	}
	var value string
	if !o.ignoreValue {
		v, err := argOrStdin(args, stdin, 1)
		if err != nil {
			return "", "", nil, failf(exitBadArgs, putArgsErr)
		}
		value = v
	}
	id, err := strconv.ParseInt(o.lease, 16, 64)
	if err != nil {
		return "", "", nil, failf(exitBadArgs, "bad lease ID (%v), expecting ID in Hex", err)
	}
	var opts []quicclient.OpOption
	if id != 0 {
		opts = append(opts, quicclient.WithLease(id))
	}
	if o.prevKV {
		opts = append(opts, quicclient.WithPrevKV())
	}
	if o.ignoreValue {
		opts = append(opts, quicclient.WithIgnoreValue())
	}
	if o.ignoreLease {
		opts = append(opts, quicclient.WithIgnoreLease())
	}
	return key, value, opts, nil
}

// argOrStdin returns args[i], or all of stdin when there is no such argument.
func argOrStdin(args []string, stdin io.Reader, i int) (string, error) {
	if i < len(args) {
		return args[i], nil
	}
	if stdin == nil {
		return "", errors.New("no available argument and stdin")
	}
	b, err := io.ReadAll(stdin)
	if err != nil || len(b) == 0 {
		return "", errors.New("no available argument and stdin")
	}
	return string(b), nil
}

func (a *app) putCommand() *cobra.Command {
	var o putOptions
	cmd := &cobra.Command{
		Use:   "put [options] <key> <value> (<value> can also be given from stdin)",
		Short: "Puts the given key into the store",
		Long: `
Puts the given key into the store.

When <value> begins with '-', <value> is interpreted as a flag.
Insert '--' for workaround:

$ put <key> -- <value>
$ put -- <key> <value>

If <value> isn't given as a command line argument and '--ignore-value' is not specified,
this command tries to read the value from standard input.

For example,
$ cat file | put <key>
will store the content of the file to <key>.
`,
		RunE: func(cmd *cobra.Command, args []string) error {
			key, value, opts, err := o.op(args, a.stdin)
			if err != nil {
				return err
			}
			c, ctx, done, err := a.dialCommand()
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.Put(ctx, key, value, opts...)
			if err != nil {
				return fail(exitError, err)
			}
			return a.display.Put(resp)
		},
	}
	o.register(cmd.Flags())
	return cmd
}

// delOptions are the flags of del (and of a del in a txn).
type delOptions struct {
	prefix  bool
	prevKV  bool
	fromKey bool
	rng     bool
}

func (o *delOptions) register(fs *pflag.FlagSet) {
	fs.BoolVar(&o.prefix, "prefix", false, "delete keys with matching prefix")
	fs.BoolVar(&o.prevKV, "prev-kv", false, "return deleted key-value pairs")
	fs.BoolVar(&o.fromKey, "from-key", false, "delete keys that are greater than or equal to the given key using byte compare")
	fs.BoolVar(&o.rng, "range", false, "delete range of keys (accepted for compatibility: a range_end argument is enough)")
}

func (o *delOptions) op(args []string) (string, []quicclient.OpOption, error) {
	if len(args) == 0 || len(args) > 2 {
		return "", nil, failf(exitBadArgs, "del command needs one argument as key and an optional argument as range_end")
	}
	if o.prefix && o.fromKey {
		return "", nil, failf(exitBadArgs, "`--prefix` and `--from-key` cannot be set at the same time, choose one")
	}
	var opts []quicclient.OpOption
	key := args[0]
	if len(args) > 1 {
		if o.prefix || o.fromKey {
			return "", nil, failf(exitBadArgs, "too many arguments, only accept one argument when `--prefix` or `--from-key` is set")
		}
		opts = append(opts, quicclient.WithRange(args[1]))
	}
	if o.prefix {
		if key == "" {
			key = "\x00"
			opts = append(opts, quicclient.WithFromKey())
		} else {
			opts = append(opts, quicclient.WithPrefix())
		}
	}
	if o.prevKV {
		opts = append(opts, quicclient.WithPrevKV())
	}
	if o.fromKey {
		if key == "" {
			key = "\x00"
		}
		opts = append(opts, quicclient.WithFromKey())
	}
	return key, opts, nil
}

func (a *app) delCommand() *cobra.Command {
	var o delOptions
	cmd := &cobra.Command{
		Use:   "del [options] <key> [range_end]",
		Short: "Removes the specified key or range of keys [key, range_end)",
		RunE: func(cmd *cobra.Command, args []string) error {
			key, opts, err := o.op(args)
			if err != nil {
				return err
			}
			c, ctx, done, err := a.dialCommand()
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.Delete(ctx, key, opts...)
			if err != nil {
				return fail(exitError, err)
			}
			return a.display.Del(resp)
		},
	}
	o.register(cmd.Flags())
	return cmd
}

func (a *app) compactionCommand() *cobra.Command {
	var physical bool
	cmd := &cobra.Command{
		Use:   "compaction [options] <revision>",
		Short: "Compacts the event history in etcq",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return failf(exitBadArgs, "compaction command needs 1 argument")
			}
			rev, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fail(exitError, err)
			}
			var opts []quicclient.CompactOption
			if physical {
				opts = append(opts, quicclient.WithCompactPhysical())
			}
			c, ctx, done, err := a.dialCommand()
			if err != nil {
				return err
			}
			defer done()
			_, err = c.Compact(ctx, rev, opts...)
			if err != nil {
				return fail(exitError, err)
			}
			fmt.Fprintln(a.stdout, "compacted revision", rev)
			return nil
		},
	}
	cmd.Flags().BoolVar(&physical, "physical", false, "'true' to wait for compaction to physically remove all old revisions")
	return cmd
}
