package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/wire"
)

func (a *app) defragCommand() *cobra.Command {
	var cluster bool
	cmd := &cobra.Command{
		Use:   "defrag",
		Short: "Defragments the storage of the etcq members with given endpoints",
		RunE: func(cmd *cobra.Command, args []string) error {
			eps, err := a.endpoints(cluster)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			failures := 0
			for _, ep := range eps {
				ctx, cancel := a.commandCtx()
				start := time.Now()
				err := c.Defragment(ctx, ep)
				took := time.Since(start)
				cancel()
				if err != nil {
					fmt.Fprintf(a.stderr, "Failed to defragment etcq member[%s]. took %s. (%v)\n", ep, took, err)
					failures++
					continue
				}
				fmt.Fprintf(a.stdout, "Finished defragmenting etcq member[%s]. took %s\n", ep, took)
			}
			if failures != 0 {
				return fail(exitError, nil)
			}
			return nil
		},
	}
	cmd.PersistentFlags().BoolVar(&cluster, "cluster", false, "use all endpoints from the cluster member list")
	return cmd
}

func (a *app) alarmCommand() *cobra.Command {
	ac := &cobra.Command{
		Use:   "alarm <subcommand>",
		Short: "Alarm related commands",
	}
	ac.AddCommand(&cobra.Command{
		Use:   "disarm",
		Short: "Disarms all alarms",
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.alarm(args, func(ctx context.Context, c *quicclient.Client) (*quicclient.AlarmResponse, error) {
				return c.Disarm(ctx, wire.AlarmMember{})
			})
		},
	}, &cobra.Command{
		Use:   "list",
		Short: "Lists all alarms",
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.alarm(args, func(ctx context.Context, c *quicclient.Client) (*quicclient.AlarmResponse, error) {
				return c.Alarms(ctx)
			})
		},
	})
	return ac
}

// alarm runs one alarm request and prints the alarms it returns.
func (a *app) alarm(args []string, do func(context.Context, *quicclient.Client) (*quicclient.AlarmResponse, error)) error {
	if len(args) != 0 {
		return failf(exitBadArgs, "alarm command accepts no arguments")
	}
	c, ctx, done, err := a.dialCommand()
	if err != nil {
		return err
	}
	defer done()
	resp, err := do(ctx, c)
	if err != nil {
		return fail(exitError, err)
	}
	return a.display.Alarm(resp)
}

func (a *app) moveLeaderCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "move-leader <transferee-member-id>",
		Short: "Transfers leadership to another etcq cluster member.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return failf(exitBadArgs, "move-leader command needs 1 argument")
			}
			target, err := strconv.ParseUint(args[0], 16, 64)
			if err != nil {
				return fail(exitBadArgs, err)
			}
			if err := a.checkGlobal(); err != nil {
				return err
			}
			eps, err := a.clientEndpoints()
			if err != nil {
				return err
			}
			// The leader hands leadership over: find it among the endpoints.
			for _, ep := range eps {
				c, st, err := a.statusOf(ep)
				if err != nil {
					return err
				}
				if st.Leader != st.Header.MemberID {
					c.Close()
					continue
				}
				ctx, cancel := a.commandCtx()
				err = c.MoveLeader(ctx, target)
				cancel()
				c.Close()
				if err != nil {
					return fail(exitError, err)
				}
				return a.display.MoveLeader(st.Leader, target, st.Header)
			}
			return failf(exitBadArgs, "no leader endpoint given at %v", eps)
		},
	}
}
