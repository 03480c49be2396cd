package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"etcq.dev/etcq/certs"
)

// certsTokenCommand is `etcqctl certs token`: join tokens of a PKI directory that holds the
// CA key (an auto-TLS first member's DATA-DIR/pki). The member reads the records afresh
// at every enrollment, so what these commands do applies at once, with no restart.
func (a *app) certsTokenCommand(dir *string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manages join tokens, with which new machines enroll (etcq --join URL --join-token TOKEN)",
		Long: `A join token, etcq1.<id>.<secret>.<ca-pin>, lets a new machine enroll through a member
that holds the CA key: the machine checks the member's CA against the pin before it sends
anything, proves it holds the secret without sending it, and gets its certificates and a
place in the member list. A token works for any number of machines until it expires or is
revoked. The directory keeps no token, only what checks one: a token is printed once.`,
	}
	var ttl time.Duration
	var desc string
	create := &cobra.Command{
		Use:   "create",
		Short: "Makes a join token and prints it",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			tok, rec, err := certs.Dir(*dir).CreateJoinToken(certs.JoinTokenOptions{TTL: ttl, Description: desc})
			if err != nil {
				return fail(exitError, err)
			}
			fmt.Fprintln(a.stdout, tok)
			fmt.Fprintf(a.stderr, "join token %s valid until %s\n", rec.ID, rec.Expires.Format(time.RFC3339))
			return nil
		},
	}
	create.Flags().DurationVar(&ttl, "ttl", certs.DefaultJoinTokenTTL, "how long the token is valid (every token expires)")
	create.Flags().StringVar(&desc, "description", "", "a note kept with the token")

	list := &cobra.Command{
		Use:   "list",
		Short: "Lists join tokens: ID, state (valid, expired, revoked), expiry, description",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			recs, err := certs.Dir(*dir).JoinTokens()
			if err != nil {
				return fail(exitError, err)
			}
			return a.printJoinTokens(recs, time.Now())
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revokes a join token: the next enrollment with it is refused",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			rec, err := certs.Dir(*dir).RevokeJoinToken(args[0])
			if err != nil {
				return fail(exitError, err)
			}
			fmt.Fprintf(a.stdout, "join token %s revoked at %s\n", rec.ID, rec.Revoked.Format(time.RFC3339))
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// joinTokenJSON is a token record as `list -w json` prints it: never the verifier.
type joinTokenJSON struct {
	ID          string    `json:"id"`
	State       string    `json:"state"`
	CAPin       string    `json:"ca_pin"`
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
	Revoked     time.Time `json:"revoked,omitzero"`
}

// printJoinTokens prints records in the -w format (simple, table or json).
func (a *app) printJoinTokens(recs []certs.JoinTokenRecord, now time.Time) error {
	switch a.g.writeOut {
	case "json":
		out := make([]joinTokenJSON, 0, len(recs))
		for _, r := range recs {
			out = append(out, joinTokenJSON{ID: r.ID, State: r.State(now), CAPin: r.CAPin, Description: r.Description,
				Created: r.Created, Expires: r.Expires, Revoked: r.Revoked})
		}
		b, err := json.Marshal(out)
		if err != nil {
			return fail(exitError, err)
		}
		fmt.Fprintln(a.stdout, string(b))
	case "table":
		rows := make([][]string, 0, len(recs))
		for _, r := range recs {
			rows = append(rows, []string{r.ID, r.State(now), r.Expires.Format(time.RFC3339), r.Description})
		}
		if err := writeTable(a.stdout, []string{"ID", "STATE", "EXPIRES", "DESCRIPTION"}, rows); err != nil {
			return fail(exitError, err)
		}
	case "simple":
		for _, r := range recs {
			fmt.Fprintf(a.stdout, "%s, %s, %s, %s\n", r.ID, r.State(now), r.Expires.Format(time.RFC3339), r.Description)
		}
	default:
		return failf(exitBadArgs, "certs token list: unsupported output format %q (simple, table or json)", a.g.writeOut)
	}
	return nil
}
