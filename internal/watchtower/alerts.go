package watchtower

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"micromirror/internal/yamlconf"
)

// AlertConfig sets the thresholds; zero values take the defaults.
type AlertConfig struct {
	Webhook string `yaml:"webhook"` // POSTed on firing and on resolve
	// Every is how often the fleet is evaluated.
	Every yamlconf.Duration `yaml:"every"`
	// Silent: a node with no batch for this long.
	Silent yamlconf.Duration `yaml:"silent"`
	// Stale: a project without a successful sync for this long.
	Stale yamlconf.Duration `yaml:"stale"`
	// Failures: this many failed runs in a row.
	Failures int `yaml:"failures"`
	// DiskFreePercent: less free disk than this.
	DiskFreePercent float64 `yaml:"disk_free_percent"`
	// CliffPercent: a node's bytes in the last hour below this share of its
	// average hour over the previous week (a project's load balancer
	// dropped the node, with every check green).
	CliffPercent float64 `yaml:"cliff_percent"`
	// SSDWearPercent: a drive that has used this share of its rated
	// endurance.
	SSDWearPercent float64 `yaml:"ssd_wear_percent"`
	// TemperatureC: a sensor this hot, where its chip gives no critical
	// threshold (with one: 5 °C below it).
	TemperatureC float64 `yaml:"temperature_c"`
}

func (c AlertConfig) withDefaults() AlertConfig {
	def := func(d *yamlconf.Duration, v time.Duration) {
		if d.D() == 0 {
			*d = yamlconf.Dur(v)
		}
	}
	def(&c.Every, time.Minute)
	def(&c.Silent, 10*time.Minute)
	def(&c.Stale, 24*time.Hour)
	if c.Failures == 0 {
		c.Failures = 3
	}
	if c.DiskFreePercent == 0 {
		c.DiskFreePercent = 10
	}
	if c.CliffPercent == 0 {
		c.CliffPercent = 20
	}
	if c.SSDWearPercent == 0 {
		c.SSDWearPercent = 80
	}
	if c.TemperatureC == 0 {
		c.TemperatureC = 90
	}
	return c
}

// Alert is one open problem (API version 1).
type Alert struct {
	Key     string    `json:"key"` // kind/node[/project]
	Kind    string    `json:"kind"`
	Node    string    `json:"node"`
	Project string    `json:"project,omitempty"`
	Message string    `json:"message"`
	Since   time.Time `json:"since"`
}

// cliffFloor keeps a node with little traffic from alerting on noise.
const cliffFloor = 100 << 20 // bytes per hour of baseline

