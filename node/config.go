package node

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"etcq.dev/etcq/auth"
	"etcq.dev/etcq/storage"
)

// MemberInfo describes one member of the cluster.
type MemberInfo struct {
	ID         uint64   `msgpack:"id" json:"id"`
	Name       string   `msgpack:"name" json:"name"`
	PeerURLs   []string `msgpack:"peer_urls" json:"peer_urls"`
	ClientURLs []string `msgpack:"client_urls" json:"client_urls"`
	IsLearner  bool     `msgpack:"is_learner" json:"is_learner"`
	// AutoPromote makes the leader promote this learner once it has caught up.
	AutoPromote bool `msgpack:"auto_promote" json:"auto_promote,omitempty"`
}

// Config configures a Member. Durations are wall-clock; ticks count TickInterval.
type Config struct {
	// ID is this member's ID: non-zero, unique, never reused.
	ID   uint64
	Name string
	// DataDir holds member/raft (the raft log) and member/db (the store).
	DataDir string
	// InitialCluster lists every member of a new cluster, this one included; for a member
	// that joins, the members of the cluster it joins (as etcd's --initial-cluster with
	// --initial-cluster-state existing), so it can reach them before it has the log.
	InitialCluster []MemberInfo
	// ClusterToken distinguishes clusters with the same initial members.
	ClusterToken string
	// Join starts a member that was added to a running cluster (MemberAdd): it starts
	// empty and receives the log or a snapshot from the leader.
	Join bool
	// ClusterID is the cluster joined (Join only; a new cluster derives its own).
	ClusterID uint64
	// ClientURLs are advertised to the cluster once this member applies its first entry.
	ClientURLs []string

	// Transport carries raft messages. It is handed over before the Member (its Handler)
	// exists: a transport must accept Send and AddPeer before it is told where to deliver.
	Transport PeerTransport

	TickInterval   time.Duration // 100ms
	ElectionTicks  int           // 10
	HeartbeatTicks int           // 1

	// SnapshotCount is the number of applied entries between raft snapshots (10,000);
	// SnapshotCatchUpEntries is how much log a snapshot keeps for slow followers (5,000).
	// An entry packs up to MaxBatchRequests requests, so the log in memory is bounded by
	// bytes too: a snapshot is also taken once SnapshotBytes of entry data were applied
	// since the last (32 MiB), and the tail kept for followers holds at most
	// SnapshotCatchUpBytes of it (16 MiB).
	SnapshotCount          uint64
	SnapshotCatchUpEntries uint64
	SnapshotBytes          uint64
	SnapshotCatchUpBytes   uint64

	// MaxBatchRequests and MaxBatchBytes bound the requests packed into one entry
	// (512, 1 MiB). MaxRequestBytes refuses larger requests (1.5 MiB).
	MaxBatchRequests int
	MaxBatchBytes    int
	MaxRequestBytes  int
	// MaxApplyLag refuses new proposals with ErrTooManyRequests while the committed
	// index is this far ahead of the applied one (5,000).
	MaxApplyLag uint64
	// RequestQueue is how many requests may wait to be proposed (8,192).
	RequestQueue int

	// LeaseCheckpointInterval is how often the leader records every lease's remaining TTL
	// (1 minute): after a restart of the whole cluster, a lease lives at most this much
	// longer than it should.
	LeaseCheckpointInterval time.Duration
	// LeaseRevokeRate caps the expired leases the leader revokes per second (1,000), so a
	// mass expiry does not crowd out writes.
	LeaseRevokeRate int

	// QuotaBackendBytes raises a NOSPACE alarm when the store's bytes in use pass it
	// (0: no quota). QuotaCheckInterval is how often it is checked (1s).
	QuotaBackendBytes  int64
	QuotaCheckInterval time.Duration

	// DisableAutoPromote leaves learners to be promoted by hand.
	DisableAutoPromote bool

	// BcryptCost is the cost new passwords are hashed at (etcd's --bcrypt-cost, 10;
	// bcrypt's 4 to 31). AuthTokenTTL is how long the tokens this member issues live
	// (etcd's --auth-token-ttl, 5 minutes).
	BcryptCost   int
	AuthTokenTTL time.Duration

	Logger       *slog.Logger
	StoreOptions storage.Options
}

