package main

import (
	"context"
	"errors"
	"fmt"

	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/wire"
)

// etcd's concurrency recipes (sessions, mutexes, elections) on quicclient, for the lock
// and elect commands. Their keys are laid out as etcd lays them out, so etcqctl's locks
// and elections look like etcdctl's: <name>/<lease ID in hex>, the oldest key (smallest
// create revision) holding the lock or the leadership.

var (
	errSessionExpired    = errors.New("session expired")
	errElectionNotLeader = errors.New("election: not leader")
)

// session is a lease kept alive until it is closed or lost.
type session struct {
	c      *quicclient.Client
	id     int64
	cancel context.CancelFunc
	done   chan struct{} // closed when the keep-alive ends
}

func newSession(ctx context.Context, c *quicclient.Client, ttl int64) (*session, error) {
	g, err := c.Grant(ctx, ttl)
	if err != nil {
		return nil, err
	}
	kctx, cancel := context.WithCancel(context.Background())
	ch, err := c.KeepAlive(kctx, g.ID)
	if err != nil {
		cancel()
		return nil, err
	}
	s := &session{c: c, id: g.ID, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for range ch {
		}
	}()
	return s, nil
}

// Done is closed when the session's lease is lost (or the session closed).
func (s *session) Done() <-chan struct{} { return s.done }

// close stops the keep-alive and revokes the lease, deleting the session's keys.
func (s *session) close(ctx context.Context) error {
	s.cancel()
	_, err := s.c.Revoke(ctx, s.id)
	return err
}

// firstCreated reads the oldest key under a prefix; lastCreatedBefore the newest one
// created at or before a revision.
func firstCreated() []quicclient.OpOption {
	return []quicclient.OpOption{quicclient.WithPrefix(), quicclient.WithSort(wire.SortByCreate, wire.SortAscend), quicclient.WithLimit(1)}
}

func lastCreatedBefore(rev int64) []quicclient.OpOption {
	return []quicclient.OpOption{quicclient.WithPrefix(), quicclient.WithSort(wire.SortByCreate, wire.SortDescend),
		quicclient.WithLimit(1), quicclient.WithMaxCreateRev(rev)}
}

// waitDeletes waits until no key under pfx created at or before maxRev remains.
func waitDeletes(ctx context.Context, c *quicclient.Client, pfx string, maxRev int64) error {
	for {
		resp, err := c.Get(ctx, pfx, lastCreatedBefore(maxRev)...)
		if err != nil {
			return err
		}
		if len(resp.KVs) == 0 {
			return nil
		}
		if err := waitDelete(ctx, c, string(resp.KVs[0].Key), resp.Header.Revision); err != nil {
			return err
		}
	}
}

// waitDelete waits for the deletion of key after rev.
func waitDelete(ctx context.Context, c *quicclient.Client, key string, rev int64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var last quicclient.WatchResponse
	for wr := range c.Watch(wctx, key, quicclient.WithRev(rev)) {
		for _, ev := range wr.Events {
			if ev.Type == wire.EventDelete {
				return nil
			}
		}
		last = wr
	}
	if err := last.Err(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("lost watcher waiting for delete")
}

// mutex is etcd's distributed lock: waiters queue as keys under the lock's prefix, in
// create revision order.
type mutex struct {
	s   *session
	pfx string
	key string
	rev int64
	hdr quicclient.Header
}

func newMutex(s *session, name string) *mutex { return &mutex{s: s, pfx: name + "/"} }

// lock waits until the session holds the lock.
func (m *mutex) lock(ctx context.Context) error {
	c := m.s.c
	m.key = fmt.Sprintf("%s%x", m.pfx, m.s.id)
	resp, err := c.Txn(ctx).
		If(quicclient.Compare(quicclient.CreateRevision(m.key), "=", 0)).
		Then(quicclient.OpPut(m.key, "", quicclient.WithLease(m.s.id)), quicclient.OpGet(m.pfx, firstCreated()...)).
		Else(quicclient.OpGet(m.key), quicclient.OpGet(m.pfx, firstCreated()...)).
		Commit()
	if err != nil {
		return err
	}
	m.rev = resp.Header.Revision
	if !resp.Succeeded {
		m.rev = resp.Responses[0].Range.KVs[0].CreateRevision
	}
	owner := resp.Responses[1].Range.KVs
	if len(owner) == 0 || owner[0].CreateRevision == m.rev {
		m.hdr = resp.Header
		return nil
	}
	if err := waitDeletes(ctx, c, m.pfx, m.rev-1); err != nil {
		_ = m.unlock(context.Background())
		return err
	}
	g, err := c.Get(ctx, m.key)
	if err != nil {
		_ = m.unlock(context.Background())
		return err
	}
	if len(g.KVs) == 0 {
		return errSessionExpired
	}
	m.hdr = g.Header
	return nil
}

func (m *mutex) unlock(ctx context.Context) error {
	_, err := m.s.c.Delete(ctx, m.key)
	return err
}

// election is etcd's leader election: candidates queue as keys under the election's
// prefix; the oldest leads, and its value is the proclamation.
type election struct {
	s   *session
	pfx string
	key string
	rev int64
	hdr quicclient.Header
}

func newElection(s *session, name string) *election { return &election{s: s, pfx: name + "/"} }

// campaign waits until the session leads the election, proclaiming val.
func (e *election) campaign(ctx context.Context, val string) error {
	c := e.s.c
	k := fmt.Sprintf("%s%x", e.pfx, e.s.id)
	resp, err := c.Txn(ctx).
		If(quicclient.Compare(quicclient.CreateRevision(k), "=", 0)).
		Then(quicclient.OpPut(k, val, quicclient.WithLease(e.s.id))).
		Else(quicclient.OpGet(k)).
		Commit()
	if err != nil {
		return err
	}
	e.key, e.rev = k, resp.Header.Revision
	if !resp.Succeeded {
		kv := resp.Responses[0].Range.KVs[0]
		e.rev = kv.CreateRevision
		if string(kv.Value) != val {
			if err := e.proclaim(ctx, val); err != nil {
				_ = e.resign(ctx)
				return err
			}
		}
	}
	if err := waitDeletes(ctx, c, e.pfx, e.rev-1); err != nil {
		if ctx.Err() != nil {
			_ = e.resign(context.Background())
		}
		return err
	}
	e.hdr = resp.Header
	return nil
}

// proclaim changes the leader's value without another election.
func (e *election) proclaim(ctx context.Context, val string) error {
	resp, err := e.s.c.Txn(ctx).
		If(quicclient.Compare(quicclient.CreateRevision(e.key), "=", e.rev)).
		Then(quicclient.OpPut(e.key, val, quicclient.WithLease(e.s.id))).
		Commit()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		e.key = ""
		return errElectionNotLeader
	}
	return nil
}

