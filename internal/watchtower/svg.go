package watchtower

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
)

// Series is one line of a chart.
type Series struct {
	Label  string
	Color  string
	Values []float64 // one per bucket; NaN for no data
}

// chartDays draws bytes per day, labelled by date.
func chartDays(start time.Time, series ...Series) template.HTML {
	return drawChart(start, 24*time.Hour, "B", "01-02", series...)
}

// chart draws series over time buckets as an inline SVG line chart with a
// y axis in human units. It is plain SVG: no script, no outside assets.
func chart(start time.Time, step time.Duration, unit string, series ...Series) template.HTML {
	return drawChart(start, step, unit, "15:04", series...)
}

func drawChart(start time.Time, step time.Duration, unit, xfmt string, series ...Series) template.HTML {
	const w, h, left, bottom, top = 760.0, 220.0, 70.0, 24.0, 12.0
	n := 0
	maxV := 0.0
	for _, s := range series {
		n = max(n, len(s.Values))
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				maxV = math.Max(maxV, v)
			}
		}
	}
	if maxV == 0 {
		maxV = 1
	}
	maxV = niceCeil(maxV)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" class="chart" role="img">`, w, h)
	plotW, plotH := w-left-28, h-top-bottom // room for the last x label
	for i := 0; i <= 4; i++ {               // gridlines and y labels
		y := top + plotH*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#e3e7ee"/>`, left, y, left+plotW, y)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" font-size="11" text-anchor="end" fill="#5b6477">%s</text>`, left-6, y+4,
			template.HTMLEscapeString(humanRate(maxV*float64(4-i)/4, unit)))
	}
	if n > 1 {
		for i := 0; i < n; i += max(1, n/6) { // x labels
			x := left + plotW*float64(i)/float64(n-1)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="11" text-anchor="middle" fill="#5b6477">%s</text>`, x, h-6,
				start.Add(time.Duration(i)*step).UTC().Format(xfmt))
		}
	}
	for si, s := range series {
		var pts []string
		for i, v := range s.Values {
			if math.IsNaN(v) || n < 2 {
				continue
			}
			x := left + plotW*float64(i)/float64(n-1)
			y := top + plotH*(1-v/maxV)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		if len(pts) > 0 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, s.Color, strings.Join(pts, " "))
		}
		lx := left + 10 + float64(si%5)*130
		ly := top + 2 + float64(si/5)*14
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="10" height="10" fill="%s"/><text x="%.0f" y="%.0f" font-size="12" fill="#1d2330">%s</text>`,
			lx, ly, s.Color, lx+14, ly+9, template.HTMLEscapeString(s.Label))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
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
	units := []string{"", "k", "M", "G", "T"}
	i := 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", v), "0"), ".") + " " + units[i] + unit
}
