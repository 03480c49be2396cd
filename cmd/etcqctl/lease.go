package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"etcq.dev/etcq/quicclient"
)

func (a *app) leaseCommand() *cobra.Command {
	lc := &cobra.Command{
		Use:   "lease <subcommand>",
		Short: "Lease related commands",
	}
	lc.AddCommand(a.leaseGrantCommand(), a.leaseRevokeCommand(), a.leaseTimeToLiveCommand(),
		a.leaseListCommand(), a.leaseKeepAliveCommand())
	return lc
}

// leaseID parses a lease ID given in hexadecimal, as etcdctl prints it.
func leaseID(arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 16, 64)
	if err != nil {
		return 0, failf(exitBadArgs, "bad lease ID arg (%v), expecting ID in Hex", err)
	}
	return id, nil
}

func (a *app) leaseGrantCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "grant <ttl>",
		Short: "Creates leases",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return failf(exitBadArgs, "lease grant command needs TTL argument")
			}
			ttl, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return failf(exitBadArgs, "bad TTL (%v)", err)
			}
			c, ctx, done, err := a.dialCommand()
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.Grant(ctx, ttl)
			if err != nil {
				return failf(exitError, "failed to grant lease (%w)", err)
			}
			return a.display.Grant(resp)
		},
	}
}

func (a *app) leaseRevokeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke <leaseID>",
		Short: "Revokes leases",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return failf(exitBadArgs, "lease revoke command needs 1 argument")
			}
			id, err := leaseID(args[0])
			if err != nil {
				return err
			}
			c, ctx, done, err := a.dialCommand()
			if err != nil {
				return err
			}
			defer done()
			h, err := c.Revoke(ctx, id)
			if err != nil {
				return failf(exitError, "failed to revoke lease (%w)", err)
			}
			return a.display.Revoke(id, h)
		},
	}
}

func (a *app) leaseTimeToLiveCommand() *cobra.Command {
	var keys bool
	cmd := &cobra.Command{
		Use:   "timetolive <leaseID> [options]",
		Short: "Get lease information",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return failf(exitBadArgs, "lease timetolive command needs lease ID as argument")
			}
			id, err := leaseID(args[0])
			if err != nil {
				return err
			}
			var opts []quicclient.LeaseOption
			if keys {
				opts = append(opts, quicclient.WithAttachedKeys())
			}
			c, ctx, done, err := a.dialCommand()
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.TimeToLive(ctx, id, opts...)
			if err != nil {
				return fail(exitBadConnection, err)
			}
			return a.display.TimeToLive(resp, keys)
		},
	}
	cmd.Flags().BoolVar(&keys, "keys", false, "Get keys attached to this lease")
	return cmd
}

func (a *app) leaseListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List all active leases",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, done, err := a.dialCommand()
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.LeaseList(ctx)
			if err != nil {
				return fail(exitBadConnection, err)
			}
			return a.display.Leases(resp)
		},
	}
}

func (a *app) leaseKeepAliveCommand() *cobra.Command {
	var once bool
	cmd := &cobra.Command{
		Use:   "keep-alive [options] <leaseID>",
		Short: "Keeps leases alive (renew)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return failf(exitBadArgs, "lease keep-alive command needs lease ID as argument")
			}
			id, err := leaseID(args[0])
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			if once {
				ctx, cancel := a.commandCtx()
				resp, err := c.KeepAliveOnce(ctx, id)
				cancel()
				if err != nil {
					return fail(exitBadConnection, err)
				}
				return a.display.KeepAlive(resp)
			}
			ch, err := c.KeepAlive(a.ctx, id)
			if err != nil {
				return fail(exitBadConnection, err)
			}
			for resp := range ch {
				if resp.Err != nil {
					break
				}
				if err := a.display.KeepAlive(&resp); err != nil {
					return err
				}
			}
			if a.ctx.Err() != nil {
				return fail(exitSignal, nil)
			}
			if _, ok := a.display.(*simplePrinter); ok {
				fmt.Fprintf(a.stdout, "lease %016x expired or revoked.\n", id)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "Resets the keep-alive time to its original value and exits immediately")
	return cmd
}
