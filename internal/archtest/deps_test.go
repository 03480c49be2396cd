package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

// A rule is one clause of DESIGN.md §2's "Allowed imports". It constrains every package
// matched by from (less except): none of them may depend, directly or through any chain of
// other packages, on a package matched by deny, unless allow matches it too.
//
// Patterns are import paths; a trailing "/..." matches the path itself and everything below
// it. Write our own packages with ours(...), which prefixes the module path.
type rule struct {
	name   string   // short handle, used in failure messages
	design string   // the clause of DESIGN.md §2 this row enforces
	from   []string // packages the rule constrains
	except []string // packages matched by from that it leaves alone
	deny   []string // imports those packages may not have
	allow  []string // imports matched by deny that are fine after all
}

// ours turns module-relative patterns ("wire/...", "node") into import-path patterns.
// ours("...") is the whole module.
func ours(patterns ...string) []string {
	out := make([]string, len(patterns))
	for i, p := range patterns {
		out[i] = module + "/" + p
	}
	return out
}

// Third-party trees the rules name.
const (
	raftTree = "go.etcd.io/raft/..."
	quicTree = "github.com/quic-go/..."
)

// rules is DESIGN.md §2's "Allowed imports", one row per clause. A component's own
// subpackages count as the component (wire may grow wire/internal/...), so "imports nothing
// of ours" rows allow the component's own tree.
//
// storage/raftlog is split from storage on purpose: the design makes it the persistence of
// the raft log ("etcd's wal + snap behind a small interface", "raftlog behind raft.Storage"),
// which cannot be written without go.etcd.io/raft/v3 and its raftpb types (etcd's wal and
// snap import them too). It keeps every other storage restriction.
var rules = []rule{
	{
		name:   "wire is a leaf",
		design: "`wire` imports nothing of ours",
		from:   ours("wire/..."),
		deny:   ours("..."),
		allow:  ours("wire/..."),
	},
	{
		name:   "rbac is a leaf",
		design: "`rbac` imports nothing of ours",
		from:   ours("rbac/..."),
		deny:   ours("..."),
		allow:  ours("rbac/..."),
	},
	{
		name:   "certs is a leaf",
		design: "`certs` imports nothing of ours",
		from:   ours("certs/..."),
		deny:   ours("..."),
		allow:  ours("certs/..."),
	},
	{
		name:   "auth builds only on rbac",
		design: "`auth` may import `rbac` (and nothing else of ours)",
		from:   ours("auth/..."),
		deny:   ours("..."),
		allow:  ours("auth/...", "rbac/..."),
	},
	{
		name:   "storage knows nothing of raft or the network",
		design: "`storage` never imports raft or QUIC",
		from:   ours("storage/..."),
		except: ours("storage/raftlog/..."),
		deny:   append([]string{raftTree, quicTree}, ours("node/...", "quicpeer/...", "quicclient/...")...),
	},
	{
		name:   "raftlog stays off the network",
		design: "`storage` never imports QUIC (storage/raftlog persists the raft log, so raft itself is allowed)",
		from:   ours("storage/raftlog/..."),
		deny:   append([]string{quicTree}, ours("node/...", "quicpeer/...", "quicclient/...")...),
	},
	{
		name:   "quicpeer takes a *tls.Config",
		design: "`quicpeer` takes a `*tls.Config`, never `certs`; it is a transport under node, not above it",
		from:   ours("quicpeer/..."),
		deny:   ours("certs/...", "node/..."),
	},
	{
		name:   "quicclient speaks only wire",
		design: "`quicclient` imports `wire` (and nothing else of ours)",
		from:   ours("quicclient/..."),
		deny:   ours("..."),
		allow:  ours("quicclient/...", "wire/..."),
	},
	{
		name:   "bench is a client",
		design: "`bench` imports `quicclient` (and `wire`, nothing else of ours)",
		from:   ours("bench/..."),
		deny:   ours("..."),
		allow:  ours("bench/...", "quicclient/...", "wire/..."),
	},
	{
		name:   "node is imported only by its drivers",
		design: "only `cmd/`, `nodetest` and `e2e` import `node`",
		from:   ours("..."),
		except: ours("cmd/...", "node/nodetest/...", "e2e/..."),
		deny:   ours("node"),
	},
}

// match reports whether the import path matches the pattern.
func match(pattern, path string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

func matchAny(patterns []string, path string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(p, path) })
}

