package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"etcq.dev/etcq/quicclient"
)

func (a *app) userCommand() *cobra.Command {
	uc := &cobra.Command{
		Use:   "user <subcommand>",
		Short: "User related commands",
	}
	uc.AddCommand(a.userAddCommand(), a.userDeleteCommand(), a.userGetCommand(), a.userListCommand(),
		a.userPasswdCommand(), a.userGrantRoleCommand(), a.userRevokeRoleCommand())
	return uc
}

func (a *app) userAddCommand() *cobra.Command {
	var interactive, noPassword bool
	var newPassword string
	cmd := &cobra.Command{
		Use:   "add <user name or user:password> [options]",
		Short: "Adds a new user",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return failf(exitBadArgs, "user add command requires user name as its argument")
			}
			name, password := args[0], ""
			switch {
			case noPassword:
				// A user only a client certificate with its name as CN can be.
			case newPassword != "":
				password = newPassword
			default:
				if n, p, ok := strings.Cut(args[0], ":"); ok {
					if n == "" {
						return failf(exitBadArgs, "empty user name is not allowed")
					}
					name, password = n, p
				} else {
					var err error
					if password, err = a.newPassword(name, interactive); err != nil {
						return err
					}
				}
			}
			return a.authChange(fmt.Sprintf("User %s created", name), func(ctx context.Context, c *quicclient.Client) (*quicclient.AuthResponse, error) {
				return c.UserAddWithOptions(ctx, name, password, &quicclient.UserAddOptions{NoPassword: noPassword})
			})
		},
	}
	cmd.Flags().BoolVar(&interactive, "interactive", true, "Ask for the password on the terminal, twice (false: read it from a line of stdin)")
	cmd.Flags().StringVar(&newPassword, "new-user-password", "", "Supply password from the command line flag")
	cmd.Flags().BoolVar(&noPassword, "no-password", false, "Create a user without password (CN based auth only)")
	return cmd
}

func (a *app) userDeleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete <user name>",
		Short: "Deletes a user",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return failf(exitBadArgs, "user delete command requires user name as its argument")
			}
			return a.authChange(fmt.Sprintf("User %s deleted", args[0]), func(ctx context.Context, c *quicclient.Client) (*quicclient.AuthResponse, error) {
				return c.UserDelete(ctx, args[0])
			})
		},
	}
}

func (a *app) userGetCommand() *cobra.Command {
	var detail bool
	cmd := &cobra.Command{
		Use:   "get <user name> [options]",
		Short: "Gets detailed information of a user",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return failf(exitBadArgs, "user get command requires user name as its argument")
			}
			name := args[0]
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := a.commandCtx()
			defer cancel()
			resp, err := c.UserGet(ctx, name)
			if err != nil {
				return fail(exitError, err)
			}
			p := a.authDisplay()
			if !detail {
				return p.userGet(name, resp)
			}
			// As etcdctl: the name in plain text, then each role as role get prints it.
			fmt.Fprintf(a.stdout, "User: %s\n", name)
			for _, role := range resp.Roles {
				fmt.Fprintln(a.stdout)
				rr, err := c.RoleGet(ctx, role)
				if err != nil {
					return fail(exitError, err)
				}
				if err := p.roleGet(role, rr); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&detail, "detail", false, "Show permissions of roles granted to the user")
	return cmd
}

func (a *app) userListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "Lists all users",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 0 {
				return failf(exitBadArgs, "user list command requires no arguments")
			}
			c, ctx, done, err := a.dialCommand()
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.UserList(ctx)
			if err != nil {
				return fail(exitError, err)
			}
			return a.authDisplay().userList(resp)
		},
	}
}

func (a *app) userPasswdCommand() *cobra.Command {
	var interactive bool
	cmd := &cobra.Command{
		Use:   "passwd <user name> [options]",
		Short: "Changes password of user",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return failf(exitBadArgs, "user passwd command requires user name as its argument")
			}
			password, err := a.newPassword(args[0], interactive)
			if err != nil {
				return err
			}
			return a.authChange("Password updated", func(ctx context.Context, c *quicclient.Client) (*quicclient.AuthResponse, error) {
				return c.UserChangePassword(ctx, args[0], password)
			})
		},
	}
	cmd.Flags().BoolVar(&interactive, "interactive", true, "Ask for the password on the terminal, twice (false: read it from a line of stdin)")
	return cmd
}

func (a *app) userGrantRoleCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "grant-role <user name> <role name>",
		Short: "Grants a role to a user",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return failf(exitBadArgs, "user grant command requires user name and role name as its argument")
			}
			return a.authChange(fmt.Sprintf("Role %s is granted to user %s", args[1], args[0]), func(ctx context.Context, c *quicclient.Client) (*quicclient.AuthResponse, error) {
				return c.UserGrantRole(ctx, args[0], args[1])
			})
		},
	}
}

func (a *app) userRevokeRoleCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke-role <user name> <role name>",
		Short: "Revokes a role from a user",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return failf(exitBadArgs, "user revoke-role requires user name and role name as its argument")
			}
			return a.authChange(fmt.Sprintf("Role %s is revoked from user %s", args[1], args[0]), func(ctx context.Context, c *quicclient.Client) (*quicclient.AuthResponse, error) {
				return c.UserRevokeRole(ctx, args[0], args[1])
			})
		},
	}
}
