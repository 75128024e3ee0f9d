package watchtower

import (
	"context"
	"net/http"
	"strings"
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

	// Per node and per project, for an existing Prometheus to alert on
	// (a stale project, a full disk) and Grafana to draw.
	descNodeState    = prometheus.NewDesc("micromirror_node_state", "1 for the node's state (ok, degraded: an open alert, down: silent or failing its probe).", []string{"node", "state"}, nil)
	descNodeSeen     = prometheus.NewDesc("micromirror_node_last_seen_timestamp_seconds", "When the node last pushed telemetry.", []string{"node"}, nil)
	descNodeInfo     = prometheus.NewDesc("micromirror_node_info", "The node's micromirror version.", []string{"node", "version"}, nil)
	descNodeDiskFree = prometheus.NewDesc("micromirror_node_disk_free_bytes", "Free bytes on the node's data disk.", []string{"node"}, nil)
	descNodeDisk     = prometheus.NewDesc("micromirror_node_disk_size_bytes", "Size of the node's data disk.", []string{"node"}, nil)
	descNodeToday    = prometheus.NewDesc("micromirror_node_served_bytes_today", "Bytes the node served since 00:00 UTC.", []string{"node"}, nil)
	descNodeAlerts   = prometheus.NewDesc("micromirror_node_alerts_open", "Open alerts of the node by kind.", []string{"node", "kind"}, nil)
	descProjSuccess  = prometheus.NewDesc("micromirror_project_last_success_timestamp_seconds", "The project's last successful sync on the node.", []string{"node", "project"}, nil)
	descProjLag      = prometheus.NewDesc("micromirror_project_lag_seconds", "How long the node has been behind the newest announced upstream change (0: not behind).", []string{"node", "project"}, nil)
	descProjFailures = prometheus.NewDesc("micromirror_project_consecutive_failures", "Runs failed since the project's last success on the node.", []string{"node", "project"}, nil)
	descProjBytes    = prometheus.NewDesc("micromirror_project_tree_bytes", "The project's size on the node after its last run.", []string{"node", "project"}, nil)

	// The nodes' hardware, from their last health report; a figure the
	// node could not read is absent, never 0.
	descTemp      = prometheus.NewDesc("micromirror_node_temperature_celsius", "A hwmon sensor of the node.", []string{"node", "chip", "sensor"}, nil)
	descDriveTemp = prometheus.NewDesc("micromirror_node_drive_temperature_celsius", "A drive's temperature (SMART).", []string{"node", "device"}, nil)
	descDriveWear = prometheus.NewDesc("micromirror_node_drive_endurance_used_ratio", "The share of a drive's rated endurance used (SMART; 1 is all of it).", []string{"node", "device"}, nil)
	descDriveOK   = prometheus.NewDesc("micromirror_node_drive_smart_passed", "1 when the drive passes SMART's overall health assessment, 0 when it fails it.", []string{"node", "device"}, nil)
	descClock     = prometheus.NewDesc("micromirror_node_clock_synced", "1 when the node's kernel says its clock is synchronised.", []string{"node"}, nil)
	descNICErrors = prometheus.NewDesc("micromirror_node_nic_errors_total", "A NIC's receive and transmit errors and drops since the node booted.", []string{"node", "nic"}, nil)
	healthDescs   = []*prometheus.Desc{descTemp, descDriveTemp, descDriveWear, descDriveOK, descClock, descNICErrors}
)

// nodeStates are the values of micromirror_node_state's state label.
var nodeStates = []string{"ok", "degraded", "down"}

// fleetCollector computes fleet aggregates at scrape time.
type fleetCollector struct{ s *Server }

func (c fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descNodes, descSilent, descAlerts, descToday, descIngested, descIgnored,
		descNodeState, descNodeSeen, descNodeInfo, descNodeDiskFree, descNodeDisk, descNodeToday, descNodeAlerts,
		descProjSuccess, descProjLag, descProjFailures, descProjBytes} {
		ch <- d
	}
	for _, d := range healthDescs {
		ch <- d
	}
}

