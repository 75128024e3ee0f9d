package watchtower

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"micromirror/internal/telemetry"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"human":  func(n uint64) string { return humanRate(float64(n), "B") },
	"humanI": func(n int64) string { return humanRate(float64(n), "B") },
	"ago":    agoShort,
	"deref":  func(b *bool) bool { return b != nil && *b },
}).ParseFS(templateFS, "templates/*.html"))

// Freshness thresholds for the grid's colours.
const (
	freshOK   = 6 * time.Hour
	freshWarn = 24 * time.Hour
	silentFor = 5 * time.Minute // a node that pushes every minute
)

type cell struct {
	Text, Class, Title string
}

type overviewRow struct {
	Node       string
	State      string // ok, degraded, down
	Why        string // the node's open alerts (operator's view)
	LastSeen   time.Time
	Silent     bool
	Cells      []cell
	BytesToday uint64
}

type overviewData struct {
	// Operator: the operator's view (alerts, why, links to node pages);
	// otherwise the public status page.
	Operator   bool
	Now        time.Time
	Projects   []string
	Rows       []overviewRow
	BytesToday uint64
	ReqToday   uint64
	Chart      template.HTML
	Alerts     []Alert
	// Undelivered are the recent webhook deliveries pending or given up.
	Undelivered []Delivery
	Top         []telemetry.PathCount
	Daily       template.HTML
}

// publicCache keeps the public status page for publicFor: anyone may ask
// for it as often as they like, and each rendering reads the whole fleet.
type publicCache struct {
	mu   sync.Mutex
	at   time.Time
	page []byte
}

const publicFor = 30 * time.Second

func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	op := s.isOperator(r)
	if op {
		w.Header().Set("Cache-Control", "private, no-store")
		s.renderOverview(w, r, true)
		return
	}
	s.public.mu.Lock()
	defer s.public.mu.Unlock() // one rendering at a time; the others wait for it
	if s.public.page == nil || time.Since(s.public.at) > publicFor {
		// Not the first asker's context: its going away must not fail
		// the page for those waiting.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), time.Minute)
		defer cancel()
		rec := &pageRecorder{header: http.Header{}}
		s.renderOverview(rec, r.WithContext(ctx), false)
		if rec.status != 0 && rec.status != http.StatusOK {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		s.public.page, s.public.at = rec.body.Bytes(), time.Now()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", csp)
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(publicFor.Seconds())))
	w.Write(s.public.page)
}

// pageRecorder takes a rendering for the public cache.
type pageRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (p *pageRecorder) Header() http.Header         { return p.header }
func (p *pageRecorder) WriteHeader(code int)        { p.status = code }
func (p *pageRecorder) Write(b []byte) (int, error) { return p.body.Write(b) }

