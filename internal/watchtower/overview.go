package watchtower

import (
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"

	"micromirror/internal/telemetry"
)

// Freshness thresholds for the grid's colours.
const (
	freshOK   = 6 * time.Hour
	freshWarn = 24 * time.Hour
)

// dashRange is a span the overview can show: its bandwidth chart's step
// and its per-project bars' step, each a multiple of an hour so that the
// roll-up rows answer all of it.
type dashRange struct {
	Name, Label string
	Length      time.Duration
	Step        time.Duration // the bandwidth chart's
	Bars        time.Duration // the per-project bars'
	xfmt, bfmt  string
}

var dashRanges = []dashRange{
	{"24h", "last 24 hours", 24 * time.Hour, time.Hour, time.Hour, "15:04", "15h"},
	{"7d", "last 7 days", 7 * 24 * time.Hour, 3 * time.Hour, 24 * time.Hour, "01-02 15h", "01-02"},
	{"30d", "last 30 days", 30 * 24 * time.Hour, 6 * time.Hour, 24 * time.Hour, "01-02", "01-02"},
}

// rangeOf returns the range a request asks for (?range=, default 24h).
func rangeOf(r *http.Request) (dashRange, bool) {
	name := r.URL.Query().Get("range")
	if name == "" {
		return dashRanges[0], true
	}
	for _, d := range dashRanges {
		if d.Name == name {
			return d, true
		}
	}
	return dashRange{}, false
}

// window is the range's buckets of step ending with the current one: the
// roll-up rows hold what came so far, and no minute rows are read.
func (d dashRange) window(now time.Time, step time.Duration) (from time.Time, buckets int) {
	end := now.Truncate(step).Add(step)
	buckets = int(d.Length / step)
	return end.Add(-time.Duration(buckets) * step), buckets
}

type cell struct {
	Text, Class, Title string
}

type overviewRow struct {
	Node      string
	Sponsor   string
	Country   string
	State     string // ok, degraded, down
	Why       string // the node's open alerts (operator's view)
	LastSeen  time.Time
	Silent    bool
	Version   string
	DiskUsed  string // "62%" of the data disk
	Cells     []cell
	Bytes     uint64 // served in the range
	HasPublic bool   // the node has a sponsor page
}

type overviewData struct {
	// Operator: the operator's view (alerts, why, links to node pages);
	// otherwise the public status page.
	Operator bool
	Now      time.Time
	Range    dashRange
	Ranges   []dashRange
	Base     string // the page's path, for the range links
	Projects []string
	Rows     []overviewRow
	Bytes    uint64
	Requests uint64
	Chart    template.HTML
	Alerts   []Alert
	// Undelivered are the recent webhook deliveries pending or given up.
	Undelivered []Delivery
	Top         []telemetry.PathCount
	TopSince    time.Time
	Bars        template.HTML
	BarsLabel   string
}

// publicFor is how long a public page is served from the cache.
const publicFor = 30 * time.Second

func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	rg, ok := rangeOf(r)
	if !ok {
		http.Error(w, "range must be 24h, 7d or 30d", http.StatusBadRequest)
		return
	}
	if s.isOperator(r) {
		w.Header().Set("Cache-Control", "private, no-store")
		s.renderOverview(w, r, rg, true)
		return
	}
	s.servePublic(w, r, "overview/"+rg.Name, publicFor, func(w http.ResponseWriter, r *http.Request) {
		s.renderOverview(w, r, rg, false)
	})
}

func (s *Server) operatorOverview(w http.ResponseWriter, r *http.Request) {
	rg, ok := rangeOf(r)
	if !ok {
		http.Error(w, "range must be 24h, 7d or 30d", http.StatusBadRequest)
		return
	}
	w.Header().Set("Cache-Control", "private, no-store")
	s.renderOverview(w, r, rg, true)
}

