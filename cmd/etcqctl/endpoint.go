package main

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/wire"
)

func (a *app) endpointCommand() *cobra.Command {
	var cluster bool
	ec := &cobra.Command{
		Use:   "endpoint <subcommand>",
		Short: "Endpoint related commands",
	}
	ec.PersistentFlags().BoolVar(&cluster, "cluster", false, "use all endpoints from the cluster member list")
	ec.AddCommand(a.epHealthCommand(&cluster), a.epStatusCommand(&cluster), a.epHashKVCommand(&cluster))
	return ec
}

// endpoints returns --endpoints or, with --cluster, the client URLs of every member.
func (a *app) endpoints(cluster bool) ([]string, error) {
	if !cluster {
		return a.clientEndpoints()
	}
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ctx, cancel := a.commandCtx()
	defer cancel()
	resp, err := c.MemberList(ctx)
	if err != nil {
		return nil, failf(exitError, "failed to fetch endpoints from etcq cluster member list: %w", err)
	}
	var eps []string
	for _, m := range resp.Members {
		eps = append(eps, m.ClientURLs...)
	}
	if len(eps) == 0 {
		return nil, failf(exitError, "no member of the cluster advertises a client URL")
	}
	return eps, nil
}

func (a *app) epHealthCommand(cluster *bool) *cobra.Command {
	return &cobra.Command{
		Use:   "health",
		Short: "Checks the healthiness of endpoints specified in `--endpoints` flag",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkGlobal(); err != nil {
				return err
			}
			eps, err := a.endpoints(*cluster)
			if err != nil {
				return err
			}
			hs := make([]epHealth, len(eps))
			var wg sync.WaitGroup
			for i, ep := range eps {
				wg.Go(func() { hs[i] = a.health(ep) })
			}
			wg.Wait()
			if err := a.display.EndpointHealth(hs); err != nil {
				return err
			}
			for _, h := range hs {
				if !h.Health {
					return failf(exitError, "unhealthy cluster")
				}
			}
			return nil
		},
	}
}

// health checks one endpoint as etcdctl does: a linearizable read goes through consensus
// (a permission error counts: it went through too), and no alarm is raised.
func (a *app) health(ep string) epHealth {
	h := epHealth{Ep: ep}
	c, err := a.client(ep)
	if err != nil {
		var ee *codedError
		if errors.As(err, &ee) && ee.err != nil {
			err = ee.err
		}
		h.Error = err.Error()
		return h
	}
	defer c.Close()
	ctx, cancel := a.commandCtx()
	defer cancel()
	start := time.Now()
	_, err = c.Get(ctx, "health")
	h.Took = time.Since(start).String()
	if err != nil && !errors.Is(err, wire.ErrPermissionDenied) {
		h.Error = err.Error()
		return h
	}
	h.Health = true
	alarms, err := c.Alarms(ctx)
	switch {
	case err != nil:
		h.Health, h.Error = false, "Unable to fetch the alarm list"
	case len(alarms.Alarms) > 0:
		h.Health, h.Error = false, "Active Alarm(s): "
		for _, al := range alarms.Alarms {
			switch al.Alarm {
			case wire.AlarmNoSpace, wire.AlarmCorrupt:
				h.Error += alarmName(al.Alarm) + " "
			default:
				h.Error += "UNKNOWN "
			}
		}
	}
	return h
}

func (a *app) epStatusCommand(cluster *bool) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Prints out the status of endpoints specified in `--endpoints` flag",
		Long: `When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
The items in the lists are endpoint, ID, version, db size, is leader, is learner, raft term, raft index, raft applied index, errors.
`,
		RunE: func(cmd *cobra.Command, args []string) error {
			eps, err := a.endpoints(*cluster)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			var ss []epStatus
			failed := false
			for _, ep := range eps {
				ctx, cancel := a.commandCtx()
				resp, err := c.Status(ctx, ep)
				cancel()
				if err != nil {
					failed = true
					fmt.Fprintf(a.stderr, "Failed to get the status of endpoint %s (%v)\n", ep, err)
					continue
				}
				ss = append(ss, epStatus{Ep: ep, Resp: resp})
			}
			if err := a.display.EndpointStatus(ss); err != nil {
				return err
			}
			if failed {
				return fail(exitError, nil)
			}
			return nil
		},
	}
}

func (a *app) epHashKVCommand(cluster *bool) *cobra.Command {
	var rev int64
	hc := &cobra.Command{
		Use:   "hashkv",
		Short: "Prints the KV history hash for each endpoint in --endpoints",
		RunE: func(cmd *cobra.Command, args []string) error {
			eps, err := a.endpoints(*cluster)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			var hs []epHashKV
			var last error
			for _, ep := range eps {
				ctx, cancel := a.commandCtx()
				resp, err := c.HashKV(ctx, ep, rev)
				cancel()
				if err != nil {
					last = err
					fmt.Fprintf(a.stderr, "Failed to get the hash of endpoint %s (%v)\n", ep, err)
					continue
				}
				hs = append(hs, epHashKV{Ep: ep, Resp: resp})
			}
			if err := a.display.EndpointHashKV(hs); err != nil {
				return err
			}
			if last != nil {
				return fail(exitError, last)
			}
			return nil
		},
	}
	hc.PersistentFlags().Int64Var(&rev, "rev", 0, "maximum revision to hash (default: all revisions)")
	return hc
}

// statusOf asks one endpoint for its status with a client of its own.
func (a *app) statusOf(ep string) (*quicclient.Client, *quicclient.StatusResponse, error) {
	c, err := a.client(ep)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := a.commandCtx()
	defer cancel()
	st, err := c.Status(ctx, ep)
	if err != nil {
		c.Close()
		return nil, nil, fail(exitError, err)
	}
	return c, st, nil
}
