package node

import (
	"net/http"
	"net/http/pprof"
	"strings"
)

// servePprof serves the Go runtime's profiles under /debug/pprof/ (GatewayConfig.EnablePprof):
// the index, cmdline, profile (CPU), symbol, trace and every named profile (heap,
// goroutine, allocs, block, mutex, threadcreate).
func servePprof(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, "/debug/pprof/") {
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Index(w, r) // the index, and named profiles by the path's last element
	}
}
