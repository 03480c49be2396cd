package main

import (
	"encoding/csv"
	"encoding/json"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchPutJSONCSVPNG(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	csvFile, pngFile := filepath.Join(dir, "lat.csv"), filepath.Join(dir, "lat.png")
	out := f.ctl("bench", "put", "--conns=2", "--clients=4", "--total=50", "--val-size=256",
		"--key-space-size=1000", "--target-leader", "--json", "--csv="+csvFile, "--png="+pngFile,
		"--png-width=500", "--png-height=300").must(t)
	var rep struct {
		Op        string   `json:"op"`
		OK        int      `json:"ok"`
		Errors    int      `json:"errors"`
		QPS       float64  `json:"qps"`
		P99       float64  `json:"p99_ms"`
		Endpoints []string `json:"endpoints_used"`
		ValSize   int      `json:"val_size"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if rep.Op != "put" || rep.OK != 50 || rep.Errors != 0 || rep.QPS <= 0 || rep.P99 <= 0 || rep.ValSize != 256 ||
		len(rep.Endpoints) != 1 || rep.Endpoints[0] != f.endpoint {
		t.Errorf("report %+v", rep)
	}
	cf, err := os.Open(csvFile)
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	rows, err := csv.NewReader(cf).ReadAll()
	if err != nil || len(rows) < 2 || strings.Join(rows[0], ",") != "second,count,avg_ms,p50_ms,p99_ms" {
		t.Errorf("csv %v: %v", rows, err)
	}
	pf, err := os.Open(pngFile)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	img, err := png.Decode(pf)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 500 || b.Dy() != 300 {
		t.Errorf("png %v, want 500x300", b)
	}
}

func TestBenchTextReports(t *testing.T) {
	f := newFixture(t)
	for _, args := range [][]string{
		{"range", "--consistency=s"},
		{"range", "somekey", "--consistency=l"},
		{"txn-put", "--txn-ops=2", "--key-space-size=10"},
		{"mixed", "--read-ratio=0.5", "--key-space-size=10"},
		{"lease-keepalive"},
		{"watch", "--watchers=2"},
		{"watch-latency", "--watchers=2", "--rate=1000"},
	} {
		t.Run(args[0], func(t *testing.T) {
			r := f.ctl(append([]string{"bench", "--total=20", "--clients=2", "--no-progress"}, args...)...)
			out := r.must(t)
			for _, want := range []string{"Benchmark " + args[0] + ":", "\nSummary:\n", "\nLatency distribution:\n", "Completed: "} {
				if !strings.Contains(out, want) {
					t.Errorf("no %q in:\n%s", want, out)
				}
			}
			if r.stderr != "" {
				t.Errorf("stderr %q (progress is off)", r.stderr)
			}
		})
	}
}

func TestBenchProgressOnPlainStderr(t *testing.T) {
	f := newFixture(t)
	r := f.ctl("bench", "put", "--total=20")
	r.must(t)
	// stderr is no terminal: no bar redrawn in place.
	if strings.Contains(r.stderr, "\r") {
		t.Errorf("stderr %q: a bar on a non-terminal", r.stderr)
	}
}

func TestBenchBadFlags(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bench", "put", "--key-size=2", "--key-space-size=1000"}, exitBadArgs, "too small for --key-space-size"},
		{[]string{"bench", "put", "--clients=0"}, exitBadArgs, "at least 1"},
		{[]string{"bench", "range", "--consistency=x"}, exitBadArgs, "consistency"},
		{[]string{"bench", "mixed", "--read-ratio=2"}, exitBadArgs, "read-ratio"},
		{[]string{"bench", "put", "extra"}, exitError, "unknown command"},
	} {
		r := f.ctl(tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
	r := ctlRun(t, "", append([]string{"--endpoints=" + f.endpoint}, "bench", "put")...)
	if r.code != exitBadArgs || !strings.Contains(r.stderr, "mutual TLS") {
		t.Errorf("no certificate: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestIsTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	for name, w := range map[string]io.Writer{"pipe": w, "/dev/null": null, "buffer": &strings.Builder{}} {
		if isTerminal(w) {
			t.Errorf("%s: a terminal", name)
		}
	}
}