func (c *Config) validate() error {
	if c.ID == 0 {
		return fmt.Errorf("%w: member ID must not be 0", ErrBadConfig)
	}
	if c.DataDir == "" {
		return fmt.Errorf("%w: no data directory", ErrBadConfig)
	}
	if c.Transport == nil {
		return fmt.Errorf("%w: no transport", ErrBadConfig)
	}
	setDefault(&c.TickInterval, 100*time.Millisecond)
	setDefault(&c.ElectionTicks, 10)
	setDefault(&c.HeartbeatTicks, 1)
	setDefault(&c.SnapshotCount, 10000)
	setDefault(&c.SnapshotCatchUpEntries, 5000)
	setDefault(&c.SnapshotBytes, 32<<20)
	setDefault(&c.SnapshotCatchUpBytes, 16<<20)
	setDefault(&c.MaxBatchRequests, 512)
	setDefault(&c.MaxBatchBytes, 1<<20)
	setDefault(&c.MaxRequestBytes, 3<<19)
	setDefault(&c.MaxApplyLag, 5000)
	setDefault(&c.RequestQueue, 8192)
	setDefault(&c.LeaseCheckpointInterval, time.Minute)
	setDefault(&c.LeaseRevokeRate, 1000)
	setDefault(&c.QuotaCheckInterval, time.Second)
	setDefault(&c.BcryptCost, auth.DefaultBcryptCost)
	setDefault(&c.AuthTokenTTL, auth.DefaultTokenTTL)
	if c.BcryptCost < bcrypt.MinCost || c.BcryptCost > bcrypt.MaxCost {
		return fmt.Errorf("%w: bcrypt cost %d is outside %d..%d", ErrBadConfig, c.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if c.ElectionTicks <= c.HeartbeatTicks {
		return fmt.Errorf("%w: election ticks (%d) must exceed heartbeat ticks (%d)", ErrBadConfig, c.ElectionTicks, c.HeartbeatTicks)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if !c.Join {
		found := false
		for _, m := range c.InitialCluster {
			if m.ID == 0 {
				return fmt.Errorf("%w: initial cluster member %q has ID 0", ErrBadConfig, m.Name)
			}
			found = found || m.ID == c.ID
		}
		if !found {
			return fmt.Errorf("%w: member %x is not in the initial cluster", ErrBadConfig, c.ID)
		}
	}
	return nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// minLeaseTTL is the shortest lease TTL, in seconds: one and a half election timeouts,
// rounded up, so that a lease outlives a leader election (as etcd).
func (c *Config) minLeaseTTL() int64 {
	return int64(math.Ceil((c.electionTimeout() * 3 / 2).Seconds()))
}

// electionTimeout is the wall-clock length of an election timeout.
func (c *Config) electionTimeout() time.Duration {
	return time.Duration(c.ElectionTicks) * c.TickInterval
}

// clusterID derives a new cluster's ID: from its token when it has one (ClusterIDFor), so
// that a member joining later computes the same ID from the same --initial-cluster-token;
// from its initial members otherwise.
func clusterID(members []MemberInfo, token string) uint64 {
	if token != "" {
		return ClusterIDFor(token)
	}
	var parts []string
	for _, m := range members {
		urls := slices.Clone(m.PeerURLs)
		slices.Sort(urls)
		parts = append(parts, fmt.Sprintf("%x=%s", m.ID, strings.Join(urls, ",")))
	}
	slices.Sort(parts)
	sum := sha256.Sum256([]byte(strings.Join(parts, ";") + "|" + token))
	return binary.BigEndian.Uint64(sum[:8]) | 1
}

// ClusterIDFor derives a cluster's ID from its token. Two clusters must not share a token
// (as with etcd's --initial-cluster-token): peers check the cluster ID on every stream.
func ClusterIDFor(token string) uint64 {
	sum := sha256.Sum256([]byte("etcq-cluster|" + token))
	return binary.BigEndian.Uint64(sum[:8]) | 1
}

// MemberIDFor derives a member's ID from its name, peer URLs and the cluster token, so
// that every member of a new cluster computes the same IDs from the same --initial-cluster,
// and a member added by name (AddMember) knows its ID when it starts to join.
func MemberIDFor(name string, peerURLs []string, token string) uint64 {
	urls := slices.Clone(peerURLs)
	slices.Sort(urls)
	sum := sha256.Sum256([]byte(name + "|" + strings.Join(urls, ",") + "|" + token))
	return binary.BigEndian.Uint64(sum[:8]) | 1
}
