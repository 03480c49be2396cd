package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"etcq.dev/etcq/quicclient"
)

func TestPerfVerdict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		st   perfStats
		want string
		ok   bool
	}{
		{"pass", perfStats{rps: 149.5, slowest: 0.045353, stddev: 0.003082}, `PASS: Throughput is 150 writes/s
PASS: Slowest request took 0.045353s
PASS: Stddev is 0.003082s
PASS`, true},
		{"slow", perfStats{rps: 100, slowest: 0.8, stddev: 0.2}, `FAIL: Throughput too low: 101 writes/s
Slowest request took too long: 0.800000s
Stddev too high: 0.200000s
FAIL`, false},
		{"errors", perfStats{rps: 150, slowest: 0.01, stddev: 0.001, errors: map[string]int{"boom": 2, "bang": 1}}, `PASS: Throughput is 151 writes/s
PASS: Slowest request took 0.010000s
PASS: Stddev is 0.001000s
FAIL: too many errors
FAIL: ERROR(bang) -> 1
FAIL: ERROR(boom) -> 2
FAIL`, false},
	}
	for _, tc := range tests {
		lines, ok := perfVerdict(tc.st, 150)
		if got := strings.Join(lines, "\n"); got != tc.want || ok != tc.ok {
			t.Errorf("%s: %v\n%s\nwant %v\n%s", tc.name, ok, got, tc.ok, tc.want)
		}
	}
}

func TestPerfSummary(t *testing.T) {
	t.Parallel()
	st := perfSummary([]float64{0.1, 0.3, 0.2, 0.2}, nil, 2*time.Second)
	if st.rps != 2 || st.slowest != 0.3 || st.stddev < 0.0707 || st.stddev > 0.0708 {
		t.Errorf("summary %+v", st)
	}
	if st := perfSummary(nil, map[string]int{"x": 1}, time.Second); st.rps != 0 || st.errors["x"] != 1 {
		t.Errorf("summary of nothing %+v", st)
	}
}

// A short load writes under the prefix, measures every write, and leaves nothing behind.
func TestCheckPerfLoad(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.client()
	st := runPerfLoad(testCtx(t), []*quicclient.Client{c}, perfConfig{limit: 50, clients: 4, duration: 500 * time.Millisecond}, "/perf/")
	if len(st.errors) != 0 || st.rps <= 0 || st.slowest <= 0 {
		t.Errorf("load: %+v", st)
	}
	resp, err := c.Get(testCtx(t), "/perf/", quicclient.WithPrefix(), quicclient.WithCountOnly())
	if err != nil || resp.Count == 0 {
		t.Fatalf("the load wrote nothing: %v", err)
	}

	// The command refuses a prefix that holds keys.
	r := f.ctl("check", "perf", "--prefix=/perf/")
	if r.code != exitInvalidInput || !strings.Contains(r.stderr, `prefix "/perf/" has keys. Delete with etcqctl del --prefix /perf/ first`) {
		t.Errorf("check perf on a used prefix: exit %d, %q", r.code, r.stderr)
	}

	// The whole command, with a load short enough for a test.
	f.ctl("del", "--prefix", "/perf/").must(t)
	a := &app{ctx: context.Background(), env: mapEnv(nil), stdin: strings.NewReader("")}
	var out, errOut strings.Builder
	a.stdout, a.stderr = &out, &errOut
	root := a.rootCommand()
	root.SetArgs(append(f.flags(), "version"))
	if err := root.Execute(); err != nil { // parses the global flags
		t.Fatal(err)
	}
	out.Reset()
	err = a.checkPerf(perfConfig{limit: 20, clients: 2, duration: 300 * time.Millisecond}, "/perf/", true, false)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) < 5 || !strings.HasPrefix(lines[0], "Compacted with revision ") || !strings.Contains(lines[1], "Throughput") {
		t.Fatalf("check perf printed:\n%s", out.String())
	}
	if last := lines[len(lines)-1]; (last == "PASS") != (err == nil) || (last != "PASS" && last != "FAIL") {
		t.Errorf("check perf ended with %q and %v", last, err)
	}
	resp, err = c.Get(testCtx(t), "/perf/", quicclient.WithPrefix(), quicclient.WithCountOnly())
	if err != nil || resp.Count != 0 {
		t.Errorf("check perf left %d keys: %v", resp.Count, err)
	}
}