// appliesTo reports whether the rule constrains package pkg.
func (r *rule) appliesTo(pkg string) bool {
	return matchAny(r.from, pkg) && !matchAny(r.except, pkg)
}

// forbids reports whether the rule forbids a constrained package to depend on dep.
func (r *rule) forbids(dep string) bool {
	return matchAny(r.deny, dep) && !matchAny(r.allow, dep)
}

// A violation is a constrained package that depends on a forbidden one.
type violation struct {
	rule  *rule
	chain []string // the package, the packages in between, the forbidden import
}

func (v violation) String() string {
	pkg, dep := v.chain[0], v.chain[len(v.chain)-1]
	how := "directly"
	if len(v.chain) > 2 {
		how = "via " + strings.Join(v.chain, " -> ")
	}
	return fmt.Sprintf("%s imports %s (%s)\n\tforbidden by rule %q: DESIGN.md §2: %s",
		pkg, dep, how, v.rule.name, v.rule.design)
}

// check walks the import graph (package -> its direct imports) from each package in pkgs and
// returns every forbidden dependency. The walk is breadth-first and does not go through a
// forbidden package, so each violation is reported once, at the first forbidden package on
// the shortest chain, and not again for everything that package pulls in.
func check(graph map[string][]string, pkgs []string, rules []rule) []violation {
	var out []violation
	for _, pkg := range pkgs {
		for i := range rules {
			r := &rules[i]
			if !r.appliesTo(pkg) {
				continue
			}
			parent := map[string]string{pkg: ""}
			queue := []string{pkg}
			for len(queue) > 0 {
				p := queue[0]
				queue = queue[1:]
				for _, dep := range graph[p] {
					if _, seen := parent[dep]; seen {
						continue
					}
					parent[dep] = p
					if r.forbids(dep) {
						out = append(out, violation{rule: r, chain: chainTo(parent, dep)})
						continue
					}
					queue = append(queue, dep)
				}
			}
		}
	}
	return out
}

// chainTo follows parent links back from dep to the root of the walk.
func chainTo(parent map[string]string, dep string) []string {
	var chain []string
	for p := dep; p != ""; p = parent[p] {
		chain = append(chain, p)
	}
	slices.Reverse(chain)
	return chain
}

// listedPackage is the part of `go list -json` output the check needs.
type listedPackage struct {
	ImportPath string
	Imports    []string
	Error      *struct{ Err string }
}

// loadGraph lists every package of the module and everything it depends on, without tests,
// and returns the import graph and the module's own packages. Packages the go command could
// not load completely (a package being written, say) are logged, not failed on: their
// imports are still listed, and the build fails on them anyway.
func loadGraph(t *testing.T) (graph map[string][]string, ourPkgs []string) {
	t.Helper()
	out := goInRoot(t, "list", "-e", "-deps", "-json=ImportPath,Imports,Error", "./...")
	graph = make(map[string][]string)
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		graph[p.ImportPath] = p.Imports
		if match(module+"/...", p.ImportPath) {
			ourPkgs = append(ourPkgs, p.ImportPath)
		}
		if p.Error != nil {
			t.Logf("go list: %s: %s (checked with the imports it could read)", p.ImportPath, p.Error.Err)
		}
	}
	slices.Sort(ourPkgs)
	return graph, ourPkgs
}

// TestImportRules fails when a package of this module depends on something DESIGN.md §2
// forbids it to.
func TestImportRules(t *testing.T) {
	graph, pkgs := loadGraph(t)
	if len(pkgs) == 0 {
		t.Fatalf("go list found no packages of %s: the check would pass vacuously", module)
	}
	t.Logf("checked %d packages of ours (%d in the graph) against %d rules", len(pkgs), len(graph), len(rules))
	for _, v := range check(graph, pkgs, rules) {
		t.Error(v)
	}
}

