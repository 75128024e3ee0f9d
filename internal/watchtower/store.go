// Package watchtower is the fleet's central service: it authenticates the
// nodes' telemetry pushes, stores them, and answers the JSON API.
package watchtower

import (
	"context"
	"time"

	"micromirror/internal/telemetry"
)

// Store keeps the fleet's telemetry. Implementations are safe for
// concurrent use; Ingest is atomic per batch.
type Store interface {
	// Ingest stores a batch unless (node, seq) was stored before, in which
	// case it reports a duplicate and changes nothing.
	Ingest(ctx context.Context, b telemetry.Batch, received time.Time) (duplicate bool, err error)
	// Nodes returns every node that ever pushed, with its projects.
	Nodes(ctx context.Context) ([]NodeSummary, error)
	// Usage sums requests and bytes in [from, to) grouped by "project" or "node".
	Usage(ctx context.Context, group string, from, to time.Time) ([]UsageRow, error)
	// Served returns bytes and requests per step-long bucket in [from, to),
	// for one node or, with node "", the whole fleet.
	Served(ctx context.Context, node string, from, to time.Time, step time.Duration) ([]Point, error)
	// Top returns the most requested paths in [from, to), for one project
	// or, with project "", all.
	Top(ctx context.Context, project string, from, to time.Time, limit int) ([]telemetry.PathCount, error)
	// Series returns bytes and requests per step-long bucket in [from, to),
	// per project or per node, ordered by time (the groups of one bucket
	// in no order).
	Series(ctx context.Context, group string, from, to time.Time, step time.Duration) ([]SeriesRow, error)
	// Demand returns bytes served per day, node and project in [from, to).
	Demand(ctx context.Context, from, to time.Time) ([]DemandRow, error)
	// Compact rolls traffic older than minuteKeep up into hourly rows and
	// deletes what is older than hourKeep; totals never change.
	Compact(ctx context.Context, now time.Time, minuteKeep, hourKeep time.Duration) error
	// SaveAnnouncement records an upstream change of a module (newest wins).
	SaveAnnouncement(ctx context.Context, module, serial string, at time.Time) error
	// Announcements returns the last announced change per module.
	Announcements(ctx context.Context) (map[string]time.Time, error)
	// SaveProbe records the latest probe of a node over a scheme and an
	// address family.
	SaveProbe(ctx context.Context, p Probe) error
	// Syncs returns a node's sync runs that started in [from, to), newest
	// first, at most limit.
	Syncs(ctx context.Context, node string, from, to time.Time, limit int) ([]SyncRun, error)
	// Network returns a node's NIC counters as reported, oldest first.
	Network(ctx context.Context, node string, from, to time.Time) ([]NetSample, error)
	// HealthSamples returns a node's health figures in [from, to), oldest
	// first.
	HealthSamples(ctx context.Context, node string, from, to time.Time) ([]HealthSample, error)
	// OpenAlerts returns the alerts recorded as open.
	OpenAlerts(ctx context.Context) ([]Alert, error)
	// TransitionAlerts makes found the open alerts at now, in one
	// transaction that no other watchtower's overlaps: those not open
	// before fire (since now), those open and not found resolve, and with
	// queue each is queued for the webhook in the same transaction. So an
	// alert fires and resolves once, however many replicas evaluate.
	TransitionAlerts(ctx context.Context, found []Alert, now time.Time, queue bool) (fired, resolved []Alert, err error)
	// PendingDeliveries returns the webhook deliveries not yet made,
	// oldest first; RecordDelivery stores an attempt's outcome;
	// Deliveries returns the newest, for the operator.
	PendingDeliveries(ctx context.Context, limit int) ([]Delivery, error)
	RecordDelivery(ctx context.Context, d Delivery) error
	Deliveries(ctx context.Context, limit int) ([]Delivery, error)
	// Lead reports whether this watchtower leads the fleet-wide jobs
	// (alert evaluation, webhook deliveries, probes, retention): of the
	// replicas on one database, one at a time does, and another takes over
	// within one round when it goes.
	Lead(ctx context.Context) (bool, error)
	Close() error
}

// Point is one bucket of a series.
type Point struct {
	T        time.Time `json:"t"`
	Requests uint64    `json:"requests"`
	Bytes    uint64    `json:"bytes"`
}

