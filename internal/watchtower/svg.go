package watchtower

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
)

// The charts are plain inline SVG: no script, no outside assets (the
// pages' CSP allows neither).

// Series is one line, or one stack of bars, of a chart.
type Series struct {
	Label  string
	Color  string
	Values []float64 // one per bucket; NaN for no data
}

// palette colours a chart's series in turn.
var palette = []string{"#1f5fa8", "#d9822b", "#2e9e5b", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#b7950b"}

// Chart geometry: the plot sits in a fixed frame; the legend is drawn
// below it in rows, so it never covers a line however many series.
const (
	chartW, plotH          = 760.0, 190.0
	chartLeft, chartRight  = 70.0, 28.0 // y labels; room for the last x label
	chartTop, axisH        = 12.0, 22.0
	legendRowH, legendColW = 16.0, 150.0
)

// frame is a chart's plotting area and the SVG drawn so far.
type frame struct {
	b        strings.Builder
	n        int     // buckets
	maxV     float64 // the y axis's top
	plotW    float64
	legendAt float64 // y of the legend's first row
}

// newFrame starts a chart of n buckets whose values reach maxV, with a
// legend of labels rows below the x axis.
func newFrame(n int, maxV float64, unit string, labels int) *frame {
	if maxV <= 0 || math.IsNaN(maxV) {
		maxV = 1
	}
	f := &frame{n: n, maxV: niceCeil(maxV), plotW: chartW - chartLeft - chartRight}
	perRow := int(f.plotW / legendColW)
	rows := (labels + perRow - 1) / perRow
	f.legendAt = chartTop + plotH + axisH + 4
	h := f.legendAt + float64(rows)*legendRowH + 2
	fmt.Fprintf(&f.b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" class="chart" role="img">`, chartW, h)
	for i := 0; i <= 4; i++ { // gridlines and y labels
		y := chartTop + plotH*float64(i)/4
		fmt.Fprintf(&f.b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#e3e7ee"/>`, chartLeft, y, chartLeft+f.plotW, y)
		fmt.Fprintf(&f.b, `<text x="%.0f" y="%.1f" font-size="11" text-anchor="end" fill="#5b6477">%s</text>`, chartLeft-6, y+4,
			template.HTMLEscapeString(humanRate(f.maxV*float64(4-i)/4, unit)))
	}
	return f
}

// y is the height of v on the plot.
func (f *frame) y(v float64) float64 { return chartTop + plotH*(1-math.Min(v, f.maxV)/f.maxV) }

// xLabels writes about six labels under the buckets; x gives a bucket's
// position.
func (f *frame) xLabels(x func(i int) float64, label func(i int) string) {
	for i := 0; i < f.n; i += max(1, (f.n+5)/6) {
		fmt.Fprintf(&f.b, `<text x="%.1f" y="%.0f" font-size="11" text-anchor="middle" fill="#5b6477">%s</text>`,
			x(i), chartTop+plotH+axisH-6, template.HTMLEscapeString(label(i)))
	}
}

// legend writes the i-th entry of the legend.
func (f *frame) legend(i int, color, label string) {
	perRow := int(f.plotW / legendColW)
	lx := chartLeft + float64(i%perRow)*legendColW
	ly := f.legendAt + float64(i/perRow)*legendRowH
	fmt.Fprintf(&f.b, `<rect x="%.0f" y="%.0f" width="10" height="10" fill="%s"/><text x="%.0f" y="%.0f" font-size="12" fill="#1d2330">%s</text>`,
		lx, ly, color, lx+14, ly+9, template.HTMLEscapeString(label))
}

func (f *frame) done() template.HTML {
	f.b.WriteString(`</svg>`)
	return template.HTML(f.b.String())
}

// chart draws series over time buckets as lines, with a y axis in human
// units; xfmt formats the buckets' times.
func chart(start time.Time, step time.Duration, unit, xfmt string, series ...Series) template.HTML {
	n, top := 0, 0.0
	for _, s := range series {
		n = max(n, len(s.Values))
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				top = math.Max(top, v)
			}
		}
	}
	f := newFrame(n, top, unit, len(series))
	x := func(i int) float64 {
		if n < 2 {
			return chartLeft
		}
		return chartLeft + f.plotW*float64(i)/float64(n-1)
	}
	f.xLabels(x, func(i int) string { return start.Add(time.Duration(i) * step).UTC().Format(xfmt) })
	for si, s := range series {
		// A gap (NaN) ends a line; a lone point between gaps is a dot.
		var run [][2]float64
		flush := func() {
			switch len(run) {
			case 0:
			case 1:
				fmt.Fprintf(&f.b, `<circle cx="%.1f" cy="%.1f" r="2" fill="%s"/>`, run[0][0], run[0][1], s.Color)
			default:
				pts := make([]string, len(run))
				for i, p := range run {
					pts[i] = fmt.Sprintf("%.1f,%.1f", p[0], p[1])
				}
				fmt.Fprintf(&f.b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, s.Color, strings.Join(pts, " "))
			}
			run = run[:0]
		}
		for i, v := range s.Values {
			if math.IsNaN(v) {
				flush()
				continue
			}
			run = append(run, [2]float64{x(i), f.y(v)})
		}
		flush()
		f.legend(si, s.Color, s.Label)
	}
	return f.done()
}

// barChart draws series over time buckets as stacked bars: the parts of a
// whole (projects of a day's traffic) read better stacked than as lines.
func barChart(start time.Time, step time.Duration, unit, xfmt string, series ...Series) template.HTML {
	n := 0
	for _, s := range series {
		n = max(n, len(s.Values))
	}
	labels := make([]string, n)
	for i := range labels {
		labels[i] = start.Add(time.Duration(i) * step).UTC().Format(xfmt)
	}
	return labelledBars(labels, unit, series...)
}

// labelledBars draws stacked bars, one per label.
func labelledBars(labels []string, unit string, series ...Series) template.HTML {
	n := len(labels)
	totals := make([]float64, n)
	for _, s := range series {
		for i, v := range s.Values[:min(n, len(s.Values))] {
			if !math.IsNaN(v) {
				totals[i] += v
			}
		}
	}
	top := 0.0
	for _, t := range totals {
		top = math.Max(top, t)
	}
	f := newFrame(n, top, unit, len(series))
	slot := f.plotW / float64(max(n, 1))
	x := func(i int) float64 { return chartLeft + slot*(float64(i)+0.5) }
	f.xLabels(x, func(i int) string { return labels[i] })
	base := make([]float64, n)
	for si, s := range series {
		for i, v := range s.Values[:min(n, len(s.Values))] {
			if math.IsNaN(v) || v <= 0 {
				continue
			}
			y0, y1 := f.y(base[i]), f.y(base[i]+v)
			fmt.Fprintf(&f.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`,
				x(i)-slot*0.4, y1, slot*0.8, math.Max(y0-y1, 0.5), s.Color, template.HTMLEscapeString(s.Label),
				template.HTMLEscapeString(labels[i]), template.HTMLEscapeString(humanRate(v, unit)))
			base[i] += v
		}
		f.legend(si, s.Color, s.Label)
	}
	return f.done()
}

// runChart draws sync runs in [from, to) as dots: when each started
// against how long it took, a colour per project, failures as red
// crosses. A run slower than the rest stands out at a glance.
func runChart(from, to time.Time, runs []SyncRun, okResult func(string) bool) template.HTML {
	top := 0.0
	var projects []string
	color := map[string]string{}
	for _, r := range runs {
		top = math.Max(top, r.Seconds)
		if _, ok := color[r.Project]; !ok {
			color[r.Project] = palette[len(projects)%len(palette)]
			projects = append(projects, r.Project)
		}
	}
	const days = 6 // x labels
	f := newFrame(days+1, top, "s", len(projects)+1)
	span := to.Sub(from).Seconds()
	xAt := func(t time.Time) float64 { return chartLeft + f.plotW*t.Sub(from).Seconds()/span }
	f.xLabels(func(i int) float64 { return xAt(from.Add(time.Duration(i) * to.Sub(from) / days)) },
		func(i int) string {
			return from.Add(time.Duration(i) * to.Sub(from) / days).UTC().Format("01-02 15:04")
		})
	for _, r := range runs {
		x, y := xAt(r.Started), f.y(r.Seconds)
		title := template.HTMLEscapeString(fmt.Sprintf("%s %s: %s in %s", r.Project, r.Started.UTC().Format("01-02 15:04"), r.Result,
			(time.Duration(r.Seconds) * time.Second).String()))
		if okResult(r.Result) {
			fmt.Fprintf(&f.b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s</title></circle>`, x, y, color[r.Project], title)
		} else {
			fmt.Fprintf(&f.b, `<path d="M%.1f %.1fl6 6m0 -6l-6 6" stroke="#b3261e" stroke-width="2"><title>%s</title></path>`, x-3, y-3, title)
		}
	}
	for i, p := range projects {
		f.legend(i, color[p], p)
	}
	f.legend(len(projects), "#b3261e", "failed run")
	return f.done()
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func humanRate(v float64, unit string) string {
	units := []string{"", "k", "M", "G", "T", "P"}
	i := 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", v), "0"), ".") + " " + units[i] + unit
}