// TestRuleTable runs the rules on single imports, including ones that must be rejected, so
// that a table which accepts everything cannot pass.
func TestRuleTable(t *testing.T) {
	const (
		allowed   = false
		forbidden = true
	)
	cases := []struct {
		pkg, dep string // pkg is module-relative; dep is a full import path
		want     bool
	}{
		{"wire", module + "/storage", forbidden},
		{"wire", module + "/internal/bufpool", forbidden},
		{"wire", module + "/wire/internal/codec", allowed},
		{"wire", "github.com/vmihailenco/msgpack/v5", allowed},
		{"wireless", module + "/storage", allowed}, // a prefix is not a subpackage
		{"rbac", module + "/wire", forbidden},
		{"certs", module + "/rbac", forbidden},
		{"certs", "github.com/cloudflare/cfssl/signer/local", allowed},
		{"auth", module + "/rbac", allowed},
		{"auth", module + "/wire", forbidden},
		{"auth", module + "/storage", forbidden},
		{"storage", "go.etcd.io/bbolt", allowed},
		{"storage", "go.etcd.io/raft/v3", forbidden},
		{"storage", "go.etcd.io/raft/v3/raftpb", forbidden},
		{"storage", "github.com/quic-go/quic-go", forbidden},
		{"storage", module + "/node", forbidden},
		{"storage", module + "/quicpeer", forbidden},
		{"storage", module + "/quicclient", forbidden},
		{"storage/raftlog", "go.etcd.io/raft/v3/raftpb", allowed},
		{"storage/raftlog", "go.etcd.io/etcd/server/v3/storage/wal", allowed},
		{"storage/raftlog", "github.com/quic-go/quic-go", forbidden},
		{"storage/raftlog", module + "/quicpeer", forbidden},
		{"quicpeer", "crypto/tls", allowed},
		{"quicpeer", "github.com/quic-go/quic-go", allowed},
		{"quicpeer", "go.etcd.io/raft/v3/raftpb", allowed},
		{"quicpeer", module + "/certs", forbidden},
		{"quicpeer", module + "/node", forbidden},
		{"quicpeer", module + "/node/nodetest", forbidden},
		{"quicclient", module + "/wire", allowed},
		{"quicclient", module + "/auth", forbidden},
		{"quicclient", module + "/certs", forbidden},
		{"bench", module + "/quicclient", allowed},
		{"bench", module + "/wire", allowed},
		{"bench", module + "/storage", forbidden},
		{"cmd/etcq", module + "/node", allowed},
		{"cmd/etcqctl", module + "/node", allowed},
		{"node/nodetest", module + "/node", allowed},
		{"e2e", module + "/node", allowed},
		{"node", module + "/storage", allowed},
		{"auth", module + "/node", forbidden},
		{"internal/anything", module + "/node", forbidden},
	}
	for _, c := range cases {
		pkg := module + "/" + c.pkg
		var by []string
		for i := range rules {
			if rules[i].appliesTo(pkg) && rules[i].forbids(c.dep) {
				by = append(by, rules[i].name)
			}
		}
		if got := len(by) > 0; got != c.want {
			t.Errorf("%s importing %s: forbidden=%v (rules %q), want forbidden=%v", c.pkg, c.dep, got, by, c.want)
		}
	}
}

// TestCheckFindsIndirectImport runs the graph walk on a made-up graph with one violation two
// hops away, and checks that it is found, reported once, with its chain.
func TestCheckFindsIndirectImport(t *testing.T) {
	storage, raftlog, wire := module+"/storage", module+"/storage/raftlog", module+"/wire"
	graph := map[string][]string{
		storage:                     {"bytes", raftlog, "go.etcd.io/bbolt"},
		raftlog:                     {"go.etcd.io/raft/v3", "os"},
		"go.etcd.io/raft/v3":        {"go.etcd.io/raft/v3/raftpb"},
		"go.etcd.io/raft/v3/raftpb": {},
		wire:                        {"encoding/binary"},
	}
	got := check(graph, []string{raftlog, storage, wire}, rules)
	if len(got) != 1 {
		t.Fatalf("got %d violations, want exactly 1 (storage -> raftlog -> raft): %v", len(got), got)
	}
	want := []string{storage, raftlog, "go.etcd.io/raft/v3"}
	if !slices.Equal(got[0].chain, want) {
		t.Errorf("chain = %v, want %v", got[0].chain, want)
	}
	msg := got[0].String()
	for _, s := range []string{storage + " imports go.etcd.io/raft/v3", "via " + storage + " -> " + raftlog, "`storage` never imports raft"} {
		if !strings.Contains(msg, s) {
			t.Errorf("message %q does not contain %q", msg, s)
		}
	}

	// The same graph without the offending edge is clean.
	graph[storage] = []string{"bytes", "go.etcd.io/bbolt"}
	if got := check(graph, []string{raftlog, storage, wire}, rules); len(got) != 0 {
		t.Errorf("clean graph: got violations %v", got)
	}
}