// SeriesRow is one bucket of one group's series.
type SeriesRow struct {
	Key string
	Point
}

// DemandRow is what one node served of one project on one day.
type DemandRow struct {
	Day      time.Time `json:"day"`
	Node     string    `json:"node"`
	Project  string    `json:"project"`
	Requests uint64    `json:"requests"`
	Bytes    uint64    `json:"bytes"`
}

// NetSample is a node's cumulative NIC byte counters at a time.
type NetSample struct {
	T  time.Time `json:"t"`
	Rx uint64    `json:"rx"`
	Tx uint64    `json:"tx"`
}

// NodeSummary is a node as the API shows it (version 1).
type NodeSummary struct {
	Node string `json:"node"`
	// State is ok, degraded (an open alert) or down (silent, or a probe
	// failing).
	State         string           `json:"state"`
	LastSeen      time.Time        `json:"last_seen"`
	Version       string           `json:"version"`
	MQTTConnected *bool            `json:"mqtt_connected,omitempty"`
	DiskFree      uint64           `json:"disk_free"`
	DiskTotal     uint64           `json:"disk_total"`
	Dropped       uint64           `json:"dropped_batches"`
	Projects      []ProjectSummary `json:"projects"`
	Checkers      []CheckerSummary `json:"checkers"`
	Probes        []Probe          `json:"probes"`
	// Health is the node's hardware as its last report told it.
	Health *telemetry.Health `json:"health,omitempty"`
}

// Probe is the watchtower's latest check of a node over http or https and
// over IPv4 or IPv6.
type Probe struct {
	Node   string `json:"-"`
	Scheme string `json:"scheme"`
	// Family is ipv4 or ipv6: each is checked apart, as the distros'
	// checkers do, so a node unreachable over one shows.
	Family     string    `json:"family"`
	At         time.Time `json:"at"`
	OK         bool      `json:"ok"`
	LatencyMS  int64     `json:"latency_ms"`
	CertExpiry time.Time `json:"cert_expiry,omitzero"`
	// OldestSync is the oldest last successful sync among the projects
	// the node's own root page lists, as any user would see it.
	OldestSync time.Time `json:"oldest_sync,omitzero"`
	Error      string    `json:"error,omitempty"`
}

// SyncRun is one sync run of a project on a node, as the node reported it.
type SyncRun struct {
	Project string    `json:"project"`
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Result  string    `json:"result"`
	Trigger string    `json:"trigger,omitempty"`
	// Bytes is what the run received from the upstream.
	Bytes int64 `json:"bytes"`
	Files int64 `json:"files"`
}

// CheckerSummary is what one distro checker did on a node, all time.
type CheckerSummary struct {
	Checker   string    `json:"checker"`
	LastVisit time.Time `json:"last_visit"`
	Requests  uint64    `json:"requests"`
	Errors    uint64    `json:"errors"` // answered 4xx or 5xx
	LastError time.Time `json:"last_error,omitzero"`
}

// ProjectSummary is one project on one node.
type ProjectSummary struct {
	Project     string    `json:"project"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastResult  string    `json:"last_result,omitempty"`
	LastRun     time.Time `json:"last_run,omitzero"`
	// Failures is the number of runs since the last success that failed.
	Failures int `json:"consecutive_failures"`
	// Announced is the newest upstream change announced for the project's
	// trigger modules; LagSeconds how long the node has been behind it (0
	// when its last success is newer).
	Announced  time.Time `json:"announced,omitzero"`
	LagSeconds int64     `json:"lag_seconds"`
	// TreeBytes is the project's size on the node after its last run.
	TreeBytes int64 `json:"tree_bytes"`
	// Serial is the upstream change marker of the last run, if any.
	Serial string `json:"serial,omitempty"`
	// Triggers are the upstream modules the node syncs the project on,
	// as it reported them (absent from nodes older than this field: the
	// catalog's then count).
	Triggers []string `json:"triggers,omitempty"`
}

// UsageRow is one group's totals.
type UsageRow struct {
	Key      string `json:"key"`
	Requests uint64 `json:"requests"`
	Bytes    uint64 `json:"bytes"`
}
