package telemetry

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// BatchVersion is the wire version of Batch; both sides use this type.
const BatchVersion = 1

// Batch is one interval of a node's telemetry, pushed to the watchtower.
// Seq increases by one per batch and node, so a resent batch is never
// counted twice.
type Batch struct {
	Version  int              `json:"v"`
	Node     string           `json:"node"`
	Seq      uint64           `json:"seq"`
	Start    time.Time        `json:"start"`
	End      time.Time        `json:"end"`
	Projects []ProjectTraffic `json:"projects,omitempty"`
	Syncs    []SyncEvent      `json:"syncs,omitempty"`
	System   System           `json:"system"`
	Health   *Health          `json:"health,omitempty"`
	MQTT     *MQTTState       `json:"mqtt,omitempty"`
	// Top are the most requested paths of the interval (at most TopN).
	Top []PathCount `json:"top,omitempty"`
	// Clients estimates the distinct client addresses of the interval.
	Clients uint64 `json:"clients,omitempty"`
	// Checkers are the distros' mirror checkers' visits.
	Checkers []CheckerVisit `json:"checkers,omitempty"`
	// Dropped counts batches this node's spool discarded (full) so far.
	Dropped uint64 `json:"dropped,omitempty"`
}

// ProjectTraffic is what one project served during the interval.
type ProjectTraffic struct {
	Project  string            `json:"project"`
	Requests map[string]uint64 `json:"requests"` // by protocol: http, https, rsync
	Bytes    map[string]uint64 `json:"bytes"`
	Status   map[string]uint64 `json:"status,omitempty"` // 2xx, 3xx, 4xx, 5xx
	IPv4     uint64            `json:"ipv4,omitempty"`
	IPv6     uint64            `json:"ipv6,omitempty"`
}

// SyncEvent is one finished sync run.
type SyncEvent struct {
	Project       string    `json:"project"`
	Started       time.Time `json:"started"`
	Seconds       float64   `json:"seconds"`
	Result        string    `json:"result"`
	Trigger       string    `json:"trigger,omitempty"`
	BytesReceived int64     `json:"bytes_received"`
	Files         int64     `json:"files"`
	Deleted       int64     `json:"deleted"`
	RateBps       float64   `json:"rate_bytes_per_sec"`
	LastSuccess   time.Time `json:"last_success,omitzero"`
	// Serial is the upstream change marker the run synced to.
	Serial    string `json:"serial,omitempty"`
	TreeBytes int64  `json:"tree_bytes,omitempty"`
	// Triggers are the upstream modules whose announcements start the
	// project's runs on this node: the watchtower measures its lag
	// against them, so a node's own triggers (config) count as the node
	// counts them.
	Triggers []string `json:"triggers,omitempty"`
}

// ResultOK reports whether a run's result left the tree complete: a
// success (files may have vanished upstream meanwhile) or a check that
// found nothing new. The results are the node's (rsync.Result and
// "unchanged").
func ResultOK(result string) bool {
	return result == "success" || result == "success-vanished" || result == "unchanged"
}

// System is the node's machine at the end of the interval.
type System struct {
	Version     string  `json:"version"`
	UptimeSec   float64 `json:"uptime_sec"`
	Load1       float64 `json:"load1"`
	MemTotal    uint64  `json:"mem_total"`
	MemAvail    uint64  `json:"mem_available"`
	DiskTotal   uint64  `json:"disk_total"`
	DiskFree    uint64  `json:"disk_free"`
	NetRxBytes  uint64  `json:"net_rx_bytes"` // counters since boot, all NICs but lo
	NetTxBytes  uint64  `json:"net_tx_bytes"`
	CPUUserSec  float64 `json:"cpu_user_sec"`
	CPUSysSec   float64 `json:"cpu_system_sec"`
	Goroutines  int     `json:"goroutines,omitempty"`
	SpoolQueued int     `json:"spool_queued,omitempty"`
}

// MQTTState is the subscriber's state.
type MQTTState struct {
	Connected bool   `json:"connected"`
	Received  uint64 `json:"received"`
	Triggered uint64 `json:"triggered"`
	Ignored   uint64 `json:"ignored"`
}

// Limits for a batch on the wire, checked by the watchtower.
const (
	MaxBatchBytes = 4 << 20 // decompressed
	maxProjects   = 256
	maxSyncs      = 1024
)

// ErrBadBatch marks a batch that fails validation.
var ErrBadBatch = errors.New("bad batch")

// DecodeBatch parses and validates a batch.
func DecodeBatch(b []byte) (Batch, error) {
	var x Batch
	if err := json.Unmarshal(b, &x); err != nil {
		return Batch{}, fmt.Errorf("%w: %v", ErrBadBatch, err)
	}
	switch {
	case x.Version != BatchVersion:
		return Batch{}, fmt.Errorf("%w: version %d, want %d", ErrBadBatch, x.Version, BatchVersion)
	case x.Node == "" || x.Seq == 0:
		return Batch{}, fmt.Errorf("%w: node and seq are required", ErrBadBatch)
	case x.End.Before(x.Start):
		return Batch{}, fmt.Errorf("%w: end before start", ErrBadBatch)
	case len(x.Projects) > maxProjects || len(x.Syncs) > maxSyncs || len(x.Top) > 4*TopN || len(x.Checkers) > maxProjects:
		return Batch{}, fmt.Errorf("%w: too many entries", ErrBadBatch)
	}
	for _, p := range x.Projects {
		if p.Project == "" {
			return Batch{}, fmt.Errorf("%w: project without a name", ErrBadBatch)
		}
	}
	return x, nil
}
