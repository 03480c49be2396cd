package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestLoadConfigAuthAndPprof: --bcrypt-cost, --auth-token-ttl and --enable-pprof come
// from their defaults, the config file, ETCQ_* variables and flags, each overriding the
// one before, as every other setting.
func TestLoadConfigAuthAndPprof(t *testing.T) {
	file := filepath.Join(t.TempDir(), "etcq.yaml")
	if err := os.WriteFile(file, []byte("bcrypt-cost: 12\nauth-token-ttl: 60\nenable-pprof: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) string { return "" }
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		cost int
		ttl  uint
		prof bool
	}{
		{"defaults (etcd's)", nil, nil, 10, 300, false},
		{"file", []string{"--config-file", file}, nil, 12, 60, true},
		{"environment over file", []string{"--config-file", file}, map[string]string{"ETCQ_BCRYPT_COST": "11", "ETCQ_AUTH_TOKEN_TTL": "90"}, 11, 90, true},
		{"flags over environment", []string{"--bcrypt-cost=4", "--auth-token-ttl=5", "--enable-pprof"}, map[string]string{"ETCQ_BCRYPT_COST": "11"}, 4, 5, true},
	} {
		env := noEnv
		if tc.env != nil {
			env = func(k string) string { return tc.env[k] }
		}
		c, err := loadConfig(tc.args, env, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if c.BcryptCost != tc.cost || c.AuthTokenTTL != tc.ttl || c.EnablePprof != tc.prof {
			t.Errorf("%s: bcrypt-cost %d, auth-token-ttl %d, enable-pprof %v; want %d, %d, %v",
				tc.name, c.BcryptCost, c.AuthTokenTTL, c.EnablePprof, tc.cost, tc.ttl, tc.prof)
		}
	}
	if _, err := loadConfig([]string{"--auth-token-ttl=-1"}, noEnv, io.Discard); !errors.Is(err, errUsage) {
		t.Fatalf("a negative token TTL: %v", err)
	}
}

// TestLoadConfigJoinTokenFile: --join-token-file reads the token (trimmed) from a file, so
// that it is not visible in ps; giving both, an empty file or a missing one is an error.
func TestLoadConfigJoinTokenFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("etcq1.a.b.c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) string { return "" }
	c, err := loadConfig([]string{"--join-token-file", file}, noEnv, io.Discard)
	if err != nil || c.JoinToken != "etcq1.a.b.c" {
		t.Fatalf("token from a file: %q, %v", c.JoinToken, err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"both":    {"--join-token-file", file, "--join-token", "etcq1.x.y.z"},
		"empty":   {"--join-token-file", empty},
		"missing": {"--join-token-file", filepath.Join(dir, "none")},
	} {
		if _, err := loadConfig(args, noEnv, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("%s: %v, want a usage error", name, err)
		}
	}
}
