package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"etcq.dev/etcq/quicclient"
)

// simplePrinter is etcdctl's default output: keys and values on lines of their own,
// one-line messages, and ", "-joined rows for the tabular results.
type simplePrinter struct {
	w, errw io.Writer
	isHex   bool
	// valueOnly prints values without their keys (get --print-value-only).
	valueOnly bool
}

func (s *simplePrinter) kv(kv *quicclient.KeyValue) {
	k, v := string(kv.Key), string(kv.Value)
	if s.isHex {
		k, v = hexBytes(kv.Key), hexBytes(kv.Value)
	}
	if !s.valueOnly {
		fmt.Fprintln(s.w, k)
	}
	fmt.Fprintln(s.w, v)
}

// hexBytes writes each byte as \xNN, as etcdctl --hex does.
func hexBytes(b []byte) string {
	var sb strings.Builder
	h := hex.EncodeToString(b)
	for i := 0; i < len(h); i += 2 {
		sb.WriteString(`\x`)
		sb.WriteString(h[i : i+2])
	}
	return sb.String()
}

func (s *simplePrinter) rows(rows [][]string) error {
	for _, row := range rows {
		fmt.Fprintln(s.w, strings.Join(row, ", "))
	}
	return nil
}

func (s *simplePrinter) Get(r *quicclient.GetResponse) error {
	for i := range r.KVs {
		s.kv(&r.KVs[i])
	}
	return nil
}

func (s *simplePrinter) Put(r *quicclient.PutResponse) error {
	fmt.Fprintln(s.w, "OK")
	if r.PrevKV != nil {
		s.kv(r.PrevKV)
	}
	return nil
}

func (s *simplePrinter) Del(r *quicclient.DeleteResponse) error {
	fmt.Fprintln(s.w, r.Deleted)
	for i := range r.PrevKVs {
		s.kv(&r.PrevKVs[i])
	}
	return nil
}

func (s *simplePrinter) Txn(r *quicclient.TxnResponse) error {
	if r.Succeeded {
		fmt.Fprintln(s.w, "SUCCESS")
	} else {
		fmt.Fprintln(s.w, "FAILURE")
	}
	for _, op := range r.Responses {
		fmt.Fprintln(s.w, "")
		switch {
		case op.DeleteRange != nil:
			_ = s.Del(&quicclient.DeleteResponse{Header: r.Header, Deleted: op.DeleteRange.Deleted, PrevKVs: op.DeleteRange.PrevKVs})
		case op.Put != nil:
			_ = s.Put(&quicclient.PutResponse{Header: r.Header, PrevKV: op.Put.PrevKV})
		case op.Range != nil:
			_ = s.Get(&quicclient.GetResponse{Header: r.Header, KVs: op.Range.KVs, More: op.Range.More, Count: op.Range.Count})
		default:
			fmt.Fprintf(s.w, "unexpected response %+v\n", op)
		}
	}
	return nil
}

func (s *simplePrinter) Watch(r *quicclient.WatchResponse) error {
	for i := range r.Events {
		ev := &r.Events[i]
		fmt.Fprintln(s.w, eventName(ev.Type))
		if ev.PrevKV != nil {
			s.kv(ev.PrevKV)
		}
		s.kv(&ev.KV)
	}
	return nil
}

func (s *simplePrinter) Grant(r *quicclient.LeaseGrantResponse) error {
	fmt.Fprintf(s.w, "lease %016x granted with TTL(%ds)\n", r.ID, r.TTL)
	return nil
}

func (s *simplePrinter) Revoke(id int64, _ quicclient.Header) error {
	fmt.Fprintf(s.w, "lease %016x revoked\n", id)
	return nil
}

func (s *simplePrinter) KeepAlive(r *quicclient.LeaseKeepAliveResponse) error {
	fmt.Fprintf(s.w, "lease %016x keepalived with TTL(%d)\n", r.ID, r.TTL)
	return nil
}

func (s *simplePrinter) TimeToLive(r *quicclient.LeaseTimeToLiveResponse, keys bool) error {
	if r.GrantedTTL == 0 && r.TTL == -1 {
		fmt.Fprintf(s.w, "lease %016x already expired\n", r.ID)
		return nil
	}
	txt := fmt.Sprintf("lease %016x granted with TTL(%ds), remaining(%ds)", r.ID, r.GrantedTTL, r.TTL)
	if keys {
		ks := make([]string, len(r.Keys))
		for i, k := range r.Keys {
			ks[i] = string(k)
		}
		txt += fmt.Sprintf(", attached keys(%v)", ks)
	}
	fmt.Fprintln(s.w, txt)
	return nil
}

func (s *simplePrinter) Leases(r *quicclient.LeaseListResponse) error {
	fmt.Fprintf(s.w, "found %d leases\n", len(r.IDs))
	for _, id := range r.IDs {
		fmt.Fprintf(s.w, "%016x\n", id)
	}
	return nil
}

func (s *simplePrinter) MemberAdd(r *quicclient.MemberAddResponse) error {
	as := " "
	if r.Member.IsLearner {
		as = " as learner "
	}
	fmt.Fprintf(s.w, "Member %16x added%sto cluster %16x\n", r.Member.ID, as, r.Header.ClusterID)
	return nil
}

func (s *simplePrinter) MemberRemove(id uint64, r *quicclient.MemberListResponse) error {
	fmt.Fprintf(s.w, "Member %16x removed from cluster %16x\n", id, r.Header.ClusterID)
	return nil
}

func (s *simplePrinter) MemberUpdate(id uint64, r *quicclient.MemberListResponse) error {
	fmt.Fprintf(s.w, "Member %16x updated in cluster %16x\n", id, r.Header.ClusterID)
	return nil
}

func (s *simplePrinter) MemberPromote(id uint64, r *quicclient.MemberListResponse) error {
	fmt.Fprintf(s.w, "Member %16x promoted in cluster %16x\n", id, r.Header.ClusterID)
	return nil
}

func (s *simplePrinter) MemberList(r *quicclient.MemberListResponse) error {
	_, rows := memberListTable(r)
	return s.rows(rows)
}

func (s *simplePrinter) EndpointHealth(hs []epHealth) error {
	for _, h := range hs {
		if h.Error == "" {
			fmt.Fprintf(s.w, "%s is healthy: successfully committed proposal: took = %v\n", h.Ep, h.Took)
		} else {
			fmt.Fprintf(s.errw, "%s is unhealthy: failed to commit proposal: %v\n", h.Ep, h.Error)
		}
	}
	return nil
}

func (s *simplePrinter) EndpointStatus(ss []epStatus) error {
	_, rows := endpointStatusTable(ss)
	return s.rows(rows)
}

func (s *simplePrinter) EndpointHashKV(hs []epHashKV) error {
	_, rows := endpointHashKVTable(hs)
	return s.rows(rows)
}

func (s *simplePrinter) MoveLeader(leader, target uint64, _ quicclient.Header) error {
	fmt.Fprintf(s.w, "Leadership transferred from %x to %x\n", leader, target)
	return nil
}

// Alarm prints each alarm as etcdctl does: the protobuf text form of an AlarmMember.
func (s *simplePrinter) Alarm(r *quicclient.AlarmResponse) error {
	for _, a := range r.Alarms {
		fmt.Fprintf(s.w, "memberID:%d alarm:%s \n", a.MemberID, alarmName(a.Alarm))
	}
	return nil
}

func (s *simplePrinter) DBStatus(st dbStatus) error {
	_, rows := dbStatusTable(st)
	return s.rows(rows)
}
