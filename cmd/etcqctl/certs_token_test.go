package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"etcq.dev/etcq/certs"
)

func TestCertsToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	_, ca, err := certs.InitDir(dir, certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := ctlRun(t, "", "certs", "token", "create", "--dir", dir, "--ttl", "2h", "--description", "for m2").must(t)
	tok, err := certs.ParseJoinToken(out)
	if err != nil {
		t.Fatalf("create printed %q: %v", out, err)
	}
	if tok.CAPin != certs.CAPin(ca.Cert) {
		t.Fatal("the token does not pin the directory's CA")
	}
	binding := []byte("0123456789abcdef0123456789abcdef")
	if _, err := certs.Dir(dir).VerifyJoinProof(tok.ID, tok.Proof(binding), binding, time.Now()); err != nil {
		t.Fatalf("the token printed does not verify: %v", err)
	}
	other := strings.TrimSpace(ctlRun(t, "", "certs", "token", "create", "--dir", dir).must(t))

	list := ctlRun(t, "", "certs", "token", "list", "--dir", dir).must(t)
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], tok.ID+", valid, ") || !strings.HasSuffix(lines[0], ", for m2") {
		t.Fatalf("list:\n%s", list)
	}
	if strings.Contains(list, strings.Split(out, ".")[2]) {
		t.Fatal("list shows a secret")
	}

	if got := ctlRun(t, "", "certs", "token", "revoke", "--dir", dir, tok.ID).must(t); !strings.Contains(got, "revoked") {
		t.Fatalf("revoke printed %q", got)
	}
	var recs []joinTokenJSON
	js := ctlRun(t, "", "-w", "json", "certs", "token", "list", "--dir", dir).must(t)
	if err := json.Unmarshal([]byte(js), &recs); err != nil || len(recs) != 2 {
		t.Fatalf("list -w json: %q %v", js, err)
	}
	if recs[0].ID != tok.ID || recs[0].State != "revoked" || recs[0].Revoked.IsZero() || recs[1].State != "valid" {
		t.Fatalf("states after revoke: %+v", recs)
	}
	if strings.Contains(js, "verifier") || strings.Contains(js, strings.Split(other, ".")[2]) {
		t.Fatalf("list -w json shows what checks or is a token: %s", js)
	}
	table := ctlRun(t, "", "-w", "table", "certs", "token", "list", "--dir", dir).must(t)
	if !strings.Contains(table, "| "+tok.ID+" | revoked |") {
		t.Fatalf("list -w table:\n%s", table)
	}

	for name, args := range map[string][]string{
		"ttl 0":          {"certs", "token", "create", "--dir", dir, "--ttl", "0s"},
		"no CA":          {"certs", "token", "create", "--dir", t.TempDir()},
		"revoke unknown": {"certs", "token", "revoke", "--dir", dir, "00000000000000aa"},
		"revoke garbage": {"certs", "token", "revoke", "--dir", dir, "x"},
		"list -w fields": {"-w", "fields", "certs", "token", "list", "--dir", dir},
	} {
		if r := ctlRun(t, "", args...); r.code == 0 {
			t.Errorf("%s: succeeded: %s", name, r.stdout)
		}
	}
}
