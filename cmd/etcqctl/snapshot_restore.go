package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"etcq.dev/etcq/node"
)

// restoreOptions are the flags of snapshot restore.
type restoreOptions struct {
	dataDir        string
	walDir         string
	name           string
	initialCluster string
	clusterToken   string
	peerURLs       string
	skipHashCheck  bool
}

func (a *app) snapshotRestoreCommand() *cobra.Command {
	var o restoreOptions
	cmd := &cobra.Command{
		Use:   "restore <filename> [options]",
		Short: "Restores an etcq member snapshot to an etcq directory",
		Long: `Restores a snapshot into a new data directory, from which a member of a new cluster
starts: every member of the new cluster is restored from the same snapshot, then started
with the same --name, --initial-cluster, --initial-cluster-token and
--initial-advertise-peer-urls as given here, and --initial-cluster-state new.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return failf(exitBadArgs, "snapshot restore requires exactly one argument")
			}
			if err := o.check(); err != nil {
				return fail(exitBadArgs, err)
			}
			dataDir := o.dataDir
			if dataDir == "" {
				dataDir = o.name + ".etcq"
			}
			st, err := restoreSnapshot(args[0], dataDir)
			if err != nil {
				return fail(exitError, err)
			}
			fmt.Fprintf(a.stdout, "Snapshot %s restored into %s (revision %d, %d keys)\n", args[0], dataDir, st.Revision, st.Keys)
			fmt.Fprintf(a.stdout, "Start the member with: etcq --name %s --data-dir %s --initial-cluster %s --initial-cluster-token %s --initial-advertise-peer-urls %s --initial-cluster-state new\n",
				o.name, dataDir, o.initialCluster, o.clusterToken, o.peerURLs)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.dataDir, "data-dir", "", "Path to the data directory (default: <name>.etcq)")
	fl.StringVar(&o.walDir, "wal-dir", "", "not supported: etcq keeps its raft log under <data-dir>/member/raft")
	fl.StringVar(&o.name, "name", "default", "Human-readable name for this member")
	fl.StringVar(&o.initialCluster, "initial-cluster", "", "Initial cluster configuration for restore bootstrap (default: <name>=<initial-advertise-peer-urls>)")
	fl.StringVar(&o.clusterToken, "initial-cluster-token", "etcq-cluster", "Initial cluster token for the etcq cluster during restore bootstrap")
	fl.StringVar(&o.peerURLs, "initial-advertise-peer-urls", "https://127.0.0.1:2380", "List of this member's peer URLs to advertise to the rest of the cluster")
	fl.BoolVar(&o.skipHashCheck, "skip-hash-check", false, "Ignore snapshot integrity hash value (refused: etcq snapshots always carry their hash)")
	return cmd
}

// check applies etcd's rules to the restore flags: the member is in the initial cluster,
// with the peer URLs it advertises; and etcq's: every URL is https.
func (o *restoreOptions) check() error {
	if o.walDir != "" {
		return errors.New("--wal-dir is not supported: etcq keeps its raft log under <data-dir>/member/raft")
	}
	if o.skipHashCheck {
		return errors.New("--skip-hash-check is not supported: etcq snapshots always carry their integrity hash, and restore always checks it")
	}
	if o.initialCluster == "" {
		var parts []string
		for _, u := range strings.Split(o.peerURLs, ",") {
			parts = append(parts, o.name+"="+strings.TrimSpace(u))
		}
		o.initialCluster = strings.Join(parts, ",")
	}
	cluster := map[string][]string{}
	for _, m := range strings.Split(o.initialCluster, ",") {
		name, u, ok := strings.Cut(strings.TrimSpace(m), "=")
		if !ok || name == "" || u == "" {
			return fmt.Errorf("--initial-cluster: %q is not name=url", m)
		}
		if err := checkPeerURL(u); err != nil {
			return fmt.Errorf("--initial-cluster: %w", err)
		}
		cluster[name] = append(cluster[name], u)
	}
	var mine []string
	for _, u := range strings.Split(o.peerURLs, ",") {
		u = strings.TrimSpace(u)
		if err := checkPeerURL(u); err != nil {
			return fmt.Errorf("--initial-advertise-peer-urls: %w", err)
		}
		mine = append(mine, u)
	}
	listed, ok := cluster[o.name]
	if !ok {
		return fmt.Errorf("member %q is not in --initial-cluster %q", o.name, o.initialCluster)
	}
	slices.Sort(listed)
	slices.Sort(mine)
	if !slices.Equal(listed, mine) {
		return fmt.Errorf("--initial-cluster has %s=%s but --initial-advertise-peer-urls is %s", o.name, strings.Join(listed, ","), strings.Join(mine, ","))
	}
	return nil
}

func checkPeerURL(u string) error {
	switch {
	case strings.HasPrefix(u, "https://"):
		return nil
	case strings.HasPrefix(u, "http://"):
		return fmt.Errorf("peer URL %q: etcq speaks only mutual TLS; use https://", u)
	}
	return fmt.Errorf("peer URL %q: want https://host:port", u)
}

// restoreSnapshot restores the snapshot file into a new data directory (node.RestoreDataDir).
func restoreSnapshot(path, dataDir string) (node.RestoredStore, error) {
	f, err := os.Open(path)
	if err != nil {
		return node.RestoredStore{}, err
	}
	defer f.Close()
	return node.RestoreDataDir(f, dataDir)
}
