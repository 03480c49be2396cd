// Package archtest holds tests that guard the shape of the repository rather than its
// behaviour. It has no production code; everything lives in _test.go files.
//
// Two things are checked, both taken from DESIGN.md:
//
//   - Dependency direction (§2). The package graph of the production code, as reported by
//     `go list -deps`, is walked from every package of this module, and each import, direct
//     or transitive, is held against a table of rules: wire, rbac and certs import nothing of
//     ours; auth only rbac; storage neither raft nor QUIC nor the networked packages;
//     quicpeer neither certs nor node; quicclient only wire; bench only quicclient and wire;
//     and only cmd/..., node/nodetest and e2e import node. Test files are left out on purpose:
//     a test may reach for whatever helps it (quicpeer's tests use real certificates from
//     certs, for instance) without that becoming a dependency of the shipped code.
//
//   - Pinned versions (§4). The modules whose versions the design fixes (raft, etcd's WAL,
//     bbolt, quic-go, cfssl, msgpack) must appear in go.mod at exactly those versions, and must
//     not be replaced. A module that is not required yet is fine; the pin starts to bite the
//     day it is added.
//
// Why a test and not a review checklist: the layout is what keeps storage testable without a
// network, the wire format free of server internals, and the client library small enough for
// users to import. Those properties erode one convenient import at a time, and an import that
// compiles is easy to miss in review. A failing test names the package, the import (with the
// chain of packages it came through) and the rule it breaks.
//
// To add a rule, add a row to the rules table in deps_test.go; to pin a module, add a row to
// the pins table in pins_test.go. Both tables have unit tests that feed them a case that must
// be rejected, so a checker that silently accepts everything cannot pass.
package archtest
