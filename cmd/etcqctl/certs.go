package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"etcq.dev/etcq/certs"
)

// certsCommand is `etcqctl certs`: the operator's PKI on a directory (see certs.Dir for the
// layout). It talks to no member: members pick up what changes in the directory's files
// (certificates, the CA bundle, the CRL) without a restart.
func (a *app) certsCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Manages the PKI: a CA, certificates for members and clients, rotation and revocation",
		Long: `Manages a PKI directory (ca.pem, ca-key.pem, ca-bundle.pem, crl.pem, <name>.pem,
<name>-key.pem; keys are 0600). Members started with --cert-file/--key-file/--trusted-ca-file
pointing into it reload renewed certificates, a changed CA bundle and the CRL without a
restart.

CA rotation, with no restart and no failed request:
  etcqctl certs rotate ca start     # a new CA joins the bundle: both are trusted
  etcqctl certs rotate leaf NAME    # for every certificate: re-issued by the new CA
  etcqctl certs rotate ca finish    # the new CA signs from now on, the old one leaves the bundle`,
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", "pki", "the PKI directory")
	cmd.AddCommand(
		a.certsInitCommand(&dir),
		a.certsIssueCommand(&dir),
		a.certsInspectCommand(),
		a.certsRevokeCommand(&dir),
		a.certsRotateCommand(&dir),
		a.certsTokenCommand(&dir), // certs_token.go
	)
	return cmd
}

func (a *app) certsInitCommand(dir *string) *cobra.Command {
	var cn string
	var validity time.Duration
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Creates a PKI directory with a new CA",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, ca, err := certs.InitDir(*dir, certs.CAOptions{CommonName: cn, Validity: validity})
			if err != nil {
				return fail(exitError, err)
			}
			fmt.Fprintf(a.stdout, "CA %q created in %s (fingerprint %s, expires %s)\n", ca.Cert.Subject.CommonName, *dir,
				certs.Fingerprint(ca.Cert), ca.Cert.NotAfter.UTC().Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().StringVar(&cn, "cn", "etcq CA", "the CA's common name")
	cmd.Flags().DurationVar(&validity, "validity", 0, "how long the CA is valid (default 10 years)")
	return cmd
}

func (a *app) certsIssueCommand(dir *string) *cobra.Command {
	var hosts, cn string
	var validity time.Duration
	cmd := &cobra.Command{
		Use:   "issue server|peer|client NAME",
		Short: "Issues a certificate and key signed by the directory's CA",
		Long: `Issues NAME.pem and NAME-key.pem. server: a member's client port (serverAuth);
peer: member to member (serverAuth and clientAuth); client: a user or tool, whose identity is
the common name (default NAME).`,
		Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			profile := certs.Profile(args[0])
			switch profile {
			case certs.ProfileServer, certs.ProfilePeer, certs.ProfileClient:
			default:
				return failf(exitBadArgs, "certs issue: the kind is server, peer or client, not %q", args[0])
			}
			name := args[1]
			d := certs.Dir(*dir)
			ca, err := d.LoadCA()
			if err != nil {
				return fail(exitError, err)
			}
			if cn == "" {
				cn = name
			}
			var hs []string
			if hosts != "" {
				hs = strings.Split(hosts, ",")
			}
			if profile != certs.ProfileClient && len(hs) == 0 {
				return failf(exitBadArgs, "certs issue %s: --hosts is required (the DNS names and IPs clients dial)", profile)
			}
			kp, err := ca.Issue(certs.IssueRequest{Profile: profile, CommonName: cn, Hosts: hs, Validity: validity})
			if err != nil {
				return fail(exitError, err)
			}
			if err := d.SaveKeyPair(name, kp); err != nil {
				return fail(exitError, err)
			}
			fmt.Fprintf(a.stdout, "%s certificate %q issued: %s, %s\n", profile, cn, d.CertPath(name), d.KeyPath(name))
			return nil
		},
	}
	cmd.Flags().StringVar(&hosts, "hosts", "", "comma-separated DNS names and IP addresses (SANs)")
	cmd.Flags().StringVar(&cn, "cn", "", "common name (default NAME); for a client, its identity")
	cmd.Flags().DurationVar(&validity, "validity", 0, "how long the certificate is valid (default 1 year)")
	return cmd
}

