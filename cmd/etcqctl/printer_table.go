package main

import (
	"io"

	"etcq.dev/etcq/quicclient"
)

// tablePrinter draws the tabular results (member list, endpoint status, health and hashkv,
// snapshot status) as etcdctl -w table does; everything else is not supported as a table.
type tablePrinter struct {
	unsupported
	w io.Writer
}

func (p *tablePrinter) MemberList(r *quicclient.MemberListResponse) error {
	hdr, rows := memberListTable(r)
	return writeTable(p.w, hdr, rows)
}

func (p *tablePrinter) EndpointHealth(hs []epHealth) error {
	hdr, rows := endpointHealthTable(hs)
	return writeTable(p.w, hdr, rows)
}

func (p *tablePrinter) EndpointStatus(ss []epStatus) error {
	hdr, rows := endpointStatusTable(ss)
	return writeTable(p.w, hdr, rows)
}

func (p *tablePrinter) EndpointHashKV(hs []epHashKV) error {
	hdr, rows := endpointHashKVTable(hs)
	return writeTable(p.w, hdr, rows)
}

func (p *tablePrinter) DBStatus(s dbStatus) error {
	hdr, rows := dbStatusTable(s)
	return writeTable(p.w, hdr, rows)
}
