package watchtower

import (
	"encoding/json"
	"math"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNiceCeil(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{1, 1}, {1.01, 2}, {3, 5}, {7, 10}, {0.3, 0.5}, {120, 200}, {5e9, 5e9}, {5.1e9, 1e10}} {
		if got := niceCeil(c.in); math.Abs(got-c.want) > 1e-9*c.want {
			t.Errorf("niceCeil(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestCount(t *testing.T) {
	for in, want := range map[uint64]string{0: "0", 999: "999", 1000: "1,000", 282000: "282,000", 1234567: "1,234,567"} {
		if got := count(in); got != want {
			t.Errorf("count(%d) = %q, want %q", in, got, want)
		}
	}
}

// The bucket holding now is a rate over its time so far: 30 minutes into
// an hour, the same rate as the whole hours before it.
func TestBitsPerSecondCurrentBucket(t *testing.T) {
	from := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	now := from.Add(90 * time.Minute)
	pts := []Point{{T: from, Bytes: 3600 * 1000}, {T: from.Add(time.Hour), Bytes: 1800 * 1000}}
	got := bitsPerSecond(pts, from, 2, time.Hour, now)
	if got[0] != 8000 || got[1] != 8000 {
		t.Errorf("bit/s = %v, want [8000 8000]", got)
	}
}

var (
	numRE    = regexp.MustCompile(`-?[0-9.]+`)
	legendRE = regexp.MustCompile(`<rect x="[0-9.]+" y="([0-9.]+)" width="10" height="10"`)
)

// The legend sits below the plot whatever the number of series, so it
// covers no line; a gap in a series breaks its line.
func TestChartLegendBelowPlot(t *testing.T) {
	var series []Series
	for i := range 9 {
		v := make([]float64, 24)
		for j := range v {
			v[j] = float64(i*10 + j)
		}
		v[12] = math.NaN()
		series = append(series, Series{Label: "p" + strconv.Itoa(i), Color: palette[i%len(palette)], Values: v})
	}
	svg := string(chart(time.Unix(0, 0), time.Hour, "B", "15:04", series...))
	if n := strings.Count(svg, "<polyline"); n != 18 {
		t.Errorf("%d lines for 9 series with a gap each, want 18", n)
	}
	plotBottom := chartTop + plotH
	ys := map[string]bool{}
	for _, m := range legendRE.FindAllStringSubmatch(svg, -1) {
		y, _ := strconv.ParseFloat(m[1], 64)
		if y <= plotBottom+axisH {
			t.Errorf("legend entry at y=%v, inside the plot or its axis (bottom %v)", y, plotBottom+axisH)
		}
		ys[m[1]] = true
	}
	if len(ys) != 3 { // 4 entries a row
		t.Errorf("legend in %d rows, want 3", len(ys))
	}
	for _, m := range regexp.MustCompile(`points="([^"]*)"`).FindAllStringSubmatch(svg, -1) {
		for _, n := range numRE.FindAllString(m[1], -1) {
			if v, _ := strconv.ParseFloat(n, 64); v < 0 || v > chartW {
				t.Fatalf("a point off the chart: %s", m[1])
			}
		}
	}
}

// Stacked bars: each bucket's bars reach the height of its total.
func TestBarChartStacks(t *testing.T) {
	svg := string(barChart(time.Unix(0, 0), 24*time.Hour, "B", "01-02",
		Series{Label: "a", Color: "#111111", Values: []float64{100, 0, 50}},
		Series{Label: "b", Color: "#222222", Values: []float64{100, 200, math.NaN()}}))
	bar := regexp.MustCompile(`<rect x="([0-9.]+)" y="([0-9.]+)" width="[0-9.]+" height="([0-9.]+)" fill="#(111111|222222)"><title>`)
	height := map[string]float64{}
	for _, m := range bar.FindAllStringSubmatch(svg, -1) {
		h, _ := strconv.ParseFloat(m[3], 64)
		height[m[1]] += h
	}
	if len(height) != 3 {
		t.Fatalf("bars in %d slots, want 3: %v", len(height), height)
	}
	var hs []float64
	for _, h := range height {
		hs = append(hs, h)
	}
	// Totals 200, 200, 50 on an axis to 200: two full bars and a quarter.
	full := 0
	for _, h := range hs {
		switch {
		case math.Abs(h-plotH) < 0.5:
			full++
		case math.Abs(h-plotH/4) > 0.5:
			t.Errorf("a bar %v high, want %v or %v", h, plotH, plotH/4)
		}
	}
	if full != 2 {
		t.Errorf("%d full bars, want 2: %v", full, hs)
	}
}

func TestRangeOf(t *testing.T) {
	for q, want := range map[string]string{"": "24h", "?range=7d": "7d", "?range=30d": "30d"} {
		if rg, ok := rangeOf(httptest.NewRequest("GET", "/"+q, nil)); !ok || rg.Name != want {
			t.Errorf("rangeOf(%q) = %v %v", q, rg.Name, ok)
		}
	}
	if _, ok := rangeOf(httptest.NewRequest("GET", "/?range=1y", nil)); ok {
		t.Error("an unknown range accepted")
	}
	now := time.Date(2026, 12, 2, 14, 30, 0, 0, time.UTC)
	for _, rg := range dashRanges {
		for _, step := range []time.Duration{rg.Step, rg.Bars} {
			from, n := rg.window(now, step)
			end := from.Add(time.Duration(n) * step)
			if end.Sub(from) != rg.Length || !end.After(now) || end.Sub(now) > step || from.Unix()%int64(step/time.Second) != 0 {
				t.Errorf("%s by %v: [%v, %v)", rg.Name, step, from, end)
			}
		}
	}
}

// keySeries' hand-written JSON is what encoding/json writes for the same
// fields: keys that need escaping, times in and out of UTC, big counts,
// no points.
func TestKeySeriesJSON(t *testing.T) {
	type plain struct {
		Key    string  `json:"key"`
		Points []Point `json:"points"`
	}
	at := time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)
	for _, k := range []keySeries{
		{Key: "a.mm.example.net", Points: []Point{{T: at, Requests: 1, Bytes: 2}, {T: at.Add(time.Hour + time.Nanosecond), Requests: 1 << 63, Bytes: 0}}},
		{Key: "Sponsor \"quoted\" <&> \u2028", Points: []Point{{T: at.In(time.FixedZone("x", 3600))}}},
		{Key: "empty", Points: []Point{}},
		{Key: "none"},
	} {
		got, err := json.Marshal(k)
		want, _ := json.Marshal(plain(k))
		if err != nil || string(got) != string(want) {
			t.Errorf("keySeries JSON\n got %s %v\nwant %s", got, err, want)
		}
	}
}
