package quicclient

import (
	"context"
	"errors"
	"fmt"
	"io"

	"etcq.dev/etcq/wire"
)

// StatusResponse describes one member.
type StatusResponse struct {
	Header Header
	wire.StatusResponse
}

// Status asks one endpoint about its member.
func (c *Client) Status(ctx context.Context, endpoint string) (*StatusResponse, error) {
	resp, err := c.doOn(ctx, endpoint, wire.OpStatus, &wire.Empty{})
	if err != nil {
		return nil, err
	}
	return &StatusResponse{Header: resp.Header, StatusResponse: *resp.Body.(*wire.StatusResponse)}, nil
}

// HashKVResponse is a member's hash of its key history.
type HashKVResponse struct {
	Header Header
	wire.HashKVResponse
}

// HashKV asks one endpoint for the hash of its key history up to rev (0: the current one).
// Members that agree on CompactRevision and HashRevision must agree on Hash.
func (c *Client) HashKV(ctx context.Context, endpoint string, rev int64) (*HashKVResponse, error) {
	resp, err := c.doOn(ctx, endpoint, wire.OpHashKV, &wire.HashKVRequest{Revision: rev})
	if err != nil {
		return nil, err
	}
	return &HashKVResponse{Header: resp.Header, HashKVResponse: *resp.Body.(*wire.HashKVResponse)}, nil
}

// Hash asks one endpoint for the hash of its whole store file.
func (c *Client) Hash(ctx context.Context, endpoint string) (uint32, error) {
	resp, err := c.doOn(ctx, endpoint, wire.OpHash, &wire.Empty{})
	if err != nil {
		return 0, err
	}
	return resp.Body.(*wire.HashResponse).Hash, nil
}

// AlarmList lists the cluster's alarms.
func (c *Client) AlarmList(ctx context.Context) ([]wire.AlarmMember, error) {
	resp, err := c.do(ctx, wire.OpAlarm, &wire.AlarmRequest{Action: wire.AlarmGet}, idempotent)
	if err != nil {
		return nil, err
	}
	return resp.Body.(*wire.AlarmResponse).Alarms, nil
}

// AlarmDisarm clears an alarm (MemberID 0 and AlarmNone: every alarm).
func (c *Client) AlarmDisarm(ctx context.Context, am wire.AlarmMember) ([]wire.AlarmMember, error) {
	resp, err := c.do(ctx, wire.OpAlarm, &wire.AlarmRequest{Action: wire.AlarmDeactivate, MemberID: am.MemberID, Alarm: am.Alarm}, idempotent)
	if err != nil {
		return nil, err
	}
	return resp.Body.(*wire.AlarmResponse).Alarms, nil
}

// Defragment compacts one endpoint's store file.
func (c *Client) Defragment(ctx context.Context, endpoint string) error {
	_, err := c.doOn(ctx, endpoint, wire.OpDefragment, &wire.Empty{})
	return err
}

// MoveLeader hands leadership to the member target.
func (c *Client) MoveLeader(ctx context.Context, target uint64) error {
	_, err := c.do(ctx, wire.OpMoveLeader, &wire.MoveLeaderRequest{TargetID: target}, mutating)
	return err
}

// Snapshot downloads a snapshot of the store from the active member. Read it to the end:
// a download cut short fails with an error rather than end early. Close the reader when
// done.
func (c *Client) Snapshot(ctx context.Context) (io.ReadCloser, error) {
	cn, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	return c.snapshotOn(ctx, cn)
}

// SnapshotFrom downloads a snapshot from one endpoint.
func (c *Client) SnapshotFrom(ctx context.Context, endpoint string) (io.ReadCloser, error) {
	cn, err := c.connTo(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	return c.snapshotOn(ctx, cn)
}

func (c *Client) snapshotOn(ctx context.Context, cn *conn) (io.ReadCloser, error) {
	str, err := cn.openStream(ctx, wire.StreamSnapshot)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	token := c.token
	c.mu.Unlock()
	frame, err := wire.NewEncoder().Frame(wire.Request{ID: 1, Op: wire.OpSnapshot, Token: token, Body: &wire.Empty{}})
	if err == nil {
		_, err = str.Write(frame)
	}
	if err == nil {
		err = str.Close()
	}
	if err != nil {
		str.CancelRead(0)
		return nil, fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	pr, pw := io.Pipe()
	stop := context.AfterFunc(ctx, func() {
		// The reader sees ctx's error (closing pr would give it io.ErrClosedPipe), and the
		// goroutine below stops waiting for the stream.
		pw.CloseWithError(ctx.Err())
		str.CancelRead(0)
	})
	go func() {
		defer stop()
		defer str.CancelRead(0)
		fr := wire.NewFrameReader(str, c.cfg.MaxResponseBytes)
		dec := wire.NewDecoder()
		for {
			body, err := fr.Next()
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				pw.CloseWithError(fmt.Errorf("quicclient: snapshot download cut short: %w", err))
				return
			}
			var resp wire.Response
			if err := dec.Response(body, &resp); err != nil {
				pw.CloseWithError(err)
				return
			}
			if err := resp.Err(); err != nil {
				pw.CloseWithError(err)
				return
			}
			chunk, ok := resp.Body.(*wire.SnapshotResponse)
			if !ok {
				pw.CloseWithError(fmt.Errorf("%w: a snapshot stream carried %v", ErrProtocol, resp.Op))
				return
			}
			if _, err := pw.Write(chunk.Blob); err != nil {
				return // the reader closed
			}
			if chunk.RemainingBytes == 0 {
				pw.Close()
				return
			}
		}
	}()
	return pr, nil
}
