package watchtower

import (
	"html/template"
	"math"
	"net/http"
	"time"

	"micromirror/internal/telemetry"
)

// The node page's spans: its bandwidth at ten minutes for a day, its
// sync runs and health for a week (health samples are kept with the
// minute rows, 14 days by default).
const (
	nodeBandwidthFor  = 24 * time.Hour
	nodeBandwidthStep = 10 * time.Minute
	nodeHistoryFor    = 7 * 24 * time.Hour
	nodeRunsShown     = 20   // rows of the runs table
	nodeRunsCharted   = 2000 // dots of the runs chart: a week of runs every 15 min for 20 projects
)

type nodeData struct {
	Now     time.Time
	Node    NodeSummary
	Sponsor string
	Chart   template.HTML
	Today   uint64
	Missing bool
	// Runs are the newest sync runs; RunsChart draws a week of them.
	Runs      []SyncRun
	RunsChart template.HTML
	// HealthChart draws a week of temperatures; NICErrorsDay is the
	// growth of the NICs' error counters over the last day (nil: the
	// node does not report them).
	HealthChart  template.HTML
	Latest       *HealthSample
	NICErrorsDay *uint64
}

func (s *Server) nodePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("name")
	nodes, err := s.store.Nodes(ctx)
	if err != nil {
		s.fail(w, err)
		return
	}
	now := time.Now().UTC()
	nodes = s.enrich(ctx, nodes, now)
	d := nodeData{Now: now, Missing: true, Sponsor: s.roster.Load().about[name].Sponsor}
	for _, n := range nodes {
		if n.Node == name {
			d.Node, d.Missing = n, false
		}
	}
	if d.Missing {
		w.WriteHeader(http.StatusNotFound)
		s.render(w, "node", d)
		return
	}
	step := nodeBandwidthStep
	from := now.Add(-nodeBandwidthFor).Truncate(step)
	pts, err := s.store.Served(ctx, name, from, now.Add(time.Minute), step)
	if err != nil {
		s.fail(w, err)
		return
	}
	net, err := s.store.Network(ctx, name, from, now.Add(time.Minute))
	if err != nil {
		s.fail(w, err)
		return
	}
	buckets := int(nodeBandwidthFor/step) + 1
	rx, tx := nicRates(net, from, buckets, step)
	d.Chart = chart(from, step, "bit/s", "15:04",
		Series{Label: "served (HTTP/rsync)", Color: palette[0], Values: bitsPerSecond(pts, from, buckets, step, now)},
		Series{Label: "NIC out", Color: palette[1], Values: tx},
		Series{Label: "NIC in", Color: palette[2], Values: rx})
	for _, p := range pts {
		if !p.T.Before(now.Truncate(24 * time.Hour)) {
			d.Today += p.Bytes
		}
	}
	week := now.Add(-nodeHistoryFor)
	runs, err := s.store.Syncs(ctx, name, week, now.Add(time.Minute), nodeRunsCharted)
	if err != nil {
		s.fail(w, err)
		return
	}
	d.Runs = runs[:min(len(runs), nodeRunsShown)]
	d.RunsChart = runChart(week, now, runs, telemetry.ResultOK)
	samples, err := s.store.HealthSamples(ctx, name, week, now.Add(time.Minute))
	if err != nil {
		s.fail(w, err)
		return
	}
	d.HealthChart, d.Latest, d.NICErrorsDay = healthView(samples, week, now)
	s.render(w, "node", d)
}

// healthView charts a node's temperatures hour by hour (the hottest of
// each hour, gaps where nothing was read) and picks out its latest
// sample and the NIC errors added over the last day.
func healthView(samples []HealthSample, from, now time.Time) (template.HTML, *HealthSample, *uint64) {
	const step = time.Hour
	from = from.Truncate(step)
	buckets := int(now.Sub(from)/step) + 1
	hottest, drive := nanSlice(buckets), nanSlice(buckets)
	hotter := func(s []float64, i int, v *float64) {
		if v != nil && (math.IsNaN(s[i]) || *v > s[i]) {
			s[i] = *v
		}
	}
	var latest *HealthSample
	var dayStart *uint64 // the NIC errors at the first sample of the last day
	for i := range samples {
		sm := &samples[i]
		if k := int(sm.T.Sub(from) / step); k >= 0 && k < buckets {
			hotter(hottest, k, sm.MaxTempC)
			hotter(drive, k, sm.DiskTempC)
		}
		latest = sm
		if dayStart == nil && sm.NICErrors != nil && now.Sub(sm.T) <= 24*time.Hour {
			dayStart = sm.NICErrors
		}
	}
	var grown *uint64
	if latest != nil && latest.NICErrors != nil && dayStart != nil {
		g := uint64(0)
		if *latest.NICErrors >= *dayStart { // a reboot starts the counters afresh
			g = *latest.NICErrors - *dayStart
		}
		grown = &g
	}
	return chart(from, step, "°C", "01-02 15h",
		Series{Label: "hottest sensor", Color: palette[4], Values: hottest},
		Series{Label: "hottest drive", Color: palette[0], Values: drive}), latest, grown
}

func nanSlice(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = math.NaN()
	}
	return s
}
