package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"etcq.dev/etcq/node"
	"etcq.dev/etcq/quicclient"
)

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Prints the version of etcqctl",
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(a.stdout, "etcqctl version:", node.Version)
			fmt.Fprintln(a.stdout, "API version:", apiVersion())
			return nil
		},
	}
}

// apiVersion is the version of the client protocol etcqctl speaks: the number of its
// ALPN protocol (etcq-client/1).
func apiVersion() string {
	_, v, _ := strings.Cut(quicclient.ALPN, "/")
	return v
}
