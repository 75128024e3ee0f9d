package watchtower

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var (
	descNodes    = prometheus.NewDesc("micromirror_fleet_nodes", "Nodes known to the watchtower.", nil, nil)
	descSilent   = prometheus.NewDesc("micromirror_fleet_nodes_silent", "Nodes with an open node-silent alert.", nil, nil)
	descAlerts   = prometheus.NewDesc("micromirror_fleet_alerts_open", "Open alerts by kind.", []string{"kind"}, nil)
	descToday    = prometheus.NewDesc("micromirror_fleet_served_bytes_today", "Bytes served since 00:00 UTC, by project.", []string{"project"}, nil)
	descIngested = prometheus.NewDesc("micromirror_watchtower_batches_total", "Telemetry batches by outcome.", []string{"outcome"}, nil)
	descIgnored  = prometheus.NewDesc("micromirror_watchtower_ignored_entries_total", "Entries of accepted batches ignored, by reason.", []string{"reason"}, nil)
)

// fleetCollector computes fleet aggregates at scrape time.
type fleetCollector struct{ s *Server }

func (c fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descNodes, descSilent, descAlerts, descToday, descIngested, descIgnored} {
		ch <- d
	}
}

func (c fleetCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if nodes, err := c.s.store.Nodes(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(len(nodes)))
	}
	kinds := map[string]float64{}
	for _, a := range c.s.Alerts.Open() {
		kinds[a.Kind]++
	}
	ch <- prometheus.MustNewConstMetric(descSilent, prometheus.GaugeValue, kinds["node-silent"])
	for k, v := range kinds {
		ch <- prometheus.MustNewConstMetric(descAlerts, prometheus.GaugeValue, v, k)
	}
	now := time.Now().UTC()
	if rows, err := c.s.store.Usage(ctx, "project", now.Truncate(24*time.Hour), now.Add(time.Minute)); err == nil {
		for _, r := range rows {
			ch <- prometheus.MustNewConstMetric(descToday, prometheus.GaugeValue, float64(r.Bytes), r.Key)
		}
	}
	ch <- prometheus.MustNewConstMetric(descIngested, prometheus.CounterValue, float64(c.s.Accepted.Load()), "accepted")
	ch <- prometheus.MustNewConstMetric(descIngested, prometheus.CounterValue, float64(c.s.Duplicates.Load()), "duplicate")
	ch <- prometheus.MustNewConstMetric(descIngested, prometheus.CounterValue, float64(c.s.Rejected.Load()), "rejected")
	ch <- prometheus.MustNewConstMetric(descIgnored, prometheus.CounterValue, float64(c.s.UnknownProjects.Load()), "unknown_project")
}

func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(fleetCollector{s})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// Compactor rolls up and expires old data every hour.
func Compactor(ctx context.Context, store Store, r Retention, log interface{ Error(string, ...any) }) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if err := store.Compact(ctx, time.Now(), r.Minutes.D(), r.Hours.D()); err != nil {
			log.Error("compact", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
