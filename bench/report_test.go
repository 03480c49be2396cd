package bench

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"image/png"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sampleReport is a run of 3.5 seconds, made of known latencies at known times:
// second 0: 100 requests of 1..100 ms; second 1: 50 of 10 ms; second 2: none; second 3
// (half of it): 10 of 200 ms; and two failures.
func sampleReport() *Report {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := NewRecorder(start, "read", "write")
	for i := 1; i <= 100; i++ {
		rec.Record("read", start.Add(time.Duration(i)*time.Millisecond), time.Duration(i)*time.Millisecond)
	}
	for range 50 {
		rec.Record("write", start.Add(1500*time.Millisecond), 10*time.Millisecond)
	}
	for range 10 {
		rec.Record("write", start.Add(3200*time.Millisecond), 200*time.Millisecond)
	}
	rec.Fail("write", errors.New("boom"))
	rec.Fail("write", errors.New("boom"))
	r := NewReport(rec, 3500*time.Millisecond)
	r.Workload, r.Conns, r.Clients, r.Total = "mixed", 2, 4, 162
	r.KeySize, r.ValSize, r.KeySpace = 8, 256, 100000
	r.Params = map[string]string{"read-ratio": "0.6"}
	return r
}

func TestReportSummary(t *testing.T) {
	r := sampleReport()
	if r.OK != 160 || r.Errors != 2 || len(r.ErrorKinds) != 1 || r.ErrorKinds[0] != (ErrorKind{Error: "boom", Count: 2}) {
		t.Fatalf("ok %d errors %d kinds %v", r.OK, r.Errors, r.ErrorKinds)
	}
	if want := 160 / 3.5; math.Abs(r.QPS-want) > 1e-9 {
		t.Errorf("QPS %v, want %v", r.QPS, want)
	}
	if r.MinMs != 1 || r.MaxMs != 200 {
		t.Errorf("min %v max %v", r.MinMs, r.MaxMs)
	}
	// Mean: (5050 + 500 + 2000) / 160 ms.
	if want := 7550.0 / 160; math.Abs(r.AvgMs-want) > 1e-6 {
		t.Errorf("avg %v, want %v", r.AvgMs, want)
	}
	// Nearest rank over the 160 sorted latencies: 1..9 ms, 50 x 10 ms, 11..100 ms, 10 x 200 ms.
	near := func(got, want float64) bool { return math.Abs(got-want) <= want/256 }
	if !near(r.P50Ms, 30) || !near(r.P90Ms, 94) || !near(r.P99Ms, 200) {
		t.Errorf("p50 %v p90 %v p99 %v, want 30, 94, 200", r.P50Ms, r.P90Ms, r.P99Ms)
	}
	want := []Second{{Second: 0, Count: 100}, {Second: 1, Count: 50}, {Second: 2}, {Second: 3, Count: 10}}
	if len(r.Timeline) != len(want) {
		t.Fatalf("timeline %+v", r.Timeline)
	}
	for i, s := range r.Timeline {
		if s.Second != want[i].Second || s.Count != want[i].Count {
			t.Errorf("second %d: %+v, want %+v", i, s, want[i])
		}
	}
	if s := r.Timeline[1]; s.AvgMs != 10 || !near(s.P50Ms, 10) || !near(s.P99Ms, 10) {
		t.Errorf("second 1: %+v, want 10 ms throughout", s)
	}
	if len(r.Ops) != 2 || r.Ops[0].Op != "read" || r.Ops[0].OK != 100 || r.Ops[0].Errors != 0 ||
		r.Ops[1].Op != "write" || r.Ops[1].OK != 60 || r.Ops[1].Errors != 2 {
		t.Errorf("ops %+v", r.Ops)
	}
	var n uint64
	for _, b := range r.Histogram {
		n += b.Count
	}
	if len(r.Histogram) != histogramBars || n != 160 || r.Histogram[0].UpToMs != 1 || r.Histogram[histogramBars-1].UpToMs != 200 {
		t.Errorf("histogram %+v", r.Histogram)
	}
}

