package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"etcq.dev/etcq/certs"
	"etcq.dev/etcq/node"
)

// Joining a cluster by enrollment (--join URL --join-token TOKEN), the joining side.
//
// A first member started with --auto-tls creates the CA in its data dir and prints a join
// token, etcq1.<id>.<secret>.<ca-pin> (certs.JoinToken; `etcqctl certs token create`
// makes more). A new machine then runs
//
//	etcq --name NAME --data-dir DIR ...URLs... --join https://<member>:<client-port> --join-token TOKEN
//
// and, before anything else:
//
//  1. makes two ECDSA keys and CSRs (server, peer) in its PKI dir's stead; keys never leave;
//  2. dials the member's client port with ALPN etcq-join/1 and no client certificate, and
//     accepts the member only if the chain it presents holds a CA whose public key has the
//     token's pin and the member's certificate chains to it with a SAN for the host
//     dialled (certs.JoinClientConfig); it sends nothing before;
//  3. sends its name, peer and client URLs, the CSRs, the token's ID and a proof of the
//     secret bound to this TLS session (certs.JoinToken.Proof); the secret is not sent;
//  4. receives its certificates, the CA bundle and CRL, the cluster token and ID, its
//     member ID and the member list: the member added it through consensus, as a learner
//     promoted once it has caught up;
//  5. checks and writes them into its PKI dir (--pki-dir, default DATA-DIR/pki), and
//     join-state.json last;
//  6. starts as a member of an existing cluster (node.Config.Join) with those members.
//
// A restart finds join-state.json and starts from it, without enrolling again (the --join
// flags may stay or go). Transient failures (the member unreachable, no leader) are
// retried for joinPatience; a wrong pin, a refused token, a taken name are not.
//
// The member that enrolls must hold the CA key: join through the first member (or any
// member started with --auto-tls on a PKI dir with ca-key.pem). Members that joined hold
// no CA key and do not serve enrollment.

// joinStateFile, in the PKI dir, records a completed enrollment.
const joinStateFile = "join-state.json"

// joinPatience bounds the retries of an enrollment.
const joinPatience = time.Minute

// joinState is what a member that joined by enrollment keeps to restart.
type joinState struct {
	Version      int          `json:"version"`
	Name         string       `json:"name"`
	PeerURLs     []string     `json:"peer_urls"`
	MemberID     uint64       `json:"member_id"`
	ClusterID    uint64       `json:"cluster_id"`
	ClusterToken string       `json:"cluster_token"`
	Members      []joinMember `json:"members"`
	JoinedVia    string       `json:"joined_via"`
	Enrolled     time.Time    `json:"enrolled"`

	fresh bool // enrolled by this process
}

// pkiDirOf is the PKI directory of an auto-TLS or joined member.
func pkiDirOf(c *config) string {
	if c.PKIDir != "" {
		return c.PKIDir
	}
	return filepath.Join(c.DataDir, "pki")
}

// wantsJoin reports whether the member starts by enrollment: asked to, or enrolled before.
func wantsJoin(c *config) bool {
	return c.Join != "" || exists(filepath.Join(pkiDirOf(c), joinStateFile))
}

// initial returns the member list to start with and this member's entry in it.
func (s *joinState) initial() ([]node.MemberInfo, *node.MemberInfo) {
	var out []node.MemberInfo
	self := -1
	for _, m := range s.Members {
		if m.ID == s.MemberID {
			self = len(out)
		}
		out = append(out, node.MemberInfo{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, IsLearner: m.IsLearner})
	}
	if self < 0 {
		out = append(out, node.MemberInfo{ID: s.MemberID, Name: s.Name, PeerURLs: s.PeerURLs, IsLearner: true})
		self = len(out) - 1
	}
	return out, &out[self]
}

