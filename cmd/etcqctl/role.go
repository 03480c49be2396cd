package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"etcq.dev/etcq/quicclient"
)

func (a *app) roleCommand() *cobra.Command {
	rc := &cobra.Command{
		Use:   "role <subcommand>",
		Short: "Role related commands",
	}
	rc.AddCommand(a.roleAddCommand(), a.roleDeleteCommand(), a.roleGetCommand(), a.roleListCommand(),
		a.roleGrantPermissionCommand(), a.roleRevokePermissionCommand())
	return rc
}

func (a *app) roleAddCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "add <role name>",
		Short: "Adds a new role",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return failf(exitBadArgs, "role add command requires role name as its argument")
			}
			return a.authChange(fmt.Sprintf("Role %s created", args[0]), func(ctx context.Context, c *quicclient.Client) (*quicclient.AuthResponse, error) {
				return c.RoleAdd(ctx, args[0])
			})
		},
	}
}

func (a *app) roleDeleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete <role name>",
		Short: "Deletes a role",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return failf(exitBadArgs, "role delete command requires role name as its argument")
			}
			return a.authChange(fmt.Sprintf("Role %s deleted", args[0]), func(ctx context.Context, c *quicclient.Client) (*quicclient.AuthResponse, error) {
				return c.RoleDelete(ctx, args[0])
			})
		},
	}
}

func (a *app) roleGetCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "get <role name>",
		Short: "Gets detailed information of a role",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return failf(exitBadArgs, "role get command requires role name as its argument")
			}
			c, ctx, done, err := a.dialCommand()
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.RoleGet(ctx, args[0])
			if err != nil {
				return fail(exitError, err)
			}
			return a.authDisplay().roleGet(args[0], resp)
		},
	}
}

func (a *app) roleListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "Lists all roles",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 0 {
				return failf(exitBadArgs, "role list command requires no arguments")
			}
			c, ctx, done, err := a.dialCommand()
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.RoleList(ctx)
			if err != nil {
				return fail(exitError, err)
			}
			return a.authDisplay().roleList(resp)
		},
	}
}

// permFlags are the flags of role grant-permission and revoke-permission.
type permFlags struct{ prefix, fromKey bool }

func (f *permFlags) register(cmd *cobra.Command, verb string) {
	cmd.Flags().BoolVar(&f.prefix, "prefix", false, verb+" a prefix permission")
	cmd.Flags().BoolVar(&f.fromKey, "from-key", false, verb+" a permission of keys that are greater than or equal to the given key using byte compare")
}

// keys turns <key> [endkey] into the permission's key and range end: "" for the key alone,
// "\x00" for every key from key on. The empty key stands for "\x00", the first key there
// can be, as in etcdctl: with --prefix or --from-key, the whole key space.
func (f *permFlags) keys(args []string) (key, end string, err error) {
	if f.prefix && f.fromKey {
		return "", "", failf(exitBadArgs, "--from-key and --prefix flags are mutually exclusive")
	}
	if len(args) > 1 {
		switch {
		case f.prefix:
			return "", "", failf(exitBadArgs, "unexpected endkey argument with --prefix flag")
		case f.fromKey:
			return "", "", failf(exitBadArgs, "unexpected endkey argument with --from-key flag")
		}
		end = args[1]
	}
	key = args[0]
	if key == "" {
		key = "\x00"
		if f.prefix || f.fromKey {
			return key, "\x00", nil
		}
		return key, end, nil
	}
	switch {
	case f.prefix:
		end = quicclient.GetPrefixRangeEnd(key)
	case f.fromKey:
		end = "\x00"
	}
	return key, end, nil
}

func (a *app) roleGrantPermissionCommand() *cobra.Command {
	var f permFlags
	cmd := &cobra.Command{
		Use:   "grant-permission [options] <role name> <permission type> <key> [endkey]",
		Short: "Grants a key to a role",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 3 || len(args) > 4 {
				return failf(exitBadArgs, "role grant command requires role name, permission type, and key [endkey] as its argument")
			}
			perm, err := permType(args[1])
			if err != nil {
				return err
			}
			key, end, err := f.keys(args[2:])
			if err != nil {
				return err
			}
			return a.authChange(fmt.Sprintf("Role %s updated", args[0]), func(ctx context.Context, c *quicclient.Client) (*quicclient.AuthResponse, error) {
				return c.RoleGrantPermission(ctx, args[0], key, end, perm)
			})
		},
	}
	f.register(cmd, "grant")
	return cmd
}

// permType parses read, write or readwrite, in any case.
func permType(s string) (quicclient.PermissionType, error) {
	for _, t := range []quicclient.PermissionType{quicclient.PermRead, quicclient.PermWrite, quicclient.PermReadWrite} {
		if strings.EqualFold(s, permTypeName(t)) {
			return t, nil
		}
	}
	return 0, failf(exitBadArgs, "invalid permission type: %s", s)
}

func (a *app) roleRevokePermissionCommand() *cobra.Command {
	var f permFlags
	cmd := &cobra.Command{
		Use:   "revoke-permission <role name> <key> [endkey]",
		Short: "Revokes a key from a role",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 || len(args) > 3 {
				return failf(exitBadArgs, "role revoke-permission command requires role name and key [endkey] as its argument")
			}
			key, end, err := f.keys(args[1:])
			if err != nil {
				return err
			}
			// The key as given (the empty key too), as etcdctl says it.
			var msg string
			switch end {
			case "":
				msg = fmt.Sprintf("Permission of key %s is revoked from role %s", args[1], args[0])
			case "\x00":
				msg = fmt.Sprintf("Permission of range [%s, <open ended> is revoked from role %s", args[1], args[0])
			default:
				msg = fmt.Sprintf("Permission of range [%s, %s) is revoked from role %s", args[1], end, args[0])
			}
			return a.authChange(msg, func(ctx context.Context, c *quicclient.Client) (*quicclient.AuthResponse, error) {
				return c.RoleRevokePermission(ctx, args[0], key, end)
			})
		},
	}
	f.register(cmd, "revoke")
	return cmd
}
