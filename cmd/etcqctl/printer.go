package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/dustin/go-humanize"

	"etcq.dev/etcq/quicclient"
	"etcq.dev/etcq/wire"
)

// printer writes a command's result in one output format (-w). Each format prints what
// etcdctl's prints for the same data; a format that has nothing for a result (a table of a
// put, say) fails with exitBadFeature, as etcdctl does.
type printer interface {
	Get(r *quicclient.GetResponse) error
	Put(r *quicclient.PutResponse) error
	Del(r *quicclient.DeleteResponse) error
	Txn(r *quicclient.TxnResponse) error
	Watch(r *quicclient.WatchResponse) error

	Grant(r *quicclient.LeaseGrantResponse) error
	Revoke(id int64, h quicclient.Header) error
	KeepAlive(r *quicclient.LeaseKeepAliveResponse) error
	TimeToLive(r *quicclient.LeaseTimeToLiveResponse, keys bool) error
	Leases(r *quicclient.LeaseListResponse) error

	MemberAdd(r *quicclient.MemberAddResponse) error
	MemberRemove(id uint64, r *quicclient.MemberListResponse) error
	MemberUpdate(id uint64, r *quicclient.MemberListResponse) error
	MemberPromote(id uint64, r *quicclient.MemberListResponse) error
	MemberList(r *quicclient.MemberListResponse) error

	EndpointHealth(hs []epHealth) error
	EndpointStatus(ss []epStatus) error
	EndpointHashKV(hs []epHashKV) error
	MoveLeader(leader, target uint64, h quicclient.Header) error
	Alarm(r *quicclient.AlarmResponse) error
	DBStatus(s dbStatus) error
}

// newPrinter returns the printer of an output format.
func newPrinter(format string, isHex bool, stdout, stderr io.Writer) (printer, error) {
	switch format {
	case "simple":
		return &simplePrinter{w: stdout, errw: stderr, isHex: isHex}, nil
	case "json":
		return &jsonPrinter{unsupported{"json"}, stdout, isHex}, nil
	case "table":
		return &tablePrinter{unsupported{"table"}, stdout}, nil
	case "fields":
		return &fieldsPrinter{unsupported{"fields"}, stdout}, nil
	case "protobuf":
		return nil, failf(exitBadFeature, "protobuf is not supported as output format: etcq speaks msgpack, not gRPC (use -w json)")
	}
	return nil, failf(exitBadFeature, "unsupported output format %q (use simple, json, table or fields)", format)
}

// epHealth is the health of one endpoint (endpoint health).
type epHealth struct {
	Ep     string `json:"endpoint"`
	Health bool   `json:"health"`
	Took   string `json:"took"`
	Error  string `json:"error,omitempty"`
}

// epStatus is the status of one endpoint (endpoint status).
type epStatus struct {
	Ep   string
	Resp *quicclient.StatusResponse
}

// epHashKV is the history hash of one endpoint (endpoint hashkv).
type epHashKV struct {
	Ep   string
	Resp *quicclient.HashKVResponse
}

// dbStatus describes a snapshot file (snapshot status).
type dbStatus struct {
	Hash      uint32 `json:"hash"`
	Revision  int64  `json:"revision"`
	TotalKey  int    `json:"totalKey"`
	TotalSize int64  `json:"totalSize"`
}

// unsupported is a printer that prints nothing: the base of the printers that print only
// some results.
type unsupported struct{ format string }

func (u unsupported) fail() error {
	return failf(exitBadFeature, "%s not supported as output format", u.format)
}