func (c fleetCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := time.Now().UTC()
	today := now.Truncate(24 * time.Hour) // today so far: the daily roll-up rows
	if nodes, err := c.s.store.Nodes(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(len(nodes)))
		c.collectNodes(ch, c.s.enrich(ctx, nodes, now))
	}
	kinds := map[string]float64{}
	perNode := map[[2]string]float64{}
	for _, a := range c.s.Alerts.Open() {
		kinds[a.Kind]++
		if a.Node != "" {
			perNode[[2]string{a.Node, a.Kind}]++
		}
	}
	for k, v := range perNode {
		ch <- prometheus.MustNewConstMetric(descNodeAlerts, prometheus.GaugeValue, v, k[0], k[1])
	}
	if rows, err := c.s.store.Usage(ctx, "node", today, today.Add(24*time.Hour)); err == nil {
		for _, r := range rows {
			ch <- prometheus.MustNewConstMetric(descNodeToday, prometheus.GaugeValue, float64(r.Bytes), r.Key)
		}
	}
	ch <- prometheus.MustNewConstMetric(descSilent, prometheus.GaugeValue, kinds["node-silent"])
	for k, v := range kinds {
		ch <- prometheus.MustNewConstMetric(descAlerts, prometheus.GaugeValue, v, k)
	}
	if rows, err := c.s.store.Usage(ctx, "project", today, today.Add(24*time.Hour)); err == nil {
		for _, r := range rows {
			ch <- prometheus.MustNewConstMetric(descToday, prometheus.GaugeValue, float64(r.Bytes), r.Key)
		}
	}
	ch <- prometheus.MustNewConstMetric(descIngested, prometheus.CounterValue, float64(c.s.Accepted.Load()), "accepted")
	ch <- prometheus.MustNewConstMetric(descIngested, prometheus.CounterValue, float64(c.s.Duplicates.Load()), "duplicate")
	ch <- prometheus.MustNewConstMetric(descIngested, prometheus.CounterValue, float64(c.s.Rejected.Load()), "rejected")
	ch <- prometheus.MustNewConstMetric(descIgnored, prometheus.CounterValue, float64(c.s.UnknownProjects.Load()), "unknown_project")
}

// collectNodes sends the per-node and per-project series of the nodes as
// the API shows them (states and lags included).
func (c fleetCollector) collectNodes(ch chan<- prometheus.Metric, nodes []NodeSummary) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	stamp := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return float64(t.UnixNano()) / 1e9
	}
	for _, n := range nodes {
		for _, st := range nodeStates {
			gauge(descNodeState, map[bool]float64{true: 1}[n.State == st], n.Node, st)
		}
		gauge(descNodeSeen, stamp(n.LastSeen), n.Node)
		gauge(descNodeInfo, 1, n.Node, n.Version)
		if n.DiskTotal > 0 {
			gauge(descNodeDiskFree, float64(n.DiskFree), n.Node)
			gauge(descNodeDisk, float64(n.DiskTotal), n.Node)
		}
		collectHealth(ch, n)
		for _, p := range n.Projects {
			gauge(descProjSuccess, stamp(p.LastSuccess), n.Node, p.Project)
			gauge(descProjLag, float64(p.LagSeconds), n.Node, p.Project)
			gauge(descProjFailures, float64(p.Failures), n.Node, p.Project)
			gauge(descProjBytes, float64(p.TreeBytes), n.Node, p.Project)
		}
	}
}

// collectHealth sends a node's hardware series from its last report.
func collectHealth(ch chan<- prometheus.Metric, n NodeSummary) {
	h := n.Health
	if h == nil {
		return
	}
	// A report naming a sensor, drive or NIC twice must not fail the
	// whole scrape (Prometheus refuses a series sent twice): the first
	// counts.
	type series struct {
		d      *prometheus.Desc
		labels string
	}
	seen := map[series]bool{}
	send := func(d *prometheus.Desc, kind prometheus.ValueType, v float64, labels ...string) {
		k := series{d, strings.Join(labels, "\x00")}
		if !seen[k] {
			seen[k] = true
			ch <- prometheus.MustNewConstMetric(d, kind, v, labels...)
		}
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) { send(d, prometheus.GaugeValue, v, labels...) }
	for _, t := range h.Temps {
		gauge(descTemp, t.C, n.Node, t.Chip, t.Label)
	}
	for _, d := range h.Disks {
		if d.TempC != nil {
			gauge(descDriveTemp, *d.TempC, n.Node, d.Device)
		}
		if d.WearPercent != nil {
			gauge(descDriveWear, *d.WearPercent/100, n.Node, d.Device)
		}
		if d.Passed != nil {
			gauge(descDriveOK, map[bool]float64{true: 1}[*d.Passed], n.Node, d.Device)
		}
	}
	if h.Clock != nil {
		gauge(descClock, map[bool]float64{true: 1}[h.Clock.Synced], n.Node)
	}
	for _, c := range h.NICs {
		send(descNICErrors, prometheus.CounterValue, float64(c.RxErrors+c.TxErrors+c.RxDropped+c.TxDropped), n.Node, c.Name)
	}
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
		if lead, err := store.Lead(ctx); err != nil {
			log.Error("lead", "err", err)
		} else if lead {
			if err := store.Compact(ctx, time.Now(), r.Minutes.D(), r.Hours.D()); err != nil {
				log.Error("compact", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