func (s *Server) renderOverview(w http.ResponseWriter, r *http.Request, operator bool) {
	ctx := r.Context()
	now := time.Now().UTC()
	nodes, err := s.store.Nodes(ctx)
	if err != nil {
		s.fail(w, err)
		return
	}
	nodes = s.enrich(ctx, nodes, now)
	// Ranges end at the end of the current hour or day, not now: the
	// roll-up rows hold what came so far, and no minute rows are read.
	day := now.Truncate(24 * time.Hour)
	byNode, err := s.store.Usage(ctx, "node", day, day.Add(24*time.Hour))
	if err != nil {
		s.fail(w, err)
		return
	}
	d := overviewData{Now: now, Operator: operator}
	why := map[string][]string{}
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
		d.Alerts = s.Alerts.Open()
		for _, a := range d.Alerts {
			why[a.Node] = append(why[a.Node], a.Kind+": "+a.Message)
		}
	}
	todayOf := map[string]uint64{}
	for _, u := range byNode {
		todayOf[u.Key] = u.Bytes
		d.BytesToday += u.Bytes
		d.ReqToday += u.Requests
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
	for _, n := range nodes {
		row := overviewRow{Node: n.Node, State: n.State, Why: strings.Join(why[n.Node], "; "), LastSeen: n.LastSeen,
			Silent: now.Sub(n.LastSeen) > silentFor, BytesToday: todayOf[n.Node]}
		have := map[string]ProjectSummary{}
		for _, p := range n.Projects {
			have[p.Project] = p
		}
		for _, name := range d.Projects {
			p, ok := have[name]
			switch {
			case !ok:
				row.Cells = append(row.Cells, cell{Text: "", Class: "none"})
			case p.LastSuccess.IsZero():
				row.Cells = append(row.Cells, cell{Text: "never", Class: "bad", Title: p.LastResult})
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
				row.Cells = append(row.Cells, c)
			}
		}
		d.Rows = append(d.Rows, row)
	}
	from := now.Add(-24 * time.Hour).Truncate(time.Hour)
	pts, err := s.store.Served(ctx, "", from, now.Truncate(time.Hour).Add(time.Hour), time.Hour)
	if err != nil {
		s.fail(w, err)
		return
	}
	d.Chart = chart(from, time.Hour, "bit/s", Series{Label: "served, all nodes", Color: "#1f5fa8", Values: bitsPerSecond(pts, from, 25, time.Hour)})
	days := 14
	dfrom := day.Add(-time.Duration(days-1) * 24 * time.Hour)
	rows, err := s.store.Series(ctx, "project", dfrom, day.Add(24*time.Hour), 24*time.Hour)
	if err != nil {
		s.fail(w, err)
		return
	}
	byProject := map[string][]float64{}
	var names []string
	for _, r := range rows {
		if byProject[r.Key] == nil {
			byProject[r.Key] = make([]float64, days)
			names = append(names, r.Key)
		}
		if i := int(r.T.Sub(dfrom) / (24 * time.Hour)); i >= 0 && i < days {
			byProject[r.Key][i] += float64(r.Bytes)
		}
	}
	sort.Strings(names)
	palette := []string{"#1f5fa8", "#d9822b", "#2e9e5b", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#b7950b"}
	var series []Series
	for i, n := range names {
		series = append(series, Series{Label: n, Color: palette[i%len(palette)], Values: byProject[n]})
	}
	d.Daily = chartDays(dfrom, series...)
	if d.Top, err = s.store.Top(ctx, "", day, day.Add(24*time.Hour), 15); err != nil {
		s.fail(w, err)
		return
	}
	s.render(w, "overview", d)
}

type nodeData struct {
	Now     time.Time
	Node    NodeSummary
	Chart   template.HTML
	Today   uint64
	Missing bool
}

func (s *Server) nodePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("name")
	nodes, err := s.store.Nodes(ctx)
	if err != nil {
		s.fail(w, err)
		return
	}
	nodes = s.enrich(ctx, nodes, time.Now())
	d := nodeData{Now: time.Now().UTC(), Missing: true}
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
	step := 10 * time.Minute
	from := d.Now.Add(-24 * time.Hour).Truncate(step)
	pts, err := s.store.Served(ctx, name, from, d.Now.Add(time.Minute), step)
	if err != nil {
		s.fail(w, err)
		return
	}
	net, err := s.store.Network(ctx, name, from, d.Now.Add(time.Minute))
	if err != nil {
		s.fail(w, err)
		return
	}
	buckets := int(24*time.Hour/step) + 1
	rx, tx := nicRates(net, from, buckets, step)
	d.Chart = chart(from, step, "bit/s",
		Series{Label: "served (HTTP/rsync)", Color: "#1f5fa8", Values: bitsPerSecond(pts, from, buckets, step)},
		Series{Label: "NIC out", Color: "#d9822b", Values: tx},
		Series{Label: "NIC in", Color: "#2e9e5b", Values: rx})
	for _, p := range pts {
		if p.T.After(d.Now.Truncate(24 * time.Hour)) {
			d.Today += p.Bytes
		}
	}
	s.render(w, "node", d)
}

// bitsPerSecond spreads points into fixed buckets as bit/s.
func bitsPerSecond(pts []Point, from time.Time, buckets int, step time.Duration) []float64 {
	out := make([]float64, buckets)
	for _, p := range pts {
		if i := int(p.T.Sub(from) / step); i >= 0 && i < buckets {
			out[i] += float64(p.Bytes) * 8 / step.Seconds()
		}
	}
	return out
}

// nicRates turns cumulative NIC counters into bit/s per bucket; a counter
// that went down (reboot) starts afresh.
func nicRates(ns []NetSample, from time.Time, buckets int, step time.Duration) (rx, tx []float64) {
	rx, tx = make([]float64, buckets), make([]float64, buckets)
	for i := range rx {
		rx[i], tx[i] = math.NaN(), math.NaN()
	}
	for i := 1; i < len(ns); i++ {
		a, b := ns[i-1], ns[i]
		dt := b.T.Sub(a.T).Seconds()
		if dt <= 0 || b.Rx < a.Rx || b.Tx < a.Tx {
			continue
		}
		k := int(b.T.Sub(from) / step)
		if k < 0 || k >= buckets {
			continue
		}
		rx[k] = float64(b.Rx-a.Rx) * 8 / dt
		tx[k] = float64(b.Tx-a.Tx) * 8 / dt
	}
	return rx, tx
}

// csp allows the pages nothing but their own inline styles and images.
const csp = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:"

func (s *Server) render(w http.ResponseWriter, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", csp)
	w.Write(buf.Bytes())
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	s.log.Error("dashboard", "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

func agoShort(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	}
}
