package main

import (
	"github.com/spf13/cobra"

	"etcq.dev/etcq/quicclient"
)

func (a *app) electCommand() *cobra.Command {
	var listen bool
	cmd := &cobra.Command{
		Use:   "elect <election-name> [proposal]",
		Short: "Observes and participates in leader election",
		Long: `Campaigns for the leadership of an election with a proposal, prints the leader key and
value once elected, and holds the leadership until interrupted (Ctrl-C), then resigns.
With -l, prints the election's leader each time it changes instead.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 && len(args) != 2 {
				return failf(exitBadArgs, "elect takes one election name argument and an optional proposal argument")
			}
			if listen && len(args) != 1 {
				return failf(exitBadArgs, "observer takes only one election name argument")
			}
			if !listen && len(args) != 2 {
				return failf(exitBadArgs, "no proposal argument but -l not set")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			if listen {
				return a.observe(c, args[0])
			}
			return a.campaign(c, args[0], args[1])
		},
	}
	cmd.Flags().BoolVarP(&listen, "listen", "l", false, "observation mode")
	return cmd
}

func (a *app) campaign(c *quicclient.Client, name, proposal string) error {
	s, err := newSession(a.ctx, c, 60)
	if err != nil {
		return fail(exitError, err)
	}
	defer func() {
		ctx, cancel := a.cleanupCtx()
		_ = s.close(ctx)
		cancel()
	}()
	e := newElection(s, name)
	if err := e.campaign(a.ctx, proposal); err != nil {
		if a.ctx.Err() != nil {
			return nil
		}
		return fail(exitError, err)
	}
	ctx, cancel := a.commandCtx()
	resp, err := c.Get(ctx, e.key)
	cancel()
	if err != nil {
		return fail(exitError, err)
	}
	if err := a.display.Get(resp); err != nil {
		return err
	}
	select {
	case <-a.ctx.Done():
	case <-s.Done():
		return failf(exitError, "elect: session expired")
	}
	ctx, cancel = a.cleanupCtx()
	defer cancel()
	if err := e.resign(ctx); err != nil {
		return fail(exitError, err)
	}
	return nil
}

func (a *app) observe(c *quicclient.Client, name string) error {
	for resp := range observe(a.ctx, c, name) {
		if err := a.display.Get(&resp); err != nil {
			return err
		}
	}
	if a.ctx.Err() == nil {
		return failf(exitError, "elect: observer lost")
	}
	return nil
}
