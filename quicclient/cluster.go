package quicclient

import (
	"context"
	"fmt"

	"etcq.dev/etcq/wire"
)

// MemberListResponse is the member list.
type MemberListResponse struct {
	Header  Header
	Members []Member
}

// MemberAddResponse carries the new member and the new list.
type MemberAddResponse struct {
	Header  Header
	Member  Member
	Members []Member
}

// MemberList lists the cluster's members. It reads through consensus, so it reflects
// every membership change completed before it.
func (c *Client) MemberList(ctx context.Context) (*MemberListResponse, error) {
	return c.members(ctx, wire.OpMemberList, &wire.MemberListRequest{Linearizable: true}, idempotent)
}

// MemberAdd adds a voting member with the given name and peer URLs.
func (c *Client) MemberAdd(ctx context.Context, name string, peerURLs []string) (*MemberAddResponse, error) {
	return c.memberAdd(ctx, name, peerURLs, false)
}

// MemberAddAsLearner adds a non-voting member that catches up before it is promoted.
func (c *Client) MemberAddAsLearner(ctx context.Context, name string, peerURLs []string) (*MemberAddResponse, error) {
	return c.memberAdd(ctx, name, peerURLs, true)
}

func (c *Client) memberAdd(ctx context.Context, name string, peerURLs []string, learner bool) (*MemberAddResponse, error) {
	resp, err := c.do(ctx, wire.OpMemberAdd, &wire.MemberAddRequest{Name: name, PeerURLs: peerURLs, IsLearner: learner}, mutating)
	if err != nil {
		return nil, err
	}
	r := resp.Body.(*wire.MemberAddResponse)
	return &MemberAddResponse{Header: resp.Header, Member: r.Member, Members: r.Members}, nil
}

// MemberRemove removes a member.
func (c *Client) MemberRemove(ctx context.Context, id uint64) (*MemberListResponse, error) {
	return c.members(ctx, wire.OpMemberRemove, &wire.MemberRemoveRequest{ID: id}, mutating)
}

// MemberUpdate changes a member's peer URLs.
func (c *Client) MemberUpdate(ctx context.Context, id uint64, peerURLs []string) (*MemberListResponse, error) {
	return c.members(ctx, wire.OpMemberUpdate, &wire.MemberUpdateRequest{ID: id, PeerURLs: peerURLs}, mutating)
}

// MemberPromote makes a learner a voting member.
// It is sent to the leader, the only member that knows whether the learner has caught up.
func (c *Client) MemberPromote(ctx context.Context, id uint64) (*MemberListResponse, error) {
	resp, err := c.onLeader(ctx, wire.OpMemberPromote, &wire.MemberPromoteRequest{ID: id})
	if err != nil {
		return nil, err
	}
	return &MemberListResponse{Header: resp.Header, Members: resp.Body.(*wire.MemberListResponse).Members}, nil
}

// onLeader sends a request to the current leader, found through the active member's status
// and the member list (the leader's client URL).
func (c *Client) onLeader(ctx context.Context, op wire.Op, body any) (*wire.Response, error) {
	cn, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	st, err := c.statusOn(ctx, cn)
	if err != nil {
		return nil, err
	}
	if st.Leader == 0 {
		return nil, fmt.Errorf("%w: %s knows no leader", wire.ErrNoLeader, cn.endpoint)
	}
	list, err := c.MemberList(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range list.Members {
		if m.ID == st.Leader && len(m.ClientURLs) > 0 {
			return c.doOn(ctx, m.ClientURLs[0], op, body)
		}
	}
	return nil, fmt.Errorf("%w: the leader %x has published no client URL", wire.ErrUnavailable, st.Leader)
}

func (c *Client) members(ctx context.Context, op wire.Op, body any, s safety) (*MemberListResponse, error) {
	resp, err := c.do(ctx, op, body, s)
	if err != nil {
		return nil, err
	}
	return &MemberListResponse{Header: resp.Header, Members: resp.Body.(*wire.MemberListResponse).Members}, nil
}