// resign gives up leadership (or the candidacy).
func (e *election) resign(ctx context.Context) error {
	if e.key == "" {
		return nil
	}
	_, err := e.s.c.Txn(ctx).
		If(quicclient.Compare(quicclient.CreateRevision(e.key), "=", e.rev)).
		Then(quicclient.OpDelete(e.key)).
		Commit()
	e.key = ""
	return err
}

// observe delivers the election's leader (its key and value) each time it changes, until
// ctx ends or the watch is lost.
func observe(ctx context.Context, c *quicclient.Client, name string) <-chan quicclient.GetResponse {
	pfx := name + "/"
	ch := make(chan quicclient.GetResponse)
	go func() {
		defer close(ch)
		for {
			resp, err := c.Get(ctx, pfx, firstCreated()...)
			if err != nil {
				return
			}
			var kv *quicclient.KeyValue
			hdr := resp.Header
			if len(resp.KVs) == 0 {
				kv, hdr = firstPut(ctx, c, pfx, resp.Header.Revision)
				if kv == nil {
					return
				}
			} else {
				kv = &resp.KVs[0]
			}
			select {
			case ch <- quicclient.GetResponse{Header: hdr, KVs: []quicclient.KeyValue{*kv}, Count: 1}:
			case <-ctx.Done():
				return
			}
			if !followLeader(ctx, c, ch, kv, hdr.Revision) {
				return
			}
		}
	}()
	return ch
}

// firstPut waits for the first key put under pfx after rev.
func firstPut(ctx context.Context, c *quicclient.Client, pfx string, rev int64) (*quicclient.KeyValue, quicclient.Header) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for wr := range c.Watch(wctx, pfx, quicclient.WithRev(rev), quicclient.WithPrefix()) {
		if wr.Err() != nil {
			return nil, quicclient.Header{}
		}
		for i := range wr.Events {
			if ev := &wr.Events[i]; ev.Type == wire.EventPut {
				h := wr.Header
				h.Revision = ev.KV.ModRevision
				return &ev.KV, h
			}
		}
	}
	return nil, quicclient.Header{}
}

// followLeader delivers the leader's new values until its key is deleted (true) or the
// watch ends (false).
func followLeader(ctx context.Context, c *quicclient.Client, ch chan<- quicclient.GetResponse, kv *quicclient.KeyValue, rev int64) bool {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for wr := range c.Watch(wctx, string(kv.Key), quicclient.WithRev(rev+1)) {
		for i := range wr.Events {
			ev := &wr.Events[i]
			if ev.Type == wire.EventDelete {
				return true
			}
			select {
			case ch <- quicclient.GetResponse{Header: wr.Header, KVs: []quicclient.KeyValue{ev.KV}, Count: 1}:
			case <-ctx.Done():
				return false
			}
		}
	}
	return false
}
