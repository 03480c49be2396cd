package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"etcq.dev/etcq/certs"
	"etcq.dev/etcq/node"
)

// Enrollment, the member side. A member started with --auto-tls whose PKI directory holds
// the CA key serves enrollment on its client port (node.ServiceConfig.Enroll, ALPN
// etcq-join/1, the one protocol without a client certificate). For each connection:
//
//  1. read one joinRequest (at most 64 KiB, within enrollRequestTimeout);
//  2. check the token: known, proof right for this TLS session, not revoked, not expired
//     (certs.Dir.VerifyJoinProof reads join-tokens.json afresh);
//  3. sign the two CSRs with the directory's CA (ca.pem), with the common name and the
//     SANs this member decides: the hosts of the request's client URLs (server) or peer
//     URLs (peer), plus localhost, as auto-TLS issues its own;
//  4. add the member through consensus (node.Member.AddMember by name, a learner promoted
//     once it has caught up, exactly as `etcqctl member add`);
//  5. answer with the certificates, ca-bundle.pem, crl.pem, the cluster token and ID, the
//     new member's ID and the member list.
//
// Enrollments run one at a time (membership changes go one by one). A member added
// whose process never started (no client URLs published yet), enrolled again with the
// same name and peer URLs, is not added twice but gets fresh certificates: a joining
// machine that lost the answer can retry.

// enrollTimeout bounds one enrollment, from the connection to the answer;
// enrollRequestTimeout the wait for the request, so that idle connections do not hold the
// service's few enrollment slots.
const (
	enrollTimeout        = 45 * time.Second
	enrollRequestTimeout = 10 * time.Second
)

// memberNameRE is what a member name may be: it names files on the joining machine.
var memberNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// enroller serves enrollment for one member.
type enroller struct {
	dir          certs.Dir
	member       *node.Member
	clusterToken string
	log          *slog.Logger
	mu           sync.Mutex // one enrollment at a time
}

// serve is the node.ServiceConfig.Enroll hook.
func (e *enroller) serve(ctx context.Context, conn *quic.Conn) {
	ctx, cancel := context.WithTimeout(ctx, enrollTimeout)
	defer cancel()
	remote := conn.RemoteAddr().String()
	accept, cancelAccept := context.WithTimeout(ctx, enrollRequestTimeout)
	str, err := conn.AcceptStream(accept)
	cancelAccept()
	if err != nil {
		return
	}
	_ = str.SetReadDeadline(time.Now().Add(enrollRequestTimeout))
	stop := context.AfterFunc(ctx, func() {
		str.CancelRead(0)
		str.CancelWrite(0)
	})
	defer stop()
	resp := e.respond(ctx, conn, str, remote)
	resp.Version = joinProtoVersion
	if err := writeJoinMsg(str, resp); err != nil {
		e.log.Warn("enrollment: cannot answer", "remote", remote, "err", err)
		return
	}
	_ = str.Close()
	// The joining machine closes the connection once it has the answer.
	select {
	case <-conn.Context().Done():
	case <-ctx.Done():
	}
}

// respond reads the request and decides.
func (e *enroller) respond(ctx context.Context, conn *quic.Conn, str io.Reader, remote string) *joinResponse {
	body, err := readJoinFrame(str, maxJoinRequestBytes)
	if err != nil {
		e.log.Warn("enrollment: unreadable request", "remote", remote, "err", err)
		return refuse(joinBadRequest, err)
	}
	req, err := decodeJoinRequest(body)
	if err != nil {
		e.log.Warn("enrollment: bad request", "remote", remote, "err", err)
		return refuse(joinBadRequest, err)
	}
	log := e.log.With("remote", remote, "token", req.TokenID, "name", req.Name)
	binding, err := certs.JoinBinding(conn.ConnectionState().TLS)
	if err != nil {
		log.Warn("enrollment: refused", "err", err)
		return refuse(joinBadRequest, err)
	}
	if _, err := e.dir.VerifyJoinProof(req.TokenID, req.Proof, binding, time.Now()); err != nil {
		log.Warn("enrollment: token refused", "err", err)
		switch {
		case errors.Is(err, certs.ErrJoinTokenExpired):
			return refuse(joinExpiredToken, err)
		case errors.Is(err, certs.ErrJoinTokenRevoked):
			return refuse(joinRevokedToken, err)
		case errors.Is(err, certs.ErrJoinTokenInvalid):
			return refuse(joinInvalidToken, err)
		}
		return refuse(joinUnavailable, errors.New("this member cannot check join tokens now (see its log)"))
	}
	resp, err := e.enroll(ctx, req, log)
	if err != nil {
		return resp
	}
	log.Info("enrollment: enrolled a new member", "id", fmt.Sprintf("%x", resp.MemberID), "peer_urls", req.PeerURLs)
	return resp
}

