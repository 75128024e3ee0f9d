package watchtower

import (
	"html/template"
	"net/http"
	"time"
)

// sponsorFor is how long a sponsor page is served from the cache: its
// figures are days and months.
const sponsorFor = 5 * time.Minute

// sponsorHistory is how far back a sponsor page's total reaches; the
// daily rows are kept two years by default (retention.hours).
const sponsorHistory = 10 * 365 * 24 * time.Hour

type sponsorData struct {
	Node, Sponsor, SponsorURL, Country string
	Now                                time.Time
	Month, Total                       Point // Point.T: the first day counted
	Days, Months                       template.HTML
	Projects                           []ProjectSummary
}

// sponsorPage is a node's public page for its sponsor to show: what the
// node served this month and in all, per day and per month, and which
// projects it carries. It names no address, alert or operator detail.
func (s *Server) sponsorPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("node")
	cfg, known := s.roster.Load().about[name]
	if !known { // only configured nodes: the cache holds one page each
		http.Error(w, "no such node", http.StatusNotFound)
		return
	}
	s.servePublic(w, r, "sponsor/"+name, sponsorFor, func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		now := time.Now().UTC()
		day := now.Truncate(24 * time.Hour)
		end := day.Add(24 * time.Hour)
		d := sponsorData{Node: name, Sponsor: cfg.Sponsor, SponsorURL: cfg.SponsorURL, Country: cfg.Country, Now: now}
		pts, err := s.store.Served(ctx, name, end.Add(-sponsorHistory), end, 24*time.Hour)
		if err != nil {
			s.fail(w, err)
			return
		}
		month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		const months = 12
		firstMonth := month.AddDate(0, -(months - 1), 0)
		days := int(end.Sub(month) / (24 * time.Hour))
		perDay, perMonth := make([]float64, days), make([]float64, months)
		for _, p := range pts {
			if d.Total.T.IsZero() {
				d.Total.T = p.T
			}
			d.Total.Bytes += p.Bytes
			d.Total.Requests += p.Requests
			if !p.T.Before(month) {
				d.Month.Bytes += p.Bytes
				d.Month.Requests += p.Requests
				perDay[int(p.T.Sub(month)/(24*time.Hour))] += float64(p.Bytes)
			}
			if !p.T.Before(firstMonth) {
				m := (p.T.Year()-firstMonth.Year())*12 + int(p.T.Month()-firstMonth.Month())
				perMonth[m] += float64(p.Bytes)
			}
		}
		d.Month.T = month
		d.Days = barChart(month, 24*time.Hour, "B", "02", Series{Label: "served per day", Color: palette[0], Values: perDay})
		d.Months = monthBars(firstMonth, perMonth)
		nodes, err := s.store.Nodes(ctx)
		if err != nil {
			s.fail(w, err)
			return
		}
		for _, n := range nodes {
			if n.Node == name {
				d.Projects = n.Projects
			}
		}
		s.render(w, "sponsor", d)
	})
}

// monthBars draws one bar per calendar month from first (months differ
// in length, so they are not a fixed step).
func monthBars(first time.Time, perMonth []float64) template.HTML {
	labels := make([]string, len(perMonth))
	for i := range labels {
		labels[i] = first.AddDate(0, i, 0).Format("Jan 06")
	}
	return labelledBars(labels, "B", Series{Label: "served per month", Color: palette[2], Values: perMonth})
}