func (u unsupported) Get(*quicclient.GetResponse) error                          { return u.fail() }
func (u unsupported) Put(*quicclient.PutResponse) error                          { return u.fail() }
func (u unsupported) Del(*quicclient.DeleteResponse) error                       { return u.fail() }
func (u unsupported) Txn(*quicclient.TxnResponse) error                          { return u.fail() }
func (u unsupported) Watch(*quicclient.WatchResponse) error                      { return u.fail() }
func (u unsupported) Grant(*quicclient.LeaseGrantResponse) error                 { return u.fail() }
func (u unsupported) Revoke(int64, quicclient.Header) error                      { return u.fail() }
func (u unsupported) KeepAlive(*quicclient.LeaseKeepAliveResponse) error         { return u.fail() }
func (u unsupported) TimeToLive(*quicclient.LeaseTimeToLiveResponse, bool) error { return u.fail() }
func (u unsupported) Leases(*quicclient.LeaseListResponse) error                 { return u.fail() }
func (u unsupported) MemberAdd(*quicclient.MemberAddResponse) error              { return u.fail() }
func (u unsupported) MemberRemove(uint64, *quicclient.MemberListResponse) error  { return u.fail() }
func (u unsupported) MemberUpdate(uint64, *quicclient.MemberListResponse) error  { return u.fail() }
func (u unsupported) MemberPromote(uint64, *quicclient.MemberListResponse) error {
	return u.fail()
}
func (u unsupported) MemberList(*quicclient.MemberListResponse) error    { return u.fail() }
func (u unsupported) EndpointHealth([]epHealth) error                    { return u.fail() }
func (u unsupported) EndpointStatus([]epStatus) error                    { return u.fail() }
func (u unsupported) EndpointHashKV([]epHashKV) error                    { return u.fail() }
func (u unsupported) MoveLeader(uint64, uint64, quicclient.Header) error { return u.fail() }
func (u unsupported) Alarm(*quicclient.AlarmResponse) error              { return u.fail() }
func (u unsupported) DBStatus(dbStatus) error                            { return u.fail() }

// The rows of the tabular results, shared by the simple printer (one line per row, cells
// joined by ", ") and the table printer.

func memberListTable(r *quicclient.MemberListResponse) (hdr []string, rows [][]string) {
	hdr = []string{"ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner"}
	for _, m := range r.Members {
		rows = append(rows, []string{
			fmt.Sprintf("%x", m.ID),
			memberStatus(m),
			m.Name,
			strings.Join(m.PeerURLs, ","),
			strings.Join(m.ClientURLs, ","),
			fmt.Sprint(m.IsLearner),
		})
	}
	return hdr, rows
}

// memberStatus is "started" for a member that has advertised its client URLs, which it
// does once it runs; "unstarted" for one added but not yet started. (etcd tells them apart
// by the name, which an etcd member publishes when it starts; etcq knows a member's name
// from the moment it is added.)
func memberStatus(m wire.Member) string {
	if len(m.ClientURLs) == 0 {
		return "unstarted"
	}
	return "started"
}

func endpointHealthTable(hs []epHealth) (hdr []string, rows [][]string) {
	hdr = []string{"endpoint", "health", "took", "error"}
	for _, h := range hs {
		rows = append(rows, []string{h.Ep, fmt.Sprint(h.Health), h.Took, h.Error})
	}
	return hdr, rows
}

func endpointStatusTable(ss []epStatus) (hdr []string, rows [][]string) {
	hdr = []string{"endpoint", "ID", "version", "db size", "is leader", "is learner", "raft term",
		"raft index", "raft applied index", "errors"}
	for _, s := range ss {
		r := s.Resp
		rows = append(rows, []string{
			s.Ep,
			fmt.Sprintf("%x", r.Header.MemberID),
			r.Version,
			humanize.Bytes(uint64(r.DBSize)),
			fmt.Sprint(r.Leader == r.Header.MemberID),
			fmt.Sprint(r.IsLearner),
			fmt.Sprint(r.RaftTerm),
			fmt.Sprint(r.RaftIndex),
			fmt.Sprint(r.RaftAppliedIndex),
			strings.Join(r.Errors, ", "),
		})
	}
	return hdr, rows
}

func endpointHashKVTable(hs []epHashKV) (hdr []string, rows [][]string) {
	hdr = []string{"endpoint", "hash"}
	for _, h := range hs {
		rows = append(rows, []string{h.Ep, fmt.Sprint(h.Resp.Hash)})
	}
	return hdr, rows
}

func dbStatusTable(s dbStatus) (hdr []string, rows [][]string) {
	hdr = []string{"hash", "revision", "total keys", "total size"}
	rows = append(rows, []string{
		fmt.Sprintf("%x", s.Hash),
		fmt.Sprint(s.Revision),
		fmt.Sprint(s.TotalKey),
		humanize.Bytes(uint64(s.TotalSize)),
	})
	return hdr, rows
}

// alarmName is an alarm type as etcd names it.
func alarmName(t wire.AlarmType) string {
	switch t {
	case wire.AlarmNone:
		return "NONE"
	case wire.AlarmNoSpace:
		return "NOSPACE"
	case wire.AlarmCorrupt:
		return "CORRUPT"
	}
	return fmt.Sprint(int32(t))
}

// eventName is an event type as etcd names it.
func eventName(t wire.EventType) string {
	switch t {
	case wire.EventPut:
		return "PUT"
	case wire.EventDelete:
		return "DELETE"
	}
	return fmt.Sprint(int32(t))
}
