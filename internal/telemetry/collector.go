package telemetry

import (
	"time"
)

// Sources are what a batch is made from; the node provides them.
type Sources struct {
	Node    string
	Version string
	DataDir string
	Traffic *Traffic
	// Syncs returns each project's last run (nil if none yet).
	Syncs func() []SyncEvent
	// MQTT returns the subscriber state; nil without MQTT.
	MQTT func() *MQTTState
	// Usage holds top paths, distinct clients and checker visits.
	Usage *Usage
	// Health reads the machine's drives, sensors, clock and NICs; nil:
	// not reported.
	Health func() Health
}

// Collector turns cumulative counters into per-interval batches.
type Collector struct {
	src      Sources
	last     map[string]Snapshot
	lastSync map[string]time.Time
	since    time.Time
}

// NewCollector starts counting from now.
func NewCollector(src Sources) *Collector {
	c := &Collector{src: src, last: map[string]Snapshot{}, lastSync: map[string]time.Time{}, since: time.Now()}
	for _, s := range src.Traffic.Snapshot() {
		c.last[s.Project] = s
	}
	for _, e := range src.Syncs() {
		c.lastSync[e.Project] = e.Started
	}
	return c
}

// Collect returns the batch for the interval since the previous call
// (without Seq: the spool assigns it).
func (c *Collector) Collect(now time.Time) Batch {
	b := Batch{Version: BatchVersion, Node: c.src.Node, Start: c.since, End: now,
		System: ReadSystem(c.src.DataDir, c.src.Version)}
	if c.src.Health != nil {
		h := c.src.Health()
		b.Health = &h
	}
	c.since = now
	for _, s := range c.src.Traffic.Snapshot() {
		prev := c.last[s.Project]
		c.last[s.Project] = s
		pt := ProjectTraffic{Project: s.Project, Requests: diff(s.Requests, prev.Requests), Bytes: diff(s.Bytes, prev.Bytes),
			Status: diff(s.StatusClasses, prev.StatusClasses), IPv4: s.IPv4 - prev.IPv4, IPv6: s.IPv6 - prev.IPv6}
		if pt.IPv4+pt.IPv6 > 0 || sum(pt.Bytes) > 0 {
			b.Projects = append(b.Projects, pt)
		}
	}
	for _, e := range c.src.Syncs() {
		if e.Started.After(c.lastSync[e.Project]) {
			c.lastSync[e.Project] = e.Started
			b.Syncs = append(b.Syncs, e)
		}
	}
	if c.src.MQTT != nil {
		b.MQTT = c.src.MQTT()
	}
	if c.src.Usage != nil {
		b.Top, b.Clients, b.Checkers = c.src.Usage.Take()
	}
	return b
}

func diff(cur, prev map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range cur {
		if d := v - prev[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func sum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}
