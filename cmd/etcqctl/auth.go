package main

import (
	"github.com/spf13/cobra"
)

// authCommands stand in for etcdctl's auth, user and role commands until etcq's auth
// lands: they fail clearly rather than as unknown commands.
func (a *app) authCommands() []*cobra.Command {
	var cmds []*cobra.Command
	for _, c := range []struct{ use, short string }{
		{"auth", "Enable or disable authentication (not supported yet)"},
		{"user", "User related commands (not supported yet)"},
		{"role", "Role related commands (not supported yet)"},
	} {
		cmds = append(cmds, &cobra.Command{
			Use:                c.use + " <subcommand>",
			Short:              c.short,
			DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, args []string) error {
				return failf(exitBadFeature, "auth is not supported yet: etcqctl %s needs etcq's users, roles and authentication, which have not landed; members identify clients by their certificate", c.use)
			},
		})
	}
	return cmds
}