func TestReportText(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, re := range []string{
		`(?m)^Benchmark mixed: conns=2 clients=4 total=162 key-size=8 val-size=256 key-space-size=100000 read-ratio=0\.6$`,
		`(?m)^Summary:$`,
		`(?m)^  Total:\t3\.5000 secs\.$`,
		`(?m)^  Slowest:\t0\.2000 secs\.$`,
		`(?m)^  Fastest:\t0\.0010 secs\.$`,
		`(?m)^  Average:\t0\.0472 secs\.$`,
		`(?m)^  Stddev:\t\d\.\d{4} secs\.$`,
		`(?m)^  Requests/sec:\t45\.7143$`,
		`(?m)^Response time histogram:$`,
		`(?m)^  0\.0010 \[\d+\]\t\|∎*$`,
		`(?m)^  0\.2000 \[10\]\t\|∎*$`,
		`(?m)^Latency distribution:$`,
		`(?m)^  10% in 0\.0100 secs\.$`,
		`(?m)^  99\.9% in 0\.1998 secs\.$`, // 200 ms, as the middle of its bucket
		`(?m)^  read   100 ok, 0 errors, 28\.6/s; ms: avg 50\.500 `,
		`(?m)^Error distribution:\n  \[2\]\tboom$`,
		`(?m)^Completed: 160 ok, 2 errors$`,
		`(?m)^Requests/s: 45\.7$`,
		`(?m)^Latency ms: avg 47\.188  min 1\.000  p50 \d+\.\d{3}  p90 \d+\.\d{3}  p99 \d+\.\d{3}  p99\.9 199\.754  max 200\.000$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("no match for %s in:\n%s", re, out)
		}
	}
	// The longest bar is 40 marks, as etcd's.
	longest := 0
	for _, l := range strings.Split(out, "\n") {
		longest = max(longest, strings.Count(l, "∎"))
	}
	if longest != 40 {
		t.Errorf("longest bar %d marks, want 40", longest)
	}
}

func TestReportJSON(t *testing.T) {
	r := sampleReport()
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Count(b.String(), "\n") != 1 || !strings.HasSuffix(b.String(), "}\n") {
		t.Fatalf("want one line of JSON: %q", b.String())
	}
	// The fields the anchors' etcdbench writes, under the same names, as numbers.
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"qps", "avg_ms", "min_ms", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "ok", "errors",
		"elapsed_s", "conns", "clients", "total", "key_size", "val_size", "key_space", "client_cpu_s"} {
		if _, ok := m[k].(float64); !ok {
			t.Errorf("field %q: %v (%T), want a number", k, m[k], m[k])
		}
	}
	if m["op"] != "mixed" || m["unit"] != "requests" {
		t.Errorf("op %v unit %v", m["op"], m["unit"])
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.OK != r.OK || back.QPS != r.QPS || back.Latency != r.Latency || !slices.Equal(back.Timeline, r.Timeline) ||
		!slices.Equal(back.Histogram, r.Histogram) || !slices.Equal(back.ErrorKinds, r.ErrorKinds) || len(back.Ops) != 2 {
		t.Errorf("round trip changed the report:\n%+v\n%+v", back, *r)
	}
	// A decoded report still prints (its percentiles from the summary).
	var text bytes.Buffer
	if err := back.WriteText(&text); err != nil || !strings.Contains(text.String(), "  50% in ") {
		t.Errorf("text of a decoded report: %v\n%s", err, text.String())
	}
}

func TestReportCSV(t *testing.T) {
	r := sampleReport()
	var b bytes.Buffer
	if err := r.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], []string{"second", "count", "avg_ms", "p50_ms", "p99_ms"}) {
		t.Errorf("header %v", rows[0])
	}
	if len(rows) != 1+len(r.Timeline) {
		t.Fatalf("%d rows for %d seconds", len(rows)-1, len(r.Timeline))
	}
	for i, s := range r.Timeline {
		row := rows[i+1]
		num := func(j int) float64 {
			v, err := strconv.ParseFloat(row[j], 64)
			if err != nil {
				t.Fatalf("row %v: %v", row, err)
			}
			return v
		}
		if int(num(0)) != s.Second || uint64(num(1)) != s.Count || math.Abs(num(2)-s.AvgMs) > 0.0005 ||
			math.Abs(num(3)-s.P50Ms) > 0.0005 || math.Abs(num(4)-s.P99Ms) > 0.0005 {
			t.Errorf("row %v, want %+v", row, s)
		}
	}
}

func TestReportPNG(t *testing.T) {
	for _, tc := range []struct {
		name          string
		r             *Report
		width, height int
	}{
		{"default size", sampleReport(), 0, 0},
		{"custom size", sampleReport(), 640, 400},
		{"events", func() *Report { r := sampleReport(); r.Unit = "events"; return r }(), 800, 500},
		{"empty run", NewReport(NewRecorder(time.Now()), 0), 300, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.r.WritePNG(&b, tc.width, tc.height); err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(&b)
			if err != nil {
				t.Fatal(err)
			}
			w, h := tc.width, tc.height
			if w == 0 {
				w, h = PlotWidth, PlotHeight
			}
			if got := img.Bounds(); got.Dx() != w || got.Dy() != h {
				t.Fatalf("size %v, want %dx%d", got, w, h)
			}
			if len(tc.r.Timeline) == 0 {
				return
			}
			// Every series has a line (and its legend) in its colour.
			seen := map[[3]uint32]int{}
			for y := range h {
				for x := range w {
					r, g, bl, _ := img.At(x, y).RGBA()
					seen[[3]uint32{r >> 8, g >> 8, bl >> 8}]++
				}
			}
			for name, c := range map[string][3]uint32{
				"p50": {31, 119, 180}, "avg": {44, 160, 44}, "p99": {214, 39, 40}, "rate": {148, 103, 189},
			} {
				if seen[c] < 50 {
					t.Errorf("series %s: %d pixels of its colour", name, seen[c])
				}
			}
		})
	}
	if err := sampleReport().WritePNG(&bytes.Buffer{}, 100, 100); err == nil {
		t.Error("a 100x100 plot: no error")
	}
}

func TestPlotHelpers(t *testing.T) {
	for _, tc := range []struct{ in, want float64 }{
		{0.3, 0.5}, {1, 1}, {1.2, 2}, {3, 5}, {7, 10}, {45, 50}, {0.012, 0.02}, {0, 1}, {math.Inf(1), 1},
	} {
		if got := niceStep(tc.in); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("niceStep(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		v, step float64
		want    string
	}{{10, 5, "10"}, {0.5, 0.5, "0.5"}, {0.04, 0.02, "0.04"}, {1500, 500, "1500"}} {
		if got := formatTick(tc.v, tc.step); got != tc.want {
			t.Errorf("formatTick(%v, %v) = %q, want %q", tc.v, tc.step, got, tc.want)
		}
	}
	if textWidth("", 2) != 0 || textWidth("ab", 1) != 11 {
		t.Errorf("textWidth")
	}
	for r := range glyphs {
		if r >= 'a' && r <= 'z' {
			t.Errorf("glyph %q: lower case is drawn as upper case", r)
		}
	}
}

func TestProgressLine(t *testing.T) {
	got := progressLine("put", 45000, 100000, 3*time.Second, 15000)
	want := "put [=============>                ]  45% 45000/100000 15000/s 3s"
	if got != want {
		t.Errorf("progressLine:\n got %q\nwant %q", got, want)
	}
	if got := progressLine("put", 100, 100, time.Second, 100); !strings.Contains(got, "["+strings.Repeat("=", barWidth)+"] 100%") {
		t.Errorf("full bar: %q", got)
	}
	if got := progressLine("watch", 7, 0, 2*time.Second, 3.5); got != "watch 7 4/s 2s" {
		t.Errorf("no total: %q", got)
	}
	// A plain (not terminal) progress prints nothing at the end: only its periodic lines.
	var b bytes.Buffer
	p := startProgress(&b, false, "put", 10, func() int64 { return 10 })
	p.finish()
	startProgress(nil, true, "put", 10, func() int64 { return 10 }).finish()
	var tty bytes.Buffer
	p = startProgress(&tty, true, "put", 10, func() int64 { return 10 })
	p.finish()
	if out := tty.String(); !strings.HasPrefix(out, "\r") || !strings.HasSuffix(out, "\n") || !strings.Contains(out, "10/10") {
		t.Errorf("terminal progress %q", out)
	}
}
