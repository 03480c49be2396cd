package bench

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strconv"
)

// Default plot size in pixels.
const (
	PlotWidth  = 1000
	PlotHeight = 640
)

// Colours of the plot.
var (
	colBackground = color.RGBA{255, 255, 255, 255}
	colAxis       = color.RGBA{40, 40, 40, 255}
	colGrid       = color.RGBA{225, 225, 225, 255}
	colText       = color.RGBA{20, 20, 20, 255}
	colP50        = color.RGBA{31, 119, 180, 255}  // blue
	colAvg        = color.RGBA{44, 160, 44, 255}   // green
	colP99        = color.RGBA{214, 39, 40, 255}   // red
	colRate       = color.RGBA{148, 103, 189, 255} // purple
)

// series is one line of a panel.
type series struct {
	name string
	col  color.RGBA
	x, y []float64
}

// WritePNG plots the report's timeline as a PNG of width x height pixels (0: the
// defaults): the latency of each second (p50, average, p99, in milliseconds) in the upper
// panel and the requests (or events) per second in the lower one, against seconds since
// the start of the run.
func (r *Report) WritePNG(w io.Writer, width, height int) error {
	if width <= 0 {
		width = PlotWidth
	}
	if height <= 0 {
		height = PlotHeight
	}
	if width < 200 || height < 200 {
		return fmt.Errorf("bench: plot of %dx%d pixels is too small (at least 200x200)", width, height)
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), &image.Uniform{colBackground}, image.Point{}, draw.Src)

	var p50, avg, p99, rate series
	p50 = series{name: "p50", col: colP50}
	avg = series{name: "avg", col: colAvg}
	p99 = series{name: "p99", col: colP99}
	unit := "requests/s"
	if r.Unit == "events" {
		unit = "events/s"
	}
	rate = series{name: unit, col: colRate}
	for _, s := range r.Timeline {
		// A second's point sits in its middle. The last, partial second is a rate over
		// the part of it the run covered, unless that is under half a second: then it is
		// mostly the drain of the requests in flight, no steady rate.
		span := 1.0
		if rest := r.ElapsedS - float64(s.Second); rest > 0 && rest < 1 {
			span = rest
		}
		x := float64(s.Second) + span/2
		if span >= 0.5 {
			rate.x, rate.y = append(rate.x, x), append(rate.y, float64(s.Count)/span)
		}
		if s.Count == 0 {
			continue
		}
		for _, ser := range []*series{&p50, &avg, &p99} {
			ser.x = append(ser.x, x)
		}
		p50.y = append(p50.y, s.P50Ms)
		avg.y = append(avg.y, s.AvgMs)
		p99.y = append(p99.y, s.P99Ms)
	}
	xmax := math.Max(r.ElapsedS, float64(len(r.Timeline)))
	if xmax <= 0 {
		xmax = 1
	}

	const scale = 2
	lineH := glyphH*scale + 6
	title := fmt.Sprintf("etcq bench %s: conns %d, clients %d, total %d", r.Workload, r.Conns, r.Clients, r.Total)
	drawText(img, 10, 8, title, scale, colText)
	sub := fmt.Sprintf("%.0f %s, p50 %.2f ms, p99 %.2f ms", r.QPS, unit, r.P50Ms, r.P99Ms)
	drawText(img, 10, 8+lineH, sub, scale, colText)

	left, right := 90, width-20
	top := 8 + 3*lineH + 8 // title, subtitle, the upper panel's label
	bottom := height - 2*lineH - 16
	gap := 2*lineH + 16 // the upper panel's tick marks, the lower panel's label
	split := top + (bottom-top-gap)*3/5
	upper := image.Rect(left, top, right, split)
	lower := image.Rect(left, split+gap, right, bottom)
	drawPanel(img, upper, "latency ms", xmax, []series{p99, avg, p50}, false)
	drawPanel(img, lower, unit, xmax, []series{rate}, true)
	label := "time since start (s)"
	drawText(img, (left+right-textWidth(label, scale))/2, height-8-glyphH*scale, label, scale, colText)

	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("bench: encode png: %w", err)
	}
	return nil
}