// joinCluster returns the join state of this member: read from its PKI dir if it enrolled
// before, otherwise enrolled now through cfg.Join.
func joinCluster(cfg *config, peerURLs, clientURLs []string, log *slog.Logger) (*joinState, error) {
	dir := pkiDirOf(cfg)
	for flag, v := range map[string]string{
		"cert-file": cfg.CertFile, "key-file": cfg.KeyFile, "trusted-ca-file": cfg.TrustedCAFile,
		"peer-cert-file": cfg.PeerCertFile, "peer-key-file": cfg.PeerKeyFile, "peer-trusted-ca-file": cfg.PeerTrustedCAFile,
	} {
		if v != "" {
			return nil, fmt.Errorf("%w: --join gets this member's certificates by enrollment (into %s); drop --%s", errUsage, dir, flag)
		}
	}
	if cfg.InitialCluster != "" {
		return nil, fmt.Errorf("%w: --join learns the members from the cluster; drop --initial-cluster", errUsage)
	}
	if st, err := readJoinState(dir); err == nil {
		if st.Name != cfg.Name || !sameURLs(st.PeerURLs, peerURLs) {
			return nil, fmt.Errorf("%w: %s enrolled this data dir as %q with peer URLs %v; start it with those (--name, --initial-advertise-peer-urls)", errUsage, dir, st.Name, st.PeerURLs)
		}
		log.Info("join: enrolled before; starting from the saved state", "dir", dir, "id", fmt.Sprintf("%x", st.MemberID), "cluster", fmt.Sprintf("%x", st.ClusterID))
		return st, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := checkURL("--join", cfg.Join); err != nil {
		return nil, err
	}
	if err := checkMemberName(cfg.Name); err != nil {
		return nil, fmt.Errorf("%w: --name: %w", errUsage, err)
	}
	if cfg.JoinToken == "" {
		return nil, fmt.Errorf("%w: --join needs --join-token (a member printed one; etcqctl certs token create makes more)", errUsage)
	}
	tok, err := certs.ParseJoinToken(cfg.JoinToken)
	if err != nil {
		return nil, fmt.Errorf("%w: --join-token: %w", errUsage, err)
	}
	if exists(filepath.Join(dir, certs.CAKeyFile)) {
		return nil, fmt.Errorf("%w: --join: %s holds a CA of its own: this data dir belongs to another cluster", errUsage, dir)
	}
	if exists(filepath.Join(cfg.DataDir, "member")) {
		return nil, fmt.Errorf("%w: --join: %s already holds a member; a member joins with an empty data dir", errUsage, cfg.DataDir)
	}

	clientHosts, peerHosts := urlHosts(strings.Join(clientURLs, ",")), urlHosts(strings.Join(peerURLs, ","))
	serverCSR, serverKey, err := certs.NewCSR(cfg.Name, clientHosts)
	if err != nil {
		return nil, err
	}
	peerCSR, peerKey, err := certs.NewCSR(cfg.Name, peerHosts)
	if err != nil {
		return nil, err
	}
	req := &joinRequest{
		Version: joinProtoVersion, Name: cfg.Name,
		PeerURLs: peerURLs, ClientURLs: clientURLs, ServerCSR: serverCSR, PeerCSR: peerCSR,
	}
	log.Info("join: enrolling", "through", cfg.Join, "token", tok.ID, "ca_pin", tok.CAPin.String())
	ctx, cancel := context.WithTimeout(context.Background(), joinPatience)
	defer cancel()
	resp, err := enrollRetrying(ctx, cfg.Join, tok, req, log)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", cfg.Join, err)
	}
	e := &certs.Enrollment{
		Name:        cfg.Name,
		Server:      certs.KeyPair{CertPEM: resp.ServerCert, KeyPEM: serverKey},
		Peer:        certs.KeyPair{CertPEM: resp.PeerCert, KeyPEM: peerKey},
		ServerHosts: clientHosts, PeerHosts: peerHosts,
		BundlePEM: resp.CABundle, CRLPEM: resp.CRL,
	}
	if err := certs.Dir(dir).SaveEnrollment(e, tok.CAPin); err != nil {
		return nil, fmt.Errorf("join %s: the certificates received: %w", cfg.Join, err)
	}
	st := &joinState{
		Version: 1, Name: cfg.Name, PeerURLs: peerURLs, MemberID: resp.MemberID,
		ClusterID: resp.ClusterID, ClusterToken: resp.ClusterToken, Members: resp.Members,
		JoinedVia: cfg.Join, Enrolled: time.Now().UTC().Truncate(time.Second), fresh: true,
	}
	if err := writeJoinState(dir, st); err != nil {
		return nil, err
	}
	log.Info("join: enrolled", "through", cfg.Join, "id", fmt.Sprintf("%x", st.MemberID), "cluster", fmt.Sprintf("%x", st.ClusterID), "members", len(st.Members), "dir", dir)
	return st, nil
}

// joinedTLS is the TLS material of a member that joined: the key pairs enrollment saved.
func joinedTLS(c *config, st *joinState, log *slog.Logger) (*tlsSetup, error) {
	d := certs.Dir(pkiDirOf(c))
	client, err := certs.NewReloader(certs.ReloaderOptions{Files: d.Files(st.Name), Logger: log})
	if err != nil {
		return nil, fmt.Errorf("join: client certificates: %w", err)
	}
	peer, err := certs.NewReloader(certs.ReloaderOptions{Files: d.Files(st.Name + "-peer"), Logger: log})
	if err != nil {
		return nil, fmt.Errorf("join: peer certificates: %w", err)
	}
	return &tlsSetup{client: client, peer: peer}, nil
}

// joinRefusal is a member's refusal to enroll this one. It matches the certs sentinel of
// its cause (errors.Is), if any.
type joinRefusal struct {
	code, msg string
}

func (e *joinRefusal) Error() string {
	return "the member refused to enroll this one: " + e.msg
}

func (e *joinRefusal) Is(target error) bool {
	switch e.code {
	case joinInvalidToken:
		return target == certs.ErrJoinTokenInvalid
	case joinExpiredToken:
		return target == certs.ErrJoinTokenExpired
	case joinRevokedToken:
		return target == certs.ErrJoinTokenRevoked
	}
	return false
}

// errJoinTransient marks a failure worth retrying.
var errJoinTransient = errors.New("transient")

