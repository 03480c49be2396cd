package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) memberCommand() *cobra.Command {
	mc := &cobra.Command{
		Use:   "member <subcommand>",
		Short: "Membership related commands",
	}
	mc.AddCommand(a.memberAddCommand(), a.memberRemoveCommand(), a.memberUpdateCommand(),
		a.memberListCommand(), a.memberPromoteCommand())
	return mc
}

// memberID parses a member ID given in hexadecimal, as etcdctl prints it.
func memberID(arg string) (uint64, error) {
	id, err := strconv.ParseUint(arg, 16, 64)
	if err != nil {
		return 0, failf(exitBadArgs, "bad member ID arg (%v), expecting ID in Hex", err)
	}
	return id, nil
}

// peerURLs splits and checks --peer-urls.
func peerURLs(s string) ([]string, error) {
	urls := strings.Split(s, ",")
	for i, u := range urls {
		u = strings.TrimSpace(u)
		if _, err := url.Parse(u); err != nil || u == "" {
			return nil, failf(exitBadArgs, "invalid peer URL %q", u)
		}
		if strings.HasPrefix(u, "http://") {
			return nil, failf(exitBadArgs, "peer URL %q: etcq speaks only mutual TLS; use https://", u)
		}
		urls[i] = u
	}
	return urls, nil
}

func (a *app) memberAddCommand() *cobra.Command {
	var peers string
	var learner bool
	cmd := &cobra.Command{
		Use:   "add <memberName> [options]",
		Short: "Adds a member into the cluster",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				msg := "member name not provided"
				if len(args) > 1 {
					msg = "too many arguments"
					for _, s := range args {
						if strings.HasPrefix(strings.ToLower(s), "http") {
							msg += fmt.Sprintf(", did you mean --peer-urls=%s", s)
						}
					}
				}
				return failf(exitBadArgs, "%s", msg)
			}
			name := args[0]
			if peers == "" {
				return failf(exitBadArgs, "member peer urls not provided")
			}
			urls, err := peerURLs(peers)
			if err != nil {
				return err
			}
			c, ctx, done, err := a.dialCommand()
			if err != nil {
				return err
			}
			defer done()
			add := c.MemberAdd
			if learner {
				add = c.MemberAddAsLearner
			}
			resp, err := add(ctx, name, urls)
			if err != nil {
				return fail(exitError, err)
			}
			if err := a.display.MemberAdd(resp); err != nil {
				return err
			}
			if _, ok := a.display.(*simplePrinter); ok {
				// What the new member needs to start, as etcq's environment variables.
				var conf []string
				for _, m := range resp.Members {
					n := m.Name
					if m.ID == resp.Member.ID {
						n = name
					}
					for _, u := range m.PeerURLs {
						conf = append(conf, fmt.Sprintf("%s=%s", n, u))
					}
				}
				fmt.Fprint(a.stdout, "\n")
				fmt.Fprintf(a.stdout, "ETCQ_NAME=%q\n", name)
				fmt.Fprintf(a.stdout, "ETCQ_INITIAL_CLUSTER=%q\n", strings.Join(conf, ","))
				fmt.Fprintf(a.stdout, "ETCQ_INITIAL_ADVERTISE_PEER_URLS=%q\n", strings.Join(urls, ","))
				fmt.Fprintf(a.stdout, "ETCQ_INITIAL_CLUSTER_STATE=\"existing\"\n")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&peers, "peer-urls", "", "comma separated peer URLs for the new member.")
	cmd.Flags().BoolVar(&learner, "learner", false, "indicates if the new member is raft learner")
	return cmd
}

func (a *app) memberRemoveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "remove <memberID>",
		Short: "Removes a member from the cluster",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return failf(exitBadArgs, "member ID is not provided")
			}
			id, err := memberID(args[0])
			if err != nil {
				return err
			}
			c, ctx, done, err := a.dialCommand()
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.MemberRemove(ctx, id)
			if err != nil {
				return fail(exitError, err)
			}
			return a.display.MemberRemove(id, resp)
		},
	}
}

func (a *app) memberUpdateCommand() *cobra.Command {
	var peers string
	cmd := &cobra.Command{
		Use:   "update <memberID> [options]",
		Short: "Updates a member in the cluster",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return failf(exitBadArgs, "member ID is not provided")
			}
			id, err := memberID(args[0])
			if err != nil {
				return err
			}
			if peers == "" {
				return failf(exitBadArgs, "member peer urls not provided")
			}
			urls, err := peerURLs(peers)
			if err != nil {
				return err
			}
			c, ctx, done, err := a.dialCommand()
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.MemberUpdate(ctx, id, urls)
			if err != nil {
				return fail(exitError, err)
			}
			return a.display.MemberUpdate(id, resp)
		},
	}
	cmd.Flags().StringVar(&peers, "peer-urls", "", "comma separated peer URLs for the updated member.")
	return cmd
}

func (a *app) memberListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "Lists all members in the cluster",
		Long: `When --write-out is set to simple, this command prints out comma-separated member lists for each endpoint.
The items in the lists are ID, Status, Name, Peer Addrs, Client Addrs, Is Learner.
`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, done, err := a.dialCommand()
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.MemberList(ctx)
			if err != nil {
				return fail(exitError, err)
			}
			return a.display.MemberList(resp)
		},
	}
}

func (a *app) memberPromoteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "promote <memberID>",
		Short: "Promotes a non-voting member in the cluster",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return failf(exitBadArgs, "member ID is not provided")
			}
			id, err := memberID(args[0])
			if err != nil {
				return err
			}
			c, ctx, done, err := a.dialCommand()
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.MemberPromote(ctx, id)
			if err != nil {
				return fail(exitError, err)
			}
			return a.display.MemberPromote(id, resp)
		},
	}
}