// enroll signs the CSRs and adds the member. On failure it returns the refusal and an
// error (already logged).
func (e *enroller) enroll(ctx context.Context, req *joinRequest, log *slog.Logger) (*joinResponse, error) {
	fail := func(code string, err error) (*joinResponse, error) {
		log.Warn("enrollment: refused", "code", code, "err", err)
		return refuse(code, err), err
	}
	if err := checkMemberName(req.Name); err != nil {
		return fail(joinBadRequest, err)
	}
	peerHosts, err := enrollHosts("peer URL", req.PeerURLs)
	if err != nil {
		return fail(joinBadRequest, err)
	}
	clientHosts, err := enrollHosts("client URL", req.ClientURLs)
	if err != nil {
		return fail(joinBadRequest, err)
	}
	ca, err := e.dir.LoadCA()
	if err != nil {
		return fail(joinUnavailable, fmt.Errorf("this member cannot use its CA: %w", err))
	}
	local := []string{"localhost", "127.0.0.1", "::1"}
	serverCert, err := ca.SignCSR(req.ServerCSR, certs.IssueRequest{Profile: certs.ProfileServer, CommonName: req.Name, Hosts: append(clientHosts, local...)})
	if err != nil {
		return fail(joinBadRequest, fmt.Errorf("server CSR: %w", err))
	}
	peerCert, err := ca.SignCSR(req.PeerCSR, certs.IssueRequest{Profile: certs.ProfilePeer, CommonName: req.Name, Hosts: append(peerHosts, local...)})
	if err != nil {
		return fail(joinBadRequest, fmt.Errorf("peer CSR: %w", err))
	}
	bundle, err := os.ReadFile(e.dir.Path(certs.BundleFile))
	if err != nil {
		return fail(joinUnavailable, fmt.Errorf("CA bundle: %w", err))
	}
	crl, err := os.ReadFile(e.dir.Path(certs.CRLFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(joinUnavailable, fmt.Errorf("CRL: %w", err))
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	id, members, code, err := e.addMember(ctx, req.Name, req.PeerURLs)
	if err != nil {
		return fail(code, err)
	}
	resp := &joinResponse{
		ServerCert: serverCert, PeerCert: peerCert, CABundle: bundle, CRL: crl,
		ClusterToken: e.clusterToken, ClusterID: e.member.ClusterID(), MemberID: id,
	}
	for _, m := range members {
		resp.Members = append(resp.Members, joinMember{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, IsLearner: m.IsLearner})
	}
	return resp, nil
}

// addMember adds the member through consensus, or finds it already added by an earlier
// enrollment whose answer was lost (same name and peer URLs, never started). A membership
// change proposed while another is in flight (an automatic promotion, say) may be dropped
// by raft; it is proposed again until it shows in the member list or ctx ends.
func (e *enroller) addMember(ctx context.Context, name string, peerURLs []string) (uint64, []node.MemberInfo, string, error) {
	// added finds the member in the list: ok, or a refusal if the name is taken.
	added := func() (uint64, []node.MemberInfo, bool, error) {
		members := e.member.Members()
		for _, m := range members {
			if m.Name != name {
				continue
			}
			if sameURLs(m.PeerURLs, peerURLs) && len(m.ClientURLs) == 0 {
				return m.ID, members, true, nil
			}
			return 0, nil, false, fmt.Errorf("a member named %q already exists (%x); choose another --name", name, m.ID)
		}
		return 0, nil, false, nil
	}
	for {
		if id, members, ok, err := added(); ok || err != nil {
			if err != nil {
				return 0, nil, joinRefused, err
			}
			return id, members, "", nil
		}
		attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
		info, members, err := e.member.AddMember(attempt, name, peerURLs, false)
		cancel()
		switch {
		case err == nil:
			return info.ID, members, "", nil
		case errors.Is(err, node.ErrPeerURLExists):
			// Perhaps an earlier proposal of ours that applied after all.
			if id, members, ok, _ := added(); ok {
				return id, members, "", nil
			}
			return 0, nil, joinRefused, err
		case errors.Is(err, node.ErrIDRemoved):
			return 0, nil, joinRefused, err
		case ctx.Err() != nil:
			return 0, nil, joinUnavailable, fmt.Errorf("the membership change did not complete (is there a quorum?): %w", err)
		case errors.Is(err, node.ErrStopped):
			return 0, nil, joinUnavailable, err
		}
		// No leader, a leader change, a proposal dropped or not applied in time: its
		// outcome is unknown, so look again before proposing again.
		e.log.Info("enrollment: membership change not applied yet; checking and proposing again", "name", name, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// checkMemberName accepts the names a member can enroll under: letters, digits, '.', '_'
// and '-', and nothing that would collide with a PKI directory's files on the joining
// machine.
func checkMemberName(name string) error {
	if !memberNameRE.MatchString(name) || len(name) > maxJoinNameBytes {
		return fmt.Errorf("member name %q: use up to %d letters, digits, '.', '_' and '-'", name, maxJoinNameBytes)
	}
	if err := certs.CheckEnrollmentName(name); err != nil {
		return fmt.Errorf("member name %q: it would name the PKI directory's own files: %w", name, err)
	}
	return nil
}

// enrollHosts checks a request's URLs (https://host:port, as the daemon's own) and
// returns their hosts.
func enrollHosts(what string, urls []string) ([]string, error) {
	var hosts []string
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", what, raw, err)
		}
		if u.Scheme != "https" || u.Hostname() == "" || u.Port() == "" || u.Path != "" && u.Path != "/" {
			return nil, fmt.Errorf("%s %q: want https://host:port", what, raw)
		}
		if _, err := strconv.ParseUint(u.Port(), 10, 16); err != nil {
			return nil, fmt.Errorf("%s %q: bad port", what, raw)
		}
		if !slices.Contains(hosts, u.Hostname()) {
			hosts = append(hosts, u.Hostname())
		}
	}
	return hosts, nil
}

// refuse is a refusal with code and err's text.
func refuse(code string, err error) *joinResponse {
	return &joinResponse{Code: code, Error: err.Error()}
}

// enrollHook returns the client service's enrollment hook and its TLS configuration, or
// nils if this member cannot enroll (its PKI directory holds no CA key).
func enrollHook(t *tlsSetup, m *node.Member, clusterToken string, log *slog.Logger) (func(context.Context, *quic.Conn), *tls.Config) {
	if t.caDir == "" {
		return nil, nil
	}
	e := &enroller{dir: t.caDir, member: m, clusterToken: clusterToken, log: log}
	return e.serve, t.client.JoinServerConfig(&tls.Config{})
}
