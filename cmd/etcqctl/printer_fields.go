package main

import (
	"fmt"
	"io"

	"etcq.dev/etcq/quicclient"
)

// fieldsPrinter prints one `"Field" : value` line per field, as etcdctl -w fields: strings
// quoted the Go way, numbers bare.
type fieldsPrinter struct {
	unsupported
	w io.Writer
}

func (p *fieldsPrinter) kv(pfx string, kv *quicclient.KeyValue) {
	fmt.Fprintf(p.w, "\"%sKey\" : %q\n", pfx, string(kv.Key))
	fmt.Fprintf(p.w, "\"%sCreateRevision\" : %d\n", pfx, kv.CreateRevision)
	fmt.Fprintf(p.w, "\"%sModRevision\" : %d\n", pfx, kv.ModRevision)
	fmt.Fprintf(p.w, "\"%sVersion\" : %d\n", pfx, kv.Version)
	fmt.Fprintf(p.w, "\"%sValue\" : %q\n", pfx, string(kv.Value))
	fmt.Fprintf(p.w, "\"%sLease\" : %d\n", pfx, kv.Lease)
}

func (p *fieldsPrinter) hdr(h quicclient.Header) {
	fmt.Fprintln(p.w, `"ClusterID" :`, h.ClusterID)
	fmt.Fprintln(p.w, `"MemberID" :`, h.MemberID)
	fmt.Fprintln(p.w, `"Revision" :`, h.Revision)
	fmt.Fprintln(p.w, `"RaftTerm" :`, h.RaftTerm)
}

func (p *fieldsPrinter) Del(r *quicclient.DeleteResponse) error {
	p.hdr(r.Header)
	fmt.Fprintln(p.w, `"Deleted" :`, r.Deleted)
	for i := range r.PrevKVs {
		p.kv("Prev", &r.PrevKVs[i])
	}
	return nil
}

func (p *fieldsPrinter) Get(r *quicclient.GetResponse) error {
	p.hdr(r.Header)
	for i := range r.KVs {
		p.kv("", &r.KVs[i])
	}
	fmt.Fprintln(p.w, `"More" :`, r.More)
	fmt.Fprintln(p.w, `"Count" :`, r.Count)
	return nil
}

func (p *fieldsPrinter) Put(r *quicclient.PutResponse) error {
	p.hdr(r.Header)
	if r.PrevKV != nil {
		p.kv("Prev", r.PrevKV)
	}
	return nil
}

func (p *fieldsPrinter) Txn(r *quicclient.TxnResponse) error {
	p.hdr(r.Header)
	fmt.Fprintln(p.w, `"Succeeded" :`, r.Succeeded)
	for _, op := range r.Responses {
		switch {
		case op.DeleteRange != nil:
			_ = p.Del(&quicclient.DeleteResponse{Header: r.Header, Deleted: op.DeleteRange.Deleted, PrevKVs: op.DeleteRange.PrevKVs})
		case op.Put != nil:
			_ = p.Put(&quicclient.PutResponse{Header: r.Header, PrevKV: op.Put.PrevKV})
		case op.Range != nil:
			_ = p.Get(&quicclient.GetResponse{Header: r.Header, KVs: op.Range.KVs, More: op.Range.More, Count: op.Range.Count})
		default:
			fmt.Fprintf(p.w, "\"Unknown\" : %q\n", fmt.Sprintf("%+v", op))
		}
	}
	return nil
}

func (p *fieldsPrinter) Watch(r *quicclient.WatchResponse) error {
	p.hdr(r.Header)
	for i := range r.Events {
		ev := &r.Events[i]
		fmt.Fprintln(p.w, `"Type" :`, eventName(ev.Type))
		if ev.PrevKV != nil {
			p.kv("Prev", ev.PrevKV)
		}
		p.kv("", &ev.KV)
	}
	return nil
}

func (p *fieldsPrinter) Grant(r *quicclient.LeaseGrantResponse) error {
	p.hdr(r.Header)
	fmt.Fprintln(p.w, `"ID" :`, r.ID)
	fmt.Fprintln(p.w, `"TTL" :`, r.TTL)
	return nil
}

func (p *fieldsPrinter) Revoke(_ int64, h quicclient.Header) error {
	p.hdr(h)
	return nil
}

func (p *fieldsPrinter) KeepAlive(r *quicclient.LeaseKeepAliveResponse) error {
	p.hdr(r.Header)
	fmt.Fprintln(p.w, `"ID" :`, r.ID)
	fmt.Fprintln(p.w, `"TTL" :`, r.TTL)
	return nil
}