// Evaluate returns the fleet's problems at now.
func Evaluate(ctx context.Context, store Store, cfg AlertConfig, now time.Time) ([]Alert, error) {
	cfg = cfg.withDefaults()
	nodes, err := store.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	// What each node served in the last whole hour and the week before
	// it: two queries of hourly roll-ups for the whole fleet.
	hour := now.Truncate(time.Hour)
	served := map[string]struct{ week, last uint64 }{}
	for _, r := range []struct {
		from, to time.Time
		last     bool
	}{{hour.Add(-7*24*time.Hour - time.Hour), hour.Add(-time.Hour), false}, {hour.Add(-time.Hour), hour, true}} {
		rows, err := store.Series(ctx, "node", r.from, r.to, time.Hour)
		if err != nil {
			return nil, err
		}
		for _, row := range rows {
			v := served[row.Key]
			if r.last {
				v.last += row.Bytes
			} else {
				v.week += row.Bytes
			}
			served[row.Key] = v
		}
	}
	var out []Alert
	add := func(kind, node, project, format string, args ...any) {
		key := kind + "/" + node
		if project != "" {
			key += "/" + project
		}
		out = append(out, Alert{Key: key, Kind: kind, Node: node, Project: project, Message: fmt.Sprintf(format, args...)})
	}
	for _, n := range nodes {
		switch age := now.Sub(n.LastSeen); {
		case n.LastSeen.IsZero():
			add("node-silent", n.Node, "", "never sent telemetry")
		case age > cfg.Silent.D():
			add("node-silent", n.Node, "", "no telemetry for %s", age.Round(time.Minute))
		}
		if n.DiskTotal > 0 && float64(n.DiskFree)*100 < cfg.DiskFreePercent*float64(n.DiskTotal) {
			add("disk-full", n.Node, "", "%.1f%% of the disk free", float64(n.DiskFree)*100/float64(n.DiskTotal))
		}
		certSoon := time.Time{} // one alert for the node, however many probes saw it
		for _, p := range n.Probes {
			if !p.CertExpiry.IsZero() && p.CertExpiry.Sub(now) < 14*24*time.Hour && (certSoon.IsZero() || p.CertExpiry.Before(certSoon)) {
				certSoon = p.CertExpiry
			}
			if !p.OK {
				add("probe-failing", n.Node, p.Scheme+"-"+p.Family, "%s probe over %s failed: %s", p.Scheme, p.Family, p.Error)
			}
		}
		if !certSoon.IsZero() {
			add("cert-expiring", n.Node, "", "TLS certificate expires %s", certSoon.Format("2006-01-02"))
		}
		healthAlerts(n, cfg, add)
		for _, c := range n.Checkers {
			if !c.LastError.IsZero() && now.Sub(c.LastError) < 24*time.Hour {
				add("checker-errors", n.Node, c.Checker, "%s got %d error answers, the last %s", c.Checker, c.Errors, agoShort(c.LastError))
			}
			if now.Sub(c.LastVisit) > 7*24*time.Hour {
				add("checker-gone", n.Node, c.Checker, "%s has not visited since %s", c.Checker, agoShort(c.LastVisit))
			}
		}
		for _, p := range n.Projects {
			if p.LastSuccess.IsZero() || now.Sub(p.LastSuccess) > cfg.Stale.D() {
				add("project-stale", n.Node, p.Project, "last successful sync %s", agoShort(p.LastSuccess))
			}
			if p.Failures >= cfg.Failures {
				add("sync-failing", n.Node, p.Project, "%d failed runs in a row, last: %s", p.Failures, p.LastResult)
			}
		}
		if baseline := float64(served[n.Node].week) / (7 * 24); baseline >= cliffFloor {
			if recent := served[n.Node].last; float64(recent)*100 < cfg.CliffPercent*baseline {
				add("traffic-cliff", n.Node, "", "served %s in the last hour against %s an hour over the past week",
					humanRate(float64(recent), "B"), humanRate(baseline, "B"))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Alerter keeps the open alerts, evaluating every interval, and tells the
// webhook when one fires and when it resolves.
type Alerter struct {
	store Store
	cfg   AlertConfig
	log   *slog.Logger
	http  *http.Client

	mu      sync.Mutex       // guards open
	open    map[string]Alert // as the store had them at the last Check
	leading bool             // Check's: whether the last Check led
}

// NewAlerter prepares an alerter; Run evaluates.
func NewAlerter(store Store, cfg AlertConfig, log *slog.Logger) *Alerter {
	return &Alerter{store: store, cfg: cfg.withDefaults(), log: log, http: &http.Client{Timeout: 10 * time.Second}, open: map[string]Alert{}}
}

// Run evaluates until ctx ends.
func (a *Alerter) Run(ctx context.Context) {
	t := time.NewTicker(a.cfg.Every.D())
	defer t.Stop()
	for {
		a.Check(ctx, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check evaluates once when this watchtower leads, records the changes
// and delivers what the webhook is due; every replica then reads the open
// alerts back from the store, so all show the same.
func (a *Alerter) Check(ctx context.Context, now time.Time) {
	lead, err := a.store.Lead(ctx)
	if err != nil {
		a.log.Error("lead", "err", err)
	}
	if lead != a.leading {
		a.leading = lead
		if lead {
			a.log.Info("leading: this watchtower evaluates the alerts, sends the webhooks, probes the nodes and applies retention")
		} else {
			a.log.Info("no longer leading: another watchtower on the database does the fleet-wide jobs")
		}
	}
	if lead {
		if found, err := Evaluate(ctx, a.store, a.cfg, now); err != nil {
			a.log.Error("alerts", "err", err)
		} else if fired, resolved, err := a.store.TransitionAlerts(ctx, found, now, a.cfg.Webhook != ""); err != nil {
			a.log.Error("record alerts", "err", err)
		} else {
			for _, al := range fired {
				a.log.Warn("alert", "kind", al.Kind, "node", al.Node, "project", al.Project, "msg", al.Message)
			}
			for _, al := range resolved {
				a.log.Info("alert resolved", "kind", al.Kind, "node", al.Node, "project", al.Project)
			}
		}
		a.deliver(ctx, now)
	}
	open, err := a.store.OpenAlerts(ctx)
	if err != nil {
		a.log.Error("open alerts", "err", err)
		return
	}
	a.mu.Lock()
	a.open = map[string]Alert{}
	for _, al := range open {
		a.open[al.Key] = al
	}
	a.mu.Unlock()
}

// Open returns the open alerts, oldest first.
func (a *Alerter) Open() []Alert {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Alert, 0, len(a.open))
	for _, al := range a.open {
		out = append(out, al)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// WebhookPayload is what the webhook receives (version 1).
type WebhookPayload struct {
	Version int    `json:"version"`
	Status  string `json:"status"` // firing or resolved
	Alert   Alert  `json:"alert"`
}