// drawPanel draws axes, grid, ticks, a legend and the lines of ss into the rectangle
// rect, with x from 0 to xmax and y from 0 to the largest value (rounded up to a tick).
func drawPanel(img *image.RGBA, rect image.Rectangle, ylabel string, xmax float64, ss []series, xticks bool) {
	ymax := 0.0
	for _, s := range ss {
		for _, v := range s.y {
			ymax = math.Max(ymax, v)
		}
	}
	if ymax <= 0 {
		ymax = 1
	}
	ystep := niceStep(ymax / 5)
	ymax = math.Ceil(ymax/ystep) * ystep
	xstep := niceStep(xmax / 10)

	px := func(x float64) int { return rect.Min.X + int(math.Round(x/xmax*float64(rect.Dx()))) }
	py := func(y float64) int { return rect.Max.Y - int(math.Round(y/ymax*float64(rect.Dy()))) }

	const scale = 2
	// Grid and y ticks.
	for y := 0.0; y <= ymax+ystep/2; y += ystep {
		yy := py(y)
		hline(img, rect.Min.X, rect.Max.X, yy, colGrid)
		lbl := formatTick(y, ystep)
		drawText(img, rect.Min.X-8-textWidth(lbl, scale), yy-glyphH*scale/2, lbl, scale, colText)
	}
	for x := 0.0; x <= xmax+xstep/100; x += xstep {
		xx := px(x)
		vline(img, xx, rect.Min.Y, rect.Max.Y, colGrid)
		if xticks {
			lbl := formatTick(x, xstep)
			drawText(img, xx-textWidth(lbl, scale)/2, rect.Max.Y+8, lbl, scale, colText)
		}
		vline(img, xx, rect.Max.Y, rect.Max.Y+4, colAxis)
	}
	// Axes.
	hline(img, rect.Min.X, rect.Max.X, rect.Max.Y, colAxis)
	vline(img, rect.Min.X, rect.Min.Y, rect.Max.Y, colAxis)
	drawText(img, rect.Min.X+6, rect.Min.Y-glyphH*scale-4, ylabel, scale, colText)

	for _, s := range ss {
		for i := range s.x {
			x, y := px(s.x[i]), py(s.y[i])
			if i > 0 {
				thickLine(img, px(s.x[i-1]), py(s.y[i-1]), x, y, s.col)
			}
			if len(s.x) <= 60 {
				dot(img, x, y, s.col)
			}
		}
	}
	// Legend, top right, one entry per series.
	lx := rect.Max.X - 8
	for i := len(ss) - 1; i >= 0; i-- {
		s := ss[i]
		w := textWidth(s.name, scale)
		lx -= w
		drawText(img, lx, rect.Min.Y+6, s.name, scale, colText)
		lx -= 26
		for dy := range 4 {
			hline(img, lx, lx+20, rect.Min.Y+6+glyphH*scale/2-2+dy, s.col)
		}
		lx -= 16
	}
}

// niceStep rounds v up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// formatTick prints a tick value with as many decimals as its step needs.
func formatTick(v, step float64) string {
	dec := 0
	if step < 1 {
		dec = int(math.Ceil(-math.Log10(step)))
	}
	return strconv.FormatFloat(v, 'f', dec, 64)
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	for x := x0; x <= x1; x++ {
		img.SetRGBA(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	for y := y0; y <= y1; y++ {
		img.SetRGBA(x, y, c)
	}
}

func dot(img *image.RGBA, x, y int, c color.RGBA) {
	for dy := -2; dy <= 2; dy++ {
		for dx := -2; dx <= 2; dx++ {
			img.SetRGBA(x+dx, y+dy, c)
		}
	}
}

// thickLine draws a line two pixels wide from (x0, y0) to (x1, y1) (Bresenham).
func thickLine(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := 1, 1
	if x0 > x1 {
		sx = -1
	}
	if y0 > y1 {
		sy = -1
	}
	e := dx + dy
	for {
		img.SetRGBA(x0, y0, c)
		img.SetRGBA(x0+1, y0, c)
		img.SetRGBA(x0, y0+1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