func (s *Server) renderOverview(w http.ResponseWriter, r *http.Request, rg dashRange, operator bool) {
	ctx := r.Context()
	now := time.Now().UTC()
	nodes, err := s.store.Nodes(ctx)
	if err != nil {
		s.fail(w, err)
		return
	}
	nodes = s.enrich(ctx, nodes, now)
	barsFrom, bars := rg.window(now, rg.Bars)
	barsTo := barsFrom.Add(time.Duration(bars) * rg.Bars)
	byNode, err := s.store.Usage(ctx, "node", barsFrom, barsTo)
	if err != nil {
		s.fail(w, err)
		return
	}
	d := overviewData{Now: now, Operator: operator, Range: rg, Ranges: dashRanges, Base: r.URL.Path}
	why := map[string][]string{}
	silent := map[string]bool{}
	open := s.Alerts.Open()
	for _, a := range open {
		why[a.Node] = append(why[a.Node], a.Kind+": "+a.Message)
		silent[a.Node] = silent[a.Node] || a.Kind == "node-silent"
	}
	if operator {
		recent, err := s.store.Deliveries(ctx, 50)
		if err != nil {
			s.fail(w, err)
			return
		}
		for _, dl := range recent {
			if dl.State != "delivered" {
				d.Undelivered = append(d.Undelivered, dl)
			}
		}
		d.Alerts = open
	}
	served := map[string]uint64{}
	for _, u := range byNode {
		served[u.Key] = u.Bytes
		d.Bytes += u.Bytes
		d.Requests += u.Requests
	}
	seen := map[string]bool{}
	for _, n := range nodes {
		for _, p := range n.Projects {
			if !seen[p.Project] {
				seen[p.Project] = true
				d.Projects = append(d.Projects, p.Project)
			}
		}
	}
	sort.Strings(d.Projects)
	about := s.roster.Load().about
	for _, n := range nodes {
		cfg, known := about[n.Node]
		row := overviewRow{Node: n.Node, Sponsor: cfg.Sponsor, Country: cfg.Country, State: n.State, LastSeen: n.LastSeen,
			Silent: silent[n.Node], Version: n.Version, Bytes: served[n.Node], HasPublic: known}
		if operator {
			row.Why = strings.Join(why[n.Node], "; ")
		}
		if n.DiskTotal > 0 {
			row.DiskUsed = fmt.Sprintf("%.0f%%", 100-float64(n.DiskFree)*100/float64(n.DiskTotal))
		}
		row.Cells = freshnessCells(n, d.Projects, now)
		d.Rows = append(d.Rows, row)
	}
	from, buckets := rg.window(now, rg.Step)
	pts, err := s.store.Served(ctx, "", from, from.Add(time.Duration(buckets)*rg.Step), rg.Step)
	if err != nil {
		s.fail(w, err)
		return
	}
	d.Chart = chart(from, rg.Step, "bit/s", rg.xfmt, Series{Label: "served, all nodes", Color: palette[0], Values: bitsPerSecond(pts, from, buckets, rg.Step, now)})
	rows, err := s.store.Series(ctx, "project", barsFrom, barsTo, rg.Bars)
	if err != nil {
		s.fail(w, err)
		return
	}
	d.Bars = barChart(barsFrom, rg.Bars, "B", rg.bfmt, projectSeries(rows, barsFrom, bars, rg.Bars)...)
	d.BarsLabel = map[time.Duration]string{time.Hour: "hour", 24 * time.Hour: "day"}[rg.Bars]
	// The most requested files are kept per day.
	d.TopSince = barsFrom.Truncate(24 * time.Hour)
	if d.Top, err = s.store.Top(ctx, "", d.TopSince, barsTo, 15); err != nil {
		s.fail(w, err)
		return
	}
	s.render(w, "overview", d)
}

// freshnessCells are a node's row of the grid: each project's last
// successful sync, coloured by age and result.
func freshnessCells(n NodeSummary, projects []string, now time.Time) []cell {
	have := map[string]ProjectSummary{}
	for _, p := range n.Projects {
		have[p.Project] = p
	}
	var out []cell
	for _, name := range projects {
		p, ok := have[name]
		switch {
		case !ok:
			out = append(out, cell{Class: "none"})
		case p.LastSuccess.IsZero():
			out = append(out, cell{Text: "never", Class: "bad", Title: p.LastResult})
		default:
			age := now.Sub(p.LastSuccess)
			c := cell{Text: agoShort(p.LastSuccess), Class: "ok", Title: "last result: " + p.LastResult}
			if p.LagSeconds > 0 {
				c.Title += fmt.Sprintf("; behind the upstream's change of %s", agoShort(p.Announced))
			}
			if age > freshWarn || !telemetry.ResultOK(p.LastResult) {
				c.Class = "bad"
			} else if age > freshOK {
				c.Class = "warn"
			}
			out = append(out, c)
		}
	}
	return out
}

// projectSeries turns per-project rows into one series of buckets each,
// by name, coloured in turn.
func projectSeries(rows []SeriesRow, from time.Time, buckets int, step time.Duration) []Series {
	by := map[string][]float64{}
	var names []string
	for _, r := range rows {
		if by[r.Key] == nil {
			by[r.Key] = make([]float64, buckets)
			names = append(names, r.Key)
		}
		if i := int(r.T.Sub(from) / step); i >= 0 && i < buckets {
			by[r.Key][i] += float64(r.Bytes)
		}
	}
	sort.Strings(names)
	out := make([]Series, len(names))
	for i, n := range names {
		out[i] = Series{Label: n, Color: palette[i%len(palette)], Values: by[n]}
	}
	return out
}
