package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress intervals: a bar on a terminal is redrawn often; plain output (a log, a pipe)
// gets a line now and then.
const (
	ttyEvery   = 200 * time.Millisecond
	plainEvery = 5 * time.Second
	barWidth   = 30
)

// progress reports how far a run is: a bar redrawn in place on a terminal, a line every
// few seconds otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	label string
	total int64
	done  func() int64
	start time.Time

	stop chan struct{}
	wg   sync.WaitGroup
}

// startProgress starts reporting the progress of done() towards total (0: unknown) on w;
// nil w reports nothing.
func startProgress(w io.Writer, tty bool, label string, total int64, done func() int64) *progress {
	p := &progress{w: w, tty: tty, label: label, total: total, done: done, start: time.Now(), stop: make(chan struct{})}
	if w == nil {
		return p
	}
	every := plainEvery
	if tty {
		every = ttyEvery
	}
	p.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.print(false)
			case <-p.stop:
				return
			}
		}
	})
	return p
}

// finish stops the reports; on a terminal the bar is drawn a last time and the line ended.
func (p *progress) finish() {
	close(p.stop)
	p.wg.Wait()
	if p.w != nil && p.tty {
		p.print(true)
	}
}

func (p *progress) print(last bool) {
	n := p.done()
	el := time.Since(p.start)
	rate := 0.0
	if el > 0 {
		rate = float64(n) / el.Seconds()
	}
	if !p.tty {
		if p.total > 0 {
			fmt.Fprintf(p.w, "%s: %d/%d (%.0f%%) in %.0fs, %.0f/s\n", p.label, n, p.total, 100*float64(n)/float64(p.total), el.Seconds(), rate)
		} else {
			fmt.Fprintf(p.w, "%s: %d in %.0fs, %.0f/s\n", p.label, n, el.Seconds(), rate)
		}
		return
	}
	line := progressLine(p.label, n, p.total, el, rate)
	end := ""
	if last {
		end = "\n"
	}
	fmt.Fprintf(p.w, "\r%s\x1b[K%s", line, end)
}

// progressLine renders a bar: "put [=========>          ] 45% 45000/100000 12345/s 3s".
func progressLine(label string, n, total int64, el time.Duration, rate float64) string {
	if total <= 0 {
		return fmt.Sprintf("%s %d %.0f/s %s", label, n, rate, el.Round(time.Second))
	}
	frac := min(float64(n)/float64(total), 1)
	full := int(frac * barWidth)
	bar := strings.Repeat("=", full)
	if full < barWidth {
		bar += ">" + strings.Repeat(" ", barWidth-full-1)
	}
	return fmt.Sprintf("%s [%s] %3.0f%% %d/%d %.0f/s %s", label, bar, 100*frac, n, total, rate, el.Round(time.Second))
}
