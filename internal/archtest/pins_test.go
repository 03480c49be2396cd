package archtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// A pin is a module version DESIGN.md §4 decides. why is quoted when the pin is broken.
type pin struct {
	path, version, why string
}

var pins = []pin{
	{"go.etcd.io/raft/v3", "v3.7.0", "raft.Node with v3.7's protobuf-go pointer types"},
	{"go.etcd.io/etcd/server/v3", "v3.7.3", "etcd's wal and snap behind storage/raftlog, same line as raft v3.7"},
	{"go.etcd.io/bbolt", "v1.5.0", "the MVCC backend, with etcd's settings"},
	{"github.com/quic-go/quic-go", "v0.65.0", "the concrete *quic.Conn/*quic.Stream API the transport is written for"},
	{"github.com/cloudflare/cfssl", "v1.6.5", "v1.7 needs Go 1.27"},
	{"github.com/vmihailenco/msgpack/v5", "v5.4.1", "the hand-written codecs and golden bytes are for this version"},
}

// goVersionLine is DESIGN.md §4's Go release: go.mod's go line must be in it.
const goVersionLine = "1.26"

// goMod is the part of `go mod edit -json` output the check needs.
type goMod struct {
	Go      string
	Require []struct {
		Path, Version string
	}
	Replace []struct {
		Old, New struct{ Path, Version string }
	}
}

// checkPins returns one message per way mod departs from the pins: a pinned module required
// at another version, or replaced by anything but itself at its pinned version. A pinned
// module that is not required at all is fine.
func checkPins(mod goMod, pins []pin) []string {
	var bad []string
	for _, p := range pins {
		for _, r := range mod.Require {
			if r.Path == p.path && r.Version != p.version {
				bad = append(bad, fmt.Sprintf("go.mod requires %s %s; DESIGN.md §4 pins %s (%s)",
					p.path, r.Version, p.version, p.why))
			}
		}
		for _, r := range mod.Replace {
			if r.Old.Path == p.path && (r.New.Path != p.path || r.New.Version != p.version) {
				to := strings.TrimSpace(r.New.Path + " " + r.New.Version)
				bad = append(bad, fmt.Sprintf("go.mod replaces %s with %s; DESIGN.md §4 pins %s %s (%s)",
					p.path, to, p.path, p.version, p.why))
			}
		}
	}
	if mod.Go != goVersionLine && !strings.HasPrefix(mod.Go, goVersionLine+".") {
		bad = append(bad, fmt.Sprintf("go.mod says go %s; DESIGN.md §4 pins Go %s", mod.Go, goVersionLine))
	}
	return bad
}

// TestPinnedVersions fails when go.mod departs from the versions DESIGN.md §4 decides.
// go.mod is read through `go mod edit -json`, the go command's own parser, which needs no
// network and adds no dependency to the module.
func TestPinnedVersions(t *testing.T) {
	var mod goMod
	if err := json.Unmarshal(goInRoot(t, "mod", "edit", "-json"), &mod); err != nil {
		t.Fatalf("decoding go mod edit -json: %v", err)
	}
	for _, msg := range checkPins(mod, pins) {
		t.Error(msg)
	}
}

// TestCheckPins feeds the checker go.mod contents that must be rejected, and some that must
// not, so that it provably can fail.
func TestCheckPins(t *testing.T) {
	type req = struct{ Path, Version string }
	type repl = struct {
		Old, New struct{ Path, Version string }
	}
	replace := func(old, newPath, newVersion string) repl {
		var r repl
		r.Old.Path = old
		r.New.Path, r.New.Version = newPath, newVersion
		return r
	}
	cases := []struct {
		name string
		mod  goMod
		want int // number of complaints
	}{
		{"nothing pinned required yet", goMod{Go: "1.26.0"}, 0},
		{"pinned versions", goMod{Go: "1.26", Require: []req{{"go.etcd.io/bbolt", "v1.5.0"}, {"go.etcd.io/raft/v3", "v3.7.0"}}}, 0},
		{"unpinned module at any version", goMod{Go: "1.26.8", Require: []req{{"github.com/google/btree", "v1.0.0"}}}, 0},
		{"bbolt upgraded", goMod{Go: "1.26.0", Require: []req{{"go.etcd.io/bbolt", "v1.5.1"}}}, 1},
		{"cfssl v1.7", goMod{Go: "1.26.0", Require: []req{{"github.com/cloudflare/cfssl", "v1.7.0"}}}, 1},
		{"quic-go replaced by a fork", goMod{Go: "1.26.0", Require: []req{{"github.com/quic-go/quic-go", "v0.65.0"}},
			Replace: []repl{replace("github.com/quic-go/quic-go", "example.com/fork/quic-go", "v0.65.0")}}, 1},
		{"raft replaced by a directory", goMod{Go: "1.26.0", Replace: []repl{replace("go.etcd.io/raft/v3", "../raft", "")}}, 1},
		{"no-op replace", goMod{Go: "1.26.0", Replace: []repl{replace("go.etcd.io/bbolt", "go.etcd.io/bbolt", "v1.5.0")}}, 0},
		{"go line moved", goMod{Go: "1.27.0"}, 1},
		{"go line prefix is not the release", goMod{Go: "1.260"}, 1},
	}
	for _, c := range cases {
		got := checkPins(c.mod, pins)
		if len(got) != c.want {
			t.Errorf("%s: got %d complaints %q, want %d", c.name, len(got), got, c.want)
		}
	}
}