func (a *app) certsInspectCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect FILE...",
		Short: "Prints subject, SANs, usages, validity and fingerprint of certificates",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			for _, f := range args {
				b, err := os.ReadFile(f)
				if err != nil {
					return fail(exitError, err)
				}
				infos, err := certs.Inspect(b)
				if err != nil {
					return fail(exitError, fmt.Errorf("%s: %w", f, err))
				}
				for _, info := range infos {
					fmt.Fprintf(a.stdout, "%s:\n%s\n", f, info)
				}
			}
			return nil
		},
	}
}

func (a *app) certsRevokeCommand(dir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke FILE",
		Short: "Revokes a certificate: it is refused at its next handshake once members reload crl.pem",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			cert, err := readCert(args[0])
			if err != nil {
				return fail(exitError, err)
			}
			d := certs.Dir(*dir)
			ca, err := d.LoadCA()
			if err != nil {
				return fail(exitError, err)
			}
			if next, err := d.LoadNextCA(); err == nil && cert.CheckSignatureFrom(next.Cert) == nil {
				ca = next // issued by the CA being rotated in
			}
			if err := ca.RevokeCertificate(cert); err != nil {
				return fail(exitError, err)
			}
			if err := d.PublishCRL(ca); err != nil {
				return fail(exitError, err)
			}
			fmt.Fprintf(a.stdout, "certificate %q (serial %s) revoked; %s updated\n", cert.Subject.CommonName, cert.SerialNumber.Text(16), d.Path(certs.CRLFile))
			return nil
		},
	}
}

func (a *app) certsRotateCommand(dir *string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Renews certificates, or rotates the CA",
	}
	var validity time.Duration
	leaf := &cobra.Command{
		Use:   "leaf NAME...",
		Short: "Re-issues certificates with the same names, SANs and usages (from the new CA during a CA rotation)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			d := certs.Dir(*dir)
			ca, err := d.LoadNextCA()
			if errors.Is(err, certs.ErrNoRotation) {
				ca, err = d.LoadCA()
			}
			if err != nil {
				return fail(exitError, err)
			}
			for _, name := range args {
				cert, err := readCert(d.CertPath(name))
				if err != nil {
					return fail(exitError, err)
				}
				kp, err := ca.Renew(cert, validity)
				if err != nil {
					return fail(exitError, fmt.Errorf("%s: %w", name, err))
				}
				if err := d.SaveKeyPair(name, kp); err != nil {
					return fail(exitError, err)
				}
				fmt.Fprintf(a.stdout, "%s renewed by %q\n", d.CertPath(name), ca.Cert.Subject.CommonName)
			}
			return nil
		},
	}
	leaf.Flags().DurationVar(&validity, "validity", 0, "how long the new certificates are valid (default 1 year)")
	var cn string
	caStart := &cobra.Command{
		Use:   "start",
		Short: "Creates the next CA and adds it to the bundle: members trust both",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			next, err := certs.Dir(*dir).StartCARotation(certs.CAOptions{CommonName: cn})
			if err != nil {
				return fail(exitError, err)
			}
			fmt.Fprintf(a.stdout, "CA %q added to the bundle (fingerprint %s); now renew every certificate with `certs rotate leaf`\n", next.Cert.Subject.CommonName, certs.Fingerprint(next.Cert))
			return nil
		},
	}
	caStart.Flags().StringVar(&cn, "cn", "etcq CA", "the new CA's common name")
	caFinish := &cobra.Command{
		Use:   "finish",
		Short: "Makes the next CA the signing CA and drops the old one from the bundle",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := certs.Dir(*dir).FinishCARotation(); err != nil {
				return fail(exitError, err)
			}
			fmt.Fprintln(a.stdout, "CA rotation finished: certificates of the old CA are refused from the next handshake")
			return nil
		},
	}
	caCmd := &cobra.Command{Use: "ca", Short: "Rotates the CA in two steps, start and finish"}
	caCmd.AddCommand(caStart, caFinish)
	cmd.AddCommand(leaf, caCmd)
	return cmd
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("%s: no certificate in the file", path)
		}
		if block.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return c, nil
		}
	}
}
