package quicclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"etcq.dev/etcq/wire"
)

// LeaseGrantResponse is a granted lease.
type LeaseGrantResponse struct {
	Header Header
	ID     int64
	// TTL is the granted TTL in seconds (at least the cluster's minimum).
	TTL int64
}

// LeaseOption configures Grant and TimeToLive.
type LeaseOption func(*leaseOptions)

type leaseOptions struct {
	id   int64
	keys bool
}

// WithLeaseID picks the ID of a granted lease (default: the member picks one).
func WithLeaseID(id int64) LeaseOption { return func(o *leaseOptions) { o.id = id } }

// WithAttachedKeys makes TimeToLive list the lease's keys.
func WithAttachedKeys() LeaseOption { return func(o *leaseOptions) { o.keys = true } }

// Grant creates a lease of ttl seconds.
func (c *Client) Grant(ctx context.Context, ttl int64, opts ...LeaseOption) (*LeaseGrantResponse, error) {
	var o leaseOptions
	for _, opt := range opts {
		opt(&o)
	}
	resp, err := c.do(ctx, wire.OpLeaseGrant, &wire.LeaseGrantRequest{TTL: ttl, ID: o.id}, mutating)
	if err != nil {
		return nil, err
	}
	r := resp.Body.(*wire.LeaseGrantResponse)
	return &LeaseGrantResponse{Header: resp.Header, ID: r.ID, TTL: r.TTL}, nil
}

// Revoke deletes a lease and its keys. Revoking twice fails the second time with
// wire.ErrLeaseNotFound, so a revoke is retried like a read.
func (c *Client) Revoke(ctx context.Context, id int64) (Header, error) {
	resp, err := c.do(ctx, wire.OpLeaseRevoke, &wire.LeaseRevokeRequest{ID: id}, idempotent)
	if err != nil {
		return Header{}, err
	}
	return resp.Header, nil
}

// LeaseTimeToLiveResponse describes a lease; TTL -1 means it does not exist.
type LeaseTimeToLiveResponse struct {
	Header     Header
	ID         int64
	TTL        int64
	GrantedTTL int64
	Keys       [][]byte
}

// TimeToLive describes a lease (with WithAttachedKeys, its keys too).
func (c *Client) TimeToLive(ctx context.Context, id int64, opts ...LeaseOption) (*LeaseTimeToLiveResponse, error) {
	var o leaseOptions
	for _, opt := range opts {
		opt(&o)
	}
	resp, err := c.do(ctx, wire.OpLeaseTimeToLive, &wire.LeaseTimeToLiveRequest{ID: id, Keys: o.keys}, idempotent)
	if err != nil {
		return nil, err
	}
	r := resp.Body.(*wire.LeaseTimeToLiveResponse)
	return &LeaseTimeToLiveResponse{Header: resp.Header, ID: r.ID, TTL: r.TTL, GrantedTTL: r.GrantedTTL, Keys: r.Keys}, nil
}

// Leases lists the IDs of every lease.
func (c *Client) Leases(ctx context.Context) ([]int64, error) {
	resp, err := c.do(ctx, wire.OpLeaseLeases, &wire.Empty{}, idempotent)
	if err != nil {
		return nil, err
	}
	r := resp.Body.(*wire.LeaseLeasesResponse)
	ids := make([]int64, len(r.Leases))
	for i, l := range r.Leases {
		ids[i] = l.ID
	}
	return ids, nil
}

// LeaseKeepAliveResponse reports a renewal. The last response of a KeepAlive channel whose
// lease was lost has Err set (matching ErrLeaseLost).
type LeaseKeepAliveResponse struct {
	Header Header
	ID     int64
	TTL    int64
	Err    error
}

// KeepAliveOnce renews a lease once. A lease that no longer exists fails with an error
// matching wire.ErrLeaseNotFound.
func (c *Client) KeepAliveOnce(ctx context.Context, id int64) (*LeaseKeepAliveResponse, error) {
	resp, err := c.do(ctx, wire.OpLeaseKeepAlive, &wire.LeaseKeepAliveRequest{ID: id}, idempotent)
	if err != nil {
		return nil, err
	}
	r := resp.Body.(*wire.LeaseKeepAliveResponse)
	if r.TTL <= 0 {
		return nil, fmt.Errorf("%w: %d", wire.ErrLeaseNotFound, id)
	}
	return &LeaseKeepAliveResponse{Header: resp.Header, ID: r.ID, TTL: r.TTL}, nil
}

// KeepAlive keeps a lease alive until ctx ends, renewing it every third of its TTL (on
// whichever member the client uses: renewals survive leader changes). Each renewal is
// reported on the channel; a slow reader misses reports, never renewals. If the lease is
// lost (revoked, expired, or not renewed within its TTL because no member could be
// reached), a last response carries Err and the channel closes.
func (c *Client) KeepAlive(ctx context.Context, id int64) (<-chan LeaseKeepAliveResponse, error) {
	first, err := c.KeepAliveOnce(ctx, id)
	if err != nil {
		return nil, err
	}
	ch := make(chan LeaseKeepAliveResponse, 16)
	ch <- *first
	go c.keepAlive(ctx, first, ch)
	return ch, nil
}

func (c *Client) keepAlive(ctx context.Context, last *LeaseKeepAliveResponse, ch chan LeaseKeepAliveResponse) {
	defer close(ch)
	id, ttl := last.ID, last.TTL
	deadline := time.Now().Add(time.Duration(ttl) * time.Second)
	lost := func(err error) {
		select {
		case ch <- LeaseKeepAliveResponse{ID: id, Err: fmt.Errorf("%w: lease %d: %w", ErrLeaseLost, id, err)}:
		case <-ctx.Done():
		}
	}
	interval := max(time.Duration(ttl)*time.Second/3, 500*time.Millisecond)
	for {
		select {
		case <-time.After(interval):
		case <-ctx.Done():
			return
		}
		rctx, cancel := context.WithDeadline(ctx, deadline)
		r, err := c.KeepAliveOnce(rctx, id)
		cancel()
		switch {
		case err == nil:
			ttl = r.TTL
			deadline = time.Now().Add(time.Duration(ttl) * time.Second)
			interval = max(time.Duration(ttl)*time.Second/3, 500*time.Millisecond)
			select {
			case ch <- *r:
			default:
			}
		case ctx.Err() != nil:
			return
		case !time.Now().Before(deadline):
			lost(err)
			return
		default:
			if errors.Is(err, wire.ErrLeaseNotFound) {
				lost(err)
				return
			}
			interval = time.Second // retry soon; the deadline decides
		}
	}
}