// enrollRetrying enrolls, retrying transient failures until ctx ends.
func enrollRetrying(ctx context.Context, target string, tok certs.JoinToken, req *joinRequest, log *slog.Logger) (*joinResponse, error) {
	backoff := 200 * time.Millisecond
	for {
		resp, err := enrollOnce(ctx, target, tok, req)
		if err == nil {
			return resp, nil
		}
		if !errors.Is(err, errJoinTransient) || ctx.Err() != nil {
			return nil, err
		}
		log.Warn("join: enrollment failed; retrying", "through", target, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("gave up after %v: %w", joinPatience, err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// transient wraps err as worth retrying.
func transient(err error) error { return fmt.Errorf("%w (%w)", err, errJoinTransient) }

// noALPN is the QUIC error of a TLS no_application_protocol alert (0x100 + 120).
const noALPN = quic.TransportErrorCode(0x100 + 120)

// enrollOnce runs one enrollment exchange with the member at target.
func enrollOnce(ctx context.Context, target string, tok certs.JoinToken, req *joinRequest) (*joinResponse, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var pinErr error
	conf, err := certs.JoinClientConfig(&tls.Config{ServerName: u.Hostname(), NextProtos: []string{node.JoinALPN}}, tok.CAPin, func(err error) {
		mu.Lock()
		pinErr = err
		mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := quic.DialAddr(dialCtx, u.Host, conf, &quic.Config{MaxIdleTimeout: 30 * time.Second, KeepAlivePeriod: 5 * time.Second})
	cancel()
	mu.Lock()
	pe := pinErr
	mu.Unlock()
	if pe != nil {
		// Refused before anything but the TLS hello was sent.
		return nil, pe
	}
	if err != nil {
		var te *quic.TransportError
		if errors.As(err, &te) && te.ErrorCode == noALPN {
			return nil, fmt.Errorf("the member does not serve enrollment (etcq-join/1): join through a member that holds the cluster's CA key, such as the first one started with --auto-tls: %w", err)
		}
		return nil, transient(fmt.Errorf("dial: %w", err))
	}
	defer conn.CloseWithError(0, "")
	binding, err := certs.JoinBinding(conn.ConnectionState().TLS)
	if err != nil {
		return nil, err
	}
	sent := *req
	sent.TokenID, sent.Proof = tok.ID, tok.Proof(binding)
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, transient(err)
	}
	stop := context.AfterFunc(ctx, func() { str.CancelRead(0); str.CancelWrite(0) })
	defer stop()
	if err := writeJoinMsg(str, &sent); err != nil {
		return nil, transient(err)
	}
	if err := str.Close(); err != nil {
		return nil, transient(err)
	}
	body, err := readJoinFrame(str, maxJoinResponseBytes)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("the member closed the exchange without an answer: %w", err)
		}
		return nil, transient(err)
	}
	resp, err := decodeJoinResponse(body)
	if err != nil {
		return nil, err
	}
	switch resp.Code {
	case joinOK:
		return resp, nil
	case joinUnavailable:
		return nil, transient(&joinRefusal{code: resp.Code, msg: resp.Error})
	}
	return nil, &joinRefusal{code: resp.Code, msg: resp.Error}
}

// readJoinState reads join-state.json; os.ErrNotExist if there is none.
func readJoinState(dir string) (*joinState, error) {
	path := filepath.Join(dir, joinStateFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st joinState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("join: %s: %w", path, err)
	}
	if st.Version != 1 || st.MemberID == 0 || st.ClusterID == 0 || st.Name == "" {
		return nil, fmt.Errorf("join: %s: incomplete or of another version", path)
	}
	return &st, nil
}

// writeJoinState writes join-state.json atomically (0600: it holds the cluster token).
func writeJoinState(dir string, st *joinState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, joinStateFile)
	tmp, err := os.CreateTemp(dir, "."+joinStateFile+".tmp*")
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("join: write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// announceJoin tells the operator, on stdout, how to join more members to a cluster this
// process just created a CA for (with a new token), or that this member joined one.
func announceJoin(w io.Writer, cfg *config, advertise []string, t *tlsSetup, st *joinState) error {
	if st != nil && st.fresh {
		fmt.Fprintf(w, "etcq %s joined the cluster through %s as member %x; its certificates are in %s\n",
			cfg.Name, st.JoinedVia, st.MemberID, abs(pkiDirOf(cfg)))
		return nil
	}
	if t.caDir == "" || !t.freshCA {
		return nil
	}
	tok, rec, err := t.caDir.CreateJoinToken(certs.JoinTokenOptions{TTL: certs.DefaultJoinTokenTTL, Description: "printed by " + cfg.Name + " at its first start"})
	if err != nil {
		return fmt.Errorf("join token: %w", err)
	}
	fmt.Fprintf(w, "Join new members: on each new machine, start etcq with its own --name, --data-dir and URLs, and\n"+
		"  --join %s --join-token %s\n"+
		"(the token serves any number of members until %s; etcqctl certs token list|create|revoke --dir %s manages tokens)\n",
		advertise[0], tok, rec.Expires.Format(time.RFC3339), abs(string(t.caDir)))
	return nil
}
