package quicclient

import (
	"context"

	"etcq.dev/etcq/wire"
)

// The calls in this file return the response header along with the result, for tools
// such as etcqctl that print it (etcdctl's -w json and -w fields show every header).

// LeaseListResponse lists every lease, with the header of the member that answered.
type LeaseListResponse struct {
	Header Header
	IDs    []int64
}

// LeaseList lists the IDs of every lease, as Leases, with the response header.
func (c *Client) LeaseList(ctx context.Context) (*LeaseListResponse, error) {
	resp, err := c.do(ctx, wire.OpLeaseLeases, &wire.Empty{}, idempotent)
	if err != nil {
		return nil, err
	}
	r := resp.Body.(*wire.LeaseLeasesResponse)
	out := &LeaseListResponse{Header: resp.Header, IDs: make([]int64, len(r.Leases))}
	for i, l := range r.Leases {
		out.IDs[i] = l.ID
	}
	return out, nil
}

// AlarmResponse lists alarms, with the header of the member that answered.
type AlarmResponse struct {
	Header Header
	Alarms []wire.AlarmMember
}

// Alarms lists the cluster's alarms, as AlarmList, with the response header.
func (c *Client) Alarms(ctx context.Context) (*AlarmResponse, error) {
	return c.alarm(ctx, &wire.AlarmRequest{Action: wire.AlarmGet})
}

// Disarm clears an alarm (MemberID 0 and AlarmNone: every alarm), as AlarmDisarm, with the
// response header.
func (c *Client) Disarm(ctx context.Context, am wire.AlarmMember) (*AlarmResponse, error) {
	return c.alarm(ctx, &wire.AlarmRequest{Action: wire.AlarmDeactivate, MemberID: am.MemberID, Alarm: am.Alarm})
}

func (c *Client) alarm(ctx context.Context, req *wire.AlarmRequest) (*AlarmResponse, error) {
	resp, err := c.do(ctx, wire.OpAlarm, req, idempotent)
	if err != nil {
		return nil, err
	}
	return &AlarmResponse{Header: resp.Header, Alarms: resp.Body.(*wire.AlarmResponse).Alarms}, nil
}
