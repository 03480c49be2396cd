package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"etcq.dev/etcq/quicclient"
)

func (a *app) txnCommand() *cobra.Command {
	var interactive bool
	cmd := &cobra.Command{
		Use:   "txn [options]",
		Short: "Txn processes all the requests in one transaction",
		Long: `Txn reads multiple requests from standard input and applies them as a single atomic transaction.

A transaction consists of three components:
1) a list of conditions,
2) a list of requests to apply if all the conditions are true,
3) a list of requests to apply if any condition is false.

Each list ends with an empty line. Example:

---
etcqctl txn -i
# compares:
mod("key1") > "0"

# success requests (get, put, del):
put key1 "overwrote-key1"

# failure requests (get, put, del):
put key1 "created-key1"
put key2 "some extra key"

---

Compares: value("key") (or val), version("key") (ver), create("key") (c), mod("key") (m)
and lease("key"), then =, !=, < or >, then a quoted value (a number for all but value;
a lease ID in hexadecimal for lease).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 0 {
				return failf(exitBadArgs, "txn command does not accept argument")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			r := bufio.NewReader(a.stdin)
			prompt := func(s string) {
				if interactive {
					fmt.Fprintln(a.stdout, s)
				}
			}
			prompt("compares:")
			cmps, err := readCompares(r)
			if err != nil {
				return fail(exitInvalidInput, err)
			}
			prompt("success requests (get, put, del):")
			thenOps, err := readOps(r)
			if err != nil {
				return fail(exitInvalidInput, err)
			}
			prompt("failure requests (get, put, del):")
			elseOps, err := readOps(r)
			if err != nil {
				return fail(exitInvalidInput, err)
			}
			ctx, cancel := a.commandCtx()
			resp, err := c.Txn(ctx).If(cmps...).Then(thenOps...).Else(elseOps...).Commit()
			cancel()
			if err != nil {
				return fail(exitError, err)
			}
			return a.display.Txn(resp)
		},
	}
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "Input transaction in interactive mode")
	return cmd
}

// readLines reads the lines of one section of a txn: up to an empty line or the end of the
// input (etcdctl insists on the empty line; etcqctl also takes the end of input).
func readLines(r *bufio.Reader, each func(string) error) error {
	for {
		line, err := r.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		line = strings.TrimSpace(line)
		if line == "" {
			return nil
		}
		if perr := each(line); perr != nil {
			return perr
		}
		if err != nil {
			return nil // the end of the input ends the section
		}
	}
}

func readCompares(r *bufio.Reader) ([]quicclient.Cmp, error) {
	var cmps []quicclient.Cmp
	err := readLines(r, func(line string) error {
		c, err := parseCompare(line)
		if err != nil {
			return err
		}
		cmps = append(cmps, c)
		return nil
	})
	return cmps, err
}

func readOps(r *bufio.Reader) ([]quicclient.Op, error) {
	var ops []quicclient.Op
	err := readLines(r, func(line string) error {
		op, err := parseRequestOp(line)
		if err != nil {
			return err
		}
		ops = append(ops, op)
		return nil
	})
	return ops, err
}

// parseCompare parses one compare of a txn: target("key") op "value".
func parseCompare(line string) (quicclient.Cmp, error) {
	target, rest, ok := strings.Cut(line, "(")
	if !ok {
		return quicclient.Cmp{}, fmt.Errorf("malformed comparison: %s", line)
	}
	var key, op, val string
	n, err := fmt.Sscanf(rest, "%q) %s %q", &key, &op, &val)
	if n != 3 {
		return quicclient.Cmp{}, fmt.Errorf("malformed comparison: %s; got %s(%q) %s %q", line, target, key, op, val)
	}
	if err != nil {
		return quicclient.Cmp{}, fmt.Errorf("malformed comparison: %s (%w)", line, err)
	}
	switch op {
	case "=", "!=", "<", ">":
	default:
		return quicclient.Cmp{}, fmt.Errorf("malformed comparison: %s (unknown operator %s; use =, !=, < or >)", line, op)
	}
	var t quicclient.CmpTarget
	base := 10
	switch target {
	case "ver", "version":
		t = quicclient.Version(key)
	case "c", "create":
		t = quicclient.CreateRevision(key)
	case "m", "mod":
		t = quicclient.ModRevision(key)
	case "val", "value":
		return quicclient.Compare(quicclient.Value(key), op, val), nil
	case "lease":
		t, base = quicclient.LeaseValue(key), 16
	default:
		return quicclient.Cmp{}, fmt.Errorf("malformed comparison: %s (unknown target %s)", line, target)
	}
	v, err := strconv.ParseInt(val, base, 64)
	if err != nil {
		return quicclient.Cmp{}, fmt.Errorf("invalid txn compare request: %s (%w)", line, err)
	}
	return quicclient.Compare(t, op, v), nil
}

// parseRequestOp parses one request of a txn: a get, put or del command line with its
// flags.
func parseRequestOp(line string) (quicclient.Op, error) {
	args, err := argify(line)
	if err != nil {
		return quicclient.Op{}, fmt.Errorf("invalid txn request: %s (%w)", line, err)
	}
	if len(args) < 2 {
		return quicclient.Op{}, fmt.Errorf("invalid txn compare request: %s", line)
	}
	var op *quicclient.Op
	var g getOptions
	get := &cobra.Command{Use: "get", RunE: func(_ *cobra.Command, args []string) error {
		key, opts, err := g.op(args)
		if err == nil {
			o := quicclient.OpGet(key, opts...)
			op = &o
		}
		return err
	}}
	g.register(get.Flags())
	var p putOptions
	put := &cobra.Command{Use: "put", RunE: func(_ *cobra.Command, args []string) error {
		key, value, opts, err := p.op(args, nil)
		if err == nil {
			o := quicclient.OpPut(key, value, opts...)
			op = &o
		}
		return err
	}}
	p.register(put.Flags())
	var d delOptions
	del := &cobra.Command{Use: "del", RunE: func(_ *cobra.Command, args []string) error {
		key, opts, err := d.op(args)
		if err == nil {
			o := quicclient.OpDelete(key, opts...)
			op = &o
		}
		return err
	}}
	d.register(del.Flags())
	root := &cobra.Command{Use: "txn", SilenceErrors: true, SilenceUsage: true}
	root.AddCommand(get, put, del)
	root.SetArgs(args)
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	if err := root.Execute(); err != nil || op == nil {
		if err != nil {
			return quicclient.Op{}, fmt.Errorf("invalid txn request: %s (%w)", line, err)
		}
		return quicclient.Op{}, fmt.Errorf("invalid txn request: %s", line)
	}
	return *op, nil
}