func (p *fieldsPrinter) TimeToLive(r *quicclient.LeaseTimeToLiveResponse, _ bool) error {
	p.hdr(r.Header)
	fmt.Fprintln(p.w, `"ID" :`, r.ID)
	fmt.Fprintln(p.w, `"TTL" :`, r.TTL)
	fmt.Fprintln(p.w, `"GrantedTTL" :`, r.GrantedTTL)
	for _, k := range r.Keys {
		fmt.Fprintf(p.w, "\"Key\" : %q\n", string(k))
	}
	return nil
}

func (p *fieldsPrinter) Leases(r *quicclient.LeaseListResponse) error {
	p.hdr(r.Header)
	for _, id := range r.IDs {
		fmt.Fprintln(p.w, `"ID" :`, id)
	}
	return nil
}

func (p *fieldsPrinter) MemberList(r *quicclient.MemberListResponse) error {
	p.hdr(r.Header)
	for _, m := range r.Members {
		fmt.Fprintln(p.w, `"ID" :`, m.ID)
		fmt.Fprintf(p.w, "\"Name\" : %q\n", m.Name)
		for _, u := range m.PeerURLs {
			fmt.Fprintf(p.w, "\"PeerURL\" : %q\n", u)
		}
		for _, u := range m.ClientURLs {
			fmt.Fprintf(p.w, "\"ClientURL\" : %q\n", u)
		}
		fmt.Fprintln(p.w, `"IsLearner" :`, m.IsLearner)
		fmt.Fprintln(p.w)
	}
	return nil
}

func (p *fieldsPrinter) EndpointHealth(hs []epHealth) error {
	for _, h := range hs {
		fmt.Fprintf(p.w, "\"Endpoint\" : %q\n", h.Ep)
		fmt.Fprintln(p.w, `"Health" :`, h.Health)
		fmt.Fprintln(p.w, `"Took" :`, h.Took)
		fmt.Fprintln(p.w, `"Error" :`, h.Error)
		fmt.Fprintln(p.w)
	}
	return nil
}

func (p *fieldsPrinter) EndpointStatus(ss []epStatus) error {
	for _, s := range ss {
		r := s.Resp
		p.hdr(r.Header)
		fmt.Fprintf(p.w, "\"Version\" : %q\n", r.Version)
		fmt.Fprintln(p.w, `"DBSize" :`, r.DBSize)
		fmt.Fprintln(p.w, `"Leader" :`, r.Leader)
		fmt.Fprintln(p.w, `"IsLearner" :`, r.IsLearner)
		fmt.Fprintln(p.w, `"RaftIndex" :`, r.RaftIndex)
		fmt.Fprintln(p.w, `"RaftTerm" :`, r.RaftTerm)
		fmt.Fprintln(p.w, `"RaftAppliedIndex" :`, r.RaftAppliedIndex)
		fmt.Fprintln(p.w, `"Errors" :`, r.Errors)
		fmt.Fprintf(p.w, "\"Endpoint\" : %q\n", s.Ep)
		fmt.Fprintln(p.w)
	}
	return nil
}

func (p *fieldsPrinter) EndpointHashKV(hs []epHashKV) error {
	for _, h := range hs {
		p.hdr(h.Resp.Header)
		fmt.Fprintf(p.w, "\"Endpoint\" : %q\n", h.Ep)
		fmt.Fprintln(p.w, `"Hash" :`, h.Resp.Hash)
		fmt.Fprintln(p.w)
	}
	return nil
}

func (p *fieldsPrinter) Alarm(r *quicclient.AlarmResponse) error {
	p.hdr(r.Header)
	for _, a := range r.Alarms {
		fmt.Fprintln(p.w, `"MemberID" :`, a.MemberID)
		fmt.Fprintln(p.w, `"AlarmType" :`, alarmName(a.Alarm))
		fmt.Fprintln(p.w)
	}
	return nil
}

func (p *fieldsPrinter) DBStatus(s dbStatus) error {
	fmt.Fprintln(p.w, `"Hash" :`, s.Hash)
	fmt.Fprintln(p.w, `"Revision" :`, s.Revision)
	fmt.Fprintln(p.w, `"Keys" :`, s.TotalKey)
	fmt.Fprintln(p.w, `"Size" :`, s.TotalSize)
	return nil
}
